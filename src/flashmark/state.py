"""The build state: the last build's notes and files, kept so that the next build redoes only what changed.

One SQLite database per content folder and deck, under the output folder's `.cache/state/` (a
folder the build made for its user alone; anything else is ignored). It holds, for the last build:

- each Markdown file with its size and times, the images it read, its skipped questions and warnings;
- each note as rendered and identified (tags, deck, GUID, modification time), its lock-file entry,
  its merge record, where its first question is, the files its questions come from, and hashes of
  what another question would have to share with it to touch it (`merge.merge_keys`), packed in one
  row; its fields beside them, read only when the deck is written whole (a rebuild patches it);
- the lock file's removed notes, its note types and namespace, a hash of its text, and the figures
  of the deck and report as written.

Nothing in it is code, and it is used only when everything that shapes a build besides the files
(flashmark's code, the settings and options) is as it was, the lock file is byte for byte the one
this state was written with, and the deck and report are the ones it describes; otherwise the build
is a full one and writes a new state. Damage of any kind reads as "no state" (with a warning).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from flashmark.anki.notetype import card_labels, rendered_kind
from flashmark.cache import make_private, private_folder
from flashmark.figures import Figures, figures
from flashmark.lock import LockEntry, entry_line
from flashmark.report import note_line
from flashmark.types import KeyInput, MediaFile, MergeGroup, Notice, RenderedNote, Skipped

FORMAT = 2
_SCHEMA = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE files (rel TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE notes (key TEXT NOT NULL, guid TEXT NOT NULL, packed BLOB NOT NULL, fields BLOB NOT NULL, sum INTEGER NOT NULL);
CREATE TABLE note_files (rel TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE note_keys (k TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL);
CREATE TABLE removed (key TEXT PRIMARY KEY, entry TEXT NOT NULL);
"""
# Made once the rows are in (quicker than keeping them up to date row by row).
_INDEXES = """
CREATE UNIQUE INDEX notes_key ON notes (key);
CREATE INDEX note_files_rel ON note_files (rel);
CREATE INDEX note_files_key ON note_files (key);
CREATE INDEX note_keys_k ON note_keys (k);
CREATE INDEX note_keys_key ON note_keys (key);
"""
_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, None, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    if getattr(json.encoder, "c_make_encoder", None)
    else None
)


def _json(value: Any) -> str:
    """json.dumps(value, ensure_ascii=False) by json's C encoder, without its per-call set-up."""
    if _ENCODE is not None:
        return "".join(_ENCODE(value, 0))
    return json.dumps(value, ensure_ascii=False)


STATE_NOTICE = "state"  # the kind of the warning that a state was not used
RENEWED = "building everything (it is written anew)"


class Damaged(Exception):
    """A state whose data does not have the shape this version writes."""


def state_path(cache_dir: Path, content_dir: Path, output: Path) -> Path:
    """Where the state of `content_dir` built into the deck `output` lives under `cache_dir`."""
    name = hashlib.blake2b(f"{content_dir.resolve()}\0{output.resolve()}".encode(), digest_size=12).hexdigest()
    return cache_dir / "state" / f"{name}.sqlite"


def light_key(kind: str, key: str) -> str:
    """A short hash of a group key ("x") or an answer ("a") of `merge.merge_signature` (answers can be long)."""
    return kind + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


# ---------------------------------------------------------------- records as JSON


def _strs(raw: Any) -> tuple[str, ...]:
    if type(raw) is not list or any(type(x) is not str for x in raw):
        raise Damaged
    return tuple(raw)


def _split(raw: Any) -> tuple[str, ...]:
    return tuple(_str(raw).split(_SEP)) if raw else ()


def _str(raw: Any) -> str:
    if type(raw) is not str:
        raise Damaged
    return raw


def _notices(raw: Any) -> tuple[Notice, ...]:
    if type(raw) is not list:
        raise Damaged
    out = []
    for n in raw:
        if type(n) is not list or len(n) != 4 or not (n[1] is None or type(n[1]) is int):
            raise Damaged
        out.append(Notice(_str(n[0]), n[1], _str(n[2]), _str(n[3])))
    return tuple(out)


def _skipped(raw: Any) -> tuple[Skipped, ...]:
    if type(raw) is not list:
        raise Damaged
    out = []
    for s in raw:
        if type(s) is not list or len(s) != 4 or type(s[1]) is not int:
            raise Damaged
        out.append(Skipped(_str(s[0]), s[1], _str(s[2]), _str(s[3])))
    return tuple(out)


