"""The project stands alone: what a person who clones it reads points at things the clone has.

- No tracked file mentions a path outside the repository (notes and documents that lived
  beside the checkout while the project was written).
- Every ``ragchaos/...`` path and every dotted ``ragchaos.part.module[.name]`` in the docs,
  docstrings and comments names a file, module or definition that exists: a part that moves
  (as every module did when the package was split into layers) takes its references along.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = (".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".sh")

# assembled from pieces so that this file does not match itself
OUTSIDE = re.compile("|".join([
    re.escape("/" + "work/"),
    r"\b" + re.escape("DESIGN" + ".md"),
    r"\b" + re.escape("STYLE" + ".md"),
    re.escape("shared" + "/reference"),
    re.escape("../" + "shared"),
    r"(?<![\w./-])" + re.escape("reference" + "/"),  # the notes' folder; reference_app/ is ours
]))
# a dotted name not inside quotes (logger names) nor part of a file name (ragchaos.yaml) or a label
DOTTED = re.compile(r"(?<![\w/\"'.=-])ragchaos(?:\.[a-z_][a-z0-9_]*)+(?![\w=/-])")
PATH = re.compile(r"(?<![\w/.-])ragchaos/[\w/]+\.(?:py|md|yaml)\b")
# names that look dotted but are not modules: a file name, the docker backend's container labels
NOT_MODULES = {"ragchaos.yaml", "ragchaos.egg", "ragchaos.owner", "ragchaos.run", "ragchaos.role",
               "ragchaos.host", "ragchaos.pid"}


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = [line for line in out.splitlines() if line.endswith(TEXT) or line in ("Makefile", ".ci/run")]
    return [ROOT / n for n in names if (ROOT / n).is_file()]


def test_no_file_mentions_a_path_outside_the_repository() -> None:
    found = []
    for path in _tracked():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            m = OUTSIDE.search(line)
            if m:
                found.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r} in: {line.strip()[:120]}")
    assert not found, "paths outside the repository:\n" + "\n".join(found)


def test_the_outside_check_catches_what_it_looks_for() -> None:
    for line in ("see /" + "work/shared/notes.md", "as DESIGN" + ".md says", "shared" + "/reference/x.md",
                 "the notes in reference" + "/measurement.md"):
        assert OUTSIDE.search(line), line
    for line in ("ragchaos/reference_app/shared/caches.py", "reference_app/shared/ (backend.py)"):
        assert not OUTSIDE.search(line), line


@cache
def _defines(module: Path, name: str) -> bool:
    source = module.read_text(encoding="utf-8")
    pattern = rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]|\b{re.escape(name)}\b.*import|import.*\b{re.escape(name)}\b"
    return re.search(pattern, source, re.M) is not None


def resolves(dotted: str, root: Path = ROOT) -> bool:
    """``ragchaos.a.b[.name[.attr]]``: a package or module, then at most a defined name and one
    attribute of it (found statically: importing scenarios/ would monkey-patch this process)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:i])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if not (base.with_suffix(".py").is_file() or base.is_dir()):
            continue
        rest = parts[i:]
        if not rest:
            return True
        return len(rest) <= 2 and module.is_file() and _defines(module, rest[0])
    return False


def test_every_ragchaos_path_and_dotted_name_exists() -> None:
    missing = []
    for path in _tracked():
        if path == Path(__file__).resolve():
            continue  # its own examples of what it catches
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            where = f"{path.relative_to(ROOT)}:{n}"
            missing += [f"{where}: {p}" for p in PATH.findall(line) if not (ROOT / p).exists()]
            missing += [f"{where}: {d}" for d in DOTTED.findall(line)
                        if d not in NOT_MODULES and not resolves(d)]
    assert not missing, "references to what is not in the repository:\n" + "\n".join(missing)


def test_the_reference_check_catches_a_moved_module() -> None:
    assert resolves("ragchaos.measure.stages.hdr_routes")
    assert resolves("ragchaos.stack.targets.BUILTIN_TARGETS")
    assert resolves("ragchaos.scenarios")
    assert not resolves("ragchaos.stages.hdr_routes")  # where it lived before the layer split
    assert not resolves("ragchaos.measure.stages.no_such_function")
    assert DOTTED.findall("(see ``ragchaos.procs``)") == ["ragchaos.procs"]
    assert DOTTED.findall('logging.getLogger("ragchaos.shared")') == []
