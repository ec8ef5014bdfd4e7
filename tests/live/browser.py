"""Headless Chromium for the live view's tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download cannot be reached here, so it launches the system build
(``executable_path``); Playwright promises compatibility only with its bundled build, so the
version is logged with every test. Missing chromium or Playwright skips, except under
``CI=true``, where .ci/run installs both and their absence FAILS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("RAGCHAOS_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 720}


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why} (CI=true: .ci/run installs chromium and the dev extras install Playwright)")
    pytest.skip(why)


@contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """A Playwright ``Browser`` on Debian's chromium; ``args`` are extra command-line switches."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(args))
        print(f"chromium {browser.version}")
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(tmp: Path) -> Path:
    """Where screenshots go: ``RAGCHAOS_SCREENSHOTS`` if set (CI artefacts), else the test's tmp."""
    out = Path(os.environ.get("RAGCHAOS_SCREENSHOTS") or tmp)
    out.mkdir(parents=True, exist_ok=True)
    return out
