"""The report's JSON text: valid, one line per record, the same values json.dumps would write."""

from __future__ import annotations

import json
from pathlib import Path

from flashmark import report
from flashmark.build import build

TRICKY = ['引号"和\\反斜杠', "tab\tnew\nline", "\x00\x1f control", "emoji 😀 and 𝔘", "</script>", "", "ascii"]


def test_report_is_the_data_one_record_per_line(fixture_dir, tmp_path: Path) -> None:
    result = build(fixture_dir("decks/course"), tmp_path / "out")
    text = result.report.read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(report.report_data(result)))
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    note_lines = [line for line in lines if line.startswith('    {"key"')]
    assert len(note_lines) == len(result.notes) == 4


def test_each_value_encodes_like_json_dumps() -> None:
    for value in [
        TRICKY,
        {"k": TRICKY, "n": [1, 2.5, None, True], "nested": {"a": []}},
        "text",
        3,
        0.125,
        None,
        [],
        {},
    ]:
        assert report._encode(value) == json.dumps(value, ensure_ascii=False)


def test_the_report_file_is_written_line_by_line_as_report_json_makes_it(fixture_dir, tmp_path: Path) -> None:
    result = build(fixture_dir("decks/course"), tmp_path / "out")
    assert result.report.read_bytes() == report.report_json(result).encode()
    report.write_report_json(result, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == report.report_json(result).encode()