def _figures(raw: Any) -> Figures | None:
    if raw is None:
        return None
    if type(raw) is not list or len(raw) != 4 or any(type(x) is not int for x in raw):
        raise Damaged
    return raw[0], raw[1], raw[2], raw[3]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What one Markdown file gave the last build besides its notes."""

    rel: str
    figures: Figures | None  # taken before the build read it
    deps: tuple[tuple[str, Figures | None], ...]  # the images (and other files) its parse read
    questions: int  # questions found, skipped ones included
    skipped: tuple[Skipped, ...]
    notices: tuple[Notice, ...]  # its own warnings
    deck_notices: tuple[Notice, ...]  # decks nested too deep
    # Per question: light keys of its group and of its answer ("" for none), and the key of its note.
    signatures: tuple[tuple[str, str, str], ...] = ()

    def data(self) -> str:
        return json.dumps(
            [
                list(self.figures) if self.figures else None,
                [[d, list(f) if f else None] for d, f in self.deps],
                self.questions,
                [[s.file, s.line, s.title, s.reason] for s in self.skipped],
                [[n.file, n.line, n.kind, n.message] for n in self.notices],
                [[n.file, n.line, n.kind, n.message] for n in self.deck_notices],
                [list(sig) for sig in self.signatures],
            ],
            ensure_ascii=False,
        )

    @classmethod
    def of(cls, rel: str, text: str) -> FileRecord:
        raw = json.loads(text)
        if type(raw) is not list or len(raw) != 7 or type(raw[1]) is not list or type(raw[2]) is not int:
            raise Damaged
        if type(raw[6]) is not list:
            raise Damaged
        deps = []
        for d in raw[1]:
            if type(d) is not list or len(d) != 2:
                raise Damaged
            deps.append((_str(d[0]), _figures(d[1])))
        signatures = []
        for sig in raw[6]:
            x, a, note = _strs(sig)
            signatures.append((x, a, note))
        notices, deck = _notices(raw[4]), _notices(raw[5])
        return cls(rel, _figures(raw[0]), tuple(deps), raw[2], _skipped(raw[3]), notices, deck, tuple(signatures))


_SEP = "\x1f"  # never in a field, tag, topic or file name (the parse takes it out)


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """A note made by this build, with everything the next build needs to reuse it."""

    rendered: RenderedNote
    rel: str  # the file of its first question
    seq: int  # its first question's place among its file's questions
    key_input: KeyInput  # what its key was made of (merge.note_keys)
    lock_entry: LockEntry  # its lock-file entry
    group: MergeGroup | None
    files: tuple[str, ...]  # the files its questions come from
    keys: tuple[tuple[str, int], ...]  # light keys of its groups (1) and answers (how many of its groups have it)

    @property
    def key(self) -> str:
        return self.rendered.key

    @property
    def entry(self) -> str:
        """Its lock-file entry as the lock file writes it (made when asked for: a full build holds none)."""
        return entry_line(self.lock_entry)

    @property
    def report(self) -> str:
        """Its line in the report (made when asked for)."""
        return note_line(self.rendered)

    @property
    def title(self) -> str:
        return self.rendered.note.title

    @property
    def mod(self) -> int:
        return self.rendered.mod

    @property
    def sources(self) -> tuple[str, ...]:
        return self.rendered.note.sources

    @property
    def tags(self) -> tuple[str, ...]:
        return self.rendered.tags

    @property
    def kind(self) -> str:
        return self.rendered.note.kind

    @property
    def topic(self) -> tuple[str, ...]:
        return self.rendered.note.topic

    @property
    def anchor(self) -> str | None:
        return self.rendered.note.anchor


class Kept(NamedTuple):
    """A note of the last build that this build keeps as it was: what the deck, report and lock file need of it.

    A named tuple, not a frozen dataclass like the other records: a rebuild reads one per note, and a tuple
    is made several times faster.
    """

    key: str
    rel: str
    seq: int
    key_input: KeyInput
    title: str
    sources: tuple[str, ...]
    guid: str
    notetype: str
    deck: str
    tags: tuple[str, ...]
    mod: int
    rkind: str  # its kind as the report counts it (qa, qa+reverse, cloze)
    cards: int
    group: MergeGroup | None
    fields_data: bytes  # its fields as the state keeps them: read only when the deck is written whole
    media: tuple[MediaFile, ...]
    report: str
    entry: str

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.fields_data.decode().split(_SEP))

    @property
    def kind(self) -> str:
        return self.key_input[4]

    @property
    def topic(self) -> tuple[str, ...]:
        return self.key_input[2]

    @property
    def anchor(self) -> str | None:
        return self.key_input[0]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a build leaves in its state."""

    files: Sequence[FileRecord]
    notes: Sequence[NoteRecord]
    removed: Sequence[tuple[str, str]]  # (key, lock entry line) of the lock's entries without a note
    meta: dict[str, Any]


