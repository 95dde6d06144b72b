"""Rebuilds never cost an Anki edit or a note: line shifts, filtered builds, removed and moved notes, old locks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ankitools import LEGACY_NOTETYPE, QA_NOTETYPE, answer_cards, edit_field, field_of, import_apkg, open_view
from flashmark.build import build
from flashmark.check import check
from flashmark.cli import main
from flashmark.diagnostics import shown_path
from flashmark.lock import LOCK_FILE, read_lock

FIXTURES = Path(__file__).parent / "fixtures"
NOTETYPE = QA_NOTETYPE


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """A content folder holding the rebuild_v1 fixture (three files, ten notes)."""
    return Path(shutil.copytree(FIXTURES / "rebuild_v1", tmp_path / "notes"))


def edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def cli(*args: object) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def entries(content: Path) -> dict[str, tuple[object, ...]]:
    """The lock's entries by key: GUID, hash, mod, files and removed time."""
    lock = read_lock(content / LOCK_FILE)
    assert lock is not None
    return {e.key: (e.guid, e.hash, e.mod, e.files, e.removed) for e in lock.notes}


def test_edits_elsewhere_and_filtered_builds_never_update_untouched_notes(notes: Path, tmp_path: Path) -> None:
    out, col = tmp_path / "out", tmp_path / "anki" / "collection.anki2"
    col.parent.mkdir()
    first = build(notes, out)
    v1 = import_apkg(first.output, col)
    assert v1.imported["new"] == 10

    # The user edits two notes inside Anki and studies some cards.
    rate, norm = v1.by_title("什么是学习率？"), v1.by_title("什么是批量归一化？")
    rate_answer = rate.fields["Answer"] + "<p>我的补充：用学习率预热。</p>"
    edit_field(col, rate.id, "Answer", rate_answer)
    edit_field(col, norm.id, "Extra", "<p>My own mnemonic.</p>")
    studied = rate.card_ids + v1.by_title("什么是过拟合？").card_ids
    answer_cards(col, studied)
    reviews = {cid: open_view(col).revlog[cid] for cid in studied}

    def imported(result) -> dict[str, int]:  # type: ignore[no-untyped-def]
        view = import_apkg(result.output, col)
        assert view.by_title("什么是学习率？").fields["Answer"] == rate_answer
        assert view.by_title("什么是批量归一化？").fields["Extra"] == "<p>My own mnemonic.</p>"
        assert {cid: view.revlog[cid] for cid in studied} == reviews
        assert [n for n in view.notetypes if n.startswith("flashmark")] == [NOTETYPE]
        return view.imported

    # (a) A paragraph and a new question at the top of a file move every line below them.
    edit(
        notes / "basics.md",
        lambda t: t.replace(
            "# 机器学习基础\n",
            "# 机器学习基础\n\n## 什么是偏差与方差？\n\n偏差是模型的系统误差，方差是它对训练数据的敏感程度。\n\n"
            "另起一段，让后面的行号再移动几行。\n",
        ),
    )
    (a) = build(notes, out)
    assert imported(a) == {"new": 1, "updated": 0, "duplicate": 10, "conflicting": 0}

    # (b) Renumbering every question (and reflowing the numbering style) changes no note.
    counter = iter(range(40, 100))
    for name in ("basics.md", "cnn.md"):
        edit(
            notes / name,
            lambda t: re.sub(r"^## (?:\d+\. |面试题 \d+：)?", lambda _: f"## Q{next(counter)}. ", t, flags=re.M),
        )
    b = build(notes, out)
    assert b.matches == () and b.removed == ()
    assert imported(b) == {"new": 0, "updated": 0, "duplicate": 11, "conflicting": 0}

    # (c) A one-off build without one file, into another folder, keeps the lock entries of that file's notes.
    before = entries(notes)
    output = cli("build", notes, "--exclude", "cnn.md", "-o", tmp_path / "scratch")
    assert "removed" not in output and "1 file left out with 4 notes" in output
    assert entries(notes) == before
    c = json.loads((tmp_path / "scratch" / "notes.report.json").read_text(encoding="utf-8"))
    assert c["removed"] == [] and c["counts"]["left_out_notes"] == 4 and c["counts"]["notes"] == 7
    scratch_view = import_apkg(tmp_path / "scratch" / "notes.apkg", col)
    assert scratch_view.imported["updated"] == 0

    # (d) The next normal build finds nothing removed and updates nothing.
    d = build(notes, out)
    assert d.removed == () and d.matches == () and d.remembered == ()
    assert imported(d) == {"new": 0, "updated": 0, "duplicate": 11, "conflicting": 0}
    assert entries(notes) == before


def test_a_note_that_changed_is_still_updated(notes: Path, tmp_path: Path) -> None:
    col = tmp_path / "collection.anki2"
    import_apkg(build(notes, tmp_path / "out").output, col)
    edit(notes / "basics.md", lambda t: t.replace("太小收敛很慢。", "太小收敛很慢，常配合衰减策略。"))
    view = import_apkg(build(notes, tmp_path / "out").output, col)
    assert view.imported == {"new": 0, "updated": 1, "duplicate": 9, "conflicting": 0}
    assert "衰减策略" in view.by_title("什么是学习率？").fields["Answer"]


