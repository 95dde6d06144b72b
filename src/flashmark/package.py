"""[RenderedNote] → .apkg with genanki, written atomically."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import genanki
from genanki.apkg_col import APKG_COL
from genanki.apkg_schema import APKG_SCHEMA

from flashmark.errors import OutputError
from flashmark.identity import deck_id
from flashmark.notetype import note_type
from flashmark.types import RenderedNote

# genanki's schema, split so the indexes are built after the rows are in (same schema, same order).
_SCHEMA_TABLES = ";".join(part for part in APKG_SCHEMA.split(";") if "CREATE INDEX" not in part)
_SCHEMA_INDEXES = ";".join(part for part in APKG_SCHEMA.split(";") if "CREATE INDEX" in part)


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
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}", target) from None
    finally:
        tmp.unlink(missing_ok=True)


class BulkPackage(genanki.Package):  # type: ignore[misc]
    """genanki's Package (schema, collection row, zip, media) with the notes written in bulk.

    Stock genanki rewrites the collection's whole deck and note-type JSON once per deck (quadratic in the
    number of decks: 90 s for 3,334 decks) and inserts rows one `execute` at a time. This writes the same
    rows, with the same ids, in the same order (Note.write_to_db's layout), but the JSON once and the rows
    with two `executemany` calls (the notes' fed by a generator, so their joined fields never pile up).
    It also deletes the scratch database genanki (0.13.1) leaves behind in the temp folder on every write.
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

    def write_to_file(self, file: str, timestamp: float | None = None) -> None:
        """genanki's write_to_file, then remove the scratch database it leaves in the temp folder."""
        self.scratch: str | None = None
        try:
            super().write_to_file(file, timestamp=timestamp)
        finally:
            if self.scratch:
                try:
                    os.unlink(self.scratch)
                except OSError:
                    pass

    def write_to_db(self, cursor: sqlite3.Cursor, timestamp: float, id_gen: Iterator[int]) -> None:
        _, _, self.scratch = cursor.execute("PRAGMA database_list").fetchone()
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

        mod = int(timestamp)
        sort_index = self.model.sort_field_index
        model_id = self.model.model_id
        card_rows: list[tuple[object, ...]] = []

        tag_text: dict[tuple[str, ...], str] = {}  # notes of one topic share their tags tuple

        def note_rows() -> Iterator[tuple[object, ...]]:
            # Ids as genanki's generator hands them out: each note's id, then its cards' ids.
            for deck in self.decks:
                for rn in self.by_deck[deck.name]:
                    note_id = next(id_gen)
                    tags = tag_text.get(rn.tags)
                    if tags is None:
                        tags = tag_text[rn.tags] = " " + " ".join(rn.tags) + " "
                    yield (note_id, rn.guid, model_id, mod, -1, tags, "\x1f".join(rn.fields), rn.fields[sort_index], 0, 0, "")
                    for card_ord in self._card_ords(rn.fields):
                        card_rows.append((next(id_gen), note_id, deck.deck_id, card_ord, mod, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ""))

        cursor.executemany("INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?);", note_rows())
        cursor.executemany("INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);", card_rows)
        cursor.executescript(_SCHEMA_INDEXES)  # indexing once at the end is faster than row by row


def make_package(notes: Sequence[RenderedNote], timestamp: float | None = None) -> genanki.Package:
    """The genanki package: one deck per deck name, one note per rendered note, plus their media."""
    return BulkPackage(notes, media_files=list(dict.fromkeys(m for rn in notes for m in rn.note.media)))


def write_package(notes: Sequence[RenderedNote], target: Path, timestamp: float | None = None) -> None:
    """Write the .apkg to `target` atomically; an earlier deck survives any failure."""
    package = make_package(notes)
    stamp = time.time() if timestamp is None else timestamp
    atomic_write(target, lambda tmp: package.write_to_file(str(tmp), timestamp=stamp))
