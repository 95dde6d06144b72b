"""Builds at the same time: one complete, importable deck and a lock file that matches it, never a torn one."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ankitools import AnkiView, import_apkg
from flashmark import outputs
from flashmark.build import CACHE_DIR, build
from flashmark.lock import LOCK_FILE, content_hash, exclusive, read_lock

QUESTIONS = 400


def _notes(version: int) -> str:
    lines = ["# 并发\n"]
    for n in range(QUESTIONS):
        lines.append(f"## 问题{n}：第{n}个概念是什么？\n\n这是第{n}个答案，第{version}版，说明卷积与池化。\n")
    return "\n".join(lines)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text(_notes(1), encoding="utf-8")
    return folder


def _imported(deck: Path, tmp_path: Path, name: str) -> AnkiView:
    collection = tmp_path / name / "collection.anki2"
    collection.parent.mkdir()
    return import_apkg(deck, collection)


def assert_consistent(content: Path, deck: Path, view: AnkiView) -> None:
    """The lock file parses and describes exactly the notes of the deck: GUIDs, content hashes, times."""
    lock = read_lock(content / LOCK_FILE)
    assert lock is not None
    by_guid = {e.guid: e for e in lock.notes}
    assert set(by_guid) == set(view.notes)
    for guid, note in view.notes.items():
        entry = by_guid[guid]
        assert entry.hash == content_hash(list(note.fields.values()), note.tags), note.fields["Question"]
        assert entry.mod == note.mod
    leftovers = [
        p.name for p in [*content.iterdir(), *deck.parent.iterdir()] if p.name.startswith(".") and p.name != CACHE_DIR
    ]
    assert leftovers == []  # no temp file and no guard file is left behind


def test_two_build_processes_at_once_leave_a_whole_deck_and_a_matching_lock(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "flashmark", "build", str(content), "-o", str(out), "-q"]
    for round_ in range(3):
        if round_ == 2:  # the notes change between rounds: the lock then has something to carry over
            (content / "a.md").write_text(_notes(2), encoding="utf-8")
        racers = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
        ]
        for racer in racers:
            _, err = racer.communicate(timeout=120)
            assert racer.returncode == 0, err
        deck = out / "notes.apkg"
        view = _imported(deck, tmp_path, f"anki{round_}")
        assert len(view.notes) == QUESTIONS
        assert all(note.card_ids for note in view.notes.values())
        if round_ == 2:
            assert all("第2版" in note.fields["Answer"] for note in view.notes.values())
        assert_consistent(content, deck, view)


def test_a_second_build_waits_for_the_first(content: Path, tmp_path: Path) -> None:
    """While one build holds the folder, another does not start writing; it finishes once the first is done."""
    out = tmp_path / "out"
    finished = threading.Event()

    def second() -> None:
        build(content, out)
        finished.set()

    with exclusive(content / LOCK_FILE):
        worker = threading.Thread(target=second)
        worker.start()
        assert not finished.wait(1.0)  # a build of this size takes a fraction of that when nothing holds it
        assert not (out / "notes.apkg").exists()
    worker.join(60)
    assert finished.is_set() and (out / "notes.apkg").is_file()


def test_interleaved_builds_cannot_pair_one_deck_with_the_other_lock(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build A stops after staging its deck and lock, before renaming them; build B, of edited notes, starts meanwhile.

    Unserialised, B would write its deck and lock, and then A its own: A's deck and lock over B's edits.
    """
    out = tmp_path / "out"
    build(content, out)  # a lock file to start from
    a_wrote_deck, go_on = threading.Event(), threading.Event()
    real_commit = outputs.Transaction.commit

    def slow_commit(self: outputs.Transaction) -> None:
        if threading.current_thread().name == "A":
            a_wrote_deck.set()
            go_on.wait(10)
        real_commit(self)

    monkeypatch.setattr(outputs.Transaction, "commit", slow_commit)
    a = threading.Thread(target=build, args=(content, out), name="A")
    a.start()
    assert a_wrote_deck.wait(30)
    (content / "a.md").write_text(_notes(3), encoding="utf-8")
    b = threading.Thread(target=build, args=(content, out), name="B")
    b.start()
    b.join(1.0)  # unserialised, B is done by now
    go_on.set()
    a.join(60)
    b.join(60)
    deck = out / "notes.apkg"
    view = _imported(deck, tmp_path, "anki")
    assert all("第3版" in note.fields["Answer"] for note in view.notes.values())
    assert_consistent(content, deck, view)
