"""Rebuild continuity: the lock file beside the content keeps GUIDs and modification times across builds.

Anki updates a note it already has only when the incoming note has the same GUID and a newer
modification time. The lock records, for every note of the last build, its key, GUID, a hash of its
rendered fields and tags, and the modification time it was given, so the next build can:

- keep each note's GUID when its key is unchanged, or when a vanished key matches a new one by
  similarity (reworded title, changed answer, question moved under another topic);
- keep the modification time of unchanged notes (so edits made inside Anki survive a re-import),
  and give changed notes one newer than any earlier build's;
- list the notes that are gone, with an Anki search that finds them.
"""

from __future__ import annotations

import errno
import hashlib
import html
import json
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

from rapidfuzz import fuzz, process

try:
    import fcntl
except ImportError:  # Windows: builds are not serialised there
    fcntl = None  # type: ignore[assignment]

from flashmark.anki.notetype import KINDS, QA, QAR, notetype_hash
from flashmark.errors import LockError, OutputError
from flashmark.identity import note_guid
from flashmark.merge import near_titles
from flashmark.outputs import atomic_write
from flashmark.render import as_notetype
from flashmark.text import normalise
from flashmark.types import Match, Moved, Removed, RenderedNote

LOCK_FILE = "flashmark.lock"
LOCK_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: flashmark 0.1 (upgraded when the next build writes the lock)

MIN_ANSWER_FOR_MATCH = 12  # a shorter answer ("见上文") is no evidence that two notes are one
SIMILAR_ANSWER = 0.5  # share of answer sentences two versions of one answer have in common
SKETCH_SIZE = 8  # sentence hashes kept per answer (the smallest ones: a bottom-k sketch)
MAX_MOD = 2**53  # modification times are seconds; anything larger is no time Anki (or SQLite) can hold
MAX_FUZZY_PAIRS = 4_000_000  # beyond this many vanished × new pairs, skip the fuzzy title search
NEAR_CUTOFF = 66.0  # the lowest title ratio merge.near_titles can accept

SAME_TITLE = "same title"
SAME_ANSWER = "same answer"
NEAR_TITLE = "similar title"
NEAR_ANSWER = "similar answer"

_BLOCK_TAG = re.compile(r"<(?:/?(?:p|div|li|ul|ol|pre|blockquote|table|tr|td|th|h[1-6])|br|hr)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|\.(?:\s+|$)")
_quote = json.encoder.encode_basestring  # json's own string encoder (its C one where there is C), non-ASCII kept


@dataclass(frozen=True, slots=True)
class SyncMark:
    """What `flashmark sync` last put in the Anki collection for a note, to tell later edits made in Anki."""

    mod: int  # the note's modification time in Anki right after the sync wrote it
    fields: str  # a hash of the fields it wrote
    deck: str  # the deck it put the cards in
    tags: tuple[str, ...] = ()  # the tags it gave the note (the user's own tags are left alone)
    retired: bool = False  # tagged flashmark::removed and suspended, its question being gone
    parked: bool = False  # its reversed card suspended by sync when reverse was turned off


@dataclass(frozen=True, slots=True)
class LockEntry:
    """One note as the lock file records it: a note of the last build, or one whose question is gone."""

    key: str
    guid: str
    hash: str
    mod: int
    title: str
    answer: str
    search: str
    files: tuple[str, ...] = ()  # the content files it came from (empty in locks written by flashmark 0.1)
    deck: str = ""  # its full deck name at the last build
    kind: str = QA  # which of flashmark's note types it uses (anki.notetype.KINDS)
    removed: int = 0  # 0 while its question is in the content; else when a build first found it gone
    sync: SyncMark | None = None  # what the last `flashmark sync` wrote into the collection

    @property
    def live(self) -> bool:
        return not self.removed


@dataclass(frozen=True, slots=True)
class NoteTypeMark:
    """What the lock records of one of flashmark's note types: a hash of its templates and CSS, and its mod."""

    kind: str
    hash: str
    mod: int


@dataclass(frozen=True, slots=True)
class Lock:
    """The whole lock file: the GUID namespace, the note types' hashes and mods, and one entry per note."""

    notes: tuple[LockEntry, ...] = ()
    notetypes: tuple[NoteTypeMark, ...] = ()
    namespace: str = ""  # GUIDs of new notes derive from it; empty: a lock from flashmark 0.1 (not yet upgraded)
    version: int = LOCK_VERSION  # the version the file was written in; older ones are upgraded on the next write
    collection: str = ""  # the Anki collection the sync marks speak of (its creation time); "" before any sync

    @property
    def max_mod(self) -> int:
        """The newest modification time any earlier build gave out."""
        return max([0, *(m.mod for m in self.notetypes), *(e.mod for e in self.notes)])

    def notetype(self, kind: str = QA) -> NoteTypeMark | None:
        """The record of one note type, if the lock has one."""
        return next((m for m in self.notetypes if m.kind == kind), None)

    @property
    def removed(self) -> tuple[LockEntry, ...]:
        """The entries of notes whose question is gone, oldest first."""
        return tuple(sorted((e for e in self.notes if e.removed), key=lambda e: (e.removed, e.key)))


