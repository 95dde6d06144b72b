"""`flashmark sync`: apply a build straight to the user's Anki collection, as a plan of changes per note.

The build is the same one `flashmark build` makes (the deck and report are written too); then each
note of it, and each removed note the lock remembers, falls into one kind of change:

- add: not in the collection yet;
- update: changed in the sources, not edited in Anki since the last sync;
- keep: edited in Anki since the last sync, unchanged in the sources (the Anki edit stays);
- conflict: edited on both sides: the Anki edit stays, unless `prefer="source"`;
- move: its deck changed in the sources, and its cards are still where flashmark put them
  (cards the user moved are left where they are, and reported);
- retire: its question is gone: tagged `flashmark::removed` and suspended (deleted with
  `delete_removed`); restore: its question came back after that;
- unchanged.

"Edited in Anki" is decided from the note's modification time against the one the lock recorded
after the last sync (or, for notes that came by importing a deck, the one the deck gave them):
never guessed from the content. Only notes of flashmark's note types whose GUIDs the lock holds are
touched; card ids, scheduling and review logs stay, apart from what `delete_removed` deletes.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from flashmark.anki.collection import CollectionError, backup, collection_path, open_collection
from flashmark.anki.notetype import FIELDS, note_type
from flashmark.build import Built, build
from flashmark.lock import Lock, LockEntry, SyncMark, content_hash
from flashmark.report import BuildResult
from flashmark.types import RenderedNote

if TYPE_CHECKING:
    from anki.cards import CardId
    from anki.collection import Collection
    from anki.dbproxy import DBProxy
    from anki.decks import DeckId
    from anki.notes import NoteId

ADD, UPDATE, KEEP, CONFLICT, UNCHANGED = "add", "update", "keep", "conflict", "unchanged"
RETIRE, RESTORE, DELETE = "retire", "restore", "delete"
REMOVED_TAG = "flashmark::removed"
PREFER = ("anki", "source")


@dataclass(frozen=True, slots=True)
class Step:
    """What sync does (or, dry, would do) to one note."""

    action: str
    guid: str
    title: str
    note_id: int | None = None
    deck: str = ""  # where its cards go (add, move) or are
    move_from: str = ""  # moved: the deck its cards leave
    left_in: str = ""  # not moved: the deck the user put its cards in
    detail: str = ""  # conflict: what each side holds; delete: reviews lost
    applied: bool = True  # False for a conflict kept as Anki has it
    retag: bool = False  # flashmark's tags for it changed (the user's own tags stay)

    def data(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "guid": self.guid,
            "title": self.title,
            "note_id": self.note_id,
            "deck": self.deck,
            "moved_from": self.move_from or None,
            "left_in": self.left_in or None,
            "detail": self.detail or None,
            "applied": self.applied,
        }


@dataclass(frozen=True, slots=True)
class SyncResult:
    """A sync: the build it came from, where it went, the backup, and each note's step."""

    build: BuildResult
    collection: Path
    steps: tuple[Step, ...]
    dry_run: bool
    backup: Path | None = None
    deleted_reviewed_cards: int = 0
    notetype_updated: bool = False

    @property
    def changed(self) -> bool:
        """Whether the sync wrote to the collection (it makes a backup exactly then)."""
        return self.backup is not None

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    @property
    def moved(self) -> int:
        return sum(1 for s in self.steps if s.move_from)

    @property
    def left(self) -> int:
        return sum(1 for s in self.steps if s.left_in)


def _db(col: Collection) -> DBProxy:
    db = col.db
    if db is None:
        raise CollectionError("the collection is closed", col.path)
    return db


def _deck(col: Collection, name: str) -> DeckId:
    """The id of a deck, made when there is none of that name yet."""
    found = col.decks.id(name)
    assert found is not None
    return found


def _card_ids(col: Collection, note_ids: Iterable[int]) -> list[CardId]:
    return cast("list[CardId]", [cid for nid in note_ids for cid, _, _ in _cards(col, nid)])


def fields_hash(fields: Iterable[str]) -> str:
    """A hash of a note's fields as Anki stores them (separated by 0x1f)."""
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:16]


