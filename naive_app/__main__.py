import sys

from naive_app.cli import register
from ragchaos.appkit.server import part_main

sys.exit(part_main(register))
