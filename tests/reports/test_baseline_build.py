"""The baseline build runs the baseline's code, not the checkout it is started from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ragchaos.scenarios.baseline_build import BaselineSource, baseline_target


def test_the_baseline_imports_its_own_tree_even_from_a_checkout(tmp_path: Path, monkeypatch) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "ragchaos").mkdir(parents=True)
    (checkout / "ragchaos" / "__init__.py").write_text('WHO = "candidate"\n')
    export = tmp_path / "out" / "baseline-x"
    (export / "ragchaos").mkdir(parents=True)
    (export / "ragchaos" / "__init__.py").write_text('WHO = "baseline"\n')
    monkeypatch.setattr("ragchaos.scenarios.baseline_build.export_ref", lambda ref, out: (export, "f" * 40))
    target, what = baseline_target(BaselineSource("ref", "main"), "reference", tmp_path / "out")
    assert target.builtin == "reference" and "main" in what
    env = {**os.environ, **target.env}
    who = subprocess.run([sys.executable, "-c", "import ragchaos; print(ragchaos.WHO)"], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=60)
    assert who.stdout.strip() == "baseline", who.stdout + who.stderr
    # without PYTHONSAFEPATH the checkout would win: the check above can fail
    env.pop("PYTHONSAFEPATH")
    who = subprocess.run([sys.executable, "-c", "import ragchaos; print(ragchaos.WHO)"], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=60)
    assert who.stdout.strip() == "candidate"
