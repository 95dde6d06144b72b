"""Headless Chromium for the browser tests: the one tools/ensure_browser.py finds, or a skip (a failure under CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from ensure_browser import find_chromium, missing_browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@cache
def _chromium() -> Path | None:
    return find_chromium()


def chromium_or_skip() -> str:
    """The browser's path; without one, skip the calling test, or fail it when CI=true."""
    found = _chromium()
    if found is not None:
        return str(found)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{missing_browser()} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(missing_browser())


@contextmanager
def headless_chromium(executable: str) -> Iterator[Browser]:
    """One headless Chromium, for a module's tests to share."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
