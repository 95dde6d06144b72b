"""[RenderedNote] → .apkg with genanki, written atomically."""

from __future__ import annotations

import copy
import itertools
import json
import sqlite3
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import genanki
from genanki.apkg_col import APKG_COL
from genanki.apkg_schema import APKG_SCHEMA

from flashmark.anki.cloze import card_ords
from flashmark.anki.notetype import KINDS, note_type
from flashmark.anki.stored import LastPackage, copy_entry, copy_out
from flashmark.errors import OutputError, SourceError
from flashmark.figures import Figures, figures, racy
from flashmark.identity import deck_id
from flashmark.markdown.media import media_name
from flashmark.outputs import atomic_write, temp_path
from flashmark.types import MediaFile, RenderedNote, Verified

# genanki's schema, split so the indexes are built after the rows are in (same schema, same order).
_SCHEMA_TABLES = ";".join(part for part in APKG_SCHEMA.split(";") if "CREATE INDEX" not in part)
_SCHEMA_INDEXES = ";".join(part for part in APKG_SCHEMA.split(";") if "CREATE INDEX" in part)


class PackageNote(Protocol):
    """What the package needs of a note: a RenderedNote, or a note an incremental build kept as it was."""

    @property
    def key(self) -> str: ...
    @property
    def guid(self) -> str: ...
    @property
    def notetype(self) -> str: ...
    @property
    def deck(self) -> str: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def mod(self) -> int: ...
    @property
    def media(self) -> tuple[MediaFile, ...]: ...


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

    def __init__(self, notes: Sequence[PackageNote], models: dict[str, genanki.Model] | None = None) -> None:
        self.models = models if models is not None else {}
        by_deck: dict[str, list[PackageNote]] = {}
        checked: set[tuple[str, ...]] = set()  # tag tuples are shared by the notes of a topic
        for rn in notes:
            if rn.notetype not in self.models:
                self.models[rn.notetype] = note_type(rn.notetype)
            # Checked here, before sync changes a collection; a note kept from the last build's state was checked
            # when it was made (its fields are not even decoded unless the deck is written whole).
            if isinstance(rn, RenderedNote) and len(rn.fields) != len(self.models[rn.notetype].fields):
                size = len(self.models[rn.notetype].fields)
                raise ValueError(f"note {rn.key!r} has {len(rn.fields)} fields, its note type {size}")
            if rn.tags not in checked:
                for tag in rn.tags:
                    if " " in tag:
                        raise ValueError(f'Tag "{tag}" contains a space; this is not allowed!')
                checked.add(rn.tags)
            by_deck.setdefault(rn.deck, []).append(rn)
        super().__init__([genanki.Deck(deck_id(name), name) for name in by_deck])
        self.by_deck = by_deck
        used = {rn.notetype for rn in notes}
        self.models = {kind: model for kind, model in self.models.items() if kind in used}
        # genanki's card rule (Note._front_back_cards): a template's card exists when all (or any) of its
        # required fields are non-empty. Cloze notes get one card per cloze number, as Anki counts them.
        self.requirements = {
            kind: [
                (card_ord, any if any_or_all == "any" else all, tuple(required))
                for card_ord, any_or_all, required in model._req
            ]
            for kind, model in self.models.items()
            if not KINDS[kind].cloze
        }
        self.cloze_field = {
            kind: KINDS[kind].index(KINDS[kind].answer_field) for kind in self.models if KINDS[kind].cloze
        }

    def _card_ords(self, kind: str, fields: tuple[str, ...]) -> list[int]:
        """The card ordinals Anki would make for a note of this kind with these fields."""
        if kind in self.cloze_field:
            return card_ords(fields[self.cloze_field[kind]])
        return [
            card_ord
            for card_ord, test, required in self.requirements[kind]
            if (bool(fields[required[0]]) if len(required) == 1 else test(fields[i] for i in required))
        ]

    def write_to_db(self, cursor: sqlite3.Cursor, timestamp: float, id_gen: Iterator[int]) -> None:
        # A scratch database that is zipped and thrown away: no journal, no fsync.
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.executescript(_SCHEMA_TABLES)
        cursor.executescript(APKG_COL)
        self._write_col(cursor, timestamp)
        self._insert(cursor, timestamp, id_gen)
        cursor.executescript(_SCHEMA_INDEXES)  # indexing once at the end is faster than row by row

    def patch_db(self, cursor: sqlite3.Cursor, timestamp: float, kept: AbstractSet[str]) -> None:
        """Make the collection of the last package (copied to `cursor`'s database) this package's: the rows of
        the notes in `kept` (unchanged since it was written) stay, every other row goes, the rest are added."""
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA secure_delete=ON")  # a note taken out leaves no trace of its text in the deck
        cursor.execute("CREATE TEMP TABLE fm_keep (guid TEXT PRIMARY KEY)")
        cursor.executemany("INSERT INTO fm_keep VALUES (?)", ((g,) for g in kept))
        gone = "SELECT id FROM notes WHERE guid NOT IN (SELECT guid FROM fm_keep)"
        cursor.execute(f"DELETE FROM cards WHERE nid IN ({gone})")
        cursor.execute(f"DELETE FROM notes WHERE id IN ({gone})")
        cursor.execute("DROP TABLE fm_keep")
        present: dict[str, list[tuple[int, int]]] = {}  # a kept note's cards: (id, due), in card order
        for guid, card_id, due in cursor.execute(
            "SELECT n.guid, c.id, c.due FROM notes n LEFT JOIN cards c ON c.nid = n.id ORDER BY n.id, c.ord"
        ):
            held = present.setdefault(guid, [])
            if card_id is not None:
                held.append((card_id, due))
        cursor.execute("DELETE FROM col")
        cursor.executescript(APKG_COL)
        self._write_col(cursor, timestamp)
        # New ids go above every id there (a rebuild within the same millisecond would otherwise reuse them).
        (top,) = cursor.execute(
            "SELECT max(coalesce((SELECT max(id) FROM notes), 0), coalesce((SELECT max(id) FROM cards), 0))"
        ).fetchone()
        self._insert(cursor, timestamp, itertools.count(max(int(timestamp * 1000), int(top) + 1)), present)

    def _write_col(self, cursor: sqlite3.Cursor, timestamp: float) -> None:
        """The collection row's deck and note-type JSON, as genanki writes them."""
        decks_json, models_json = cursor.execute("SELECT decks, models FROM col").fetchone()
        decks = json.loads(decks_json)
        models = json.loads(models_json)
        for deck in self.decks:
            decks[str(deck.deck_id)] = deck.to_json()
        if self.decks:  # genanki leaves a note type's deck id at the last deck it wrote
            for model in self.models.values():
                models[str(model.model_id)] = model.to_json(timestamp, self.decks[-1].deck_id)
        cursor.execute("UPDATE col SET decks = ?, models = ?", (json.dumps(decks), json.dumps(models)))

    def _insert(
        self,
        cursor: sqlite3.Cursor,
        timestamp: float,
        id_gen: Iterator[int],
        present: Mapping[str, list[tuple[int, int]]] | None = None,
    ) -> None:
        """Insert the rows of every note and of its cards, but of the notes `present` already (by GUID: their
        cards' ids and places, in card order), whose cards only move to their place.

        A new card's `due` is its place in the deck's order (Anki studies new cards by it, then by id), so a
        deck patched by a rebuild is studied in the order of a deck written whole.
        """
        there = present or {}
        moved: list[tuple[int, int]] = []
        place = itertools.count()
        ids = {kind: model.model_id for kind, model in self.models.items()}
        sort_index = {kind: model.sort_field_index for kind, model in self.models.items()}
        card_rows: list[tuple[object, ...]] = []

        tag_text: dict[tuple[str, ...], str] = {}  # notes of one topic share their tags tuple

        def note_rows() -> Iterator[tuple[object, ...]]:
            # Ids as genanki's generator hands them out: each note's id, then its cards' ids.
            for deck in self.decks:
                for rn in self.by_deck[deck.name]:
                    kept = there.get(rn.guid)
                    if kept is not None:
                        for card_id, due in kept:
                            if (at := next(place)) != due:
                                moved.append((at, card_id))
                        continue
                    fields = rn.fields
                    note_id = next(id_gen)
                    mod = int(rn.mod or timestamp)  # the note's own modification time, else the build's
                    tags = tag_text.get(rn.tags)
                    if tags is None:
                        tags = tag_text[rn.tags] = " " + " ".join(rn.tags) + " "
                    yield (
                        note_id,
                        rn.guid,
                        ids[rn.notetype],
                        mod,
                        -1,
                        tags,
                        "\x1f".join(fields),
                        fields[sort_index[rn.notetype]],
                        0,
                        0,
                        "",
                    )
                    for card_ord in self._card_ords(rn.notetype, fields):
                        # id, note id, deck id, ord, mod, usn, type, queue, due, then the scheduling left at 0
                        card_rows.append(
                            (next(id_gen), note_id, deck.deck_id, card_ord, mod, -1, 0, 0, next(place))
                            + (0, 0, 0, 0, 0, 0, 0, 0, "")
                        )

        cursor.executemany("INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?);", note_rows())
        cursor.executemany("INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);", card_rows)
        cursor.executemany("UPDATE cards SET due = ? WHERE id = ?", moved)


