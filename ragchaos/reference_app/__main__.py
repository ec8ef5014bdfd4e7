import sys

from ragchaos.kit.server import part_main
from ragchaos.reference_app.cli import register

sys.exit(part_main(register))
