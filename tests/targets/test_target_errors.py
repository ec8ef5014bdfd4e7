"""A target that cannot be used is a clear error before the load starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ragchaos.scenarios.loader import ScenarioError, load_scenario
from ragchaos.scenarios.options import RunOptions, prepare_scenario

ROOT = Path(__file__).resolve().parents[2]
MYRAG = (ROOT / "examples" / "myrag" / "ragchaos.yaml").read_text()


def _ragchaos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragchaos", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unknown_placeholder_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text(MYRAG.replace('q: "{question}"', 'q: "{query}"').replace("cwd: ..", f"cwd: {ROOT / 'examples'}"))
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "{query}" in text)
    with pytest.raises(ScenarioError) as err:
        prepare_scenario(load_scenario("smoke"), RunOptions(targets_file=bad))
    [problem] = err.value.problems
    assert problem.startswith(f"{bad}:{line}: targets.myrag.query.body: unknown placeholder {{query}}"), problem
    proc = _ragchaos("run", "smoke", "--targets", str(bad), "--dry-run", timeout=60)
    assert proc.returncode != 0 and "unknown placeholder {query}" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_apps_and_bad_target_args_are_refused() -> None:
    with pytest.raises(ScenarioError, match="unknown app 'mine'"):
        prepare_scenario(load_scenario("smoke"), RunOptions(apps=["mine"]))
    with pytest.raises(ScenarioError, match="NAME=COMMAND"):
        prepare_scenario(load_scenario("smoke"), RunOptions(targets=["mine"]))
    scenario = prepare_scenario(load_scenario("smoke"),
                                RunOptions(targets=["mine=uvicorn x:app --port {port}"]))
    assert scenario.apps == ["mine"] and scenario.target("mine").command


@pytest.mark.slow
def test_an_unreachable_target_stops_the_run_before_anything_starts(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    proc = _ragchaos("run", "smoke", "--target", f"mine={url}", "--quick", "--out", str(tmp_path))
    assert proc.returncode != 0
    assert f"target mine: {url}/healthz is unreachable" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "load on" not in proc.stdout


@pytest.mark.slow
def test_a_span_rule_that_matches_nothing_stops_the_run_before_the_load(tmp_path: Path) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(MYRAG.replace("cwd: ..", f"cwd: {ROOT / 'examples'}")
                       .replace('"index.add": ingest.upsert', '"index.add": ingest.upsert\n      "rerank*": query.rerank'))
    proc = _ragchaos("run", "smoke", "--targets", str(targets), "--quick", "--out", str(tmp_path / "runs"))
    assert proc.returncode != 0
    assert "target myrag: span rule 'rerank*' matches no span (spans seen: " in proc.stderr, proc.stderr
    assert "vector.search" in proc.stderr  # what it did see, to fix the rule by
    assert "load on" not in proc.stdout and "Traceback" not in proc.stderr


def test_a_fault_on_a_dependency_the_target_lacks_is_refused() -> None:
    opts = RunOptions(targets_file=ROOT / "examples" / "myrag" / "ragchaos.yaml")
    # the built-in scenario addresses a role; myrag's only dependency is its provider
    with pytest.raises(ScenarioError, match="faults.0.role: myrag has no dependency with role 'vector_store' "
                                            "\\(its dependencies: provider \\(provider\\)\\); if one of them is its "
                                            "vector store, say so in its target"):
        prepare_scenario(load_scenario("vectordb-brownout"), opts)
    assert prepare_scenario(load_scenario("provider-429-storm"), opts).apps == ["myrag"]


def test_gate_as_an_unknown_app_is_refused_with_the_closest_name() -> None:
    opts = RunOptions(targets_file=ROOT / "examples" / "myrag" / "ragchaos.yaml", gate_as="refernce")
    with pytest.raises(ScenarioError, match="--gate-as refernce: unknown app \\(did you mean reference\\?\\); "
                                            "known: naive, reference, myrag, none"):
        prepare_scenario(load_scenario("smoke"), opts)


def test_a_seeding_refusal_names_the_document_the_endpoint_and_the_status() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ragchaos.scenarios.corpus import Document
    from ragchaos.scenarios.seed import SeedError, seed_app
    from ragchaos.stack.templates import RequestTemplate

    class Refuse(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"detail": "owner missing"}'
            self.send_response(422)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    doc = Document(doc_id="acme-007", tenant="acme", type="memo", date="2026-01-01", title="t", text="some text", facts=())
    try:
        with pytest.raises(SeedError) as err:
            seed_app(url, [doc], template=RequestTemplate(method="PUT", path="/store/{tenant}", body={"t": "{text}"}),
                     target="mine")
    finally:
        server.shutdown()
        server.server_close()
    assert str(err.value).startswith(f"mine: seeding document 'acme-007' (tenant acme): PUT {url}/store/acme "
                                     "answered 422: "), str(err.value)
    assert "owner missing" in str(err.value)
