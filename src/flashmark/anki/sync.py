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
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from flashmark.anki.collection import CollectionError, backup, collection_path, open_collection
from flashmark.anki.notetype import BY_NOTETYPE_ID, KINDS, QA, QAR, note_type
from flashmark.anki.package import apkg_writer
from flashmark.build import Built, build
from flashmark.lock import Lock, LockEntry, SyncMark, anki_search, content_hash
from flashmark.render import as_notetype
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
PARK, UNPARK = "park", "unpark"  # a reversed card suspended as reverse goes off, unsuspended as it comes back
REVERSE_ORD = 1  # the reversible note type's second card
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
    reverse_card: str = ""  # PARK or UNPARK its reversed card, else ""

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
            "reverse_card": {PARK: "suspended", UNPARK: "unsuspended"}.get(self.reverse_card),
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
    converted: int = 0  # notes moved from the one-card Q&A note type of earlier versions to the reversible one
    parked: int = 0  # reversed cards suspended because reverse was turned off
    unparked: int = 0  # ... and unsuspended because it was turned on again

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


def _card_ids(col: Collection, note_ids: Iterable[int], ordinal: int | None = None) -> list[CardId]:
    """The cards of these notes (only those of one card type, given its ordinal)."""
    return cast(
        "list[CardId]",
        [cid for nid in note_ids for cid, _, _, o in _cards(col, nid) if ordinal is None or o == ordinal],
    )


def fields_hash(fields: Iterable[str]) -> str:
    """A hash of a note's fields as Anki stores them (separated by 0x1f)."""
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:16]


@dataclass(slots=True)
class _Anki:
    """What the collection holds of flashmark's notes, read once."""

    notes: dict[str, tuple[int, int, int, list[str], list[str]]] = field(
        default_factory=dict
    )  # guid → id, mid, mod, fields, tags
    cards: dict[int, list[tuple[int, str, int, int]]] = field(
        default_factory=dict
    )  # note id → card id, deck, queue, ord
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
    for cid, nid, did, queue, ordinal in _db(col).all("select id, nid, did, queue, ord from cards"):
        if nid in ids:
            state.cards.setdefault(nid, []).append((cid, decks.get(did, ""), queue, ordinal))
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
    model_ids = {k.notetype_id for k in KINDS.values()}
    previous = {e.guid: e for e in built.previous.notes} if built.previous is not None else {}
    same_collection = built.lock.collection in ("", _collection_id(col))
    entries = {e.guid: e for e in built.lock.notes}
    chosen = [rn for rn in built.notes if selected is None or rn.guid in selected]
    removed = [e for e in built.lock.notes if e.removed]
    state = _read(col, {rn.guid for rn in chosen} | {e.guid for e in removed}, model_ids)
    steps: list[Step] = []
    for rn in chosen:
        entry = entries[rn.guid]
        title = rn.note.title
        if rn.guid in state.foreign:
            continue  # a note of another note type holds this GUID: not flashmark's to touch
        if rn.guid not in state.notes:
            steps.append(Step(ADD, rn.guid, title, deck=rn.deck))
            continue
        nid, mid, mod, fields, anki_tags = state.notes[rn.guid]
        if mid != KINDS[rn.notetype].notetype_id:
            continue  # in Anki on another of flashmark's note types (moved there by hand): left alone
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
            detail = f"Anki has {_gist(fields, rn.notetype)!r}; the sources have {_gist(rn.fields, rn.notetype)!r}"
            applied = prefer == "source"
        if entry.sync is not None and entry.sync.retired and same_collection:
            action = RESTORE
        cards = state.cards.get(nid, [])
        decks = {deck for _, deck, _, _ in cards}
        move_from = left_in = ""
        if decks and decks != {rn.deck}:
            if base_deck and decks == {base_deck} and base_deck != rn.deck:
                move_from = base_deck
            elif base_deck != rn.deck:
                left_in = ", ".join(sorted(decks))
        old_tags = entry.sync.tags if entry.sync is not None and same_collection else ()
        retag = _tags(anki_tags, old_tags, rn.tags) != sorted(anki_tags, key=str.casefold)
        written = action in (UPDATE, RESTORE) or (action == CONFLICT and applied)
        reverse_card = _reverse_card(rn.notetype, rn.fields if written else fields, cards, action, mark)
        steps.append(
            Step(action, rn.guid, title, nid, rn.deck, move_from, left_in, detail, applied, retag, reverse_card)
        )
    for e in removed:
        if e.guid not in state.notes:
            continue
        nid = state.notes[e.guid][0]
        if delete_removed:
            steps.append(Step(DELETE, e.guid, e.title, nid, detail=f"{len(state.cards.get(nid, []))} cards"))
        elif not (e.sync is not None and e.sync.retired and same_collection):
            steps.append(Step(RETIRE, e.guid, e.title, nid))
    return tuple(steps)


