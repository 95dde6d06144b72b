"""bench/startup.py, which `make bench-startup` runs: its import-time parsing and one short run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from startup import COMMANDS, parse_importtime  # noqa: E402

# `python -X importtime` lists each import after the ones it made, indented two spaces per level.
IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |     yaml.error
import time:       200 |        300 |   yaml
import time:        50 |         50 |   flashmark.errors
import time:      1000 |       1350 | flashmark.config
import time:       400 |        400 | click
"""


def test_parse_importtime_finds_who_imported_what() -> None:
    assert parse_importtime(IMPORTTIME) == [
        ("yaml.error", 0.1, "yaml"),
        ("yaml", 0.3, "flashmark.config"),
        ("flashmark.errors", 0.05, "flashmark.config"),
        ("flashmark.config", 1.35, None),
        ("click", 0.4, None),
    ]


def test_one_run_measures_every_command_against_import_click() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "startup.py"), "--repeat", "1", "--imports", "3", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    table, _, data = proc.stdout.partition("\n{")
    result = json.loads("{" + data)
    figures = result["figures"]
    assert list(figures) == [label for label, _ in COMMANDS]
    assert figures["import click"]["wall_ratio"] == 1.0
    assert all(row["wall_ms"] > 0 and row["cpu_ms"] > 0 for row in figures.values())
    assert "flashmark --help" in table and "<= 2x:" in table
    assert len(result["imports"]) == 3
    assert all(entry["by"].startswith("flashmark") for entry in result["imports"])
