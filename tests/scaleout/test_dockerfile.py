"""The project image, checked without building it: the build context holds what the
Dockerfile copies, and what it copies installs as the whole project."""

from __future__ import annotations

import fnmatch
import shlex
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _copies() -> list[tuple[str, str]]:
    pairs = []
    for word, rest in _instructions():
        if word == "COPY":
            *sources, dest = shlex.split(rest)
            pairs += [(src, dest) for src in sources if not src.startswith("--")]
    return pairs


def _ignored(path: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, p) or path.split("/")[0] == p for p in patterns)


def test_base_image_user_and_no_baked_secrets() -> None:
    ins = _instructions()
    assert ins[0] == ("FROM", "python:3.11-slim")
    assert ("USER", "ragchaos") in ins  # servers do not run as root
    assert not any(word in {"ADD", "ARG"} for word, _ in ins)  # nothing fetched or injected at build time


def test_everything_copied_is_in_the_build_context() -> None:
    for src, _ in _copies():
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
        assert not _ignored(src), f"COPY {src}: excluded by .dockerignore"


def test_every_part_package_is_copied() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    parts = {p.rstrip("*") for p in meta["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {src.rstrip("/") for src, _ in _copies()}
    assert parts <= copied, f"packages the image would miss: {parts - copied}"
    assert {"pyproject.toml", "README.md"} <= copied


def test_the_dependency_step_lists_pyprojects_dependencies(tmp_path) -> None:
    run = next(rest for word, rest in _instructions() if word == "RUN" and "tomllib" in rest)
    python_cmd = run.split(">", 1)[0].strip()  # python -c "..." (before the redirect)
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    proc = subprocess.run(python_cmd.replace("python ", f"{sys.executable} ", 1), shell=True, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert proc.stdout.splitlines() == wanted
    assert any(d.startswith("docker") for d in wanted)


@pytest.mark.slow
def test_what_the_image_copies_builds_a_complete_wheel(tmp_path) -> None:
    """``pip install --no-deps .`` in the image sees only the copied files: build a wheel from
    exactly those and check every part and the built-in scenarios are in it."""
    import shutil

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for src, _ in _copies():
        path = ROOT / src
        if path.is_dir():
            shutil.copytree(path, ctx / src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, ctx / src)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "w"),
         str(ctx)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "w").glob("ragchaos-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for part in (p.rstrip("*") for p in meta["tool"]["setuptools"]["packages"]["find"]["include"]):
        assert f"{part}/__init__.py" in names, part
    for cli in ROOT.glob("*/cli.py"):
        assert f"{cli.parent.name}/cli.py" in names
    for scenario in (ROOT / "ragchaos" / "scenarios" / "builtin").glob("*.yaml"):
        assert f"ragchaos/scenarios/builtin/{scenario.name}" in names
    assert any(n.endswith("entry_points.txt") for n in names)
