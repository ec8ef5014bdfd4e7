"""examples/hayrag, a Haystack service (its components talk to the provider through the openai SDK
and to a Chroma server over HTTP, its vector store address read from CHROMA_HOST/CHROMA_PORT), under
the built-in vectordb-brownout scenario with no wrapper script: its target file hands it the proxy's
address with placeholders.

Two runs side by side: wired as docs/your-service.md says, the faults reach it and its stages come
from Haystack's spans (matched by attribute) and from the proxy; wired to the real Chroma instead
(a Chroma of the test's own), the fault-reach verdict fails the run and says how to wire it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragchaos.core.procs import ProcessGroup
from ragchaos.stack.local import Endpoint, start_chroma

pytestmark = pytest.mark.slow
pytest.importorskip("haystack", reason="the example's dependencies: pip install -e '.[example]'")

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "examples" / "hayrag" / "ragchaos.yaml"


@pytest.fixture
def real_chroma(tmp_path: Path) -> Iterator[Endpoint]:
    group = ProcessGroup()
    try:
        _, endpoint = start_chroma(group, tmp_path / "logs", tmp_path / "chroma")
        yield endpoint
    finally:
        group.stop_all()


def _start(targets: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ragchaos", "run", "vectordb-brownout", "--targets", str(targets),
                             "--quick", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)


def _finish(proc: subprocess.Popen[str], out: Path) -> tuple[int, dict, str]:
    log, _ = proc.communicate(timeout=400)
    runs = list(out.iterdir())
    assert len(runs) == 1 and (runs[0] / "results.json").exists(), log
    return proc.returncode, json.loads((runs[0] / "results.json").read_text()), log


def test_a_haystack_service_from_nothing_to_a_gated_report(tmp_path: Path, real_chroma: Endpoint) -> None:
    wired = TARGETS.read_text().replace("cwd: ..", f"cwd: {ROOT / 'examples'}")
    assert "sh -c" not in wired  # no wrapper: placeholders hand it the proxy's address
    good = tmp_path / "wired.yaml"
    good.write_text(wired)
    # the same service reading the real Chroma's address: the proxy is declared but never dialled
    bad = tmp_path / "miswired.yaml"
    bad.write_text(wired.replace('"{vectordb.host}"', '"127.0.0.1"')
                   .replace('"{vectordb.port}"', f'"{real_chroma.port}"'))
    runs = {"good": _start(good, tmp_path / "good"), "bad": _start(bad, tmp_path / "bad")}
    code, result, log = _finish(runs["good"], tmp_path / "good")
    bad_code, bad_result, bad_log = _finish(runs["bad"], tmp_path / "bad")

    assert code == 0, log[-4000:]
    assert "hayrag is ready" in log and "every span rule matches" in log
    assert {f["reach"]["verdict"] for f in result["faults"]} == {"reached"}, result["faults"]
    reach_checks = [c for c in result["gate"]["checks"] if c["name"].startswith("fault reached:")]
    assert len(reach_checks) == len(result["faults"]) == 2 and all(c["passed"] for c in reach_checks)
    steady = result["apps"]["hayrag"]["phases"]["steady"]
    # stages from Haystack's spans, which all share one name: matched by their attributes
    for stage in ("query.total", "query.embed", "query.retrieve", "query.generate"):
        assert steady["stages"][stage]["count"] > 0, (stage, sorted(steady["stages"]))
    # and the same calls seen from outside, at the proxy in front of each dependency
    for stage in ("proxy.provider.embeddings", "proxy.provider.chat", "proxy.vectordb.query"):
        assert steady["stages"][stage]["count"] > 0, (stage, sorted(steady["stages"]))
    fault = result["apps"]["hayrag"]["phases"]["fault"]
    assert fault["dependencies"]["vectordb"]["endpoints"]["query"]["attempts"] > 0
    assert fault["stages"]["proxy.vectordb.query"]["p50_us"] > steady["stages"]["proxy.vectordb.query"]["p50_us"]
    # provider attempts, 429s and retries: the provider's own counts, reported per answer
    assert all("retries_seen" in v for v in steady["provider"].values())
    summary = (Path(result["run"]["run_dir"]) / "report.html").read_text()
    assert "Dependencies, seen from outside" in summary and "SDK retries" in summary
    assert result["apps"]["hayrag"]["correctness"]["scored"] > 0

    assert bad_code == 1, bad_log[-4000:]
    assert {f["reach"]["verdict"] for f in bad_result["faults"]} == {"missed"}
    assert "did not reach hayrag: its proxy hayrag_vectordb (127.0.0.1:" in bad_log
    assert "{vectordb.host}" in bad_log and "Traceback" not in bad_log
