from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragchaos.reports.analysis import ALL, figures
from ragchaos.reports.counters import Counters, parse_key
from ragchaos.reports.results import ResultsError, RunResult, load_results


def test_roundtrip_is_lossless(tmp_path: Path, run_result: RunResult) -> None:
    path = run_result.save(tmp_path / "results.json")
    back = load_results(tmp_path)
    assert back.model_dump() == run_result.model_dump()
    assert json.loads(path.read_text())["schema_version"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema_version": 1,\n  "scenario": [}', "results.json:2: not valid JSON"),
        ('{"schema_version": 2}', "schema_version 2 is not supported"),
        ('{"schema_version": 1, "scenario": {"name": "x"}}', "run: Field required"),
        ('[1]', "expected a JSON object"),
    ],
)
def test_bad_files_are_named_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "results.json").write_text(text)
    with pytest.raises(ResultsError, match=message.replace("[", r"\[")) as err:
        load_results(tmp_path / "results.json")
    assert str(tmp_path / "results.json") in str(err.value)


def test_counters_parse_and_sum() -> None:
    assert parse_key('ragchaos_retries_total{dependency="provider",reason="429"}') == (
        "ragchaos_retries_total", {"dependency": "provider", "reason": "429"})
    c = Counters({'x_total{a="1",b="p"}': 2, 'x_total{b="q",a="1"}': 3, 'x_total{a="2",b="p"}': 5, "y": 1,
                  "not a key{": 9})
    assert c.total("x_total") == 10 and c.total("x_total", a="1") == 5 and c.total("z") is None
    assert c.by("x_total", "b") == {"p": 7, "q": 3}


def test_goodput_counts_only_ok_answers_within_the_slo(run_result: RunResult) -> None:
    f = figures(run_result, "naive", "fault")
    # naive queries in the fault phase: 200 sent, some failed and many ok ones took > 2 s
    q = run_result.apps["naive"].phases["fault"].client.by_kind["query"]
    within = q.latency.ok_response_time.histogram().count_at_or_below_us(2_000_000)
    assert within < q.ok
    assert f.goodput_ok_by_kind["query"] == within
    assert f.goodput_rps == pytest.approx((within + f.goodput_ok_by_kind["ingest"]) / 20.0)
    r = run_result.model_copy(deep=True)
    r.scenario.slo_ms = {}
    assert figures(r, "naive", "fault").goodput_ok == r.apps["naive"].phases["fault"].client.ok


def test_all_phases_merge_exactly(run_result: RunResult) -> None:
    f = figures(run_result, "reference", ALL)
    parts = run_result.apps["reference"].phases.values()
    assert f.requests == sum(p.client.requests for p in parts)
    merged = None
    for p in parts:
        h = p.client.latency.response_time.histogram()
        merged = h if merged is None else merged.add(h)
    assert f.response["all"].p99_us == merged.percentile_us(99)
    assert f.duration_s == 60.0


def test_provider_attempts_per_answer_are_in_results_json_for_every_app(run_result, tmp_path) -> None:
    from ragchaos.reports.build import write_reports

    r = run_result.model_copy(deep=True)
    write_reports(tmp_path, r, plots=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    for app in r.apps:
        attempts = saved["apps"][app]["provider_attempts"]
        f = figures(r, app, ALL)
        assert attempts["all"]["attempts"] == int(f.provider_calls) > 0
        assert attempts["all"]["per_answer"] == pytest.approx(f.provider_calls / f.answered_queries, rel=1e-3)
        assert set(attempts) >= {"steady", "all"}
