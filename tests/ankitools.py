"""The one helper that imports a built .apkg into a real Anki collection and reports what Anki sees."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

from flashmark.anki.notetype import KINDS, QA, QAR
from flashmark.types import RenderedNote

QA_NOTETYPE = KINDS[QAR].notetype_name  # what Q&A notes of a fresh build use
LEGACY_NOTETYPE = KINDS[QA].notetype_name  # the one-card Q&A note type of flashmark 0.1 and 0.2


def field_of(rn: RenderedNote, name: str) -> str:
    """One field of a rendered note, by name, whichever of flashmark's note types it is for."""
    kind = KINDS[rn.notetype]
    return rn.fields[kind.index(name)]


@dataclass(frozen=True)
class AnkiNote:
    """One note as Anki stores it after import."""

    id: int
    guid: str
    mod: int
    notetype: str
    fields: dict[str, str]
    tags: tuple[str, ...]
    decks: tuple[str, ...]
    card_ids: tuple[int, ...]
    intervals: tuple[int, ...] = ()  # each card's interval in days, in card_ids order


@dataclass(frozen=True)
class AnkiView:
    """What a collection holds: notes by GUID, deck names, note types."""

    notes: dict[str, AnkiNote]
    decks: tuple[str, ...]
    notetypes: tuple[str, ...]
    media_dir: Path
    media_files: tuple[str, ...]
    found: dict[str, tuple[int, ...]]
    notetype_css: dict[str, str] = field(default_factory=dict)
    notetype_mod: dict[str, int] = field(default_factory=dict)
    revlog: dict[int, tuple[int, ...]] = field(default_factory=dict)  # card id → its review-log row ids
    imported: dict[str, int] = field(default_factory=dict)  # the last import's new/updated/duplicate/conflicting counts
    # card id → (question, answer) HTML as Anki renders them (card.question(), card.answer()), when asked for
    rendered: dict[int, tuple[str, str]] = field(default_factory=dict)
    queues: dict[int, int] = field(default_factory=dict)  # card id → queue (-1: suspended)
    ords: dict[int, int] = field(default_factory=dict)  # card id → its card type's ordinal (cloze number - 1)

    def cards(self, note: AnkiNote) -> list[tuple[int, str, str]]:
        """A note's cards in ordinal order: (ordinal, question text, answer text), as Anki renders them."""
        return sorted((self.ords[c], *map(card_text, self.rendered[c])) for c in note.card_ids)

    def by_field(self, name: str, text: str) -> AnkiNote:
        """The one note whose field `name` holds `text` (fails if none or several)."""
        matches = [n for n in self.notes.values() if n.fields.get(name) == text]
        assert len(matches) == 1, f"{len(matches)} notes with {name} = {text!r}"
        return matches[0]

    def by_title(self, title: str) -> AnkiNote:
        """The one note whose Question field is `title` (fails if none or several)."""
        matches = [n for n in self.notes.values() if n.fields.get("Question") == title]
        assert len(matches) == 1, (
            f"{len(matches)} notes titled {title!r}: {[n.fields['Question'] for n in self.notes.values()]}"
        )
        return matches[0]

    def found_guids(self, search: str) -> set[str]:
        """The GUIDs of the notes a search passed to import_apkg found."""
        by_id = {n.id: n.guid for n in self.notes.values()}
        return {by_id[i] for i in self.found[search]}

    def by_id(self, note_id: int) -> AnkiNote:
        """The note with Anki note id `note_id`."""
        matches = [n for n in self.notes.values() if n.id == note_id]
        assert len(matches) == 1, f"no note with id {note_id}"
        return matches[0]

    @property
    def card_count(self) -> int:
        return sum(len(n.card_ids) for n in self.notes.values())


def card_text(html: str) -> str:
    """A rendered card side as plain text: the style sheet, tags and runs of white space gone."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def import_apkg(
    apkg: Path,
    collection: Path,
    searches: tuple[str, ...] = (),
    options: ImportAnkiPackageOptions | None = None,
    render: bool = False,
) -> AnkiView:
    """Import `apkg` into the collection at `collection` (created if missing, else added to) with Anki's defaults."""
    col = Collection(str(collection))
    try:
        response = col.import_anki_package(
            ImportAnkiPackageRequest(package_path=str(apkg), options=options or ImportAnkiPackageOptions())
        )
        log = response.log
        imported = {
            "new": len(log.new),
            "updated": len(log.updated),
            "duplicate": len(log.duplicate),
            "conflicting": len(log.conflicting),
        }
        return view(col, searches, imported, render)
    finally:
        col.close()