@dataclass(frozen=True, slots=True)
class Identified:
    """The identity stage's output: notes with final GUIDs and mods, and what changed since the lock."""

    notes: tuple[RenderedNote, ...]
    lock: Lock
    matches: tuple[Match, ...]
    removed: tuple[Removed, ...]  # gone since the last build
    notetype_mods: dict[str, int]  # each note type's modification time, by kind
    remembered: tuple[Removed, ...] = ()  # every removed note the lock remembers, these included
    restored: tuple[Removed, ...] = ()  # removed notes whose question came back: they take their old note again
    moved: tuple[Moved, ...] = ()
    left_out: int = 0  # lock entries kept as they were because this build did not read their files
    legacy_reverse: tuple[RenderedNote, ...] = ()  # asked for a reversed card, but on the one-card note type


# ---------------------------------------------------------------- fingerprints


def content_hash(fields: Sequence[str], tags: Sequence[str]) -> str:
    """A hash of what Anki stores for a note: its fields and tags."""
    # The text json.dumps([list(fields), sorted(tags)], ensure_ascii=False) writes, put together directly.
    data = f"[[{', '.join(map(_quote, fields))}], [{', '.join(map(_quote, sorted(tags)))}]]"
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def html_text(fragment: str) -> str:
    """The text of an HTML fragment we rendered ourselves: block tags become line breaks, inline tags go."""
    return html.unescape(_TAG.sub("", _BLOCK_TAG.sub("\n", fragment)))


def answer_sketch(answer_html: str) -> str:
    """Hashes of the answer's sentences (the smallest few), for telling a changed answer from a new one."""
    hashes = {
        hashlib.blake2b(norm.encode(), digest_size=4).hexdigest()
        for piece in _SENTENCE_END.split(html_text(answer_html))
        if (norm := normalise(piece))
    }
    return " ".join(sorted(hashes)[:SKETCH_SIZE])


def sketch_similarity(a: str, b: str) -> tuple[float, int]:
    """Estimated share of sentences two answers have in common, and how many are seen in both."""
    sa, sb = set(a.split()), set(b.split())
    if not sa or not sb:
        return 0.0, 0
    union = sorted(sa | sb)[:SKETCH_SIZE]
    shared = sum(1 for h in union if h in sa and h in sb)
    return shared / len(union), shared


_PLAIN_RUN = re.compile(r"[^{}\n]+")
_CLOZE_OPENER = re.compile(r"^c\d+::")


def _snippet(html_field: str) -> str:
    """The first run of a field's text outside tags and cloze braces, enough to find the note by (≤ 30 chars)."""
    for m in _PLAIN_RUN.finditer(_TAG.sub("\n", html_field)):
        words = _CLOZE_OPENER.sub("", " ".join(html.unescape(m.group(0)).split()))
        if words:
            return words[:30]
    return ""


def _quoted(text: str, wildcards: bool) -> str:
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    if wildcards:
        text = text.replace("*", "\\*").replace("_", "\\_")
    return f'"{text}"'


def anki_search(
    question_field: str, topic_field: str, notetype_id: int = KINDS[QA].notetype_id, text_field: str = ""
) -> str:
    """A search for Anki's browser that finds a flashmark note by its first field (title) and Topic.

    Anki cannot search by GUID; `dupe:` finds notes of the note type whose first field matches,
    ignoring HTML, and the Topic clause tells apart equal titles under different topics. A note with
    no title (a cloze paragraph on its own) is found by the start of its text instead.
    """
    snippet = _snippet(text_field) if not question_field else ""
    if snippet:
        text = _quoted(snippet, wildcards=True)[1:-1]
        search = f'"mid:{notetype_id}" "Text:*{text}*"'
    else:
        search = _quoted(f"dupe:{notetype_id},{question_field}", wildcards=False)
    if topic_field:
        search += " " + _quoted(f"Topic:{topic_field}", wildcards=True)
    return search


# ---------------------------------------------------------------- the lock file


