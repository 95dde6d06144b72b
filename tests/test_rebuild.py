"""End to end: edit the notes, rebuild, re-import into the same Anki collection, and keep every note's progress."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from anki.collection import Collection
from click.testing import CliRunner

from ankitools import QA_NOTETYPE, answer_cards, edit_field, import_apkg, open_view
from flashmark.anki import notetype
from flashmark.build import build
from flashmark.cli import main
from flashmark.diagnostics import shown_path
from flashmark.identity import namespace_for, note_guid
from flashmark.lock import LOCK_FILE

FIXTURES = Path(__file__).parent / "fixtures"
NOTETYPE = QA_NOTETYPE


def use(version: str, content: Path) -> Path:
    """Make `content` hold exactly the Markdown files of fixture `version`, keeping its lock file."""
    content.mkdir(parents=True, exist_ok=True)
    for old in content.glob("*.md"):
        old.unlink()
    for new in (FIXTURES / version).glob("*.md"):
        shutil.copy(new, content / new.name)
    return content


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A content folder, an output folder and an Anki collection path."""
    col = tmp_path / "anki" / "collection.anki2"
    col.parent.mkdir()
    return tmp_path / "notes", tmp_path / "out", col


def flashmark_notetypes(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n.startswith("flashmark")]


def test_rebuild_after_edits_keeps_every_notes_progress(paths: tuple[Path, Path, Path]) -> None:
    content, out, col = paths
    first = build(use("rebuild_v1", content), out)
    v1 = import_apkg(first.output, col)
    assert len(v1.notes) == len(first.notes) == 10

    # Study two cards, and edit a note (one the sources leave alone) inside Anki.
    dropout = v1.by_title("What is dropout?")
    vanishing = v1.by_title("什么是梯度消失？")
    answer_cards(col, dropout.card_ids + vanishing.card_ids, ease=4)
    overfit = v1.by_title("什么是过拟合？")
    edited = overfit.fields["Answer"] + "<p>我的补充：验证集损失开始上升时就停止训练。</p>"
    edit_field(col, overfit.id, "Answer", edited)
    studied = open_view(col)
    reviewed = dropout.card_ids + vanishing.card_ids
    assert all(len(studied.revlog[cid]) == 1 for cid in reviewed)
    intervals = {cid: ivl for n in studied.notes.values() for cid, ivl in zip(n.card_ids, n.intervals)}
    assert all(intervals[cid] > 0 for cid in reviewed)

    # Change one answer, reword one title, renumber every question, move one question to
    # another file (and topic), rename a topic whose question shares its title with
    # another, delete one question, add one, and reword an anchored question completely.
    second = build(use("rebuild_v2", content), out)
    assert len(second.notes) == len(first.notes) - 1 + 1
    searches = tuple(r.search for r in second.removed)
    v2 = import_apkg(second.output, col, searches=searches)

    # Anki updated exactly the changed notes, added the new one and kept the rest.
    # (Line numbers are not in the notes, so the questions that only moved down a file are not "updated".)
    assert v2.imported == {"new": 1, "updated": 5, "duplicate": 4, "conflicting": 0}
    assert flashmark_notetypes(v2.notetypes) == [NOTETYPE]
    assert all(n.notetype == NOTETYPE for n in v2.notes.values())

    # Every note that survived kept its Anki note id and card ids.
    removed = v1.by_title("什么是 <code>__init__</code> 方法？")
    for guid, before in v1.notes.items():
        after = v2.notes[guid]
        assert (after.id, after.card_ids) == (before.id, before.card_ids)
    built = {rn.guid for rn in second.notes}
    assert built == (set(v1.notes) - {removed.guid}) | {v2.by_title("什么是注意力机制？").guid}

    # Edits in the sources arrived.
    assert "滑动平均" in v2.by_title("什么是批量归一化？").fields["Answer"]
    assert v2.by_title("How does dropout prevent overfitting?").id == dropout.id
    assert v2.by_title("残差网络为什么容易训练？").id == v1.by_title("什么是残差连接？").id
    moved = v2.by_title("什么是梯度消失？")
    assert moved.id == vanishing.id and moved.fields["Source"] == "cnn.md"
    assert moved.fields["Topic"] == "卷积神经网络"
    lenet = [n for n in v2.notes.values() if n.fields["Topic"] == "LeNet-5"]
    assert [n.id for n in lenet] == [n.id for n in v1.notes.values() if n.fields["Topic"] == "LeNet"]

    # The two studied cards kept their intervals and review history; the Anki edit survived.
    for cid in reviewed:
        assert v2.revlog[cid] == studied.revlog[cid]
    after_intervals = {cid: ivl for n in v2.notes.values() for cid, ivl in zip(n.card_ids, n.intervals)}
    assert {cid: after_intervals[cid] for cid in reviewed} == {cid: intervals[cid] for cid in reviewed}
    assert v2.by_title("什么是过拟合？").fields["Answer"] == edited

    # The deleted question is named in the report, and its search finds it (and only it) in Anki.
    report = json.loads(second.report.read_text(encoding="utf-8"))
    assert [(r["title"], r["guid"]) for r in report["removed"]] == [("什么是 __init__ 方法？", removed.guid)]
    assert v2.found[searches[0]] == (removed.id,)
    assert {(m["old_title"], m["new_title"]) for m in report["matched"]} == {
        ("What is dropout?", "How does dropout prevent overfitting?"),
        ("模型结构", "模型结构"),
    }

    # Deleting what the report names leaves the collection with exactly the new build's notes.
    anki = Collection(str(col))
    try:
        anki.remove_notes(list(v2.found[searches[0]]))
    finally:
        anki.close()
    assert set(open_view(col).notes) == built


