import sys

from ragchaos.kit.server import part_main
from ragchaos.naive_app.cli import register

sys.exit(part_main(register))