def package_media(notes: Sequence[PackageNote]) -> list[MediaFile]:
    """Every media file the notes reference, once per name."""
    return list({m.name: m for rn in notes for m in rn.media}.values())


class MediaChanged(SourceError):
    """An image changed between being read for a note and being packed: a fresh build sees the new one."""


def still_checked(known: Verified, name: str, now: Figures | None) -> bool:
    """Whether an image checked before under `name` (`known`) still holds those bytes: its figures `now` are those
    of the check, and were not taken just as it changed."""
    return now is not None and known[0] == name and tuple(known[1]) == now and not racy(now, known[2])


def media_bytes(
    media: MediaFile,
    trusted: Mapping[str, Verified] | None = None,
    verified: dict[str, Verified] | None = None,
) -> bytes:
    """An image's bytes as packed, checked against the content hash its media name was made from.

    An image that `trusted` says was checked before under this name, and whose figures have not changed
    since (and were not taken just as it changed), is not hashed again. Every image checked here is
    added to `verified`.
    """
    taken = time.time_ns()
    before = figures(media.path)
    known = trusted.get(media.path) if trusted is not None else None
    try:
        data = Path(media.path).read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read image: {exc.strerror}", media.path) from None
    if known is not None and still_checked(known, media.name, before):
        if verified is not None:
            verified[media.path] = known
        return data
    if media_name(data, Path(media.name).suffix) != media.name:
        raise MediaChanged("image changed while the deck was being built; build again", media.path)
    if verified is not None and before is not None:
        verified[media.path] = (media.name, before, taken)
    return data