def _reverse_card(
    notetype: str, fields: Sequence[str], cards: list[tuple[int, str, int, int]], action: str, mark: SyncMark | None
) -> str:
    """Whether a reversible note's second card is to be suspended (reverse turned off) or unsuspended (back on).

    With reverse off, Anki keeps the card (its history too) but its front is blank, so sync suspends it;
    when reverse comes back, sync unsuspends the card it suspended itself, never one the user did.
    """
    if notetype != QAR:
        return ""
    queues = {ordinal: queue for _, _, queue, ordinal in cards}
    if REVERSE_ORD not in queues:
        return ""
    suspended = queues[REVERSE_ORD] == -1 and action != RESTORE  # restoring unsuspends every card first
    if not fields[KINDS[QAR].index("Reverse")]:
        return PARK if not suspended else ""
    return UNPARK if suspended and mark is not None and mark.parked else ""


def _gist(fields: Sequence[str], notetype: str) -> str:
    """The start of a note's answer, as text: enough to tell two versions apart in a line."""
    import re
    from html import unescape

    kind = KINDS[notetype]
    answer = fields[kind.index(kind.answer_field)] if len(fields) == len(kind.fields) else " ".join(fields)
    text = " ".join(unescape(re.sub(r"<[^>]*>", " ", answer)).split())
    return text[:60] + ("…" if len(text) > 60 else "")


def _collection_id(col: Collection) -> str:
    """What tells one collection from another (its creation time, which AnkiWeb keeps across devices)."""
    return str(_db(col).scalar("select crt from col"))


def _tags(anki_tags: Sequence[str], old_ours: Sequence[str], ours: Sequence[str]) -> list[str]:
    """The user's own tags, kept, with flashmark's replaced by its current ones."""
    mine = {t.casefold() for t in old_ours} | {t.casefold() for t in ours}
    return sorted({t for t in anki_tags if t.casefold() not in mine} | set(ours), key=str.casefold)


def ensure_notetypes(col: Collection, kinds: Iterable[str], allow_schema_change: bool) -> bool:
    """Bring flashmark's note types of these kinds in the collection up to date in place; True if any changed."""
    changed = False
    for kind in sorted(set(kinds)):
        changed = ensure_notetype(col, allow_schema_change, kind) or changed
    return changed


def ensure_notetype(col: Collection, allow_schema_change: bool, kind: str = QA) -> bool:
    """Bring one of flashmark's note types in the collection up to date in place; True if it changed.

    Templates and CSS are updated without touching fields, so AnkiWeb needs no full sync. If the
    fields or card types differ, that is a schema change: refused unless `allow_schema_change`.
    """
    model = note_type(kind)
    nt = col.models.get(model.model_id)
    if nt is None:
        return False  # not there yet: the first sync of a kind imports its notes, which bring it
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
    if step.reverse_card:
        return False
    return step.action in (UNCHANGED, KEEP) or ((step.action == CONFLICT and not step.applied) and not step.move_from)


def notetype_outdated(col: Collection, kinds: Iterable[str] = (QA,)) -> bool:
    """Whether any of these note types in the collection differs from this version's (or is missing)."""
    for kind in set(kinds):
        model = note_type(kind)
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
        if ours != theirs:
            return True
    return False


def _missing_kinds(col: Collection, notes: Iterable[RenderedNote]) -> set[str]:
    """The note types these notes use that the collection does not have yet."""
    return {kind for kind in {rn.notetype for rn in notes} if col.models.get(KINDS[kind].notetype_id) is None}  # type: ignore[arg-type]