@dataclass(slots=True)
class _Anki:
    """What the collection holds of flashmark's notes, read once."""

    notes: dict[str, tuple[int, int, int, list[str], list[str]]] = field(
        default_factory=dict
    )  # guid → id, mid, mod, fields, tags
    cards: dict[int, list[tuple[int, str, int]]] = field(default_factory=dict)  # note id → card id, deck, queue
    foreign: set[str] = field(default_factory=set)  # GUIDs held by notes of other note types


def _read(col: Collection, guids: set[str], notetype_ids: set[int]) -> _Anki:
    state = _Anki()
    decks = {d.id: d.name for d in col.decks.all_names_and_ids()}
    for nid, guid, mid, mod, flds, tags in _db(col).all("select id, guid, mid, mod, flds, tags from notes"):
        if guid not in guids:
            continue
        if mid not in notetype_ids:
            state.foreign.add(guid)
            continue
        state.notes[guid] = (nid, mid, mod, flds.split("\x1f"), tags.split())
    ids = {v[0] for v in state.notes.values()}
    for cid, nid, did, queue in _db(col).all("select id, nid, did, queue from cards"):
        if nid in ids:
            state.cards.setdefault(nid, []).append((cid, decks.get(did, ""), queue))
    return state


def _edited_and_changed(
    entry: LockEntry,
    old: LockEntry | None,
    same_collection: bool,
    mod: int,
    fields: list[str],
    tags: list[str],
    ours: RenderedNote,
) -> tuple[bool, bool]:
    """Whether the note was edited in Anki since flashmark last put it there, and whether the sources changed since.

    After a sync, the lock's sync mark says what the collection held right after it (the note's
    mod there, and its fields): any other mod or fields mean an edit in Anki. A note that came
    by importing a deck carries the mod the deck gave it, never later than the last build's: a
    later mod (or, within the same second, other content) means an edit in Anki.
    """
    mark = entry.sync if same_collection else None
    if mark is not None:
        # Only the fields count: a tag or a flag set in Anki (a leech tag, say) is not an edit of the note.
        return fields_hash(fields) != mark.fields, fields_hash(ours.fields) != mark.fields
    if old is None:
        return True, True  # in the collection, but unknown to the last build: touch nothing without consent
    edited = mod > old.mod or (mod == old.mod and content_hash(fields, tags) != old.hash)
    return edited, entry.hash != old.hash


def plan(
    col: Collection,
    built: Built,
    *,
    prefer: str = "anki",
    delete_removed: bool = False,
    selected: set[str] | None = None,
) -> tuple[Step, ...]:
    """Each note's step, from the build and what the collection holds; nothing is changed."""
    model_id = note_type().model_id
    previous = {e.guid: e for e in built.previous.notes} if built.previous is not None else {}
    same_collection = built.lock.collection in ("", _collection_id(col))
    entries = {e.guid: e for e in built.lock.notes}
    chosen = [rn for rn in built.notes if selected is None or rn.guid in selected]
    removed = [e for e in built.lock.notes if e.removed]
    state = _read(col, {rn.guid for rn in chosen} | {e.guid for e in removed}, {model_id})
    steps: list[Step] = []
    for rn in chosen:
        entry = entries[rn.guid]
        title = rn.note.title
        if rn.guid in state.foreign:
            continue  # a note of another note type holds this GUID: not flashmark's to touch
        if rn.guid not in state.notes:
            steps.append(Step(ADD, rn.guid, title, deck=rn.deck))
            continue
        nid, _, mod, fields, anki_tags = state.notes[rn.guid]
        old = previous.get(rn.guid)
        mark = entry.sync if same_collection else None
        base_deck = mark.deck if mark is not None else (old.deck if old is not None else "")
        if list(rn.fields) == fields:
            action = UNCHANGED
        else:
            edited, ours_changed = _edited_and_changed(entry, old, same_collection, mod, fields, anki_tags, rn)
            if not edited:
                action = UPDATE
            elif not ours_changed:
                action = KEEP
            else:
                action = CONFLICT
        detail = ""
        applied = True
        if action == CONFLICT:
            detail = f"Anki has {_gist(fields)!r}; the sources have {_gist(rn.fields)!r}"
            applied = prefer == "source"
        if entry.sync is not None and entry.sync.retired and same_collection:
            action = RESTORE
        decks = {deck for _, deck, _ in state.cards.get(nid, [])}
        move_from = left_in = ""
        if decks and decks != {rn.deck}:
            if base_deck and decks == {base_deck} and base_deck != rn.deck:
                move_from = base_deck
            elif base_deck != rn.deck:
                left_in = ", ".join(sorted(decks))
        old_tags = entry.sync.tags if entry.sync is not None and same_collection else ()
        retag = _tags(anki_tags, old_tags, rn.tags) != sorted(anki_tags, key=str.casefold)
        steps.append(Step(action, rn.guid, title, nid, rn.deck, move_from, left_in, detail, applied, retag))
    for e in removed:
        if e.guid not in state.notes:
            continue
        nid = state.notes[e.guid][0]
        if delete_removed:
            steps.append(Step(DELETE, e.guid, e.title, nid, detail=f"{len(state.cards.get(nid, []))} cards"))
        elif not (e.sync is not None and e.sync.retired and same_collection):
            steps.append(Step(RETIRE, e.guid, e.title, nid))
    return tuple(steps)