def make_package(notes: Sequence[PackageNote], notetype_mods: dict[str, int] | None = None) -> genanki.Package:
    """Build the genanki package: one deck per deck name, one note per rendered note with its mod, and each
    note type the notes use with the modification time the lock gave it."""
    mods = notetype_mods or {}
    kinds = dict.fromkeys(rn.notetype for rn in notes)
    return BulkPackage(notes, {kind: StampedModel(note_type(kind), mods.get(kind, 0)) for kind in kinds})


def write_apkg(
    package: genanki.Package,
    target: Path,
    timestamp: float,
    media: Sequence[MediaFile] = (),
    trusted: Mapping[str, Verified] | None = None,
    verified: dict[str, Verified] | None = None,
    last: LastPackage | None = None,
    kept: AbstractSet[str] = frozenset(),
) -> None:
    """What genanki's Package.write_to_file does, with its scratch database beside `target` and the
    media read straight from the content folder (each checked against its content hash, see media_bytes)
    into the zip; an image the last package (`last`) holds is copied from it instead, as stored.

    `kept`: GUIDs of notes unchanged since the last package was written; with some, that package's collection
    is patched (see BulkPackage.patch_db) instead of written whole.
    """
    database = temp_path(target.with_name("collection.anki2"))
    try:
        with _opened(last) as old:  # opened once, and only while it is the file the state describes
            patched = last is not None and old is not None and _patched(package, database, timestamp, last, old, kept)
            if not patched:
                conn = sqlite3.connect(database)
                try:
                    package.write_to_db(conn.cursor(), timestamp, itertools.count(int(timestamp * 1000)))
                    conn.commit()
                finally:
                    conn.close()
            with open(target, "wb") as file, zipfile.ZipFile(file, "w") as out:
                out.write(database, "collection.anki2")
                out.writestr("media", json.dumps({str(n): m.name for n, m in enumerate(media)}))
                for n, m in enumerate(media):
                    entry = last.entries.get(m.name) if last is not None else None
                    known = trusted.get(m.path) if trusted is not None else None
                    # Copied only while the image is as it was checked: one changed since the parse named it
                    # is read and checked below (and a mismatch makes the build start again).
                    if (
                        entry is not None
                        and old is not None
                        and known is not None
                        and still_checked(known, m.name, figures(m.path))
                    ):
                        copy_entry(out, old, entry, str(n))
                        if verified is not None:
                            verified[m.path] = known
                        continue
                    out.writestr(str(n), media_bytes(m, trusted, verified))
    except sqlite3.Error as exc:  # "database or disk is full"
        raise OutputError(f"cannot write the deck: {exc}", target) from None
    except (OSError, zipfile.BadZipFile):
        if last is None:
            raise
        retry = True  # the last package could not be copied from: every image is read from the folder instead
    else:
        retry = False
    finally:
        database.unlink(missing_ok=True)
    if retry:
        write_apkg(package, target, timestamp, media, trusted, verified)


