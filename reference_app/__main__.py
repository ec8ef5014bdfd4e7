import sys

from ragchaos.appkit.server import part_main
from reference_app.cli import register

sys.exit(part_main(register))
