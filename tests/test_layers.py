"""The import graph follows the layer order written down in docs/architecture.md.

Each part of the ``ragchaos`` package may import only the parts listed for it below (and
itself). An arrow upward, or sideways between parts that should not know each other, fails
here with the file and line that added it. The table is also the one in docs/architecture.md:
the test reads the document, so the two cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ragchaos"

# part -> the parts it may import, bottom layer first
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "measure": set(),
    "kit": {"core"},
    "provider": {"core", "measure"},
    "faults": {"core"},
    # what a tutorial writes: the shared answer logic and API contract, none of the harness's
    # instrumentation (measure) or scaffolding
    "naive_app": {"kit"},
    "reference_app": {"kit", "measure", "core"},
    "reports": {"measure", "core"},
    "stack": {"faults", "kit", "measure", "core"},
    "scenarios": {"stack", "reports", "provider", "faults", "kit", "measure", "core"},
    "live": {"scenarios", "stack", "reports", "faults", "kit", "measure", "core"},
    "cli": {"core"},  # it finds each part's subcommands by name, without importing the part
}


def _part_of(path: Path, package: Path) -> str:
    rel = path.relative_to(package)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name == "cli.py" else "(root)"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: Path = PACKAGE) -> list[str]:
    bad: list[str] = []
    for path in sorted(package.rglob("*.py")):
        part = _part_of(path, package)
        where = path.relative_to(package.parent)
        if part == "(root)":
            continue  # __init__ (the version) and __main__ (calls cli.main)
        allowed = ALLOWED.get(part)
        if allowed is None:
            bad.append(f"{where}: part {part!r} is not in the layer table")
            continue
        for line, module in _imports(path):
            names = module.split(".")
            if names[0] != "ragchaos" or len(names) == 1:
                continue  # a library, or the package root (its version)
            target = names[1]
            if target != part and target not in allowed:
                bad.append(f"{where}:{line}: {part} imports {module} ({target} is not below it)")
    return bad


def test_every_import_points_down():
    assert violations() == []


def test_an_upward_import_is_caught(tmp_path):
    # a copy of the package with one arrow upward: faults importing the scenario runner
    fake = tmp_path / "ragchaos"
    (fake / "faults").mkdir(parents=True)
    (fake / "faults" / "bad.py").write_text("from ragchaos.scenarios.runner import run_scenario\n")
    (fake / "naive_app").mkdir()
    (fake / "naive_app" / "bad.py").write_text("import ragchaos.stack.local\n")
    # the harness's own instrumentation is above the naive app too
    (fake / "naive_app" / "timed.py").write_text("import os\nfrom ragchaos.measure.stages import StageRecorder\n")
    found = violations(fake)
    assert any("faults/bad.py:1: faults imports ragchaos.scenarios.runner" in v for v in found), found
    assert any("naive_app/bad.py:1: naive_app imports ragchaos.stack.local" in v for v in found), found
    assert any("naive_app/timed.py:2: naive_app imports ragchaos.measure.stages" in v for v in found), found


def test_the_layer_table_is_the_one_in_the_architecture_doc():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| ([^|]*) \|", doc, flags=re.M)
    table = {part: set(re.findall(r"`(\w+)`", imports)) for part, imports in rows if part in ALLOWED}
    if not table:
        pytest.fail("docs/architecture.md has no layer table (| `part` | `may`, `import` | ...)")
    assert table == ALLOWED