def _import_notes(col: Collection, built: Built, notes: Sequence[RenderedNote]) -> None:
    """Bring note types in the first time, with notes of theirs, as importing the deck would: Anki keeps the
    ids flashmark gives them only when they come in by import."""
    from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    with tempfile.TemporaryDirectory(prefix="flashmark-sync-") as tmp:
        apkg = Path(tmp) / "deck.apkg"
        apkg_writer(notes, notetype_mods={m.kind: m.mod for m in built.lock.notetypes})(apkg)
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=ImportAnkiPackageOptions()))


def _bring_notetype(col: Collection, built: Built, kind: str) -> None:
    """Have the collection hold one of flashmark's note types (with its fixed ids) before any note uses it.

    Anki keeps a note type's id only when it comes by import, so a package holding one stand-in note of
    that type is imported, and the stand-in removed.
    """
    from anki.notes import NoteId

    if col.models.get(KINDS[kind].notetype_id) is not None:  # type: ignore[arg-type]
        return
    sample = next(rn for rn in built.notes if KINDS[rn.notetype].family == KINDS[kind].family)
    stand_in = replace(as_notetype(sample, kind), guid=f"flashmark-{kind}-{time.time_ns()}")
    _import_notes(col, built, [stand_in])
    nid = _db(col).scalar("select id from notes where guid = ?", stand_in.guid)
    if nid is not None:
        col.remove_notes([NoteId(nid)])


def realign(col: Collection, built: Built) -> Built:
    """The build with each Q&A note on the note type the collection already has it on.

    A note Anki holds on the other of flashmark's Q&A note types (the lock was lost, or a deck built
    without one was imported) is written as that type: sync updates it in place instead of skipping it.
    """
    by_guid = {rn.guid: rn for rn in built.notes}
    kinds = {}
    for guid, mid in _db(col).all("select guid, mid from notes"):
        rn = by_guid.get(guid)
        held = BY_NOTETYPE_ID.get(mid)
        if (
            rn is not None
            and held is not None
            and held.name != rn.notetype
            and held.family == KINDS[rn.notetype].family
        ):
            kinds[guid] = held.name
    if not kinds:
        return built
    notes = tuple(as_notetype(rn, kinds[rn.guid]) if rn.guid in kinds else rn for rn in built.notes)
    moved = {rn.guid: rn for rn in notes if rn.guid in kinds}
    entries = []
    for e in built.lock.notes:
        rn = moved.get(e.guid)
        if rn is None:
            entries.append(e)
            continue
        kind = KINDS[rn.notetype]
        title, topic = rn.fields[kind.index(kind.title_field)], rn.fields[kind.index(kind.topic_field)]
        entries.append(
            replace(
                e,
                kind=rn.notetype,
                hash=content_hash(rn.fields, rn.tags),
                search=anki_search(title, topic, kind.notetype_id),
            )
        )
    marks = {m.kind for m in built.lock.notetypes}
    lock = replace(built.lock, notes=tuple(entries))
    for kind_name in set(kinds.values()) - marks:
        from flashmark.anki.notetype import notetype_hash
        from flashmark.lock import NoteTypeMark

        mod = max((m.mod for m in built.lock.notetypes), default=0)
        lock = replace(lock, notetypes=(*lock.notetypes, NoteTypeMark(kind_name, notetype_hash(kind_name), mod)))
    return replace(built, notes=notes, lock=lock)


def legacy_notes(col: Collection, built: Built) -> dict[str, int]:
    """The notes of the build still on the one-card Q&A note type of earlier versions: GUID → note id."""
    guids = {rn.guid for rn in built.notes if rn.notetype == QA}
    if not guids:
        return {}
    legacy_id = KINDS[QA].notetype_id
    return {
        guid: nid
        for nid, guid, mid in _db(col).all("select id, guid, mid from notes")
        if mid == legacy_id and guid in guids
    }


