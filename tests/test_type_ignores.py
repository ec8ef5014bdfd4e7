"""Every ``# type: ignore`` names its error code and says why on its line.

mypy (``make lint``) flags an ignore that silences nothing (``warn_unused_ignores``); this test
asks the rest: that the ones it needs are narrow (one error code, not everything) and carry
their reason, as ``# type: ignore[code]  # why``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORE = re.compile("# type: " + "ignore")  # split so this file's own text does not count
JUSTIFIED = re.compile(r"# type: ignore\[[a-z-]+(?:, [a-z-]+)*\]  # \S.*$")


def problems(lines: list[tuple[str, int, str]]) -> list[str]:
    return [f"{where}:{n}: {text.strip()}" for where, n, text in lines
            if IGNORE.search(text) and not JUSTIFIED.search(text)]


def test_every_ignore_is_narrow_and_says_why() -> None:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = []
    for name in out.stdout.split():
        path = ROOT / name
        if path.is_file() and path != Path(__file__).resolve():
            lines += [(name, n, t) for n, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]
    bad = problems(lines)
    assert not bad, "ignores without an error code or a reason:\n" + "\n".join(bad)


def test_the_check_tells_a_reason_from_none() -> None:
    tag = "# type: " + "ignore"
    assert problems([("f.py", 1, f"x = 1  {tag}[assignment]  # filled by the validator")]) == []
    assert problems([("f.py", 2, f"x = 1  {tag}[assignment]")]) == ["f.py:2: x = 1  " + tag + "[assignment]"]
    assert problems([("f.py", 3, f"x = 1  {tag}  # no code")]) != []