def _group_data(g: MergeGroup | None) -> str | None:
    if g is None:
        return None
    return json.dumps([g.key, g.title, list(g.sources), list(g.titles), g.reason], ensure_ascii=False)


def _group(text: str | None) -> MergeGroup | None:
    if text is None:
        return None
    raw = json.loads(text)
    if type(raw) is not list or len(raw) != 5:
        raise Damaged
    return MergeGroup(_str(raw[0]), _str(raw[1]), _strs(raw[2]), _strs(raw[3]), _str(raw[4]))


_PACK = "\x1e"  # between a note's values in its packed row: never in one (the parse and JSON keep it out)
_PACKED = 18  # values in a packed row (its fields are beside it: a rebuild that patches the deck never reads them)


def _packed(r: NoteRecord) -> str:
    """A note's row: where it stands, its key's parts, what conflicts, the deck, report and lock file need of it."""
    rn, sep = r.rendered, _SEP
    anchor, title_norm, topic, prompt_norm, kind = r.key_input
    media = _json([[m.name, m.path] for m in rn.media]) if rn.media else ""
    values = (
        r.rel, str(r.seq), anchor or "", title_norm, sep.join(topic), prompt_norm, kind, rn.note.title,
        sep.join(rn.note.sources), rn.notetype, rn.deck, sep.join(rn.tags), str(rn.mod), rendered_kind(rn),
        str(len(card_labels(rn))), _group_data(r.group) or "", media, r.report + _PACK + r.entry,
    )  # fmt: skip
    row = _PACK.join(values)
    if row.count(_PACK) != _PACKED:  # a value holding the separator: the state cannot keep this note
        raise ValueError("a value holds the state's separator")
    return row


def _sum(key: str, guid: str, packed: bytes, fields: bytes, files: int, keys: int) -> int:
    """A row's check against damage: a CRC of all it holds, and of how many index rows (files, keys) are its own."""
    head = zlib.crc32(f"{key}{_PACK}{guid}{_PACK}{files}{_PACK}{keys}".encode())
    return zlib.crc32(fields, zlib.crc32(packed, head))


def _rows(notes: Sequence[NoteRecord]) -> Iterator[tuple[str, str, bytes, bytes, int]]:
    for r in notes:
        packed = _packed(r).encode()
        fields = _SEP.join(r.rendered.fields).encode()
        yield (
            r.key,
            r.rendered.guid,
            packed,
            fields,
            _sum(r.key, r.rendered.guid, packed, fields, len(r.files), len(r.keys)),
        )


def _insert_notes(db: sqlite3.Connection, notes: Sequence[NoteRecord]) -> None:
    """Insert the notes' rows, a table at a time, each fed by a generator (nothing held whole)."""
    db.executemany("INSERT INTO notes VALUES (?, ?, ?, ?, ?)", _rows(notes))
    db.executemany("INSERT INTO note_files VALUES (?, ?)", ((f, r.key) for r in notes for f in r.files))
    db.executemany("INSERT INTO note_keys VALUES (?, ?, ?)", ((k, r.key, n) for r in notes for k, n in r.keys))