def test_source_names_files_without_lines(notes: Path, tmp_path: Path) -> None:
    result = build(notes, tmp_path / "out")
    sources = {rn.note.title: field_of(rn, "Source") for rn in result.notes}
    assert sources["什么是学习率？"] == "basics.md"
    report = json.loads(result.report.read_text(encoding="utf-8"))
    assert {n["title"]: n["sources"] for n in report["notes"]}["什么是学习率？"] == ["basics.md:11"]


def test_settings_and_tag_filters_leave_lock_entries_alone(notes: Path, tmp_path: Path) -> None:
    build(notes, tmp_path / "out")
    before = entries(notes)
    (notes / "flashmark.toml").write_text('exclude = ["classic.md"]\n', encoding="utf-8")
    excluded = build(notes, tmp_path / "out")
    assert excluded.removed == () and excluded.left_out_files == 1 and excluded.left_out_notes == 2
    assert entries(notes) == before
    tagged = build(notes, tmp_path / "out", tags=("卷积神经网络",))
    assert tagged.removed == () and len(tagged.notes) == 4
    assert entries(notes) == before
    (notes / "flashmark.toml").unlink()
    again = build(notes, tmp_path / "out")
    assert again.removed == () and again.matches == () and entries(notes) == before


def test_a_partial_note_in_a_one_off_build_keeps_its_lock_entry_and_mod(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# 网络\n\n## 什么是池化？\n\n池化在一个窗口里取最大值或平均值。\n", encoding="utf-8")
    (notes / "b.md").write_text("# 网络\n\n## 什么是池化？\n\n池化降低特征图的分辨率。\n", encoding="utf-8")
    full = build(notes, tmp_path / "out")
    (note,) = full.notes
    assert note.note.files == ("a.md", "b.md") and field_of(note, "Source") == "a.md<br>b.md"
    before = entries(notes)
    partial = build(notes, tmp_path / "scratch", exclude=("b.md",))
    assert len(partial.notes) == 1 and partial.notes[0].mod == note.mod and partial.notes[0].guid == note.guid
    assert entries(notes) == before
    assert build(notes, tmp_path / "out").notes[0].mod == note.mod


def test_removed_notes_are_remembered_until_they_return_or_are_forgotten(notes: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build(notes, out)
    guid = next(rn.guid for rn in first.notes if rn.note.title == "什么是学习率？")
    section = "## 3. 什么是学习率？\n\n学习率决定每一步参数更新的幅度。太大容易发散，太小收敛很慢。\n\n"
    edit(notes / "basics.md", lambda t: t.replace(section, ""))
    gone = build(notes, out)
    assert [r.title for r in gone.removed] == ["什么是学习率？"]
    for _ in range(2):
        output = cli("build", notes, "-o", out)
        assert "1 removed note remembered" in output and "removed: " not in output
    listed = cli("removed", notes).strip().split("\t")
    assert listed[2] == "什么是学习率？" and listed[3].startswith('"dupe:')
    data = json.loads(cli("removed", notes, "--json"))
    assert [(r["title"], r["guid"]) for r in data] == [("什么是学习率？", guid)] and data[0]["since"] > 0

    # The question comes back, reworded a little: it takes its old note again.
    edit(
        notes / "basics.md",
        lambda t: t + "\n## 什么是学习率?\n\n学习率决定每一步参数更新的幅度。太大容易发散，太小收敛很慢。\n",
    )
    output = cli("build", notes, "-o", out)
    assert "restored: '什么是学习率？' is back (removed on " in output and "remembered" not in output
    report = json.loads((out / "notes.report.json").read_text(encoding="utf-8"))
    assert [r["guid"] for r in report["restored"]] == [guid] and report["remembered"] == []
    assert {n["title"]: n["guid"] for n in report["notes"]}["什么是学习率?"] == guid

    # Forgetting clears the list; `--key` forgets one note only.
    edit(notes / "basics.md", lambda t: t.split("\n## 什么是学习率?")[0])
    edit(notes / "classic.md", lambda t: t.split("# AlexNet")[0])
    build(notes, out)
    keys = [e["key"] for e in json.loads(cli("removed", notes, "--json"))]
    assert len(keys) == 2
    assert cli("removed", notes, "--forget", "--key", keys[0]).strip() == "forgot 1 removed note"
    assert [e["key"] for e in json.loads(cli("removed", notes, "--json"))] == keys[1:]
    assert cli("removed", notes, "--forget").strip() == "forgot 1 removed note"
    assert json.loads(cli("removed", notes, "--json")) == []
    bad = CliRunner().invoke(main, ["removed", str(notes), "--forget", "--key", "nope"])
    assert bad.exit_code == 1 and "no removed note has the key 'nope'" in bad.output


def test_a_moved_question_keeps_its_note_and_says_where_its_cards_are(notes: Path, tmp_path: Path) -> None:
    out, col = tmp_path / "out", tmp_path / "collection.anki2"
    first = build(notes, out)
    import_apkg(first.output, col)
    section = "## 2. 什么是梯度消失？\n\n反向传播时梯度逐层相乘，越靠近输入的层梯度越小，参数几乎不更新。残差连接和归一化可以缓解。\n\n"
    edit(notes / "basics.md", lambda t: t.replace(section, ""))
    edit(notes / "cnn.md", lambda t: t + "\n" + section.replace("## 2. ", "## 面试题 5："))
    output = cli("build", notes, "-o", out)
    assert "moved: '什么是梯度消失？' from deck notes::basics to notes::cnn" in output
    assert "Anki keeps its cards in notes::basics; use Change Deck, or `flashmark sync`" in output
    view = import_apkg(out / "notes.apkg", col)
    moved = view.by_title("什么是梯度消失？")
    assert moved.guid in {rn.guid for rn in first.notes} and moved.decks == ("notes::basics",)
    assert "moved:" not in cli("build", notes, "-o", out)  # said once


def test_a_lock_from_flashmark_0_1_is_upgraded_once_and_keeps_every_note(tmp_path: Path) -> None:
    old = FIXTURES / "upgrade_v0_1"
    notes = Path(shutil.copytree(old / "notes", tmp_path / "notes"))
    col = tmp_path / "collection.anki2"
    v01 = import_apkg(old / "notes-0.1.0.apkg", col)
    answer_cards(col, v01.by_title("什么是过拟合？").card_ids)
    assert "basics.md:3" in v01.by_title("什么是过拟合？").fields["Source"]

    upgraded = build(notes, tmp_path / "out")
    assert upgraded.matches == () and upgraded.removed == ()
    lock = read_lock(notes / LOCK_FILE)
    assert lock is not None and lock.version == 2 and lock.namespace
    view = import_apkg(upgraded.output, col)
    # The Source field loses its line numbers once: every note is updated, none duplicated.
    assert view.imported == {"new": 0, "updated": 10, "duplicate": 0, "conflicting": 0}
    assert set(view.notes) == set(v01.notes)
    assert [n for n in view.notetypes if n.startswith("flashmark")] == [LEGACY_NOTETYPE]
    for guid, before in v01.notes.items():
        assert (view.notes[guid].id, view.notes[guid].card_ids) == (before.id, before.card_ids)
    assert view.by_title("什么是过拟合？").fields["Source"] == "basics.md"
    again = import_apkg(build(notes, tmp_path / "out").output, col)
    assert again.imported == {"new": 0, "updated": 0, "duplicate": 10, "conflicting": 0}


# ---------------------------------------------------------------- check reads the lock


def lock_of(notes: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    build(notes, tmp_path / "out")
    path = notes / LOCK_FILE
    return path, path.read_text(encoding="utf-8").splitlines()


def lock_finding(notes: Path) -> tuple[str, str | None, int | None, str]:
    result = check(notes)
    (finding,) = [f.diagnostic for f in result.findings if f.code == "lock"]
    return finding.level, finding.file, finding.line, finding.message


def test_check_reports_a_conflicted_lock_at_its_marker(notes: Path, tmp_path: Path) -> None:
    path, lines = lock_of(notes, tmp_path)
    lines[7:7] = ["<<<<<<< HEAD", lines[7], "=======", lines[7].replace('"mod": ', '"mod": 1'), ">>>>>>> other"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    severity, file, line, message = lock_finding(notes)
    assert (severity, file, line) == ("error", shown_path(path), 8) and "unresolved merge conflict" in message
    output = CliRunner().invoke(main, ["check", str(notes)])
    assert output.exit_code == 1 and f"{shown_path(path)}:8: error: unresolved merge conflict" in output.output


def test_check_reports_a_truncated_lock(notes: Path, tmp_path: Path) -> None:
    path, lines = lock_of(notes, tmp_path)
    path.write_text("\n".join(lines[:8]) + '\n    {"key": "abc", "gu', encoding="utf-8")
    severity, file, line, message = lock_finding(notes)
    assert (severity, file, line) == ("error", shown_path(path), 9) and "not valid JSON" in message


def test_check_reports_colliding_guids_and_stray_pins(notes: Path, tmp_path: Path) -> None:
    path, lines = lock_of(notes, tmp_path)
    guids = [json.loads(line.strip().rstrip(","))["guid"] for line in lines[5:7]]
    path.write_text("\n".join(lines).replace(guids[1], guids[0]) + "\n", encoding="utf-8")
    severity, file, line, message = lock_finding(notes)
    assert (severity, file, line) == ("error", shown_path(path), 7) and f"GUID {guids[0]!r} appears twice" in message

    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    edit(notes / "cnn.md", lambda t: t.replace(" {#residual}", ""))
    severity, file, line, message = lock_finding(notes)
    assert severity == "warning" and file == shown_path(path)
    assert "pins {#residual} ('什么是残差连接？') but no question carries that id now" in message
