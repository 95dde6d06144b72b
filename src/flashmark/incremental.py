"""Rebuilding only what changed: the files that changed, and every note their questions could touch.

A rebuild starts from the last build's state (`flashmark.state`). The files whose figures changed
(or whose images did), and the files that are gone, are redone with all their notes. How questions
merge depends only on their groups (title, topic, id, prompt, kind) and answers: the groups a
question left or joined are redone with every note holding one of them, so are the notes sharing
an answer with such a group (they may now merge with it, or part from it), and every note of a large
answer bucket the redone questions share (there the order of the groups counts), until nothing more
is touched. Other notes keep their questions, groups and merges, so merging the touched notes'
questions alone gives the very notes merging everything would. What does span every note is done
over all of them: keys (`merge.note_keys`; a kept note whose key would change is redone too),
conflicts and clashes. The redone notes are rendered and identified against their part of the lock
file; every other note goes into the deck, report and lock file as the last build wrote it.
When the change reaches too far (a quarter of the files), or touches what this does not redo (files
left out or unreadable, ids clashing, notes of the earlier one-card note type asking for reversed
cards), the build is a full one.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from flashmark.config import Config
from flashmark.errors import FlashmarkError
from flashmark.figures import Figures, figures, racy
from flashmark.identity import namespace_for
from flashmark.lock import Identified, Lock, NoteTypeMark, assign_identities, entry_line, read_entry
from flashmark.merge import (
    bucket_size_limit,
    build_notes,
    clashes_of,
    cluster,
    conflicts_of,
    merge_signature,
    note_keys,
)
from flashmark.parallel import parse_files
from flashmark.render import render_notes
from flashmark.stamp import Inputs
from flashmark.state import Damaged, FileRecord, Kept, NoteRecord, State, light_key
from flashmark.types import (
    Conflict,
    KeyInput,
    MergeGroup,
    MergeResult,
    Notice,
    ParsedFile,
    Question,
    RenderedNote,
    Verified,
)

MAX_SHARE = 4  # redo at most 1/MAX_SHARE of the files (and at least MIN_FILES): beyond, a full build is as quick
MIN_FILES = 64

Record = NoteRecord | Kept


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """A build's notes and records, whether made from scratch or from the last build's state."""

    files: tuple[FileRecord, ...]  # every file read, in order
    notes: tuple[Record, ...]  # every note, in order: made by this build, or kept from the last
    conflicts: tuple[Conflict, ...]
    identified: Identified  # matches, removals and the lock's note types for the notes identified this time
    lock_lines: tuple[
        tuple[str, str], ...
    ]  # (key, entry line) of every lock entry (a full build: none, it has the lock)
    removed_lines: tuple[tuple[str, str], ...]  # those of them without a note
    full: bool  # made from scratch: the state is written anew
    redone_files: frozenset[str] = frozenset()  # the files read again (and those gone), whose records change
    touched: frozenset[str] = frozenset()  # the last build's notes made again (their records go)

    @property
    def made(self) -> list[NoteRecord]:
        """The notes this build made (all of them, for a full build)."""
        return [r for r in self.notes if isinstance(r, NoteRecord)]

    @property
    def merge(self) -> MergeResult:
        """The merge records (the notes themselves are in `notes`)."""
        return MergeResult((), tuple(r.group for r in self.notes if r.group is not None), self.conflicts)

    @property
    def header(self) -> Lock:
        return self.identified.lock


class LazyNotes(Sequence[RenderedNote]):
    """A rebuild's notes in deck order: those it made, and those it kept, made again only when first asked for.

    The kept notes are made again by `load`, a build of the same folder that writes nothing; should the
    folder have changed in the meantime so that one of them is no longer what the rebuild kept, asking for
    the notes is an error.
    """

    def __init__(
        self,
        keys: list[str],
        made: dict[str, RenderedNote],
        kept: dict[str, tuple[str, int]],
        load: Callable[[], Sequence[RenderedNote]],
    ) -> None:
        self._keys = keys
        self._made = made
        self._kept = kept  # key → (guid, mod) as the rebuild kept it
        self._load_all = load
        self._notes: tuple[RenderedNote, ...] | None = None

    def _load(self) -> tuple[RenderedNote, ...]:
        if self._notes is None:
            found: dict[str, RenderedNote] = {}
            if self._kept:
                found = {rn.key: rn for rn in self._load_all()}
                if any(k not in found or (found[k].guid, found[k].mod) != self._kept[k] for k in self._kept):
                    raise FlashmarkError("the notes of this build have changed since (a later build); build again")
            self._notes = tuple(self._made.get(k) or found[k] for k in self._keys)
        return self._notes

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> RenderedNote: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RenderedNote]: ...
    def __getitem__(self, index: int | slice) -> RenderedNote | Sequence[RenderedNote]:
        return self._load()[index]

    def __iter__(self) -> Iterator[RenderedNote]:
        return iter(self._load())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"LazyNotes({len(self)} notes)"


def deck_notices(root: str, parsed: ParsedFile) -> tuple[Notice, ...]:
    """A file's warnings about decks nested deeper than Anki allows (see build._deep_decks)."""
    from flashmark.build import _deep_decks

    return tuple(_deep_decks(root, [parsed]))