def _entry_json(e: LockEntry) -> str:
    """What json.dumps(entry as a dict, ensure_ascii=False) writes, without building the dict and an encoder per note."""
    files = ", ".join(map(_quote, e.files))
    removed = f', "removed": {int.__repr__(e.removed)}' if e.removed else ""
    sync = ""
    if e.sync is not None:
        m = e.sync
        tags = ", ".join(map(_quote, m.tags))
        retired = (', "retired": true' if m.retired else "") + (', "parked": true' if m.parked else "")
        sync = (
            f', "sync": {{"mod": {int.__repr__(m.mod)}, "fields": {_quote(m.fields)}, "deck": {_quote(m.deck)}, '
            f'"tags": [{tags}]{retired}}}'
        )
    return (
        f'{{"key": {_quote(e.key)}, "guid": {_quote(e.guid)}, "kind": {_quote(e.kind)}, "hash": {_quote(e.hash)}, '
        f'"mod": {int.__repr__(e.mod)}, "title": {_quote(e.title)}, "answer": {_quote(e.answer)}, '
        f'"search": {_quote(e.search)}, "files": [{files}], "deck": {_quote(e.deck)}{removed}{sync}}}'
    )


def lock_chunks(lock: Lock) -> Iterator[str]:
    """The lock's JSON text in pieces, one note per piece, so it can be written without building it whole."""
    return _chunks(lock, (_entry_json(e) for e in sorted(lock.notes, key=lambda e: e.key)))


def entry_line(e: LockEntry) -> str:
    """One entry as the lock file writes it (on one line)."""
    return _entry_json(e)


def read_entry(line: str) -> LockEntry:
    """An entry from the line `entry_line` wrote; ValueError when it is not one."""
    try:
        return _entry(json.loads(line), 0)
    except _Bad as exc:
        raise ValueError(str(exc)) from None


def lock_chunks_of(lock: Lock, lines: Iterable[tuple[str, str]]) -> Iterator[str]:
    """The text of a lock with `lock`'s note types, namespace and collection, and these (key, entry line) notes."""
    return _chunks(lock, (line for _, line in sorted(lines, key=lambda kl: kl[0])))


def _chunks(lock: Lock, lines: Iterable[str]) -> Iterator[str]:
    """The lock's text: its header, then these entry lines in the order given (each made as it is written)."""
    notetypes = json.dumps(
        {m.kind: {"hash": m.hash, "mod": m.mod} for m in sorted(lock.notetypes, key=lambda m: m.kind)}
    )
    collection = f'  "collection": {_quote(lock.collection)},\n' if lock.collection else ""
    yield (
        f'{{\n  "flashmark_lock": {LOCK_VERSION},\n  "namespace": {_quote(lock.namespace)},\n'
        f'  "notetypes": {notetypes},\n{collection}  "notes": '
    )
    sep = "[\n    "
    for line in lines:
        yield sep + line
        sep = ",\n    "
    yield "[]\n}\n" if sep == "[\n    " else "\n  ]\n}\n"


def lock_text(lock: Lock) -> str:
    """The lock as JSON text: sorted by key, one note per line so diffs stay readable."""
    return "".join(lock_chunks(lock))


