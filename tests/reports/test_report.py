"""The report renders: HTML parses, every plot exists, is a PNG and shows both apps; hlog files
are readable by HdrHistogram's own log reader; junit has one case per check."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from ragchaos.cli import main
from ragchaos.reports.build import write_reports
from ragchaos.reports.plots import plot
from ragchaos.reports.results import RunResult, load_results
from ragchaos.reports.sections import build_sections

PNG = b"\x89PNG\r\n\x1a\n"


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.sections: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag == "section":
            self.sections.append(a["id"])
        if tag not in ("img", "meta"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, run_result: RunResult) -> Path:
    d = tmp_path_factory.mktemp("run")
    write_reports(d, run_result.model_copy(deep=True))
    return d


def test_html_is_self_contained_and_parses(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    parser = Collect()
    parser.feed(text)
    parser.close()
    assert parser.open == []  # every tag closed
    assert {"headline", "gate", "mechanisms", "latency", "timeline", "errors", "stages", "provider"} <= set(parser.sections)
    assert "http://" not in text and "https://" not in text  # nothing fetched from anywhere
    assert len(parser.images) >= 8
    for img in parser.images:
        assert img["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(img["src"].split(",", 1)[1])
        assert png.startswith(PNG) and len(png) > 5_000
    assert "batching: 23 chunks per provider call (expected &gt;= 16): PASS" in text


def test_every_plot_file_exists_and_is_a_png(run_dir: Path, run_result: RunResult) -> None:
    names = {n for s in build_sections(run_result) for n in s.plots}
    assert {"spectrum.response.query", "timeline.latency", "timeline.requests", "stages", "provider"} <= names
    for name in names:
        data = (run_dir / "plots" / f"{name}.png").read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, name


@pytest.mark.parametrize("name", ["spectrum.response.query", "spectrum.stage.query.total", "timeline.latency",
                                  "timeline.requests", "stages"])
def test_plots_show_both_apps(run_result: RunResult, name: str) -> None:
    fig = plot(run_result, name)
    labels = [lab for ax in fig.axes for lab in ax.get_legend_handles_labels()[1]]
    for app in ("naive", "reference"):
        assert any(lab.startswith(app) for lab in labels), (name, labels)
    lines = [ln for ax in fig.axes for ln in ax.lines]
    assert all(len(ln.get_xdata()) > 1 for ln in lines if not ln.get_label().startswith("_"))


def test_spectrum_has_corrected_solid_and_uncorrected_dashed(run_result: RunResult) -> None:
    ax = plot(run_result, "spectrum.response.query").axes[0]
    assert ax.get_xscale() == "logit"
    styles = {ln.get_label(): ln.get_linestyle() for ln in ax.lines}
    assert styles["naive response time (corrected)"] == "-"
    assert styles["naive service time (uncorrected)"] == "--"
    # the naive app fell behind its schedule during the fault: corrected above uncorrected at the top
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert max(lines["naive response time (corrected)"].get_ydata()) > max(lines["naive service time (uncorrected)"].get_ydata())


def test_provider_plot_has_a_bar_per_app(run_result: RunResult) -> None:
    fig = plot(run_result, "provider")
    for ax in fig.axes:
        assert [p.get_label() for p in ax.patches] == ["naive", "reference"]
        assert all(p.get_height() > 0 for p in ax.patches)


def test_hlog_files_read_back_with_hdrhistogram(run_dir: Path, run_result: RunResult) -> None:
    for app in ("naive", "reference"):
        ref = HdrHistogram(1, 600_000_000, 3)
        total = 0
        reader = HistogramLogReader(str(run_dir / "hdr" / f"{app}.query.hlog"), ref)
        while (h := reader.get_next_interval_histogram()) is not None:
            total += h.get_total_count()
        reader.close()
        assert total == sum(i.requests for i in run_result.apps[app].intervals if i.kind == "query")
        reader = HistogramLogReader(str(run_dir / "hdr" / f"{app}.query.phases.hlog"), ref)
        counts = []
        while (h := reader.get_next_interval_histogram()) is not None:
            counts.append(h.get_total_count())
        reader.close()
        want = [run_result.apps[app].phases[p].client.by_kind["query"].requests for p in ("steady", "fault", "recovery")]
        assert counts == want


def test_junit_has_a_case_per_check(run_dir: Path) -> None:
    result = load_results(run_dir)
    root = ET.parse(run_dir / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == len(result.gate.checks) == int(root.get("tests"))
    assert root.get("failures") == str(sum(not c.passed for c in result.gate.checks))


def test_report_command_rebuilds_from_results_json(tmp_path: Path, run_result: RunResult, capsys) -> None:
    run_result.model_copy(deep=True).save(tmp_path / "results.json")
    assert main(["report", str(tmp_path), "--no-plots"]) == 0
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "summary.md").read_text().startswith("# ragchaos: monday-morning")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text('{"schema_version": 1,\n "scenario": }')
    assert main(["report", str(tmp_path / "bad")]) == 2
    assert "results.json:2: not valid JSON" in capsys.readouterr().err


def test_compare_shows_both_runs(tmp_path: Path, run_result: RunResult, capsys) -> None:
    from tests.reports.synthetic import build_run

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    run_result.save(a / "results.json")
    build_run(latency_scale={"reference": 1.2}).save(b / "results.json")
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "## reference" in out and "## naive" in out
    ref = out.split("## reference", 1)[1]
    p99 = next(line for line in ref.splitlines() if line.startswith("| query p99 |"))
    assert "+20" in p99 or "+19" in p99


def test_a_run_without_data_still_renders_and_fails_its_checks(tmp_path: Path) -> None:
    from ragchaos.reports.results import AppResult, Expectation, Phase, PhaseResult, RunInfo, ScenarioInfo

    r = RunResult(
        scenario=ScenarioInfo(name="empty", gate=["reference.error_rate < 1%"],
                              expect={"reference": [Expectation(mechanism="cache", min=0.1)]}),
        run=RunInfo(started_at=1e9, ended_at=1e9 + 5),
        apps={"reference": AppResult(), "naive": AppResult(phases={"steady": PhaseResult()})},
        phases=[Phase(name="steady", start_s=0, end_s=5)],
    )
    written = write_reports(tmp_path, r)
    assert written["report"].stat().st_size > 1_000
    assert not r.gate.passed
    reasons = {c.expr: c.reason for c in r.gate.checks}
    assert "no data for reference.error_rate" in reasons["reference.error_rate < 1%"]
    assert "no data" in reasons["reference.mechanism.cache >= 0.1"]
    parser = Collect()
    parser.feed(written["report"].read_text())
    assert parser.open == []


def test_a_naive_variant_is_named_in_the_header(run_result: RunResult, tmp_path: Path) -> None:
    r = run_result.model_copy(deep=True)
    r.run.variants = {"naive": "no-retries"}
    written = write_reports(tmp_path, r, plots=False)
    assert "(naive: no-retries variant)" in written["summary"].read_text().splitlines()[0]
    assert "<h1>ragchaos: monday-morning (naive: no-retries variant)</h1>" in written["report"].read_text()
    # and a default run names none
    plain = write_reports(tmp_path / "plain", run_result.model_copy(deep=True), plots=False)
    assert "variant" not in plain["summary"].read_text().splitlines()[0]