def signature(q: Question) -> tuple[str, str]:
    """Light keys of a question's group and answer ("" for none): what it merges by."""
    x, a = merge_signature(q)
    return light_key("x", x), light_key("a", a) if a else ""


def file_record(
    parsed: ParsedFile,
    fig: Figures | None,
    content_dir: Path,
    root: str,
    notes: Sequence[str],
    signatures: Sequence[tuple[str, str]] | None = None,
) -> FileRecord:
    """What a file gave the build besides its notes; `notes` are the keys of its questions' notes, `signatures`
    their `signature` when known."""
    sigs = signatures if signatures is not None else [signature(q) for q in parsed.questions]
    deps = tuple((dep, figures(content_dir / dep)) for dep in parsed.deps)
    return FileRecord(
        parsed.rel,
        fig,
        deps,
        len(parsed.questions) + len(parsed.skipped),
        parsed.skipped,
        parsed.notices,
        deck_notices(root, parsed),
        tuple((x, a, note) for (x, a), note in zip(sigs, notes, strict=True)),
    )


def _note_keys_of(signatures: Sequence[tuple[str, str]]) -> tuple[tuple[str, int], ...]:
    """A note's light keys: each group once, each answer with the number of the note's groups that have it."""
    if len(signatures) == 1:  # most notes
        x, a = signatures[0]
        return ((a, 1), (x, 1)) if a else ((x, 1),)
    groups: dict[str, set[str]] = {}
    for x, a in signatures:
        answers = groups.setdefault(x, set())
        if a:
            answers.add(a)
    counts = Counter(a for found in groups.values() for a in found)
    return tuple(sorted([*((x, 1) for x in groups), *counts.items()]))


def note_records(
    questions: Sequence[Question],
    members: Sequence[tuple[int, ...]],
    key_inputs: Sequence[KeyInput],
    groups: Iterable[MergeGroup],
    identified: Identified,
    place: dict[int, int],
    signatures: Sequence[tuple[str, str]],
) -> list[NoteRecord]:
    """The records of merged, rendered and identified notes (in the same order); `place` gives each question's
    place in its file (by id), `signatures` each question's `signature`."""
    group_of = {g.key: g for g in groups}
    entries = {e.key: e for e in identified.lock.notes}
    records = []
    for rn, indices, ki in zip(identified.notes, members, key_inputs):
        first = questions[indices[0]]
        records.append(
            NoteRecord(
                rn, first.file, place[id(first)], ki, entries[rn.key], group_of.get(rn.key), tuple(dict.fromkeys(questions[i].file for i in indices)),
                _note_keys_of([signatures[i] for i in indices]),
            )
        )  # fmt: skip
    return records


def lock_lines(identified: Identified) -> list[tuple[str, str]]:
    return [(e.key, entry_line(e)) for e in identified.lock.notes]


def rebuild(
    state: State,
    now: Inputs,
    content_dir: Path,
    config: Config,
    root: str,
    cache_dir: Path | None,
    clock: float,
    images: Mapping[str, Verified] | None = None,
) -> Rebuilt | None:
    """The build from the last build's state and the files that changed, or None when a full build is needed.

    `images`: those the last build checked against their names (see ImageFiles). Damaged: the state does not
    hold what this version writes."""
    try:
        return _rebuild(state, now, content_dir, config, root, cache_dir, clock, images)
    except Damaged:
        raise
    except (ValueError, KeyError, TypeError, IndexError, sqlite3.Error) as exc:  # not as this version writes it
        raise Damaged(f"{type(exc).__name__}: {exc}") from None