def _gist(fields: Sequence[str]) -> str:
    """The start of a note's answer, as text: enough to tell two versions apart in a line."""
    import re
    from html import unescape

    answer = fields[FIELDS.index("Answer")] if len(fields) == len(FIELDS) else " ".join(fields)
    text = " ".join(unescape(re.sub(r"<[^>]*>", " ", answer)).split())
    return text[:60] + ("…" if len(text) > 60 else "")


def _collection_id(col: Collection) -> str:
    """What tells one collection from another (its creation time, which AnkiWeb keeps across devices)."""
    return str(_db(col).scalar("select crt from col"))


def _tags(anki_tags: Sequence[str], old_ours: Sequence[str], ours: Sequence[str]) -> list[str]:
    """The user's own tags, kept, with flashmark's replaced by its current ones."""
    mine = {t.casefold() for t in old_ours} | {t.casefold() for t in ours}
    return sorted({t for t in anki_tags if t.casefold() not in mine} | set(ours), key=str.casefold)


def ensure_notetype(col: Collection, allow_schema_change: bool) -> bool:
    """Bring flashmark's note type in the collection up to date in place; True if it changed.

    Templates and CSS are updated without touching fields, so AnkiWeb needs no full sync. If the
    fields or card types differ, that is a schema change: refused unless `allow_schema_change`.
    """
    model = note_type()
    nt = col.models.get(model.model_id)
    if nt is None:
        return False  # not there yet: the first sync imports the deck, which brings it
    ours_fields = [f["name"] for f in model.fields]
    ours_templates = [t["name"] for t in model.templates]
    theirs_fields = [f["name"] for f in nt["flds"]]
    theirs_templates = [t["name"] for t in nt["tmpls"]]
    if (theirs_fields, theirs_templates) != (ours_fields, ours_templates):
        if not allow_schema_change:
            raise CollectionError(
                f"the note type '{nt['name']}' in your collection has the fields {theirs_fields} and card types "
                f"{theirs_templates}, flashmark's has {ours_fields} and {ours_templates}: changing them is a schema "
                "change, after which AnkiWeb needs a full sync; sync your other devices first, then run again with "
                "--allow-schema-change"
            )
        for name in ours_fields:
            if name not in theirs_fields:
                col.models.add_field(nt, col.models.new_field(name))
        for template in model.templates:
            if template["name"] not in theirs_templates:
                new = col.models.new_template(template["name"])
                new["qfmt"], new["afmt"] = template["qfmt"], template["afmt"]
                col.models.add_template(nt, new)
    changed = False
    by_name = {t["name"]: t for t in model.templates}
    for template in nt["tmpls"]:
        ours = by_name.get(template["name"])
        if ours is not None and (template["qfmt"], template["afmt"]) != (ours["qfmt"], ours["afmt"]):
            template["qfmt"], template["afmt"] = ours["qfmt"], ours["afmt"]
            changed = True
    if nt["css"] != model.css or nt["name"] != model.name:
        nt["css"], nt["name"] = model.css, model.name
        changed = True
    if changed or (theirs_fields, theirs_templates) != (ours_fields, ours_templates):
        col.models.update_dict(nt)
        return True
    return False


def _no_change(step: Step) -> bool:
    return step.action in (UNCHANGED, KEEP) or ((step.action == CONFLICT and not step.applied) and not step.move_from)


