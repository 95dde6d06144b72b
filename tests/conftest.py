"""Shared fixtures: the seed from ../shared/, small fixture folders, building and importing decks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ankitools import AnkiView, import_apkg
from browser import chromium_or_skip
from flashmark.build import build
from flashmark.report import BuildResult

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = ROOT.parent / "shared" / "seeds" / "000_de51fc0f772b09be.txt"

# Property tests: the default profile is derandomized (the same examples every run, so CI cannot
# be flaky) and small enough for the whole suite to stay fast; FLASHMARK_HYPOTHESIS=deep explores
# ten times as many random examples when hunting for bugs locally.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", derandomize=True, deadline=None, database=None, suppress_health_check=_QUIET)
settings.register_profile("deep", max_examples=1000, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("FLASHMARK_HYPOTHESIS", "ci"))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium the browser tests drive (see tests/browser.py); the tests that use it skip without one."""
    return chromium_or_skip()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip the browser tests here rather than in a fixture, so that `-ra` sums up every skip in one line."""
    if "chromium_path" in getattr(item, "fixturenames", ()):
        chromium_or_skip()


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    """A content folder holding the project's sample input as seed.md."""
    if not SEED.is_file():
        pytest.skip(f"sample input not found at {SEED} (the shared/ folder is absent)")
    folder = tmp_path / "seed"
    folder.mkdir()
    shutil.copy(SEED, folder / "seed.md")
    return folder


@pytest.fixture
def fixture_dir(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a folder (or single file) from tests/fixtures/ into a fresh content folder."""

    def copy(name: str) -> Path:
        src = FIXTURES / name
        dest = tmp_path / "content" / (src.stem if src.is_file() else src.name)
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            dest.mkdir(parents=True)
            shutil.copy(src, dest / src.name)
        return dest

    return copy


@pytest.fixture
def build_and_import(tmp_path: Path) -> Callable[..., tuple[BuildResult, AnkiView]]:
    """Build a content folder and import the deck into a fresh collection."""

    def run(content: Path, searches: tuple[str, ...] = (), **kwargs: object) -> tuple[BuildResult, AnkiView]:
        out = tmp_path / "out"
        result = build(content, out, **kwargs)  # type: ignore[arg-type]
        col = tmp_path / "anki" / "collection.anki2"
        col.parent.mkdir(exist_ok=True)
        return result, import_apkg(result.output, col, searches)

    return run