def _patched(
    package: genanki.Package,
    database: Path,
    timestamp: float,
    last: LastPackage,
    old: BinaryIO,
    kept: AbstractSet[str],
) -> bool:
    """Write `package`'s collection to `database` by patching the last package's (`last`, open as `old`); False
    when that cannot be done (nothing kept, or the collection cannot be copied or patched)."""
    if not kept or last.collection is None or not isinstance(package, BulkPackage):
        return False
    try:
        copy_out(old, last.collection, database)
        with closing(sqlite3.connect(database)) as conn:
            package.patch_db(conn.cursor(), timestamp, kept)
            conn.commit()
        return True
    except (OSError, zipfile.BadZipFile, sqlite3.Error, ValueError, TypeError):  # written whole instead
        database.unlink(missing_ok=True)
        return False


@contextmanager
def _opened(last: LastPackage | None) -> Iterator[BinaryIO | None]:
    """The last package open for copying its entries, or None."""
    file = last.open() if last is not None else None
    try:
        yield file
    finally:
        if file is not None:
            file.close()


def apkg_writer(
    notes: Sequence[PackageNote],
    timestamp: float | None = None,
    notetype_mods: dict[str, int] | None = None,
    trusted: Mapping[str, Verified] | None = None,
    verified: dict[str, Verified] | None = None,
    last: LastPackage | None = None,
    kept: AbstractSet[str] = frozenset(),
) -> Callable[[Path], None]:
    """A function writing the .apkg of `notes` to a path (for `atomic_write` or a Transaction).

    Notes and the note type keep the modification times they carry; `timestamp` (default: now)
    is used where they carry none, and for the ids of new cards. `trusted` and `verified`: see media_bytes;
    `last`: the last package, known unchanged since it was written, and `kept`: see write_apkg.
    """
    stamp = time.time() if timestamp is None else timestamp
    package = make_package(notes, notetype_mods)
    media = package_media(notes)
    return lambda tmp: write_apkg(package, tmp, stamp, media, trusted, verified, last, kept)


def write_package(
    notes: Sequence[PackageNote],
    target: Path,
    timestamp: float | None = None,
    notetype_mods: dict[str, int] | None = None,
) -> None:
    """Write the .apkg to `target` atomically; an earlier deck survives any failure, and no temp file is left."""
    atomic_write(target, apkg_writer(notes, timestamp, notetype_mods))
