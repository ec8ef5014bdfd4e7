"""Every command's --help lists every option with its meaning (issue 17: ``ragchaos up --help``
listed options without one)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

from ragchaos.cli import build_parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("ragchaos",)
              ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, argparse.Action | None]]:
    """(command path, its parser, the action that names it in its parent's list)."""
    yield path, parser, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a for a in action._choices_actions}
            for name, sub in action.choices.items():
                for found in _commands(sub, (*path, name)):
                    yield found if found[0] != (*path, name) else (found[0], found[1], listed.get(name))


def test_every_command_and_every_option_says_what_it_is_for() -> None:
    missing = []
    for path, parser, listed in _commands(build_parser()):
        if len(path) > 1 and (listed is None or not listed.help):
            missing.append(f"{' '.join(path)}: the command has no help line")
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            if action.help == argparse.SUPPRESS:
                continue
            if not action.help:
                missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert missing == [], "\n".join(missing)


def test_up_help_prints_each_option_with_its_meaning() -> None:
    out = subprocess.run([sys.executable, "-m", "ragchaos", "up", "--help"], capture_output=True, text=True,
                         timeout=60).stdout
    for option, meaning in [("--apps", "comma list of apps"), ("--out", "run folder"), ("--rate", "requests/s"),
                            ("--scenario", "corpus, workload"), ("--allow-remote", "loopback")]:
        assert option in out and meaning in out, (option, out)
