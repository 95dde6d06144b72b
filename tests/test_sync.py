"""`flashmark sync` against real collection files made with Anki's backend: plans, changes, conflicts, safety."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from anki.collection import Collection
from click.testing import CliRunner

from ankitools import QA_NOTETYPE, answer_cards, edit_field, import_apkg, open_view
from flashmark.anki.collection import collection_path
from flashmark.anki.notetype import QAR, note_type
from flashmark.anki.sync import sync
from flashmark.build import build
from flashmark.cli import main
from flashmark.lock import LOCK_FILE, read_lock

FIXTURES = Path(__file__).parent / "fixtures"


def user_collection(path: Path) -> tuple[int, int]:
    """A collection with the user's own Basic and Cloze notes (and a review of each); their note ids."""
    col = Collection(str(path))
    try:
        ids = []
        for name, fields in (
            ("Basic", {"Front": "自己的问题", "Back": "自己的答案"}),
            ("Cloze", {"Text": "{{c1::自己}}的填空"}),
        ):
            note = col.new_note(col.models.by_name(name))  # type: ignore[arg-type]
            for key, value in fields.items():
                note[key] = value
            col.add_note(note, col.decks.id("我的卡片"))  # type: ignore[arg-type]
            ids.append(note.id)
        return ids[0], ids[1]
    finally:
        col.close()


def snapshot(path: Path) -> dict[str, object]:
    """Everything sync could change: notes, cards (deck, queue, interval, due), review log, note types."""
    col = Collection(str(path))
    try:
        return {
            "notes": col.db.all("select id, guid, mid, mod, tags, flds from notes order by id"),
            "cards": col.db.all("select id, nid, did, ord, queue, type, ivl, due, reps from cards order by id"),
            "revlog": col.db.all("select * from revlog order by id"),
            "notetypes": col.db.all("select id, name, mtime_secs from notetypes order by id"),
            "scm": col.db.scalar("select scm from col"),
        }
    finally:
        col.close()


def cli(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def section(path: Path, title: str) -> str:
    """The Markdown of one question (heading line to the next heading) in a fixture file."""
    text = path.read_text(encoding="utf-8")
    start = text.index(title)
    start = text.rindex("\n## ", 0, start) + 1
    end = text.find("\n## ", start + 1)
    return text[start : end + 1 if end >= 0 else len(text)]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, tuple[int, int]]:
    notes = Path(shutil.copytree(FIXTURES / "rebuild_v1", tmp_path / "notes"))
    col = tmp_path / "Anki2" / "User 1" / "collection.anki2"
    col.parent.mkdir(parents=True)
    return notes, col, user_collection(col)


