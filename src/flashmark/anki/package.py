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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import genanki
from genanki.apkg_col import APKG_COL
from genanki.apkg_schema import APKG_SCHEMA

from flashmark.anki.notetype import note_type
from flashmark.errors import OutputError, SourceError
from flashmark.identity import deck_id
from flashmark.markdown.media import media_name
from flashmark.types import MediaFile, RenderedNote

# genanki's schema, split so the indexes are built after the rows are in (same schema, same order).
_SCHEMA_TABLES = ";".join(part for part in APKG_SCHEMA.split(";") if "CREATE INDEX" not in part)
_SCHEMA_INDEXES = ";".join(part for part in APKG_SCHEMA.split(";") if "CREATE INDEX" in part)


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


class BulkPackage(genanki.Package):  # type: ignore[misc]
    """genanki's Package (schema, collection row, zip, media) with the notes written in bulk.

    Stock genanki rewrites the collection's whole deck and note-type JSON once per deck (quadratic in the
    number of decks: 90 s for 3,334 decks) and inserts rows one `execute` at a time. This writes the same
    rows, with the same ids, in the same order (Note.write_to_db's layout), but the JSON once and the rows
    with two `executemany` calls (the notes' fed by a generator, so their joined fields never pile up).
    """

    def __init__(
        self, notes: Sequence[RenderedNote], model: genanki.Model | None = None, media_files: Sequence[str] = ()
    ) -> None:
        self.model = model if model is not None else note_type()
        size = len(self.model.fields)
        by_deck: dict[str, list[RenderedNote]] = {}
        checked: set[tuple[str, ...]] = set()  # tag tuples are shared by the notes of a topic
        for rn in notes:
            if len(rn.fields) != size:
                raise ValueError(f"note {rn.key!r} has {len(rn.fields)} fields, the note type {size}")
            if rn.tags not in checked:
                for tag in rn.tags:
                    if " " in tag:
                        raise ValueError(f'Tag "{tag}" contains a space; this is not allowed!')
                checked.add(rn.tags)
            by_deck.setdefault(rn.deck, []).append(rn)
        super().__init__([genanki.Deck(deck_id(name), name) for name in by_deck], media_files=list(media_files))
        self.by_deck = by_deck
        # genanki's card rule (Note._front_back_cards): a template's card exists when all (or any) of its
        # required fields are non-empty.
        self.requirements = [
            (card_ord, any if any_or_all == "any" else all, tuple(required))
            for card_ord, any_or_all, required in self.model._req
        ]

    def _card_ords(self, fields: tuple[str, ...]) -> list[int]:
        """The card ordinals genanki would create for a note with these fields."""
        return [
            card_ord
            for card_ord, test, required in self.requirements
            if (bool(fields[required[0]]) if len(required) == 1 else test(fields[i] for i in required))
        ]

    def write_to_db(self, cursor: sqlite3.Cursor, timestamp: float, id_gen: Iterator[int]) -> None:
        # A scratch database that is zipped and thrown away: no journal, no fsync.
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.executescript(_SCHEMA_TABLES)
        cursor.executescript(APKG_COL)
        decks_json, models_json = cursor.execute("SELECT decks, models FROM col").fetchone()
        decks = json.loads(decks_json)
        models = json.loads(models_json)
        for deck in self.decks:
            decks[str(deck.deck_id)] = deck.to_json()
        if self.decks:  # genanki leaves the note type's deck id at the last deck it wrote
            models[str(self.model.model_id)] = self.model.to_json(timestamp, self.decks[-1].deck_id)
        cursor.execute("UPDATE col SET decks = ?, models = ?", (json.dumps(decks), json.dumps(models)))

        sort_index = self.model.sort_field_index
        model_id = self.model.model_id
        card_rows: list[tuple[object, ...]] = []

        tag_text: dict[tuple[str, ...], str] = {}  # notes of one topic share their tags tuple

        def note_rows() -> Iterator[tuple[object, ...]]:
            # Ids as genanki's generator hands them out: each note's id, then its cards' ids.
            for deck in self.decks:
                for rn in self.by_deck[deck.name]:
                    note_id = next(id_gen)
                    mod = int(rn.mod or timestamp)  # the note's own modification time, else the build's
                    tags = tag_text.get(rn.tags)
                    if tags is None:
                        tags = tag_text[rn.tags] = " " + " ".join(rn.tags) + " "
                    yield (
                        note_id,
                        rn.guid,
                        model_id,
                        mod,
                        -1,
                        tags,
                        "\x1f".join(rn.fields),
                        rn.fields[sort_index],
                        0,
                        0,
                        "",
                    )
                    for card_ord in self._card_ords(rn.fields):
                        card_rows.append(
                            (
                                next(id_gen),
                                note_id,
                                deck.deck_id,
                                card_ord,
                                mod,
                                -1,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                "",
                            )
                        )

        cursor.executemany("INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?);", note_rows())
        cursor.executemany("INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);", card_rows)
        cursor.executescript(_SCHEMA_INDEXES)  # indexing once at the end is faster than row by row


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
    return BulkPackage(notes, StampedModel(note_type(), notetype_mod), media_files)


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
        raise OutputError(
            f"cannot write the deck's temporary files: {exc.strerror or exc}", tempfile.gettempdir()
        ) from None