def test_unchanged_notes_keep_their_mod_and_changed_ones_get_a_newer_one(paths: tuple[Path, Path, Path]) -> None:
    content, out, _ = paths
    first = build(use("rebuild_v1", content), out)
    second = build(use("rebuild_v2", content), out)
    before = {rn.guid: rn.mod for rn in first.notes}
    after = {rn.note.title: rn for rn in second.notes}
    assert after["什么是过拟合？"].mod == before[after["什么是过拟合？"].guid]
    newest = max(before.values())
    changed = ["什么是批量归一化？", "How does dropout prevent overfitting?", "什么是梯度消失？", "什么是注意力机制？"]
    assert all(after[t].mod > newest for t in changed)


def test_two_builds_of_unchanged_sources_give_identical_notes(paths: tuple[Path, Path, Path], tmp_path: Path) -> None:
    content, out, _ = paths
    use("rebuild_v1", content)
    first = build(content, out / "a")
    lock = content / LOCK_FILE
    lock_text, lock_mtime = lock.read_text(encoding="utf-8"), lock.stat().st_mtime_ns
    second = build(content, out / "b")
    rows = []
    for n, result in enumerate((first, second)):
        anki = import_apkg(result.output, tmp_path / f"fresh{n}.anki2")
        rows.append({g: (note.mod, note.fields, note.tags) for g, note in anki.notes.items()})
    assert rows[0] == rows[1] and len(rows[0]) == 10
    assert lock.read_text(encoding="utf-8") == lock_text
    assert lock.stat().st_mtime_ns == lock_mtime  # not rewritten when nothing changed