def test_sync_applies_adds_edits_moves_removals_and_conflicts(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes, col, (basic, cloze) = setup
    out = tmp_path / "out"
    first = sync(notes, out, collection=col)
    assert first.count("add") == 10 and first.backup is not None and first.backup.is_file()
    v1 = open_view(col)
    ours = {g for g, n in v1.notes.items() if n.notetype == QA_NOTETYPE}
    assert len(ours) == 10 and len(v1.notes) == 12

    # The user studies some cards and edits two notes in Anki.
    rate, norm = v1.by_title("什么是学习率？"), v1.by_title("什么是批量归一化？")
    answer_cards(col, rate.card_ids + v1.by_title("什么是过拟合？").card_ids + v1.by_title("What is dropout?").card_ids)
    edit_field(col, rate.id, "Answer", rate.fields["Answer"] + "<p>我在 Anki 里加的补充。</p>")
    edit_field(col, norm.id, "Answer", "<p>我在 Anki 里改写的答案。</p>")
    studied = open_view(col)

    # The sources change: one answer, one title reworded, one question moved to another file, one
    # deleted, one added, and the note the user edited in Anki changed in the sources too.
    basics, cnn = notes / "basics.md", notes / "cnn.md"
    text = basics.read_text(encoding="utf-8")
    text = text.replace("常见对策有正则化、数据增强和提前停止。", "常见对策有正则化、数据增强、提前停止和集成。")
    vanishing = section(basics, "什么是梯度消失？")
    basics.write_text(text.replace(vanishing, ""), encoding="utf-8")
    text = cnn.read_text(encoding="utf-8")
    text = text.replace("What is dropout?", "How does dropout prevent overfitting?")
    text = text.replace(section(cnn, "__init__"), "")
    text = text.replace("再做可学习的缩放和平移。", "再做可学习的缩放和平移；推理时用滑动平均。")
    text += (
        "\n"
        + vanishing.replace("## 2. ", "## 面试题 9：")
        + "\n## 面试题 10：什么是注意力机制？\n\n**答案：** 按相似度给值加权求和。\n"
    )
    cnn.write_text(text, encoding="utf-8")

    # A dry run shows the plan and changes nothing at all.
    before = snapshot(col)
    lock_before = (notes / LOCK_FILE).read_bytes()
    backups = set(first.backup.parent.iterdir())
    code, stdout, _ = cli("sync", notes, "-o", out, "--collection", col, "--dry-run")
    assert code == 0
    plan = [
        line
        for line in stdout.splitlines()
        if line.split(":")[0] in {"add", "update", "keep", "conflict", "move", "retire", "left"}
    ]
    assert sorted(plan) == sorted(
        [
            "update: '什么是过拟合？'",
            "update: 'How does dropout prevent overfitting?'",
            "keep: '什么是学习率？' (edited in Anki since the last sync; the sources did not change)",
            "update: '什么是梯度消失？'",  # it names its new file in small print
            "move: '什么是梯度消失？' from deck notes::basics to notes::cnn",
            "retire: '什么是 __init__ 方法？' (its question is gone: tagged flashmark::removed, cards suspended)",
            "add: '什么是注意力机制？' → notes::cnn",
            "conflict: '什么是批量归一化？' changed in Anki and in the sources; kept your Anki edit (--prefer source "
            "takes the sources'): Anki has '我在 Anki 里改写的答案。'; the sources have '批量归一化在每个小批量上把"
            "激活值标准化为零均值、单位方差，再做可学习的缩放和平移；推理时用滑动平均。'",
        ]
    ), stdout
    assert stdout.splitlines()[-1].startswith(
        "sync (dry run, nothing written): would change: 1 note added, 3 updated, 1 kept as edited in Anki, 1 conflict, 1 moved, 1 retired; 4 unchanged"
    )
    assert snapshot(col) == before and (notes / LOCK_FILE).read_bytes() == lock_before
    assert set(first.backup.parent.iterdir()) == backups  # no backup either

    # The sync itself.
    result = sync(notes, out, collection=col)
    assert (
        result.count("add"),
        result.count("update"),
        result.count("conflict"),
        result.moved,
        result.count("retire"),
    ) == (1, 3, 1, 1, 1)
    assert result.count("keep") == 1  # the learning-rate note: edited in Anki, unchanged in the sources
    assert result.backup is not None and result.backup.is_file()
    after = open_view(col)
    assert after.by_title("什么是学习率？").fields["Answer"].endswith("<p>我在 Anki 里加的补充。</p>")
    assert after.by_title("什么是批量归一化？").fields["Answer"] == "<p>我在 Anki 里改写的答案。</p>"
    assert "集成" in after.by_title("什么是过拟合？").fields["Answer"]
    assert after.by_title("How does dropout prevent overfitting?").id == v1.by_title("What is dropout?").id
    assert after.by_title("什么是梯度消失？").decks == ("notes::cnn",)
    gone = after.by_title("什么是 <code>__init__</code> 方法？")
    assert "flashmark::removed" in gone.tags
    assert all(q == -1 for q in card_queues(col, gone.card_ids))
    # Card ids, intervals and review logs of every surviving note are as they were; the user's notes untouched.
    for guid, note in studied.notes.items():
        assert (after.notes[guid].id, after.notes[guid].card_ids, after.notes[guid].intervals) == (
            note.id,
            note.card_ids,
            note.intervals,
        )
        for cid in note.card_ids:
            assert after.revlog[cid] == studied.revlog[cid]
    assert (
        after.by_id(basic).fields == studied.by_id(basic).fields and after.by_id(cloze).mod == studied.by_id(cloze).mod
    )

    # Twice in a row: the second sync changes nothing, makes no backup, and says so.
    assert result.backup is not None
    backups_now = {p: p.stat().st_mtime_ns for p in result.backup.parent.iterdir()}
    synced = snapshot(col)
    code, stdout, _ = cli("sync", notes, "-o", out, "--collection", col)
    assert stdout.splitlines()[-1] == (
        f"sync: nothing to change (1 kept as edited in Anki, 1 conflict; 8 unchanged) → {col}"
    ), stdout
    assert code == 0 and snapshot(col) == synced
    assert {p: p.stat().st_mtime_ns for p in result.backup.parent.iterdir()} == backups_now  # no backup made

    # The source wins a conflict when asked to.
    won = sync(notes, out, collection=col, prefer="source")
    assert won.count("conflict") == 1 and won.count("update") == 0
    assert "推理时用滑动平均" in open_view(col).by_title("什么是批量归一化？").fields["Answer"]

    # Deleting removed notes deletes them, saying how many reviewed cards went with them.
    deleted = sync(notes, out, collection=col, delete_removed=True)
    assert deleted.count("delete") == 1 and gone.guid not in open_view(col).notes


def card_queues(path: Path, card_ids: tuple[int, ...]) -> list[int]:
    col = Collection(str(path))
    try:
        return [col.get_card(cid).queue for cid in card_ids]  # type: ignore[arg-type]
    finally:
        col.close()


def test_an_imported_deck_then_sync_gives_no_duplicates_and_keeps_edits(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes, col, _ = setup
    deck = build(notes, tmp_path / "out")
    imported = import_apkg(deck.output, col)
    rate = imported.by_title("什么是学习率？")
    edit_field(col, rate.id, "Answer", "<p>导入后在 Anki 里改的。</p>")
    answer_cards(col, rate.card_ids)
    result = sync(notes, tmp_path / "out", collection=col)
    assert result.count("add") == 0 and result.count("keep") == 1 and result.count("unchanged") == 9
    view = open_view(col)
    assert len(view.notes) == 12 and view.by_title("什么是学习率？").fields["Answer"] == "<p>导入后在 Anki 里改的。</p>"
    assert view.revlog[rate.card_ids[0]] != ()


def test_a_collection_anki_holds_open_is_refused_with_one_line(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes, col, _ = setup
    sync(notes, tmp_path / "out", collection=col)
    (notes / "basics.md").write_text(
        (notes / "basics.md").read_text(encoding="utf-8") + "\n## 新问题\n\n新答案。\n", encoding="utf-8"
    )
    before = snapshot(col)
    deck_before = (tmp_path / "out" / "notes.apkg").read_bytes()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from anki.collection import Collection; c = Collection({str(col)!r}); print('open', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        code, stdout, stderr = cli("sync", notes, "-o", tmp_path / "out", "--collection", col)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert code == 1 and stdout == ""
    assert stderr.strip().endswith(
        f"error: Anki is open: close it, or import {tmp_path / 'out' / 'notes.apkg'} instead [collection]"
    )
    assert stderr.count("\n") == 1
    assert snapshot(col) == before and (tmp_path / "out" / "notes.apkg").read_bytes() == deck_before


def test_a_changed_template_updates_the_note_type_in_place_without_a_schema_change(
    setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    notes, col, _ = setup
    sync(notes, tmp_path / "out", collection=col)
    scm = snapshot(col)["scm"]
    from flashmark.anki import notetype

    note_type.cache_clear()
    real = notetype.card_css()
    monkeypatch.setattr(notetype, "card_css", lambda: real + "\n.fm-card { letter-spacing: 0.01em; }\n")
    try:
        result = sync(notes, tmp_path / "out", collection=col)
        assert result.notetype_updated
        view = open_view(col)
        assert "letter-spacing: 0.01em" in view.notetype_css[QA_NOTETYPE]
        assert snapshot(col)["scm"] == scm  # no full sync with AnkiWeb needed
    finally:
        note_type.cache_clear()


def test_a_collection_whose_note_type_lost_a_field_needs_consent(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes, col, _ = setup
    sync(notes, tmp_path / "out", collection=col)
    anki = Collection(str(col))
    try:
        nt = anki.models.get(note_type(QAR).model_id)
        assert nt is not None
        anki.models.remove_field(nt, nt["flds"][1])  # the user deleted Prompt in Anki
        anki.models.update_dict(nt)
    finally:
        anki.close()
    code, _, stderr = cli("sync", notes, "-o", tmp_path / "out", "--collection", col)
    assert code == 1 and "--allow-schema-change" in stderr and "schema change" in stderr
    ok = sync(notes, tmp_path / "out", collection=col, allow_schema_change=True)
    assert ok.notetype_updated
    assert [f["name"] for f in notetype_fields(col)] == [
        "Question",
        "Answer",
        "Extra",
        "Topic",
        "Source",
        "Reverse",
        "Prompt",
    ]


def notetype_fields(path: Path) -> list[dict[str, object]]:
    col = Collection(str(path))
    try:
        nt = col.models.get(note_type(QAR).model_id)
        assert nt is not None
        return list(nt["flds"])
    finally:
        col.close()


def test_profiles_are_found_in_ankis_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "Anki2"
    for profile in ("User 1", "学习"):
        (base / profile).mkdir(parents=True)
        Collection(str(base / profile / "collection.anki2")).close()
    monkeypatch.setenv("ANKI_BASE", str(base))
    monkeypatch.delenv("FLASHMARK_COLLECTION", raising=False)
    assert collection_path() == base / "User 1" / "collection.anki2"
    assert collection_path(profile="学习") == base / "学习" / "collection.anki2"
    monkeypatch.setenv("FLASHMARK_COLLECTION", "学习")
    assert collection_path() == base / "学习" / "collection.anki2"
    monkeypatch.setenv("FLASHMARK_COLLECTION", str(base / "User 1" / "collection.anki2"))
    assert collection_path() == base / "User 1" / "collection.anki2"
    code, _, stderr = cli("sync", tmp_path, "--profile", "nobody")
    assert code == 1 and "profile 'nobody' has no collection here; give --collection PATH or --profile NAME" in stderr


def test_sync_json_reports_each_note(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes, col, _ = setup
    code, stdout, _ = cli("sync", notes, "-o", tmp_path / "out", "--collection", col, "--json")
    assert code == 0
    data = json.loads(stdout)
    assert data["counts"]["added"] == 10 and data["dry_run"] is False and Path(data["backup"]).is_file()
    assert {s["action"] for s in data["steps"]} == {"add"} and data["build"]["counts"]["notes"] == 10
    lock = read_lock(notes / LOCK_FILE)
    assert lock is not None and lock.collection and all(e.sync is not None for e in lock.notes)


def test_watch_syncs_after_each_rebuild(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes, col, _ = setup
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flashmark",
            "watch",
            str(notes),
            "-o",
            str(tmp_path / "out"),
            "--sync",
            "--collection",
            str(col),
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        while not first.startswith("sync:"):
            first = proc.stdout.readline()
        assert first.startswith("sync: 10 notes added"), first
        (notes / "basics.md").write_text(
            (notes / "basics.md").read_text(encoding="utf-8") + "\n## 新问题\n\n新答案。\n", encoding="utf-8"
        )
        line = proc.stdout.readline()
        while "sync:" not in line:
            line = proc.stdout.readline()
        assert "1 note added" in line, line
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert len([n for n in open_view(col).notes.values() if n.notetype == QA_NOTETYPE]) == 11