def convert_legacy(col: Collection, built: Built, same_collection: bool) -> Built:
    """Move the build's notes on the one-card Q&A note type to the reversible one, keeping cards and reviews.

    A schema change (AnkiWeb then needs a full sync), so only with the user's consent. Each note keeps
    its card 1, fields and GUID; the lock records it under the new note type, with a sync mark that
    still tells an edit made in Anki before the move.
    """
    from anki.models import NotetypeId

    found = legacy_notes(col, built)
    if not found:
        return built
    previous = {e.guid: e for e in built.previous.notes} if built.previous is not None else {}
    entries = {e.guid: e for e in built.lock.notes}
    before = {nid: (mod, flds.split("\x1f"), tags.split()) for nid, mod, flds, tags in _db(col).all(
        f"select id, mod, flds, tags from notes where id in ({','.join(str(int(n)) for n in found.values())})"
    )}  # fmt: skip
    edited: dict[str, bool] = {}
    by_guid = {rn.guid: rn for rn in built.notes}
    for guid, nid in found.items():
        mod, fields, tags = before[nid]
        edited[guid] = _edited_and_changed(
            entries[guid], previous.get(guid), same_collection, mod, fields, tags, by_guid[guid]
        )[0]
    legacy, reversible = KINDS[QA], KINDS[QAR]
    info = col.models.change_notetype_info(
        old_notetype_id=NotetypeId(legacy.notetype_id), new_notetype_id=NotetypeId(reversible.notetype_id)
    )
    request = info.input
    del request.new_fields[:]
    request.new_fields.extend(legacy.fields.index(f) if f in legacy.fields else -1 for f in reversible.fields)
    del request.new_templates[:]
    request.new_templates.extend([0, -1])
    request.note_ids.extend(found.values())
    col.models.change_notetype_of_notes(request)
    after = {nid: (mod, flds.split("\x1f")) for nid, mod, flds in _db(col).all(
        f"select id, mod, flds from notes where id in ({','.join(str(int(n)) for n in found.values())})"
    )}  # fmt: skip
    notes = tuple(as_notetype(rn, QAR) if rn.guid in found else rn for rn in built.notes)
    converted = {rn.guid: rn for rn in notes if rn.guid in found}
    new_entries = []
    for e in built.lock.notes:
        rn = converted.get(e.guid)
        if rn is None:
            new_entries.append(e)
            continue
        mod, fields = after[found[e.guid]]
        # The base the next plan compares with: Anki's fields now, unless the note was edited in Anki
        # (then what the sources hold, when they did not change since the last build; else nothing matches).
        base = fields_hash(fields)
        if edited[e.guid]:
            old = previous.get(e.guid)
            base = fields_hash(rn.fields) if old is not None and old.hash == e.hash else "edited in Anki"
        mark = e.sync
        deck = mark.deck if mark is not None else e.deck
        tags = mark.tags if mark is not None else rn.tags
        retired = mark.retired if mark is not None else False
        title, topic = rn.fields[reversible.index("Question")], rn.fields[reversible.index("Topic")]
        new_entries.append(
            replace(
                e,
                kind=QAR,
                hash=content_hash(rn.fields, rn.tags),
                search=anki_search(title, topic, reversible.notetype_id),
                sync=SyncMark(mod, base, deck, tuple(tags), retired),
            )
        )
    kinds = {m.kind for m in built.lock.notetypes}
    lock = replace(built.lock, notes=tuple(new_entries), collection=_collection_id(col))
    if QAR not in kinds:
        from flashmark.anki.notetype import notetype_hash
        from flashmark.lock import NoteTypeMark

        mod = max(m.mod for m in built.lock.notetypes) if built.lock.notetypes else 0
        lock = replace(lock, notetypes=(*lock.notetypes, NoteTypeMark(QAR, notetype_hash(QAR), mod)))
    return replace(built, notes=notes, lock=lock)


def apply_plan(col: Collection, built: Built, steps: Sequence[Step]) -> tuple[Lock, int]:
    """Carry out the steps in one undoable operation; the lock with each note's new sync mark, and reviews deleted."""
    from anki.collection import AddNoteRequest

    by_guid = {rn.guid: rn for rn in built.notes}
    entries = {e.guid: e for e in built.lock.notes}
    undo = col.add_custom_undo_entry("flashmark sync")
    adds = []
    for step in steps:
        if step.action == ADD:
            rn = by_guid[step.guid]
            model = col.models.get(KINDS[rn.notetype].notetype_id)  # type: ignore[arg-type]
            assert model is not None
            note = col.new_note(model)
            note.guid = rn.guid
            for name, value in zip(KINDS[rn.notetype].fields, rn.fields):
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
            for name, value in zip(KINDS[rn.notetype].fields, rn.fields):
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
        col.update_notes(updates)  # Anki makes the cards a change calls for (a reversed card turned on)
    for action, change in ((PARK, col.sched.suspend_cards), (UNPARK, col.sched.unsuspend_cards)):
        nids = [s.note_id for s in steps if s.reverse_card == action and s.note_id is not None]
        if nids:
            change(_card_ids(col, nids, REVERSE_ORD))
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


