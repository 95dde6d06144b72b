"""`flashmark removed`: the notes whose questions are gone from the content, as the lock file remembers them."""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path

from flashmark.errors import LockError
from flashmark.lock import LOCK_FILE, LockEntry, exclusive, forget_removed, read_lock, write_lock


def removed_notes(content_dir: Path) -> tuple[LockEntry, ...]:
    """Every removed note the lock remembers, oldest first (none without a lock file)."""
    lock = read_lock(content_dir / LOCK_FILE)
    return lock.removed if lock is not None else ()


def forget(content_dir: Path, keys: Collection[str] = ()) -> tuple[LockEntry, ...]:
    """Drop removed notes from the lock (all, or those with `keys`); return the entries dropped.

    A forgotten note's question, should it come back, makes a new Anki note instead of taking its old one.
    """
    path = content_dir / LOCK_FILE
    with exclusive(path):
        lock = read_lock(path)
        if lock is None:
            return ()
        unknown = set(keys) - {e.key for e in lock.removed}
        if unknown:
            raise LockError(f"no removed note has the key {sorted(unknown)[0]!r}; `flashmark removed` lists them", path)
        kept, dropped = forget_removed(lock, keys)
        if dropped:
            write_lock(path, kept)
        return dropped


def removed_line(entry: LockEntry) -> str:
    """One tab-separated line: since when, the key, the title and the search that finds it in Anki."""
    since = time.strftime("%Y-%m-%d", time.localtime(entry.removed))
    return "\t".join((since, entry.key, entry.title, entry.search))
