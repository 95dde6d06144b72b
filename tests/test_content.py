"""The shipped deck under content/ builds cleanly and imports into Anki with its repeats merged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ankitools import import_apkg
from flashmark.build import build

CONTENT = Path(__file__).resolve().parent.parent / "content"


def test_shipped_content_builds_without_warnings(tmp_path: Path) -> None:
    content = shutil.copytree(CONTENT, tmp_path / "content")
    result = build(content, tmp_path / "out")
    assert result.skipped == () and result.notices == ()
    assert result.deck == "ResNet 面试题"
    assert result.merged >= 3 and len(result.merge.groups) >= 3
    anki = import_apkg(result.output, tmp_path / "col.anki2", searches=("tag:ResNet",))
    assert len(anki.notes) == len(result.notes) >= 20
    assert len(anki.found["tag:ResNet"]) == len(anki.notes)
    assert any("深度学习中的深度可分离卷积" in t for g in result.merge.groups for t in g.titles)


def test_shipped_lock_file_is_up_to_date(tmp_path: Path) -> None:
    content = shutil.copytree(CONTENT, tmp_path / "content")
    before = json.loads((content / "flashmark.lock").read_text(encoding="utf-8"))["notes"]
    result = build(content, tmp_path / "out")
    assert result.matches == () and result.removed == ()
    after = json.loads((content / "flashmark.lock").read_text(encoding="utf-8"))["notes"]
    assert after == before, "run `make deck` and commit content/flashmark.lock"
