"""docs/ci.md's workflow, run literally: green on an unchanged tree, red on a slower one.

GitHub Actions does not run here, so its steps are carried out as a runner would: a fresh
``git clone`` of this repository stands for ``actions/checkout`` (full history, so
``origin/<base>`` exists), the Python that built .venv stands for ``actions/setup-python``, and
every ``run:`` step of the YAML block under "The workflow" is executed as written, in order,
by ``bash -e`` in the clone, with ``GITHUB_BASE_REF`` and ``GITHUB_STEP_SUMMARY`` set. Steps
that only ``uses:`` an action after the gate (the test report, the artifact upload) are listed
as not run. The job's result is the first failing step's exit code, as on GitHub.

``--inject-ms N`` commits, in the clone only, an ``await asyncio.sleep(N / 1000)`` at the start of
the reference app's query handler: a real code change a pull request could make, so the gate
must turn red. The base ref is the clone's ``origin/<current branch>``: the unchanged code.

    .venv/bin/python benchmarks/verify_ci_doc.py                  # expect exit 0
    .venv/bin/python benchmarks/verify_ci_doc.py --inject-ms 100  # expect exit 1
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
HANDLER = "    async def answer(self, req: QueryRequest, top_k: int, deadline: Deadline) -> Answer:\n"


def workflow(doc: Path) -> dict:
    text = doc.read_text()
    section = text.split("## The workflow", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    if block is None:
        raise SystemExit(f"{doc}: no yaml block under 'The workflow'")
    return yaml.safe_load(block.group(1))


def sh(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)


def inject(clone: Path, ms: int) -> None:
    path = clone / "ragchaos/reference_app/query.py"
    text = path.read_text()
    if HANDLER not in text:
        raise SystemExit("the query handler's signature changed; update HANDLER in this script")
    text = text.replace(HANDLER, HANDLER + f"        import asyncio\n\n        await asyncio.sleep({ms / 1000})\n", 1)
    path.write_text(text)
    sh(["git", "-c", "user.name=verify", "-c", "user.email=verify@localhost", "commit", "-qam",
        f"slower: {ms} ms per query"], clone)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inject-ms", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    jobs = workflow(REPO / "docs/ci.md")["jobs"]
    (job,) = jobs.values()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="verify-ci-"))
    clone = work / "clone"
    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    sh(["git", "clone", "-q", "--branch", branch, str(REPO), str(clone)], work)
    if args.inject_ms:
        inject(clone, args.inject_ms)
    python_dir = Path(os.path.realpath(REPO / ".venv/bin/python")).parent
    summary = work / "step-summary.md"
    env = {**os.environ, "GITHUB_BASE_REF": branch, "GITHUB_STEP_SUMMARY": str(summary), "CI": "true",
           "PATH": f"{python_dir}:{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    print(f"clone {clone} (branch {branch}{', +' + str(args.inject_ms) + ' ms per query' if args.inject_ms else ''})")
    result = 0
    for step in job["steps"]:
        name = step.get("name") or step.get("uses")
        if "run" not in step:
            what = "checkout: the clone" if "checkout" in step["uses"] else (
                f"setup-python: {python_dir}" if "setup-python" in step["uses"] else "not run here")
            print(f"step {name}: {what}")
            continue
        if result and not str(step.get("if", "")).startswith("always"):
            print(f"step {name}: skipped (an earlier step failed)")
            continue
        t = time.monotonic()
        proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=clone, env=env, capture_output=True, text=True)
        (work / f"step-{len(name)}-{abs(hash(name)) % 10000}.log").write_text(proc.stdout + proc.stderr)
        print(f"step {name}: exit {proc.returncode} in {time.monotonic() - t:.0f} s")
        if "gate" in name.lower():
            print("\n".join("  " + line for line in proc.stdout.splitlines() if not line.startswith("[")
                            and ("ragchaos gate" in line or line[:4] in ("FAIL", "WARN", "PASS", "INSU"))))
        if proc.returncode and not result:
            result = proc.returncode
    print(f"job: {'green' if result == 0 else 'red'} (exit {result}); step summary {summary} "
          f"({summary.stat().st_size if summary.exists() else 0} bytes)")
    return result


if __name__ == "__main__":
    sys.exit(main())
