"""Builds killed at any moment (SIGKILL, or Ctrl+C) never leave the deck and the lock file disagreeing after the
next build, nor temporary files behind."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from ankitools import import_apkg
from corpus import generate
from flashmark.lock import LOCK_FILE, read_lock
from flashmark.outputs import TMP_PREFIX

ROUNDS = 10


def deck_notes(apkg: Path) -> dict[str, int]:
    """The notes of an .apkg as written: GUID → modification time."""
    with zipfile.ZipFile(apkg) as archive, tempfile.TemporaryDirectory() as tmp:
        database = Path(archive.extract("collection.anki2", tmp))
        conn = sqlite3.connect(database)
        try:
            return dict(conn.execute("select guid, mod from notes").fetchall())
        finally:
            conn.close()


def leftovers(*folders: Path) -> list[str]:
    return [
        p.name for folder in folders for p in folder.iterdir() if p.name.startswith((TMP_PREFIX, ".flashmark-commit"))
    ]


def assert_agree(content: Path, out: Path) -> None:
    """The deck, the report and the lock file describe the same notes, with the same modification times."""
    lock = read_lock(content / LOCK_FILE)
    assert lock is not None
    live = {e.guid: e.mod for e in lock.notes if e.live}
    [deck] = out.glob("*.apkg")
    assert deck_notes(deck) == live
    report = json.loads(deck.with_suffix(".report.json").read_text(encoding="utf-8"))
    assert {n["guid"]: n["mod"] for n in report["notes"]} == live
    assert leftovers(content, out) == []


def test_killed_builds_leave_nothing_the_next_build_does_not_mend(tmp_path: Path) -> None:
    content, out = tmp_path / "notes", tmp_path / "out"
    generate(900, content, seed=3)
    files = sorted(content.rglob("*.md"))
    command = [sys.executable, "-m", "flashmark", "build", str(content), "-o", str(out), "-q"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    took = time.perf_counter() - started
    rng = random.Random(11)
    kinds = {signal.SIGKILL: 0, signal.SIGINT: 0}
    for n in range(ROUNDS):
        # Change an answer, so that the interrupted build has a new deck and lock to write.
        note = rng.choice(files)
        note.write_text(note.read_text(encoding="utf-8").replace("。", f"（第 {n} 轮）。", 1), encoding="utf-8")
        victim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, took))
        sig = signal.SIGKILL if n % 2 else signal.SIGINT
        victim.send_signal(sig)
        victim.wait(60)
        kinds[sig] += 1
        subprocess.run(command, check=True, timeout=120)
        assert_agree(content, out)
    assert all(kinds.values())
    # And Anki takes the final deck as the lock describes it.
    view = import_apkg(next(out.glob("*.apkg")), tmp_path / "collection.anki2")
    lock = read_lock(content / LOCK_FILE)
    assert lock is not None
    assert {g: n.mod for g, n in view.notes.items()} == {e.guid: e.mod for e in lock.notes if e.live}


def test_a_build_killed_between_its_renames_is_finished_by_the_next(tmp_path: Path) -> None:
    """The one moment a kill could leave a new deck with an old lock: the journal lets the next build finish."""
    content, out = tmp_path / "notes", tmp_path / "out"
    generate(60, content, seed=5)
    subprocess.run([sys.executable, "-m", "flashmark", "build", str(content), "-o", str(out), "-q"], check=True)
    note = sorted(content.rglob("*.md"))[0]
    note.write_text(note.read_text(encoding="utf-8").replace("。", "（改）。", 1), encoding="utf-8")
    # A build that dies right after renaming its deck, before its report and lock file.
    script = (
        "import os, sys\n"
        "from flashmark import outputs\n"
        "real = os.replace\n"
        "def replace(src, dst):\n"
        "    real(src, dst)\n"
        "    if str(dst).endswith('.apkg') and outputs.TMP_PREFIX in str(src):\n"
        "        os._exit(9)\n"
        "outputs.os.replace = replace\n"
        "from flashmark.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    died = subprocess.run([sys.executable, "-c", script, "build", str(content), "-o", str(out), "-q"])
    assert died.returncode == 9
    assert [p.name for p in out.iterdir() if p.name.startswith(".flashmark-commit")] != []
    [deck] = out.glob("*.apkg")
    killed = deck_notes(deck)  # the new deck, which a user may import right away
    lock = read_lock(content / LOCK_FILE)
    assert lock is not None and killed != {e.guid: e.mod for e in lock.notes if e.live}
    time.sleep(1.1)  # a build from the old lock would now give the changed note a later time
    subprocess.run([sys.executable, "-m", "flashmark", "build", str(content), "-o", str(out), "-q"], check=True)
    assert_agree(content, out)
    # The next build finished the killed one's renames before starting: the changed note keeps the time
    # the killed build gave it, so a deck imported in between is not "updated" once more.
    assert deck_notes(deck) == killed
