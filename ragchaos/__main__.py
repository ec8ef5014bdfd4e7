import sys

from ragchaos.cli import main

sys.exit(main())