def notetype_outdated(col: Collection) -> bool:
    """Whether flashmark's note type in the collection differs from this version's (templates, CSS, name, fields)."""
    model = note_type()
    nt = col.models.get(model.model_id)
    if nt is None:
        return True
    ours = (
        model.name,
        model.css,
        [f["name"] for f in model.fields],
        [(t["name"], t["qfmt"], t["afmt"]) for t in model.templates],
    )
    theirs = (
        nt["name"],
        nt["css"],
        [f["name"] for f in nt["flds"]],
        [(t["name"], t["qfmt"], t["afmt"]) for t in nt["tmpls"]],
    )
    return ours != theirs


def _import_deck(col: Collection, built: Built) -> None:
    """Bring flashmark's note type (and the notes) in the first time, as importing the deck would."""
    from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    with tempfile.TemporaryDirectory(prefix="flashmark-sync-") as tmp:
        apkg = Path(tmp) / "deck.apkg"
        built.write_apkg(apkg)
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=ImportAnkiPackageOptions()))


def apply_plan(col: Collection, built: Built, steps: Sequence[Step]) -> tuple[Lock, int]:
    """Carry out the steps in one undoable operation; the lock with each note's new sync mark, and reviews deleted."""
    from anki.collection import AddNoteRequest

    by_guid = {rn.guid: rn for rn in built.notes}
    entries = {e.guid: e for e in built.lock.notes}
    model = col.models.get(note_type().model_id)
    assert model is not None
    undo = col.add_custom_undo_entry("flashmark sync")
    adds = []
    for step in steps:
        if step.action == ADD:
            rn = by_guid[step.guid]
            note = col.new_note(model)
            note.guid = rn.guid
            for name, value in zip(FIELDS, rn.fields):
                note[name] = value
            note.tags = list(rn.tags)
            adds.append(AddNoteRequest(note=note, deck_id=_deck(col, rn.deck)))
    if adds:
        col.add_notes(adds)
    updates = []
    for step in steps:
        if step.note_id is None or step.guid not in by_guid:
            continue
        rn = by_guid[step.guid]
        note = col.get_note(cast("NoteId", step.note_id))
        mark = entries[step.guid].sync
        old_tags = mark.tags if mark is not None else ()
        new_tags = _tags(note.tags, old_tags, rn.tags)
        touch = False
        if step.action in (UPDATE, RESTORE) or (step.action == CONFLICT and step.applied):
            for name, value in zip(FIELDS, rn.fields):
                note[name] = value
            touch = True
        if step.action == RESTORE:
            new_tags = [t for t in new_tags if t != REMOVED_TAG]
        if new_tags != sorted(note.tags, key=str.casefold):
            note.tags = new_tags
            touch = True
        if touch:
            updates.append(note)
        if step.move_from:
            col.set_deck(_card_ids(col, [step.note_id]), _deck(col, rn.deck))
        if step.action == RESTORE:
            col.sched.unsuspend_cards(_card_ids(col, [step.note_id]))
    if updates:
        col.update_notes(updates)
    retire = [s.note_id for s in steps if s.action == RETIRE and s.note_id is not None]
    if retire:
        col.tags.bulk_add(cast("list[NoteId]", retire), REMOVED_TAG)
        col.sched.suspend_cards(_card_ids(col, retire))
    delete = [s.note_id for s in steps if s.action == DELETE and s.note_id is not None]
    reviewed = 0
    if delete:
        ids = ",".join(str(int(n)) for n in delete)
        reviewed = _db(col).scalar(
            f"select count(distinct cid) from revlog where cid in (select id from cards where nid in ({ids}))"
        )
        col.remove_notes(cast("list[NoteId]", delete))
    col.merge_undo_entries(undo)
    return _marked(col, built, steps), int(reviewed or 0)


def _cards(col: Collection, note_id: int) -> list[tuple[int, int, int]]:
    return [
        (cid, did, queue) for cid, did, queue in _db(col).all("select id, did, queue from cards where nid = ?", note_id)
    ]


