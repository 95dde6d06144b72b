"""The one helper that imports a built .apkg into a real Anki collection and reports what Anki sees."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest


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


@dataclass(frozen=True)
class AnkiView:
    """What a collection holds: notes by GUID, deck names, note types."""

    notes: dict[str, AnkiNote]
    decks: tuple[str, ...]
    notetypes: tuple[str, ...]
    media_dir: Path
    media_files: tuple[str, ...]
    found: dict[str, tuple[int, ...]]

    def by_title(self, title: str) -> AnkiNote:
        """The one note whose Question field is `title` (fails if none or several)."""
        matches = [n for n in self.notes.values() if n.fields["Question"] == title]
        assert len(matches) == 1, f"{len(matches)} notes titled {title!r}: {[n.fields['Question'] for n in self.notes.values()]}"
        return matches[0]

    def found_guids(self, search: str) -> set[str]:
        """The GUIDs of the notes a search passed to import_apkg found."""
        by_id = {n.id: n.guid for n in self.notes.values()}
        return {by_id[i] for i in self.found[search]}

    @property
    def card_count(self) -> int:
        return sum(len(n.card_ids) for n in self.notes.values())


def import_apkg(
    apkg: Path,
    collection: Path,
    searches: tuple[str, ...] = (),
    options: ImportAnkiPackageOptions | None = None,
) -> AnkiView:
    """Import `apkg` into the collection at `collection` (created if missing) with Anki's defaults."""
    col = Collection(str(collection))
    try:
        col.import_anki_package(
            ImportAnkiPackageRequest(package_path=str(apkg), options=options or ImportAnkiPackageOptions())
        )
        return view(col, searches)
    finally:
        col.close()


def view(col: Collection, searches: tuple[str, ...] = ()) -> AnkiView:
    """Read back every note, deck and note type from an open collection."""
    notes: dict[str, AnkiNote] = {}
    for nid in col.find_notes(""):
        note = col.get_note(nid)
        cards = note.cards()
        notetype = note.note_type()
        assert notetype is not None
        notes[note.guid] = AnkiNote(
            id=note.id,
            guid=note.guid,
            mod=note.mod,
            notetype=notetype["name"],
            fields={name: note[name] for name in note.keys()},
            tags=tuple(note.tags),
            decks=tuple(sorted({col.decks.name(c.did) for c in cards})),
            card_ids=tuple(sorted(c.id for c in cards)),
        )
    media_dir = Path(col.media.dir())
    return AnkiView(
        notes=notes,
        decks=tuple(sorted(d.name for d in col.decks.all_names_and_ids())),
        notetypes=tuple(sorted(m.name for m in col.models.all_names_and_ids())),
        media_dir=media_dir,
        media_files=tuple(sorted(p.name for p in media_dir.iterdir())) if media_dir.exists() else (),
        found={q: tuple(col.find_notes(q)) for q in searches},
    )