def open_view(collection: Path, searches: tuple[str, ...] = (), render: bool = False) -> AnkiView:
    """What an existing collection holds, without importing anything."""
    col = Collection(str(collection))
    try:
        return view(col, searches, render=render)
    finally:
        col.close()


def answer_cards(collection: Path, card_ids: Iterable[int], ease: int = 4) -> None:
    """Study cards with Anki's scheduler (4 = Easy), so they carry an interval and review-log rows."""
    col = Collection(str(collection))
    try:
        for cid in card_ids:
            card = col.get_card(cid)
            card.start_timer()
            col.sched.answerCard(card, ease)  # type: ignore[arg-type]
    finally:
        col.close()


def new_card_order(collection: Path, deck: str) -> list[tuple[str, int]]:
    """The new cards of `deck` as Anki's scheduler hands them out for study: (first field, card ordinal)."""
    col = Collection(str(collection))
    try:
        did = col.decks.id_for_name(deck)
        assert did is not None, f"no deck {deck!r}"
        col.decks.select(did)
        queued = col.sched.get_queued_cards(fetch_limit=1000).cards
        return [(col.get_card(q.card.id).note().fields[0], col.get_card(q.card.id).ord) for q in queued]
    finally:
        col.close()


def edit_field(collection: Path, note_id: int, name: str, text: str) -> None:
    """Change one field of a note inside Anki, as a user would in the editor."""
    col = Collection(str(collection))
    try:
        note = col.get_note(note_id)  # type: ignore[arg-type]
        note[name] = text
        col.update_note(note)
    finally:
        col.close()


def view(
    col: Collection, searches: tuple[str, ...] = (), imported: dict[str, int] | None = None, render: bool = False
) -> AnkiView:
    """Read back every note, deck, note type and review-log row (and with `render`, every card's two sides)."""
    notes: dict[str, AnkiNote] = {}
    revlog: dict[int, tuple[int, ...]] = {}
    rendered: dict[int, tuple[str, str]] = {}
    queues: dict[int, int] = {}
    ords: dict[int, int] = {}
    for nid in col.find_notes(""):
        note = col.get_note(nid)
        cards = sorted(note.cards(), key=lambda c: c.id)
        notetype = note.note_type()
        assert notetype is not None
        notes[note.guid] = AnkiNote(
            id=note.id,
            guid=note.guid,
            mod=note.mod,
            notetype=notetype["name"],
            fields={name: note[name] for name in note.keys()},  # noqa: SIM118 - an Anki Note is not a dict
            tags=tuple(note.tags),
            decks=tuple(sorted({col.decks.name(c.did) for c in cards})),
            card_ids=tuple(c.id for c in cards),
            intervals=tuple(c.ivl for c in cards),
        )
        for c in cards:
            revlog[c.id] = tuple(col.db.list("select id from revlog where cid = ? order by id", c.id))
            queues[c.id], ords[c.id] = c.queue, c.ord
            if render:
                rendered[c.id] = (c.question(), c.answer())
    media_dir = Path(col.media.dir())
    kinds = [col.models.get(m.id) for m in col.models.all_names_and_ids()]
    return AnkiView(
        notes=notes,
        decks=tuple(sorted(d.name for d in col.decks.all_names_and_ids())),
        notetypes=tuple(sorted(m.name for m in col.models.all_names_and_ids())),
        media_dir=media_dir,
        media_files=tuple(sorted(p.name for p in media_dir.iterdir())) if media_dir.exists() else (),
        found={q: tuple(col.find_notes(q)) for q in searches},
        notetype_css={m["name"]: m["css"] for m in kinds if m is not None},
        notetype_mod={m["name"]: m["mod"] for m in kinds if m is not None},
        revlog=revlog,
        imported=imported or {},
        rendered=rendered,
        queues=queues,
        ords=ords,
    )