def _cards(col: Collection, note_id: int) -> list[tuple[int, int, int, int]]:
    """A note's cards: id, deck id, queue, ordinal."""
    rows = _db(col).all("select id, did, queue, ord from cards where nid = ?", note_id)
    return [(cid, did, queue, ordinal) for cid, did, queue, ordinal in rows]


def _marked(col: Collection, built: Built, steps: Sequence[Step]) -> Lock:
    """The lock with a sync mark on every note now in the collection: its mod there, fields, deck and tags.

    A note whose Anki edit was kept keeps the fields it had as its base (the last ones flashmark put
    there, or lacking those the sources' current ones), so the next sync still sees the edit.
    """
    kinds = {e.guid: KINDS[e.kind].notetype_id for e in built.lock.notes}
    by_step = {s.guid: s for s in steps}
    held = {
        guid: (mod, flds, nid)
        for nid, guid, mid, mod, flds in _db(col).all("select id, guid, mid, mod, flds from notes")
        if kinds.get(guid) == mid
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
        card_decks = {decks.get(did, "") for _, did, _, _ in _cards(col, nid)}
        deck = rn.deck if rn is not None and rn.deck in card_decks else (e.sync.deck if e.sync else e.deck)
        tags = tuple(rn.tags) if rn is not None else (e.sync.tags if e.sync else ())
        retired = (step is not None and step.action == RETIRE) or (e.sync is not None and e.sync.retired and not e.live)
        parked = e.sync is not None and e.sync.parked
        if step is not None and step.reverse_card:
            parked = step.reverse_card == PARK
        entries.append(replace(e, sync=SyncMark(mod, fields, deck, tags, retired, parked)))
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
            built = realign(col, built)
            selected = {rn.guid for rn in built.result.notes}
            same_collection = built.lock.collection in ("", _collection_id(col))
            legacy = legacy_notes(col, built) if allow_schema_change else {}
            outcome["converted"] = len(legacy)
            steps = plan(col, built, prefer=prefer, delete_removed=delete_removed, selected=selected)
            outcome["steps"] = steps
            if dry_run:
                return built.lock
            chosen = [rn for rn in built.notes if rn.guid in selected]
            kinds = {rn.notetype for rn in chosen}
            missing = _missing_kinds(col, chosen)
            if not (legacy or missing or notetype_outdated(col, kinds)) and all(_no_change(s) for s in steps):
                return _marked(col, built, steps)  # nothing to write into the collection: no backup either
            outcome["backup"] = backup(col)
            if legacy:
                _bring_notetype(col, built, QAR)
                built = convert_legacy(col, built, same_collection)
                outcome["built"] = built
                steps = plan(col, built, prefer=prefer, delete_removed=delete_removed, selected=selected)
                chosen = [rn for rn in built.notes if rn.guid in selected]
                kinds = {rn.notetype for rn in chosen}
            shown = steps
            missing = _missing_kinds(col, chosen)
            if missing:  # note types come in with their first notes, keeping the ids Anki knows them by
                adds = {s.guid for s in steps if s.action == ADD}
                _import_notes(col, built, [rn for rn in chosen if rn.notetype in missing and rn.guid in adds])
                steps = plan(col, built, prefer=prefer, delete_removed=delete_removed, selected=selected)
                kind_of = {rn.guid: rn.notetype for rn in chosen}
                first = {s.guid: s for s in shown if s.action == ADD and kind_of.get(s.guid) in missing}
                shown = tuple(first.get(s.guid, s) for s in steps)  # what was imported is reported as added
            outcome["notetype"] = ensure_notetypes(col, kinds - missing, allow_schema_change)
            lock, outcome["reviewed"] = apply_plan(col, built, steps)
            outcome["steps"] = shown
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
        converted=int(outcome.get("converted", 0)),
        parked=sum(1 for s in outcome.get("steps", ()) if s.reverse_card == PARK),
        unparked=sum(1 for s in outcome.get("steps", ()) if s.reverse_card == UNPARK),
    )
