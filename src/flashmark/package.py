"""[RenderedNote] → .apkg with genanki, written atomically."""

from __future__ import annotations

import copy
import itertools
import json
import os
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import genanki

from flashmark.errors import OutputError, SourceError
from flashmark.identity import deck_id
from flashmark.media import media_name
from flashmark.notetype import note_type
from flashmark.types import MediaFile, RenderedNote


def _file_mode(path: Path) -> int:
    """Permissions for a written file: kept when it exists, else the usual ones (not the temp file's 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write` on a temp file beside `target`, then rename it into place."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write to the output folder: {exc.strerror}", target.parent) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(_file_mode(target))
        _flush_to_disk(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", target) from None
    finally:
        tmp.unlink(missing_ok=True)
    _flush_to_disk(target.parent)


def _flush_to_disk(path: Path) -> None:
    """fsync a file (so a rename never publishes a file whose data is still in memory) or, best effort, a folder."""
    if path.is_dir():
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # Windows cannot open folders; its renames need no folder sync
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
        return
    # Read-only is enough for fsync on POSIX (the lock file may carry a read-only mode by now); Windows needs write.
    fd = os.open(path, (os.O_RDWR if os.name == "nt" else os.O_RDONLY) | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StampedNote(genanki.Note):  # type: ignore[misc]
    """A genanki note that carries its own modification time instead of the package's."""

    def __init__(self, mod: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mod = mod

    def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
        super().write_to_db(cursor, self.mod or timestamp, deck_id, id_gen)


class StampedModel(genanki.Model):  # type: ignore[misc]
    """A genanki model whose modification time is fixed (Anki updates a note type only when it is newer)."""

    def __init__(self, base: genanki.Model, mod: int) -> None:
        super().__init__(
            base.model_id,
            base.name,
            fields=copy.deepcopy(base.fields),
            templates=copy.deepcopy(base.templates),
            css=base.css,
            model_type=base.model_type,
            latex_pre=base.latex_pre,
            latex_post=base.latex_post,
            sort_field_index=base.sort_field_index,
        )
        self.mod = mod

    def to_json(self, timestamp: float, deck_id: int) -> dict[str, Any]:
        data: dict[str, Any] = super().to_json(timestamp, deck_id)
        if self.mod:
            data["mod"] = self.mod
        return data


def package_media(notes: Sequence[RenderedNote]) -> list[MediaFile]:
    """Every media file the notes reference, once per name."""
    return list({m.name: m for rn in notes for m in rn.note.media}.values())


def stage_media(media: Sequence[MediaFile], folder: Path) -> list[str]:
    """Copy media into `folder` under their package names (genanki names files by their base name)."""
    staged = []
    for m in media:
        try:
            data = Path(m.path).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read image: {exc.strerror}", m.path) from None
        if media_name(data, Path(m.name).suffix) != m.name:
            raise SourceError("image changed while the deck was being built; build again", m.path)
        dest = folder / m.name
        dest.write_bytes(data)
        staged.append(str(dest))
    return staged


def make_package(
    notes: Sequence[RenderedNote], notetype_mod: int = 0, media_files: Sequence[str] = ()
) -> genanki.Package:
    """Build the genanki package: one deck per deck name, one note per rendered note with its mod, plus media."""
    model = StampedModel(note_type(), notetype_mod)
    decks: dict[str, genanki.Deck] = {}
    for rn in notes:
        deck = decks.get(rn.deck)
        if deck is None:
            deck = decks[rn.deck] = genanki.Deck(deck_id(rn.deck), rn.deck)
        deck.add_note(StampedNote(rn.mod, model=model, fields=list(rn.fields), tags=list(rn.tags), guid=rn.guid))
    return genanki.Package(list(decks.values()), media_files=list(media_files))


def write_apkg(package: genanki.Package, target: Path, folder: Path, timestamp: float) -> None:
    """What genanki's Package.write_to_file does, but with its database in `folder` (genanki leaves its own behind)."""
    database = folder / "collection.anki2"
    conn = sqlite3.connect(database)
    try:
        package.write_to_db(conn.cursor(), timestamp, itertools.count(int(timestamp * 1000)))
        conn.commit()
    finally:
        conn.close()
    media = dict(enumerate(package.media_files))
    with zipfile.ZipFile(target, "w") as out:
        out.write(database, "collection.anki2")
        out.writestr("media", json.dumps({n: os.path.basename(path) for n, path in media.items()}))
        for n, path in media.items():
            out.write(path, str(n))


def write_package(
    notes: Sequence[RenderedNote], target: Path, timestamp: float | None = None, notetype_mod: int = 0
) -> None:
    """Write the .apkg to `target` atomically; an earlier deck survives any failure, and no temp file is left.

    Notes and the note type keep the modification times they carry; `timestamp` (default: now)
    is used where they carry none, and for the ids of new cards.
    """
    stamp = time.time() if timestamp is None else timestamp
    try:
        with tempfile.TemporaryDirectory(prefix="flashmark-") as name:
            folder = Path(name)
            media = stage_media(package_media(notes), folder)
            package = make_package(notes, notetype_mod, media_files=media)
            atomic_write(target, lambda tmp: write_apkg(package, tmp, folder, stamp))
    except sqlite3.Error as exc:  # genanki's database, in the temp folder: "database or disk is full"
        raise OutputError(f"cannot write the deck: {exc}", target) from None
    except OSError as exc:  # the temp folder itself (the output folder's errors are OutputErrors already)
        raise OutputError(f"cannot write the deck's temporary files: {exc.strerror or exc}", tempfile.gettempdir()) from None
