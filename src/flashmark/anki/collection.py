"""The user's Anki collection: where it is, opening it (never while Anki has it open), and backing it up."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flashmark.errors import FlashmarkError

if TYPE_CHECKING:
    from anki.collection import Collection

DEFAULT_PROFILE = "User 1"
ENV_COLLECTION = "FLASHMARK_COLLECTION"


class CollectionError(FlashmarkError):
    """The Anki collection cannot be found, opened or written."""


def anki_base() -> Path:
    """Anki's data folder (`Anki2`), where each profile has a folder: ANKI_BASE, else the platform's place."""
    if os.environ.get("ANKI_BASE"):
        return Path(os.environ["ANKI_BASE"])
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "Anki2"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Anki2"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "Anki2"


def collection_path(collection: Path | None = None, profile: str | None = None) -> Path:
    """The collection to sync: --collection, else --profile's, else FLASHMARK_COLLECTION (a path or a profile)."""
    if collection is None and profile is None:
        setting = os.environ.get(ENV_COLLECTION, "")
        if setting.endswith(".anki2") or os.sep in setting or "/" in setting:
            collection = Path(setting)
        else:
            profile = setting or DEFAULT_PROFILE
    if collection is None:
        collection = anki_base() / str(profile) / "collection.anki2"
    if not collection.is_file():
        where = f"profile {profile!r} has no collection" if profile is not None else "no Anki collection"
        raise CollectionError(f"{where} here; give --collection PATH or --profile NAME", collection)
    return collection


def _anki() -> type[Collection]:
    try:
        from anki.collection import Collection
    except ImportError:
        raise CollectionError("flashmark sync needs Anki's own backend: pip install 'flashmark[sync]'") from None
    return Collection


@contextmanager
def open_collection(path: Path, deck_file: Path) -> Iterator[Collection]:
    """The collection, opened with Anki's backend; one clear error while Anki itself has it open."""
    collection_class = _anki()
    from anki.errors import DBError

    try:
        col = collection_class(str(path))
    except DBError as exc:
        if "already open" in str(exc) or "locked" in str(exc):
            raise CollectionError(f"Anki is open: close it, or import {deck_file} instead", path) from None
        raise CollectionError(f"cannot open the collection: {exc}", path) from None
    try:
        yield col
    finally:
        col.close()


def backup(col: Collection) -> Path:
    """Anki's own backup of the collection, in the folder Anki keeps its backups in; its path."""
    folder = Path(col.path).parent / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    col.create_backup(backup_folder=str(folder), force=True, wait_for_completion=True)
    # A new file, or (two backups within one second share a name) one written again.
    made = sorted(
        (p for p in folder.iterdir() if before.get(p) != p.stat().st_mtime_ns), key=lambda p: p.stat().st_mtime_ns
    )
    if not made:
        raise CollectionError("Anki made no backup; nothing was changed", folder)
    return made[-1]