def _changed(state: State, now: Inputs, content_dir: Path, old: dict[str, FileRecord]) -> set[str]:
    """The files to read again: new, changed, not trusted by their figures, or with an image that changed."""
    taken = state.meta["taken"]
    changed = set()
    for rel, fig in now.sources:
        record = old.get(rel)
        if record is None or fig is None or record.figures != fig or racy(fig, taken):
            changed.add(rel)
            continue
        for dep, dep_fig in record.deps:
            current = figures(content_dir / dep)
            if current != dep_fig or (current is not None and racy(current, taken)):
                changed.add(rel)
                break
    return changed


def _subset(
    current: Sequence[str],
    parsed: dict[str, ParsedFile],
    redo: frozenset[str],
    old_files: dict[str, FileRecord],
    touched: set[str],
) -> list[Question]:
    """In build order: every question of the files redone, and the questions of the touched notes in other files."""
    out: list[Question] = []
    for rel in current:
        f = parsed.get(rel)
        if f is None:
            continue
        if rel in redo:
            out.extend(f.questions)
        else:
            out.extend(q for q, sig in zip(f.questions, old_files[rel].signatures, strict=True) if sig[2] in touched)
    return out


def _rebuild(
    state: State,
    now: Inputs,
    content_dir: Path,
    config: Config,
    root: str,
    cache_dir: Path | None,
    clock: float,
    images: Mapping[str, Verified] | None,
) -> Rebuilt | None:
    old_files = state.files()
    current = [rel for rel, _ in now.sources]
    order = {rel: i for i, rel in enumerate(current)}
    gone = frozenset(old_files.keys() - order.keys())
    redo = frozenset(_changed(state, now, content_dir, old_files)) | gone
    limit = max(MIN_FILES, len(current) // MAX_SHARE)
    last = state.notes()
    parsed: dict[str, ParsedFile] = {}
    touched = state.notes_of_files(redo)
    changed_groups: set[str] | None = None  # the groups a question left or joined
    while True:
        while True:
            need = state.files_of_notes(touched) | (redo & order.keys())
            if len(need) > limit:
                return None
            fresh = [rel for rel in current if rel in need and rel not in parsed]
            if fresh:
                files, errors = parse_files(
                    [content_dir / rel for rel in fresh], content_dir, config, cache_dir=cache_dir, keep_going=True,
                    prune=False, images=images,
                )  # fmt: skip
                if errors:
                    return None
                parsed.update((f.rel, f) for f in files)
            if changed_groups is None:
                before = Counter(sig[:2] for rel in redo if rel in old_files for sig in old_files[rel].signatures)
                after = Counter(signature(q) for rel in redo if rel in parsed for q in parsed[rel].questions)
                changed_groups = {x for x, _ in (before - after) + (after - before)}
            questions = _subset(current, parsed, redo, old_files, touched)
            sigs = [signature(q) for q in questions]
            answers = {a for x, a in sigs if a and x in changed_groups}
            sizes = state.bucket_sizes({a for _, a in sigs if a})
            subset = Counter(a for _, a in sigs if a)
            answers |= {a for a, n in sizes.items() if n + subset[a] > bucket_size_limit()}
            more = state.notes_sharing(changed_groups | answers) - touched
            if not more and not fresh:
                break
            touched |= more
        clusters = cluster(questions)
        # Keys are made over every note, in build order (the file, then the place in it, of a note's first
        # question): the notes kept must keep theirs, or be made again too.
        place = {id(q): i for f in parsed.values() for i, q in enumerate(f.questions)}
        kept_at = [(order[k.rel], k.seq, k.key, k.key_input) for k in last.values() if k.key not in touched]
        first = [questions[m[0]] for m in clusters.members]
        new_at = [(order[q.file], place[id(q)], None, ki) for q, ki in zip(first, clusters.key_inputs)]
        everything = sorted([*kept_at, *new_at], key=lambda p: (p[0], p[1]))
        keys = note_keys([p[3] for p in everything])
        moved = {p[2] for p, key in zip(everything, keys) if p[2] is not None and p[2] != key}
        if not moved:
            break
        touched |= moved

    by_place = {(p[0], p[1]): key for p, key in zip(everything, keys) if p[2] is None}
    new_keys = [by_place[(order[q.file], place[id(q)])] for q in first]
    notes, groups = build_notes(questions, clusters, new_keys)
    meta = state.meta
    part = sorted(
        [read_entry(line) for line in state.entries(touched)] + [read_entry(line) for _, line in state.removed()],
        key=lambda e: e.key,
    )
    marks = tuple(NoteTypeMark(kind, digest, mod) for kind, digest, mod in meta["notetypes"])
    previous = Lock(notes=tuple(part), notetypes=marks, namespace=meta["namespace"], collection=meta["collection"])
    identified = assign_identities(
        render_notes(notes, root), previous, None, clock, namespace=namespace_for(root),
        floor_mod=meta["max_mod"] + 1, taken_guids=state.guids(),
    )  # fmt: skip
    if identified.legacy_reverse:
        return None

    sub_lines = lock_lines(identified)
    made = note_records(
        questions, clusters.members, clusters.key_inputs, groups, identified, place, [signature(q) for q in questions]
    )
    kept = [k for k in last.values() if k.key not in touched]
    every: list[Record] = sorted([*kept, *made], key=lambda r: (order[r.rel], r.seq))
    if clashes_of(every):
        return None
    conflicts = conflicts_of(every, [r.key_input[1] for r in every])
    fig_of = dict(now.sources)
    note_of = {id(questions[i]): key for indices, key in zip(clusters.members, new_keys) for i in indices}
    records = tuple(
        file_record(
            parsed[rel], fig_of[rel], content_dir, root,
            [note_of.get(id(q)) or sig[2] for q, sig in zip(parsed[rel].questions, _old_signatures(old_files, rel, parsed))],
        )
        if rel in parsed
        else old_files[rel]
        for rel in current
    )  # fmt: skip
    made_keys = {r.key for r in made}
    removed = tuple((k, line) for k, line in sub_lines if k not in made_keys)
    lines = tuple([(k.key, k.entry) for k in kept] + sub_lines)
    return Rebuilt(
        records, tuple(every), conflicts, identified, lines, removed, False, frozenset(parsed) | gone,
        frozenset(touched),
    )  # fmt: skip


def _old_signatures(old_files: dict[str, FileRecord], rel: str, parsed: dict[str, ParsedFile]) -> list[Any]:
    """A parsed file's questions' old signatures (read only for questions in no note redone: an unchanged file)."""
    record = old_files.get(rel)
    count = len(parsed[rel].questions)
    if record is None or len(record.signatures) != count:
        return [("", "", "")] * count
    return list(record.signatures)


def from_scratch(
    files: Sequence[ParsedFile],
    merged: MergeResult,
    identified: Identified,
    sources: Sequence[tuple[str, Figures | None]],
    content_dir: Path,
    root: str,
) -> Rebuilt | None:
    """A full build's records, for its state; None when its notes are not in the order positions give."""
    questions = [q for f in files for q in f.questions]
    place = {id(q): i for f in files for i, q in enumerate(f.questions)}
    signatures = [signature(q) for q in questions]
    notes = note_records(questions, merged.members, merged.key_inputs, merged.groups, identified, place, signatures)
    order = {f.rel: i for i, f in enumerate(files)}
    places = [(order[r.rel], r.seq) for r in notes]
    if places != sorted(places):  # a rebuild orders notes by place: it must be the merge's own order
        return None
    fig_of = dict(sources)
    note_of = {id(questions[i]): n.key for indices, n in zip(merged.members, merged.notes) for i in indices}
    sig_of = {id(q): sig for q, sig in zip(questions, signatures)}
    records = tuple(
        file_record(
            f, fig_of.get(f.rel), content_dir, root, [note_of[id(q)] for q in f.questions],
            [sig_of[id(q)] for q in f.questions],
        )
        for f in files
    )  # fmt: skip
    keys = {r.key for r in notes}
    removed = tuple((e.key, entry_line(e)) for e in identified.lock.notes if e.key not in keys)
    return Rebuilt(records, tuple(notes), merged.conflicts, identified, (), removed, True)
