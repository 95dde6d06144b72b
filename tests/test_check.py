"""The check stage: a tolerant read of the folder, and every problem or merge as a finding with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashmark.build import Corpus, load_corpus
from flashmark.check import ERROR, INFO, WARNING, check, findings
from flashmark.config import Config
from flashmark.errors import ParseError, SourceError
from flashmark.merge import merge
from flashmark.types import Notice, ParsedFile


def test_load_corpus_stops_on_a_bad_file_unless_told_to_keep_going(fixture_dir) -> None:
    folder = fixture_dir("workflow")
    (folder / "bad.md").write_bytes(b"# x\n\n\xff\n")
    (folder / "front.md").write_text("---\n: [\n---\n# Q\n\nA\n", encoding="utf-8")
    with pytest.raises(SourceError, match="bad.md:3: not valid UTF-8"):
        load_corpus(folder)
    corpus = load_corpus(folder, keep_going=True)
    assert [type(e) for e in corpus.errors] == [SourceError, ParseError]
    assert [e.path for e in corpus.errors] == ["bad.md", "front.md"]
    assert len(corpus.files) == 6 and len(corpus.merge.notes) == 12


def test_every_notice_is_reported_with_its_kind() -> None:
    notices = (
        Notice("a.md", 7, "image", "image 'plot.png' not found"),
        Notice("a.md", None, "something-new", "a kind check has never seen"),
    )
    corpus = Corpus(Config(), (ParsedFile("a.md", (), (), notices),), merge([]))
    found = findings(corpus, Path("notes"))
    assert [str(f.diagnostic) for f in found] == [
        "notes/a.md: warning: a kind check has never seen [something-new]",
        "notes/a.md:7: warning: image 'plot.png' not found [image]",
    ]


def test_findings_are_sorted_by_file_and_line_and_classified(fixture_dir) -> None:
    result = check(fixture_dir("messy"))
    places = [(f.diagnostic.file, f.diagnostic.line) for f in result.findings]
    assert places == sorted(places)
    assert {(f.code, f.level) for f in result.findings} == {
        ("outside", WARNING),
        ("skipped", WARNING),
        ("conflict", WARNING),
        ("merged", INFO),
    }
    assert not result.failed() and result.failed(strict=True)
    assert result.count(ERROR) == 0 and result.count(WARNING) == 4


def test_check_options_override_settings(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("# Q\n\nA\n", encoding="utf-8")
    (folder / "b.md").write_text("# 无答案\n", encoding="utf-8")
    assert check(folder).count(WARNING) == 1
    assert check(folder, exclude=("b.md",)).findings == ()
    assert check(folder, exclude=("b.md",)).files == 1