class _Bad(Exception):
    """A malformed lock entry: the message, and the key of the entry it is in (to find its line)."""

    def __init__(self, message: str, key: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def _valid_time(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= MAX_MOD


def _text(value: object, what: str, key: object) -> str:
    if type(value) is not str:
        raise _Bad(f"{what} must be text", key)
    return value


def _time(value: object, what: str, key: object) -> int:
    if not _valid_time(value):
        if type(value) is not int:
            raise _Bad(f"{what} must be a number", key)
        raise _Bad(f"{what} must be a time in seconds, from 0 to {MAX_MOD}", key)
    if value > _latest():
        year = time.gmtime(min(value, 2**40)).tm_year if value < 2**40 else "far beyond 9999"
        raise _Bad(
            f"{what} lies in the future (year {year}): a clock far off wrote it, or it was edited; "
            "each build would have to go later still",
            key,
        )
    return value


def _latest() -> int:
    """The latest time a lock may hold: a year from now (clocks differ; a lock from the year 2500 is broken)."""
    return int(time.time()) + 366 * 24 * 3600


def _sync_mark(raw: object, key: str) -> SyncMark | None:
    if raw is None:
        return None
    if type(raw) is not dict:
        raise _Bad("'sync' must be an object", key)
    tags = raw.get("tags", [])
    if type(tags) is not list or any(type(t) is not str for t in tags):
        raise _Bad("'sync.tags' must be a list of tags", key)
    retired, parked = raw.get("retired", False), raw.get("parked", False)
    if type(retired) is not bool or type(parked) is not bool:
        raise _Bad("'sync.retired' and 'sync.parked' must be true or false", key)
    return SyncMark(
        _time(raw.get("mod"), "'sync.mod'", key),
        _text(raw.get("fields"), "'sync.fields'", key),
        _text(raw.get("deck"), "'sync.deck'", key),
        tuple(tags),
        retired,
        parked,
    )


def _entry(raw: object, n: int) -> LockEntry:
    """One lock entry from its parsed JSON object, checked field by field."""
    if type(raw) is not dict:
        raise _Bad(f"note {n + 1} is not an object")
    key = _text(raw.get("key"), "'key'", None)
    files = raw.get("files", [])
    if type(files) is not list or any(type(f) is not str for f in files):
        raise _Bad("'files' must be a list of file names", key)
    entry = LockEntry(
        key=key,
        guid=_text(raw.get("guid"), "'guid'", key),
        hash=_text(raw.get("hash"), "'hash'", key),
        mod=_time(raw.get("mod"), "'mod'", key),
        title=_text(raw.get("title", ""), "'title'", key),
        answer=_text(raw.get("answer", ""), "'answer'", key),
        search=_text(raw.get("search", ""), "'search'", key),
        files=tuple(files),
        deck=_text(raw.get("deck", ""), "'deck'", key),
        kind=_kind(raw.get("kind", QA), key),
        removed=_time(raw.get("removed", 0), "'removed'", key),
        sync=_sync_mark(raw.get("sync"), key),
    )
    if not entry.guid:
        raise _Bad("'guid' is empty", key)
    return entry


def _kind(value: object, key: str) -> str:
    kind = _text(value, "'kind'", key)
    if kind not in KINDS:
        raise _Bad(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}", key)
    return kind


def _entries(raw_notes: list[Any]) -> list[LockEntry]:
    entries: list[LockEntry] = []
    keys: dict[str, str] = {}
    guids: dict[str, str] = {}
    for n, raw in enumerate(raw_notes):
        entry = _entry(raw, n)
        if entry.key in keys:
            raise _Bad(f"key {entry.key!r} appears twice", entry.key)
        if entry.guid in guids:
            raise _Bad(f"GUID {entry.guid!r} appears twice (also for key {guids[entry.guid]!r})", entry.key)
        keys[entry.key] = entry.guid
        guids[entry.guid] = entry.key
        entries.append(entry)
    return entries


def _line_with(text: str, needle: str) -> int | None:
    """The first line that contains `needle`, for error messages."""
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return None


_CONFLICT = re.compile(r"^(?:<{7}|={7}|>{7})(?:\s|$)", re.M)
_HINT = "fix it, or delete it to start afresh (GUIDs then derive from titles again)"


def _notetypes(data: dict[str, Any], version: int) -> tuple[NoteTypeMark, ...]:
    """The note types' hashes and mods: one object per kind (version 2) or the single Q&A one (version 1)."""
    if version == 1:
        raw = data.get("notetype", {})
        if not isinstance(raw, dict):
            raise _Bad("'notetype' must be an object", "notetype")
        kinds = {QA: raw}
    else:
        kinds = data.get("notetypes", {})
        if not isinstance(kinds, dict) or not all(isinstance(v, dict) for v in kinds.values()):
            raise _Bad("'notetypes' must be an object of objects", "notetypes")
    return tuple(
        NoteTypeMark(
            kind,
            _text(v.get("hash", ""), "'notetypes.hash'", "notetypes"),
            _time(v.get("mod", 0), "'notetypes.mod'", "notetypes"),
        )
        for kind, v in kinds.items()
    )


def parse_lock(text: str, path: Path) -> Lock:
    """Check and read the lock file's text (either version this flashmark reads)."""
    conflict = _CONFLICT.search(text)
    if conflict is not None:
        marker_line = text.count("\n", 0, conflict.start()) + 1
        raise LockError(
            "unresolved merge conflict (a line starting <<<<<<<, ======= or >>>>>>>); keep the note lines of both "
            f"sides and remove the marker lines, or {_HINT.split(', or ', 1)[1]}",
            path,
            marker_line,
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockError(f"not valid JSON ({exc.msg}); {_HINT}", path, exc.lineno) from None
    except (RecursionError, ValueError):  # nested thousands deep, or a number thousands of digits long
        raise LockError(
            f"not a lock file flashmark wrote (nested too deeply or a number too long); {_HINT}", path
        ) from None
    if not isinstance(data, dict) or "flashmark_lock" not in data:
        raise LockError(f"not a flashmark lock file; {_HINT}", path, 1)
    version = data["flashmark_lock"]
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        line = _line_with(text, '"flashmark_lock"')
        raise LockError(
            f"lock file version {version!r} is not supported (expected {LOCK_VERSION}); upgrade flashmark", path, line
        )
    raw_notes = data.get("notes", [])
    try:
        notetypes = _notetypes(data, version)
        namespace = _text(data.get("namespace", ""), "'namespace'", "namespace")
        collection = _text(data.get("collection", ""), "'collection'", "collection")
        if not isinstance(raw_notes, list):
            raise _Bad("'notes' must be a list", "notes")
        entries = _entries(raw_notes)
    except _Bad as bad:
        if bad.key in ("notetype", "notetypes", "notes", "namespace", "collection"):
            line = _line_with(text, f'"{bad.key}"')
        elif isinstance(bad.key, str):
            line = _line_with(text, f'"key": {json.dumps(bad.key, ensure_ascii=False)}')
        else:
            line = None
        raise LockError(f"{bad.message}; {_HINT}", path, line) from None
    if version == 1:
        entries = _rekeyed(entries)
    return Lock(notes=tuple(entries), notetypes=notetypes, namespace=namespace, version=version, collection=collection)


def _rekeyed(entries: list[LockEntry]) -> list[LockEntry]:
    """Version 1 keys with the title normalised as flashmark 0.1 did, which dropped all punctuation.

    Titles now keep the punctuation that carries meaning ("1-10", "a.b"), so such a note's key
    changes; giving the entry its new key keeps the note without a "matched" line on the upgrade.
    """
    keys = {e.key for e in entries}
    out = []
    for e in entries:
        old, new = normalise(e.title, keep_meaning=False), normalise(e.title)
        if not e.key.startswith("#") and old != new and e.key.startswith(old):
            key = new + e.key[len(old) :]
            if key not in keys:
                keys.add(key)
                e = replace(e, key=key)
        out.append(e)
    return out


_decode_at = json.JSONDecoder().raw_decode
_HEAD = f'{{\n  "flashmark_lock": {LOCK_VERSION},\n'
_ENTRY_INDENT = "    "


def _field_line(line: str, name: str) -> object:
    """The value of a top-level `"name": value,` line as lock_text writes it; ValueError if it is not one."""
    prefix = f'  "{name}": '
    if not line.startswith(prefix):
        raise ValueError(name)
    value, end = _decode_at(line, len(prefix))
    if line[end:] != ",\n":
        raise ValueError(name)
    return value


def _read_as_written(path: Path) -> Lock | None:
    """The lock read line by line, when it is laid out exactly as `lock_text` writes it and valid; else None.

    Reading a line at a time holds neither the file's whole text nor every note's parsed JSON object at once.
    Anything unexpected (another layout, an older version, an error to report) returns None: `parse_lock`
    then reads the whole text and gives the same result, or the error naming its line.
    """
    entries: list[LockEntry] = []
    keys: set[str] = set()
    guids: set[str] = set()
    try:
        with open(path, encoding="utf-8-sig", newline="\n") as f:
            if f.readline() + f.readline() != _HEAD:
                return None
            namespace = _field_line(f.readline(), "namespace")
            raw_types = _field_line(f.readline(), "notetypes")
            if type(namespace) is not str or type(raw_types) is not dict:
                return None
            notetypes = _notetypes({"notetypes": raw_types}, LOCK_VERSION)
            line = f.readline()
            collection = ""
            if line.startswith('  "collection": '):
                found = _field_line(line, "collection")
                if type(found) is not str:
                    return None
                collection = found
                line = f.readline()
            if line == '  "notes": [\n':
                more = True
                for n, line in enumerate(f):
                    if not more or not line.startswith(_ENTRY_INDENT):
                        break
                    raw, end = _decode_at(line, len(_ENTRY_INDENT))
                    rest = line[end:]
                    more = rest == ",\n"
                    if not (more or rest == "\n"):
                        return None
                    entry = _entry(raw, n)
                    if entry.key in keys or entry.guid in guids:
                        return None
                    keys.add(entry.key)
                    guids.add(entry.guid)
                    entries.append(entry)
                if more or not entries or line != "  ]\n":
                    return None
            elif line != '  "notes": []\n':
                return None
            if f.readline() != "}\n" or f.read(1) != "":
                return None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, _Bad):
        return None
    return Lock(notes=tuple(entries), notetypes=notetypes, namespace=namespace, collection=collection)


def read_lock(path: Path) -> Lock | None:
    """The lock file at `path`, or None when there is none yet."""
    lock = _read_as_written(path)
    if lock is not None:
        return lock
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LockError(f"cannot read: {exc.strerror}", path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LockError("not UTF-8 text; delete it to start afresh", path) from None
    return parse_lock(text, path)


def _holds(path: Path, lock: Lock) -> bool:
    """Whether the file at `path` already holds the lock's text, read alongside it piece by piece."""
    return chunks_written(path, lock_chunks(lock))


def chunks_written(path: Path, chunks: Iterable[str]) -> bool:
    """Whether the file at `path` holds exactly the text of `chunks`, read alongside them piece by piece."""
    try:
        with open(path, encoding="utf-8") as old:
            for chunk in chunks:
                if old.read(len(chunk)) != chunk:
                    return False
            return old.read(1) == ""
    except (OSError, UnicodeDecodeError):
        return False


def lock_writer(lock: Lock) -> Callable[[Path], None]:
    """A function writing the lock's text to a path, a note at a time (for `atomic_write` or a Transaction)."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as out:
            out.writelines(lock_chunks(lock))

    return write


def chunks_writer(chunks: Callable[[], Iterable[str]]) -> Callable[[Path], None]:
    """A function writing the text of `chunks()` to a path, a piece at a time."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as out:
            out.writelines(chunks())

    return write


def lock_is_written(path: Path, lock: Lock) -> bool:
    """Whether the file at `path` already holds exactly this lock (then it need not be written again)."""
    return _holds(path, lock)


def write_lock(path: Path, lock: Lock) -> bool:
    """Write the lock atomically; leave the file untouched (and return False) when nothing changed.

    The text is compared with the existing file, then written, piece by piece: neither text is held whole.
    """
    if _holds(path, lock):
        return False
    try:
        atomic_write(path, lock_writer(lock))
    except OutputError as exc:
        raise LockError(f"cannot write the lock file ({exc.message}); or build with --no-lock", path) from None
    return True


@contextmanager
def exclusive(path: Path | None) -> Iterator[None]:
    """Hold an advisory lock beside the lock file (`.flashmark.lock.lck`), so builds of one folder take turns.

    Two builds at once would otherwise both start from the same lock file and each write its own. Where
    the lock cannot be taken (no `fcntl` on Windows, a read-only folder) the build goes ahead without it.
    """
    if path is None or fcntl is None:
        yield
        return
    guard = path.with_name(f".{path.name}.lck")
    while True:
        try:
            fd = os.open(guard, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symlink in its place: never create or lock a file where it points
                raise LockError("is a symbolic link; remove it (flashmark makes this file itself)", guard) from None
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks
            os.close(fd)
            yield
            return
        held = os.fstat(fd)
        try:
            now = os.stat(guard)
        except FileNotFoundError:  # the build before us removed it once done: take a fresh one
            now = None
        if now is not None and (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
            break
        os.close(fd)
    try:
        yield
    finally:
        try:  # removed before it is closed, so a build waiting on it sees that and takes a fresh one
            guard.unlink()
        except OSError:
            pass
        os.close(fd)


# ---------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class _Fresh:
    """A note of this build whose key the lock does not know."""

    index: int
    key: str
    title: str
    title_norm: str
    sketch: str
    answer_len: int
    family: str = QA


def _pair(old: LockEntry, old_norm: str, new: _Fresh) -> tuple[float, str] | None:
    """How strongly a vanished note and a new one look like the same question, and why; None: not at all."""
    same_title = old_norm == new.title_norm
    near = same_title or near_titles(old_norm, new.title_norm)
    long_enough = new.answer_len >= MIN_ANSWER_FOR_MATCH
    same_answer = long_enough and bool(new.sketch) and old.answer == new.sketch
    share, shared = sketch_similarity(old.answer, new.sketch)
    near_answer = long_enough and share >= SIMILAR_ANSWER and shared >= 2
    if not (near or same_answer or near_answer):
        return None
    reasons = [
        SAME_TITLE if same_title else NEAR_TITLE if near else "",
        SAME_ANSWER if same_answer else NEAR_ANSWER if near_answer else "",
    ]
    score = 4.0 * same_title + 2.0 * same_answer + 1.0 * near + share + fuzz.ratio(old_norm, new.title_norm) / 100
    return score, " and ".join(r for r in reasons if r)


def _candidates(
    vanished: Sequence[LockEntry], norms: dict[str, str], fresh: Sequence[_Fresh]
) -> list[tuple[LockEntry, _Fresh]]:
    """Pairs worth scoring: titles close enough to be near, or answers sharing a sentence."""
    by_sentence: dict[str, list[int]] = {}
    by_title: dict[str, list[int]] = {}
    for n, f in enumerate(fresh):
        by_title.setdefault(f.title_norm, []).append(n)
        for h in f.sketch.split():
            by_sentence.setdefault(h, []).append(n)
    titles = [f.title_norm for f in fresh]
    fuzzy = len(vanished) * len(fresh) <= MAX_FUZZY_PAIRS
    pairs: list[tuple[LockEntry, _Fresh]] = []
    for e in vanished:
        family = KINDS[e.kind].family
        found = set(by_title.get(norms[e.key], ()))
        for h in e.answer.split():
            found.update(by_sentence.get(h, ()))
        if fuzzy:  # every near title has a ratio of at least 2/3 (a subsequence at least half as long)
            found.update(
                n
                for _, _, n in process.extract(
                    norms[e.key], titles, scorer=fuzz.ratio, score_cutoff=NEAR_CUTOFF, limit=None
                )
            )
        pairs.extend((e, fresh[n]) for n in sorted(found) if fresh[n].family == family)  # a note never changes family
    return pairs


def match_vanished(vanished: Sequence[LockEntry], fresh: Sequence[_Fresh]) -> list[tuple[LockEntry, _Fresh, str]]:
    """Pair notes whose keys vanished with new keys that look like the same question, best pairs first."""
    if not vanished or not fresh:
        return []
    norms = {e.key: normalise(e.title) for e in vanished}
    scored = []
    for e, f in _candidates(vanished, norms, fresh):
        found = _pair(e, norms[e.key], f)
        if found is not None:
            scored.append((-found[0], e.key, f.key, e, f, found[1]))
    scored.sort(key=lambda s: s[:3])
    used_old: set[str] = set()
    used_new: set[str] = set()
    pairs: list[tuple[LockEntry, _Fresh, str]] = []
    for _, old_key, new_key, e, f, reason in scored:
        if old_key in used_old or new_key in used_new:
            continue
        used_old.add(old_key)
        used_new.add(new_key)
        pairs.append((e, f, reason))
    return pairs


def _answer_len(answer_html: str) -> int:
    return len(normalise(html_text(answer_html)))


def _removed(e: LockEntry) -> Removed:
    return Removed(e.key, e.guid, e.title, e.search, e.removed)


def _fields_of(kind: str, rn: RenderedNote) -> tuple[str, str, str]:
    """A rendered note's title, answer and topic fields, wherever its note type keeps them."""
    k = KINDS[kind]
    return rn.fields[k.index(k.title_field)], rn.fields[k.index(k.answer_field)], rn.fields[k.index(k.topic_field)]


def assign_identities(
    notes: Sequence[RenderedNote],
    previous: Lock | None,
    notetype_hashes: dict[str, str] | None,
    now: float,
    *,
    namespace: str = "",
    excluded: Collection[str] = frozenset(),
    one_off: Collection[str] = frozenset(),
    lockless: bool = False,
    floor_mod: int = 0,
    taken_guids: Collection[str] = (),
) -> Identified:
    """Give every note its GUID, modification time and note type, from the last build's lock when there is one.

    `excluded` names the content files this build did not read (left out by a setting or an option):
    lock entries of notes from those files are kept as they are, never counted as removed. Of them,
    `one_off` are left out for this build only (`--exclude`): a note that also draws on one of them
    keeps its lock entry and its modification time, so a partial version never replaces Anki's copy.
    New notes take GUIDs from the lock's namespace, else from `namespace`. A Q&A note the lock knows on
    the one-card note type of earlier versions stays on it (Anki's importer cannot move it).
    `notetype_hashes` (default: this version's) says, by kind, what each note type looks like.
    `lockless` (a build without a lock file, which cannot know what Anki holds): Q&A notes that do not ask
    for a reversed card keep the one-card note type, so decks imported before keep updating.
    """
    hashes_by_kind = notetype_hashes if notetype_hashes is not None else {k: notetype_hash(k) for k in KINDS}
    build_mod = max(int(now) if previous is None else max(int(now), previous.max_mod + 1), floor_mod)
    stamp = int(now)
    namespace = (previous.namespace if previous is not None else "") or namespace
    old_by_key = {e.key: e for e in previous.notes} if previous else {}
    chosen: list[LockEntry | None] = [old_by_key.get(rn.key) for rn in notes]
    for i, old in enumerate(chosen):
        if old is not None and KINDS[old.kind].family != KINDS[notes[i].notetype].family:
            chosen[i] = None  # the same key in another family cannot be: keys of cloze notes start "cloze:"
    notes = [
        as_notetype(rn, QA)
        if (old is not None and old.kind == QA) or (lockless and rn.notetype == QAR and not rn.note.reverse)
        else rn
        for rn, old in zip(notes, chosen)
    ]
    hashes = [content_hash(rn.fields, rn.tags) for rn in notes]
    # A note's answer sketch derives from its fields alone, which the content hash covers: an entry of the
    # same key and hash already holds it. (A change to answer_sketch must therefore bump LOCK_VERSION.)
    same = [old if old is not None and old.hash == h else None for old, h in zip(chosen, hashes)]
    parts = [_fields_of(rn.notetype, rn) for rn in notes]
    sketches = [old.answer if old is not None else answer_sketch(p[1]) for p, old in zip(parts, same)]

    def left_out(e: LockEntry) -> bool:
        return any(f in excluded for f in e.files)

    matches: list[Match] = []
    if previous is not None:
        current = {rn.key for rn in notes}
        vanished = [e for e in previous.notes if e.key not in current and not (e.live and left_out(e))]
        fresh = [
            _Fresh(
                i,
                rn.key,
                rn.note.title,
                normalise(rn.note.title),
                sketches[i],
                _answer_len(parts[i][1]),
                KINDS[rn.notetype].family,
            )
            for i, rn in enumerate(notes)
            if chosen[i] is None
        ]
        for was, new, reason in match_vanished(vanished, fresh):
            chosen[new.index] = was
            matches.append(Match(was.key, new.key, was.guid, was.title, new.title, reason))
            if was.kind == QA:  # matched to a note of the one-card type: it stays on that type
                notes[new.index] = as_notetype(notes[new.index], QA)
                hashes[new.index] = content_hash(notes[new.index].fields, notes[new.index].tags)

    taken = {e.guid for e in chosen if e is not None} | ({e.guid for e in previous.notes} if previous else set())
    taken.update(taken_guids)
    out: list[RenderedNote] = []
    entries: list[LockEntry] = []
    restored: list[Removed] = []
    moved: list[Moved] = []
    for i, rn in enumerate(notes):
        old = chosen[i]
        if old is not None and old.removed:
            restored.append(_removed(old))
        elif old is not None and old.deck and old.deck != rn.deck:
            moved.append(Moved(rn.key, old.guid, rn.note.title, old.deck, rn.deck))
        if old is not None and old.live and old.key == rn.key and any(f in one_off for f in old.files):
            out.append(replace(rn, guid=old.guid, mod=old.mod))
            entries.append(old)  # a partial version of the note: the lock keeps the whole one
            continue
        files, deck = rn.note.files, rn.deck
        title_field, text_field, topic_field = parts[i]
        search = anki_search(title_field, topic_field, KINDS[rn.notetype].notetype_id, text_field)
        unchanged = same[i]
        if unchanged is not None:
            if search == unchanged.search:
                search = unchanged.search  # share the lock's strings instead of keeping equal copies
            if files == unchanged.files:
                files = unchanged.files
            out.append(replace(rn, guid=unchanged.guid, mod=unchanged.mod))
            entries.append(
                LockEntry(
                    rn.key,
                    unchanged.guid,
                    unchanged.hash,
                    unchanged.mod,
                    rn.note.title,
                    unchanged.answer,
                    search,
                    files,
                    deck,
                    unchanged.kind,
                    sync=unchanged.sync,
                )
            )
            continue
        if old is not None:
            guid = old.guid
            mod = old.mod if old.hash == hashes[i] else build_mod
        else:
            guid, n = note_guid(rn.key, namespace), 2
            while guid in taken:
                guid, n = note_guid(f"{rn.key}~{n}", namespace), n + 1
            taken.add(guid)
            mod = build_mod
        out.append(replace(rn, guid=guid, mod=mod))
        mark = old.sync if old is not None else None
        entries.append(
            LockEntry(
                rn.key, guid, hashes[i], mod, rn.note.title, sketches[i], search, files, deck, rn.notetype, sync=mark
            )
        )

    kept = {e.key for e in chosen if e is not None} | {rn.key for rn in notes}
    removed: list[Removed] = []
    kept_out = 0
    for e in previous.notes if previous else ():
        if e.key in kept:  # (an entry of another family under a note's key, from a hand-edited lock, goes)
            continue
        if e.live and left_out(e):
            kept_out += 1
        elif e.live:
            e = replace(e, removed=stamp)
            removed.append(_removed(e))
        entries.append(e)

    used = {e.kind for e in entries} | {rn.notetype for rn in out}
    marks: list[NoteTypeMark] = []
    for kind in sorted(used | ({m.kind for m in previous.notetypes} if previous is not None else set())):
        type_mark = previous.notetype(kind) if previous is not None else None
        type_hash = hashes_by_kind.get(kind, "")
        unchanged_type = type_mark is not None and type_mark.hash == type_hash and type_mark.mod
        marks.append(NoteTypeMark(kind, type_hash, type_mark.mod if unchanged_type and type_mark else build_mod))
    lock = Lock(
        notes=tuple(entries),
        notetypes=tuple(marks),
        namespace=namespace,
        collection=previous.collection if previous is not None else "",
    )
    return Identified(
        notes=tuple(out),
        lock=lock,
        matches=tuple(matches),
        removed=tuple(removed),
        notetype_mods={m.kind: m.mod for m in marks},
        remembered=tuple(_removed(e) for e in lock.removed),
        restored=tuple(restored),
        moved=tuple(moved),
        left_out=kept_out,
        legacy_reverse=tuple(rn for rn in out if rn.notetype == QA and rn.note.reverse),
    )


def forget_removed(lock: Lock, keys: Collection[str] = ()) -> tuple[Lock, tuple[LockEntry, ...]]:
    """The lock without its removed notes (all of them, or those with the given keys), and the entries dropped."""
    dropped = tuple(e for e in lock.notes if e.removed and (not keys or e.key in keys))
    gone = {e.key for e in dropped}
    return replace(lock, notes=tuple(e for e in lock.notes if e.key not in gone)), dropped
