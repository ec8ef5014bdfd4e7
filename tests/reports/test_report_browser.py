"""report.html read in a real browser (issue 17): Debian's headless chromium at 900 and 1400 px.

At both widths the page has no horizontal overflow, no table is wider than its section, and
every plot keeps its aspect ratio (the plots were once laid out in a flex row that stretched
them). Screenshots of both widths go to the test's folder (or RAGCHAOS_SCREENSHOTS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragchaos.reports.build import write_reports
from ragchaos.reports.results import RunResult
from tests.live.browser import chromium, screenshot_dir

pytestmark = pytest.mark.slow  # a real chromium, as the live view's browser tests

MEASURE = """() => {
  const doc = document.documentElement;
  const tables = [...document.querySelectorAll('table')].map(t => ({
    section: t.closest('section').id, width: t.scrollWidth, room: t.parentElement.clientWidth}));
  const images = [...document.querySelectorAll('.plots img')].map(i => ({
    name: i.alt, natural: i.naturalWidth / i.naturalHeight, shown: i.clientWidth / i.clientHeight,
    width: i.clientWidth, room: i.closest('section').clientWidth}));
  return {scroll: doc.scrollWidth, inner: window.innerWidth, tables, images};
}"""


@pytest.fixture(scope="module")
def report(run_result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = run_result.model_copy(deep=True)
    run.apps["reference"].mechanisms_off = ["retries", "cache"]  # the header's longest line
    run.run.provider_overrides = {"limits": {"embeddings_rpm": 600, "chat_rpm": 300}, "latency": {"enabled": False}}
    return write_reports(tmp_path_factory.mktemp("report"), run)["report"]


@pytest.mark.parametrize("width", [900, 1400])
def test_the_report_fits_the_window_and_keeps_each_plots_aspect(report: Path, width: int, tmp_path: Path) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        m = page.evaluate(MEASURE)
        page.screenshot(path=str(screenshot_dir(tmp_path) / f"report-{width}.png"), full_page=True)
    assert m["inner"] == width
    assert m["scroll"] <= m["inner"], f"the page scrolls sideways at {width} px: {m['scroll']} > {m['inner']}"
    wide = [t for t in m["tables"] if t["width"] > t["room"]]
    assert wide == [], f"tables wider than their section at {width} px: {wide}"
    assert len(m["images"]) >= 5
    for img in m["images"]:
        assert img["shown"] == pytest.approx(img["natural"], rel=0.02), img  # not stretched
        assert img["width"] <= img["room"], img
