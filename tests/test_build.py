"""End to end: content folder → .apkg → a real Anki collection, through the library and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ankitools import import_apkg
from flashmark.anki import package
from flashmark.anki.notetype import KINDS, QAR
from flashmark.build import build
from flashmark.cli import main
from flashmark.diagnostics import shown_path

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def course(fixture_dir) -> Path:
    return fixture_dir("decks/course")


def test_course_deck_in_anki(course: Path, build_and_import) -> None:
    searches = ("tag:深度学习::卷积网络", "tag:深度学习", "tag:NLP", "tag:Transformer", "deck:课程笔记::注意力")
    result, anki = build_and_import(course, searches=searches)
    assert result.output.name == "课程笔记.apkg"
    assert len(anki.notes) == 4 and anki.card_count == 4
    assert anki.notetypes.count(KINDS[QAR].notetype_name) == 1
    assert list(next(iter(anki.notes.values())).fields) == list(KINDS[QAR].fields)
    assert len(anki.found["tag:深度学习::卷积网络"]) == 2
    assert len(anki.found["tag:深度学习"]) == 2
    assert len(anki.found["tag:NLP"]) == 2 and len(anki.found["tag:Transformer"]) == 2
    assert len(anki.found["deck:课程笔记::注意力"]) == 2
    assert {"课程笔记", "课程笔记::cnn", "课程笔记::注意力"} <= set(anki.decks)
    conv = anki.by_title("什么是卷积？")
    assert conv.decks == ("课程笔记::cnn",)
    assert conv.fields["Answer"].startswith("<p>用一个小的卷积核")
    assert '<div class="fm-label">举例</div>' in conv.fields["Extra"]
    assert conv.fields["Topic"] == "深度学习：卷积网络"
    assert conv.fields["Source"] == "cnn.md"  # files only: line numbers move when text above moves
    pool = anki.by_title("什么是池化？")
    assert pool.fields["Prompt"] == "<p>说明最大池化的作用。</p>\n"
    attn = anki.by_title("什么是自注意力？")
    assert set(attn.tags) == {"attention", "NLP", "Transformer"}
    for note in anki.notes.values():
        assert all(" " not in tag for tag in note.tags)


def test_report_accounts_for_every_question(course: Path) -> None:
    result = build(course, course.parent / "out")
    report = json.loads(result.report.read_text(encoding="utf-8"))
    assert report["counts"] == {
        "files": 2,
        "questions": 5,
        "notes": 4,
        "merged": 0,
        "skipped": 1,
        "warnings": 1,
        "left_out": 0,
        "left_out_files": 0,
        "left_out_notes": 0,
        "removed": 0,
        "remembered": 0,
        "cards": 4,
        "kinds": {"qa": 4},
    }
    assert report["skipped"] == [
        {"file": "cnn.md", "line": 15, "title": "什么是感受野？", "reason": "heading has no answer under it"}
    ]
    in_notes = [s for n in report["notes"] for s in n["sources"]]
    skipped = [f"{s['file']}:{s['line']}" for s in report["skipped"]]
    assert sorted(in_notes + skipped) == sorted(
        ["cnn.md:15", "cnn.md:3", "cnn.md:9", "nlp/attention.md:6", "nlp/attention.md:10"]
    )


def test_seed_report_accounts_for_thirty(seed_dir: Path) -> None:
    result = build(seed_dir, seed_dir.parent / "out")
    report = json.loads(result.report.read_text(encoding="utf-8"))
    sources = [s for n in report["notes"] for s in n["sources"]]
    assert len(sources) == 30 == len(set(sources))
    assert report["counts"]["merged"] == 21
    assert report["merged"][0]["titles"] == ["什么是深度学习中的深度可分离卷积？", "什么是深度可分离卷积？"]


def test_merge_rules_in_anki(fixture_dir, build_and_import) -> None:
    result, anki = build_and_import(fixture_dir("merge"))
    bn = anki.by_title("什么是批归一化？")
    assert bn.fields["Answer"].count('class="fm-alt"') == 2
    assert bn.fields["Source"] == "cnn.md<br>nets.md"
    report = json.loads(result.report.read_text(encoding="utf-8"))
    assert [n["sources"] for n in report["notes"] if n["guid"] == bn.guid] == [["cnn.md:7", "cnn.md:11", "nets.md:7"]]
    assert len([n for n in anki.notes.values() if n.fields["Question"] == "模型结构"]) == 2
    assert len(anki.notes) == len(result.notes) == 6


def test_deck_name_precedence(course: Path, tmp_path: Path) -> None:
    assert build(course, tmp_path / "a", deck="My Deck").output.name == "My_Deck.apkg"
    (course / "flashmark.toml").unlink()
    result = build(course, tmp_path / "b")
    assert result.deck == "course" and result.output.name == "course.apkg"
    anki = import_apkg(result.output, tmp_path / "col.anki2")
    assert "course::cnn" in anki.decks


def test_two_builds_give_the_same_identities(course: Path, tmp_path: Path) -> None:
    first = build(course, tmp_path / "one")
    second = build(course, tmp_path / "two")
    assert [(n.guid, n.deck) for n in first.notes] == [(n.guid, n.deck) for n in second.notes]
    a = import_apkg(first.output, tmp_path / "a.anki2")
    b = import_apkg(second.output, tmp_path / "b.anki2")
    assert set(a.notes) == set(b.notes)


def test_guid_ignores_numbering_position_and_file(tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.md").write_text("# 主题\n\n## 1. 甲问题\n\n甲。\n\n## 2. 乙问题\n\n乙。\n", encoding="utf-8")
    two = tmp_path / "two"
    two.mkdir()
    (two / "b.md").write_text("# 主题\n\n## 问题 7：乙问题\n\n乙，改过的答案。\n", encoding="utf-8")
    (two / "c.md").write_text("# 主题\n\n## Q3. 甲问题\n\n甲。\n", encoding="utf-8")
    first = {n.note.title: n.guid for n in build(one, tmp_path / "o1", deck="D").notes}
    second = {n.note.title: n.guid for n in build(two, tmp_path / "o2", deck="D").notes}
    assert first == second
    # Another deck's notes never share a GUID with these, even with the same titles.
    other = {n.note.title: n.guid for n in build(two, tmp_path / "o3", deck="Other", lock=False).notes}
    assert set(other) == set(first) and not set(other.values()) & set(first.values())


def test_failed_write_keeps_the_last_good_deck(course: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    good = build(course, out).output
    before = good.read_bytes()

    def broken_write(self, name: str, data: object, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")  # the database is in the zip by now: half a deck

    monkeypatch.setattr(package.zipfile.ZipFile, "writestr", broken_write)
    (course / "cnn.md").write_text("## 新问题\n\n新答案。\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(course), "-o", str(out)])
    assert result.exit_code == 1
    assert "cannot write: the disk is full" in result.output
    assert good.read_bytes() == before
    assert sorted(p.name for p in out.iterdir() if p.name != ".cache") == ["课程笔记.apkg", "课程笔记.report.json"]


class TestCli:
    def test_summary(self, course: Path, tmp_path: Path) -> None:
        result = CliRunner().invoke(main, ["build", str(course), "-o", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
        assert "2 files, 5 questions → 4 notes (0 repeats merged, 1 skipped, 1 warning)" in result.output
        assert str(tmp_path / "out" / "课程笔记.apkg") in result.output
        cnn = shown_path(course / "cnn.md")
        assert f"{cnn}:15: warning: '什么是感受野？' skipped: heading has no answer under it [skipped]" in result.output
        assert result.output.rstrip().endswith(" s")

    def test_seed_summary(self, seed_dir: Path, tmp_path: Path) -> None:
        result = CliRunner().invoke(main, ["build", str(seed_dir), "-o", str(tmp_path / "out"), "--deck", "Seed"])
        assert result.exit_code == 0, result.output
        assert "1 file, 30 questions → 9 notes (21 repeats merged, 0 skipped, 0 warnings)" in result.output

    def test_not_utf8(self, tmp_path: Path) -> None:
        content = tmp_path / "content"
        content.mkdir()
        (content / "good.md").write_text("## 题\n\n答。\n", encoding="utf-8")
        (content / "gbk.md").write_bytes("## 题目\n\n答案".encode("gbk"))
        result = CliRunner().invoke(main, ["build", str(content), "-o", str(tmp_path / "out")])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "gbk.md" in lines[0] and "UTF-8" in lines[0]
        assert not (tmp_path / "out").exists()

    def test_empty_folder(self, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        result = CliRunner().invoke(main, ["build", str(tmp_path / "empty"), "-o", str(tmp_path / "out")])
        assert result.exit_code == 1
        assert shown_path(tmp_path / "empty") in result.output and "no Markdown files" in result.output
        assert not (tmp_path / "out").exists()

    def test_missing_folder(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(main, ["build", str(tmp_path / "nope"), "-o", str(tmp_path / "out")])
        assert result.exit_code == 1 and "does not exist" in result.output

    def test_unreadable_folder(self, tmp_path: Path, monkeypatch) -> None:
        content = tmp_path / "content"
        (content / "locked").mkdir(parents=True)
        (content / "a.md").write_text("## 题\n\n答。\n", encoding="utf-8")
        real_scandir = os.scandir

        def scandir(path: object) -> object:
            if str(path).endswith("locked"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "scandir", scandir)
        result = CliRunner().invoke(main, ["build", str(content), "-o", str(tmp_path / "out")])
        assert result.exit_code == 1
        assert "locked" in result.output and "Permission denied" in result.output
        assert not (tmp_path / "out").exists()

    def test_python_dash_m(self, course: Path, tmp_path: Path) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "flashmark", "build", str(course), "-o", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "4 notes" in proc.stdout
        assert (tmp_path / "out" / "课程笔记.apkg").is_file()


def test_deck_ids_derive_from_deck_names(course: Path, tmp_path: Path) -> None:
    from flashmark.identity import deck_id

    first = package.make_package(build(course, tmp_path / "one").notes)
    second = package.make_package(build(course, tmp_path / "two").notes)
    ids = [(d.name, d.deck_id) for d in first.decks]
    assert ids == [(d.name, d.deck_id) for d in second.decks]
    assert all(i == deck_id(name) for name, i in ids)
    assert len({i for _, i in ids}) == len(ids)


def test_filtered_build_keeps_lock_entries_of_left_out_notes(course: Path, tmp_path: Path) -> None:
    full = build(course, tmp_path / "full")
    lock = (course / "flashmark.lock").read_text(encoding="utf-8")
    filtered = build(course, tmp_path / "some", tags=("NLP",))
    assert len(filtered.notes) == 2 and filtered.left_out == 2
    assert filtered.removed == ()
    assert (course / "flashmark.lock").read_text(encoding="utf-8") == lock
    assert {n.guid for n in filtered.notes} < {n.guid for n in full.notes}


def test_outputs_get_ordinary_file_permissions(course: Path, tmp_path: Path) -> None:
    result = build(course, tmp_path / "out")
    mask = os.umask(0)
    os.umask(mask)
    for path in (result.output, result.report, course / "flashmark.lock"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path