def seal(meta: dict[str, Any]) -> str:
    """A hash of the state's description (all but the outputs, which are cleared while they are replaced)."""
    text = json.dumps({k: v for k, v in meta.items() if k not in ("seal", "outputs")}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def sealed(meta: dict[str, Any]) -> bool:
    """Whether the state's description is whole: as written, every part of it."""
    return meta.get("seal") == seal(meta)


def _set_meta(db: sqlite3.Connection, meta: dict[str, Any]) -> None:
    if "outputs" not in meta or len(meta) > 1:
        meta = {**meta, "seal": seal({"format": FORMAT, **meta})}
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")  # a cache: a state lost in a crash only costs a full build
    db.execute("PRAGMA journal_mode=MEMORY")
    return db


def write(path: Path, snapshot: Snapshot) -> None:
    """Replace the state at `path` with `snapshot`; a state that cannot be written is removed instead."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if private_folder(path.parent.parent) is not None or private_folder(path.parent) is not None:
            return
        make_private(path.parent)
        tmp.unlink(missing_ok=True)
        with closing(_connect(tmp)) as db:
            db.execute("PRAGMA journal_mode=OFF")  # a new file, renamed into place only once complete
            db.executescript(_SCHEMA)
            db.execute("BEGIN")
            _set_meta(db, {"format": FORMAT, **snapshot.meta})
            db.executemany("INSERT INTO files VALUES (?, ?)", ((f.rel, f.data()) for f in snapshot.files))
            _insert_notes(db, snapshot.notes)
            db.executemany("INSERT INTO removed VALUES (?, ?)", snapshot.removed)
            for statement in filter(str.strip, _INDEXES.split(";")):
                db.execute(statement)
            db.execute("COMMIT")
        os.replace(tmp, path)
    except (OSError, sqlite3.Error):
        forget(path)
    finally:
        tmp.unlink(missing_ok=True)


def forget(path: Path) -> None:
    """Remove a state (after a build it no longer describes)."""
    try:
        path.unlink()
    except OSError:
        pass


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class State:
    """An open build state, read lazily: a build asks only for what the files it redoes touch."""

    def __init__(self, path: Path, db: sqlite3.Connection, meta: dict[str, Any]) -> None:
        self.path = path
        self.db = db
        self.meta = meta

    @classmethod
    def open(cls, path: Path) -> State | None:
        """The state at `path` when there is one this user's builds wrote, else None."""
        if not path.is_file() or any(private_folder(f) is not None for f in (path.parent.parent, path.parent)):
            return None
        try:
            db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
            meta = {k: json.loads(v) for k, v in db.execute("SELECT k, v FROM meta")}
        except (sqlite3.Error, ValueError):
            return None
        if meta.get("format") != FORMAT:
            db.close()
            return None
        return cls(path, db, meta)

    def close(self) -> None:
        self.db.close()

    def files(self) -> dict[str, FileRecord]:
        return {rel: FileRecord.of(rel, data) for rel, data in self.db.execute("SELECT rel, data FROM files")}

    def _keys_where(self, sql: str, values: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            found.update(k for (k,) in self.db.execute(sql.format(marks), tuple(chunk)))
        return found

    def notes_of_files(self, rels: Iterable[str]) -> set[str]:
        """The notes with a question in any of these files."""
        return self._keys_where("SELECT DISTINCT key FROM note_files WHERE rel IN ({})", sorted(rels))

    def files_of_notes(self, keys: Iterable[str]) -> set[str]:
        return self._keys_where("SELECT DISTINCT rel FROM note_files WHERE key IN ({})", sorted(keys))

    def notes_sharing(self, light: Iterable[str]) -> set[str]:
        """The notes that share any of these light keys."""
        return self._keys_where("SELECT DISTINCT key FROM note_keys WHERE k IN ({})", sorted(light))

    def bucket_sizes(self, light: Iterable[str]) -> dict[str, int]:
        """How many groups had each of these answers in the last build."""
        sizes: dict[str, int] = {}
        values = sorted(light)
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT k, SUM(n) FROM note_keys WHERE k IN ({marks}) GROUP BY k"
            sizes.update((k, int(n)) for k, n in self.db.execute(sql, tuple(chunk)))
        return sizes

    def entries(self, keys: Iterable[str]) -> list[str]:
        """The lock-file entries of these notes."""
        out: list[str] = []
        for chunk in _chunks(sorted(keys)):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT packed FROM notes WHERE key IN ({marks})"
            out.extend(p.decode().rpartition(_PACK)[2] for (p,) in self.db.execute(sql, tuple(chunk)))
        return out

    def removed(self) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT key, entry FROM removed"))

    def guids(self) -> set[str]:
        """Every GUID the lock file holds (a new note's GUID must be none of them)."""
        guids = {g for (g,) in self.db.execute("SELECT guid FROM notes")}
        guids.update(g for (g,) in self.db.execute("SELECT json_extract(entry, '$.guid') FROM removed"))
        return guids

    def notes(self) -> dict[str, Kept]:
        """Every note of the last build as it left it, by key (Kept.rel and Kept.seq say where it stands)."""
        bad = (
            "typeof(key) != 'text' OR typeof(guid) != 'text' OR typeof(packed) != 'blob' OR typeof(fields) != 'blob' "
            "OR typeof(sum) != 'integer'"
        )
        if self.db.execute(f"SELECT COUNT(*) FROM notes WHERE {bad}").fetchone()[0]:
            raise Damaged
        files = dict(self.db.execute("SELECT key, COUNT(*) FROM note_files GROUP BY key"))
        keys = dict(self.db.execute("SELECT key, COUNT(*) FROM note_keys GROUP BY key"))
        split, sep, pack = str.split, _SEP, _PACK
        out: dict[str, Kept] = {}
        for key, guid, packed, fields, check in self.db.execute("SELECT key, guid, packed, fields, sum FROM notes"):
            if _sum(key, guid, packed, fields, files.get(key, 0), keys.get(key, 0)) != check:
                raise Damaged
            values = split(packed.decode(), pack)
            if len(values) != _PACKED + 1:
                raise Damaged
            rel, seq, anchor, title_norm, topic, prompt_norm, kind, title, sources, notetype, deck, tags = values[:12]
            mod, rkind, cards, grp, media, report, entry = values[12:]
            ki = (anchor or None, title_norm, tuple(split(topic, sep)) if topic else (), prompt_norm, kind)
            out[key] = Kept(
                key, rel, int(seq), ki, title, tuple(split(sources, sep)), guid, notetype, deck,
                tuple(split(tags, sep)) if tags else (), int(mod), rkind, int(cards), _group(grp) if grp else None,
                fields, tuple(MediaFile(*_strs(m)) for m in json.loads(media)) if media else (),
                report, entry,
            )  # fmt: skip
        return out

    def update(
        self,
        files_gone: Iterable[str],
        files: Iterable[FileRecord],
        notes_gone: Iterable[str],
        notes: Sequence[NoteRecord],
        removed: Sequence[tuple[str, str]],
        meta: dict[str, Any],
    ) -> bool:
        """Change the state into the next build's: files and notes replaced, removed notes anew."""
        gone_notes = sorted(notes_gone)
        try:
            with closing(_connect(self.path)) as db:
                db.execute("BEGIN")
                for chunk in _chunks(sorted(files_gone)):
                    db.execute(f"DELETE FROM files WHERE rel IN ({','.join('?' * len(chunk))})", tuple(chunk))
                db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)", [(f.rel, f.data()) for f in files])
                for chunk in _chunks(gone_notes):
                    marks = ",".join("?" * len(chunk))
                    for table in ("notes", "note_files", "note_keys"):
                        db.execute(f"DELETE FROM {table} WHERE key IN ({marks})", tuple(chunk))
                _insert_notes(db, notes)
                db.execute("DELETE FROM removed")
                db.executemany("INSERT INTO removed VALUES (?, ?)", removed)
                _set_meta(db, meta)
                db.execute("COMMIT")
            return True
        except (OSError, sqlite3.Error):
            forget(self.path)
            return False

    def invalidate(self) -> bool:
        """Mark the state as not describing the outputs (before they are replaced); False when that fails."""
        try:
            with closing(_connect(self.path)) as db:
                _set_meta(db, {"outputs": None})
            return True
        except (OSError, sqlite3.Error):
            forget(self.path)
            return False


def problem(path: Path) -> str | None:
    """Why the state file at `path` cannot be used and what becomes of it, when it is there and is not simply
    another version's (nor in a cache folder whose own warning says why)."""
    if not path.is_file() or private_folder(path.parent.parent) is not None:
        return None
    why = private_folder(path.parent)
    if why is not None:
        return f"its folder {why}; delete that folder, and flashmark makes its own"
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)) as db:
            for _, value in db.execute("SELECT k, v FROM meta"):
                json.loads(value)
    except (sqlite3.Error, ValueError) as exc:
        return f"it cannot be read ({exc}); {RENEWED}"
    return None


def output_figures(paths: Iterable[Path]) -> list[list[int] | None]:
    """The figures of the files a build wrote, as the state keeps them."""
    return [list(f) if (f := figures(p)) else None for p in paths]