def _marked(col: Collection, built: Built, steps: Sequence[Step]) -> Lock:
    """The lock with a sync mark on every note now in the collection: its mod there, fields, deck and tags.

    A note whose Anki edit was kept keeps the fields it had as its base (the last ones flashmark put
    there, or lacking those the sources' current ones), so the next sync still sees the edit.
    """
    model_id = note_type().model_id
    by_step = {s.guid: s for s in steps}
    held = {
        guid: (mod, flds, nid)
        for nid, guid, mid, mod, flds in _db(col).all("select id, guid, mid, mod, flds from notes")
        if mid == model_id
    }
    decks = {d.id: d.name for d in col.decks.all_names_and_ids()}
    by_guid = {rn.guid: rn for rn in built.notes}
    entries = []
    for e in built.lock.notes:
        step = by_step.get(e.guid)
        found = held.get(e.guid)
        if step is not None and step.action == DELETE:
            entries.append(replace(e, sync=None))
            continue
        if found is None or (e.live and e.guid not in by_guid):
            entries.append(e)
            continue
        mod, flds, nid = found
        rn = by_guid.get(e.guid)
        fields = fields_hash(flds.split("\x1f"))
        if step is not None and (step.action == KEEP or (step.action == CONFLICT and not step.applied)):
            fields = e.sync.fields if e.sync is not None else fields_hash(rn.fields if rn is not None else ())
        card_decks = {decks.get(did, "") for _, did, _ in _cards(col, nid)}
        deck = rn.deck if rn is not None and rn.deck in card_decks else (e.sync.deck if e.sync else e.deck)
        tags = tuple(rn.tags) if rn is not None else (e.sync.tags if e.sync else ())
        retired = (step is not None and step.action == RETIRE) or (e.sync is not None and e.sync.retired and not e.live)
        entries.append(replace(e, sync=SyncMark(mod, fields, deck, tags, retired)))
    return replace(built.lock, notes=tuple(entries), collection=_collection_id(col))


def sync(
    content_dir: Path,
    out_dir: Path,
    *,
    collection: Path | None = None,
    profile: str | None = None,
    dry_run: bool = False,
    delete_removed: bool = False,
    prefer: str = "anki",
    allow_schema_change: bool = False,
    deck: str | None = None,
    tags: Iterable[str] = (),
    exclude_tags: Iterable[str] = (),
    exclude: tuple[str, ...] = (),
    allow_html: bool | None = None,
    keep_going: bool = False,
    on_plan: Callable[[SyncResult], None] | None = None,
) -> SyncResult:
    """Build `content_dir` (writing the deck, report and lock as `build` does) and apply it to the collection.

    The collection is found from `collection`, `profile` or FLASHMARK_COLLECTION; Anki must not have
    it open. Before changing anything, Anki's own backup of it is made. `dry_run` plans and writes
    nothing at all.
    """
    if prefer not in PREFER:
        raise ValueError(f"prefer must be one of {PREFER}")
    path = collection_path(collection, profile)
    outcome: dict[str, Any] = {}

    def apply(built: Built) -> Lock:
        with open_collection(path, built.result.output) as col:
            first = col.models.get(note_type().model_id) is None
            selected = {rn.guid for rn in built.result.notes}
            steps = plan(col, built, prefer=prefer, delete_removed=delete_removed, selected=selected)
            outcome["steps"] = steps
            if dry_run:
                return built.lock
            if not first and not notetype_outdated(col) and all(_no_change(s) for s in steps):
                return _marked(col, built, steps)  # nothing to write into the collection: no backup either
            outcome["backup"] = backup(col)
            if first:  # the note type comes in with the deck, keeping the ids Anki knows it by
                _import_deck(col, built)
                steps = plan(col, built, prefer=prefer, delete_removed=delete_removed, selected=selected)
            else:
                outcome["notetype"] = ensure_notetype(col, allow_schema_change)
            lock, outcome["reviewed"] = apply_plan(col, built, steps)
            if not first:
                outcome["steps"] = steps
            return lock

    result = build(
        content_dir, out_dir, deck, tags=tags, exclude_tags=exclude_tags, exclude=exclude, allow_html=allow_html,
        keep_going=keep_going, apply=apply, write=not dry_run,
    )  # fmt: skip
    return SyncResult(
        build=result,
        collection=path,
        steps=tuple(outcome.get("steps", ())),
        dry_run=dry_run,
        backup=outcome.get("backup"),
        deleted_reviewed_cards=int(outcome.get("reviewed", 0)),
        notetype_updated=bool(outcome.get("notetype", False)),
    )
