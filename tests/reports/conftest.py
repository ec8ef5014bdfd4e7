from __future__ import annotations

import pytest

from ragchaos.reports.results import RunResult
from tests.reports.synthetic import build_run


@pytest.fixture(scope="session")
def run_result() -> RunResult:
    """The fixed two-app run (read-only: tests that change it take a model_copy(deep=True))."""
    return build_run()