@pytest.mark.parametrize("template", ["style.css", "front.html"])
def test_changed_templates_update_the_one_note_type(
    paths: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, template: str
) -> None:
    content, out, col = paths
    first = build(use("rebuild_v1", content), out)
    v1 = import_apkg(first.output, col)
    original = notetype.template_text
    marker = "/* flashmark test: changed */" if template.endswith(".css") else "<!-- flashmark test: changed -->"

    def changed(name: str) -> str:
        return original(name) + (marker if name == template else "")

    monkeypatch.setattr(notetype, "template_text", changed)
    notetype.card_css.cache_clear()
    notetype.note_type.cache_clear()
    notetype.notetype_hash.cache_clear()
    try:
        second = build(content, out)
        v2 = import_apkg(second.output, col)
    finally:
        notetype.card_css.cache_clear()
        notetype.note_type.cache_clear()
        notetype.notetype_hash.cache_clear()
    assert flashmark_notetypes(v2.notetypes) == [NOTETYPE]
    assert v2.notetype_mod[NOTETYPE] > v1.notetype_mod[NOTETYPE]
    anki = Collection(str(col))
    try:
        kind = anki.models.by_name(NOTETYPE)
        assert kind is not None
        shown = kind["css"] if template.endswith(".css") else kind["tmpls"][0]["qfmt"]
    finally:
        anki.close()
    assert marker in shown
    # The notes themselves did not change, so Anki left them alone.
    assert v2.imported["updated"] == 0 and v2.imported["new"] == 0
    assert {g: n.id for g, n in v2.notes.items()} == {g: n.id for g, n in v1.notes.items()}


def test_cli_prints_matches_and_removals(paths: tuple[Path, Path, Path]) -> None:
    content, out, _ = paths
    runner = CliRunner()
    first = runner.invoke(main, ["build", str(use("rebuild_v1", content)), "-o", str(out)])
    assert first.exit_code == 0, first.output
    assert "matched" not in first.output and "removed" not in first.output
    second = runner.invoke(main, ["build", str(use("rebuild_v2", content)), "-o", str(out)])
    assert second.exit_code == 0, second.output
    lines = second.output.splitlines()
    assert (
        "matched: 'What is dropout?' → 'How does dropout prevent overfitting?' (same answer): the same Anki note, progress kept"
        in lines
    )
    assert any(line.startswith("matched: '模型结构' (模型结构@lenet → 模型结构@lenet-5;") for line in lines)
    removed = [line for line in lines if line.startswith("removed:")]
    assert removed == [
        "removed: '什么是 __init__ 方法？'; find it in Anki's browser with: "
        '"dupe:1733300020252,什么是 <code>__init__</code> 方法？" "Topic:卷积神经网络"'
    ]


def test_no_lock_neither_reads_nor_writes_the_lock(paths: tuple[Path, Path, Path]) -> None:
    content, out, _ = paths
    runner = CliRunner()
    result = runner.invoke(main, ["build", str(use("rebuild_v1", content)), "-o", str(out), "--no-lock"])
    assert result.exit_code == 0, result.output
    assert not (content / LOCK_FILE).exists()

    build(content, out)  # now write a lock
    lock_text = (content / LOCK_FILE).read_text(encoding="utf-8")
    result = runner.invoke(main, ["build", str(use("rebuild_v2", content)), "-o", str(out), "--no-lock"])
    assert result.exit_code == 0, result.output
    assert "matched" not in result.output and "removed" not in result.output
    assert (content / LOCK_FILE).read_text(encoding="utf-8") == lock_text
    report = json.loads((out / "notes.report.json").read_text(encoding="utf-8"))
    assert report["lock"] is None and report["matched"] == [] and report["removed"] == []
    # Without the lock, GUIDs derive from keys alone: the reworded question is a new note.
    guids = {n["title"]: n["guid"] for n in report["notes"]}
    namespace = namespace_for("notes")
    assert guids["How does dropout prevent overfitting?"] == note_guid("howdoesdropoutpreventoverfitting", namespace)
    assert guids["残差网络为什么容易训练？"] == note_guid("#residual", namespace)


def test_broken_lock_is_a_one_line_error_and_keeps_the_last_deck(paths: tuple[Path, Path, Path]) -> None:
    content, out, _ = paths
    good = build(use("rebuild_v1", content), out)
    deck = good.output.read_bytes()
    lock = content / LOCK_FILE
    lines = lock.read_text(encoding="utf-8").splitlines()
    lines[5] = "<<<<<<< HEAD"
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(use("rebuild_v2", content)), "-o", str(out)])
    assert result.exit_code == 1
    message = result.output.strip()
    assert message.startswith(f"{shown_path(lock)}:6: error: unresolved merge conflict") and "\n" not in message
    assert "delete it" in message
    assert good.output.read_bytes() == deck
