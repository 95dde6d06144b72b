"""The build stamp: what the last build read and wrote, so a build with nothing to do can say so and write nothing.

One stamp per content folder and deck file, under the output folder's `.cache/stamp/` (a folder the
build made for its user alone; anything else there is ignored). It is plain JSON holding:

- a key for everything that shapes a build besides files: flashmark's version and code, the versions
  of its libraries, every setting (after command-line overrides) and the build's options;
- each Markdown file of the folder (and each one the settings left out) with its size, modification
  time, change time and inode, taken before the build read it; the images and other files the parse
  read, taken after; the warnings the folder scan gave;
- the lock file as written: those four figures and a BLAKE2 hash of its bytes;
- the deck and report as written: the same four figures;
- what the build's summary said, so an up-to-date build can say it again.

A build is up to date when every one of these matches. The change time cannot be set back, so a file
replaced by one of the same size and modification time is still noticed; a file changed within
`RACY_NS` of the moment its figures were taken is not trusted by its figures (the clock that stamps
files is coarse): the lock file is then compared by its hash, anything else makes the build run.
A missing, damaged or foreign stamp means the build runs; the stamp is only written after the deck,
report and lock file were, and only by a build that had no errors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashmark.cache import code_key, private_folder, write_private
from flashmark.figures import RACY_NS as RACY_NS  # the stamp is where they are explained
from flashmark.figures import Figures, figures, racy
from flashmark.types import Notice, Skipped

FORMAT = 1


def file_hash(path: Path) -> str | None:
    """BLAKE2b of a file's bytes, or None when it cannot be read."""
    digest = hashlib.blake2b(digest_size=20)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _canonical(value: object) -> object:
    """`value` with its sets sorted and its records spelled out, so its repr is the same in every process."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            *((f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, (set, frozenset)):
        return ("set", *sorted((_canonical(v) for v in value), key=repr))
    if isinstance(value, dict):
        return ("dict", *sorted(((_canonical(k), _canonical(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    return value


def build_key(parts: Iterable[object]) -> str:
    """A hash of flashmark's code and dependencies and of `parts` (settings, options, paths)."""
    digest = hashlib.blake2b(f"stamp {FORMAT}\0{code_key()}".encode(), digest_size=20)
    for part in parts:
        digest.update(b"\0" + repr(_canonical(part)).encode())
    return digest.hexdigest()


def stamp_path(cache_dir: Path, content_dir: Path, output: Path) -> Path:
    """Where the stamp of `content_dir` built into the deck file `output` lives under `cache_dir`."""
    name = hashlib.blake2b(f"{content_dir.resolve()}\0{output.resolve()}".encode(), digest_size=12).hexdigest()
    return cache_dir / "stamp" / f"{name}.json"


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the last build's summary said, for an up-to-date build to say again."""

    files: int
    questions: int
    counts: dict[str, Any]  # the report's "counts"
    skipped: tuple[Skipped, ...]
    notices: tuple[Notice, ...]


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a build is about to read: its key, the folder scan and the lock file."""

    key: str
    sources: tuple[tuple[str, Figures | None], ...]  # every Markdown file, read or left out, in scan order
    scan_notices: tuple[Notice, ...]
    taken_ns: int  # when the sources' figures were taken


def inputs(key: str, content_dir: Path, rels: Iterable[str], scan_notices: Iterable[Notice], taken_ns: int) -> Inputs:
    """The figures of each Markdown file, taken now (before the build reads them)."""
    return Inputs(key, tuple((rel, figures(content_dir / rel)) for rel in rels), tuple(scan_notices), taken_ns)


def _notice_data(n: Notice) -> list[Any]:
    return [n.file, n.line, n.kind, n.message]


def _valid_notice(raw: Any) -> Notice:
    if (
        type(raw) is not list
        or len(raw) != 4
        or type(raw[0]) is not str
        or not (raw[1] is None or type(raw[1]) is int)
        or type(raw[2]) is not str
        or type(raw[3]) is not str
    ):
        raise ValueError("not a notice")
    return Notice(raw[0], raw[1], raw[2], raw[3])


def _valid_skipped(raw: Any) -> Skipped:
    if (
        type(raw) is not list
        or len(raw) != 4
        or type(raw[0]) is not str
        or type(raw[1]) is not int
        or not all(type(x) is str for x in raw[2:])
    ):
        raise ValueError("not a skipped question")
    return Skipped(raw[0], raw[1], raw[2], raw[3])


def _same_figures(raw: Any, now: Figures | None) -> bool:
    if raw is None or now is None:
        return raw is None and now is None
    return type(raw) is list and tuple(raw) == now


def _read(path: Path) -> dict[str, Any] | None:
    """The stamp at `path` when it is there, readable and from a folder only this user writes to."""
    for folder in (path.parent.parent, path.parent):
        if private_folder(folder) is not None:
            return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    return data if type(data) is dict and data.get("format") == FORMAT else None


def up_to_date(
    path: Path,
    now: Inputs,
    content_dir: Path,
    lock_path: Path | None,
    outputs: Sequence[Path],
) -> Recorded | None:
    """What the last build said, when it read exactly what a build would read now and its outputs are intact."""
    stamp = _read(path)
    try:
        if stamp is None or stamp.get("key") != now.key:
            return None
        taken = stamp["taken"]
        if type(taken) is not int:
            return None
        sources = stamp["sources"]
        if type(sources) is not list or len(sources) != len(now.sources):
            return None
        for raw, (rel, fig) in zip(sources, now.sources):
            if type(raw) is not list or len(raw) != 2 or raw[0] != rel or not _same_figures(raw[1], fig):
                return None
            if fig is None or racy(fig, taken):
                return None
        if [_valid_notice(n) for n in stamp["scan_notices"]] != list(now.scan_notices):
            return None
        for raw in stamp["deps"]:
            if type(raw) is not list or len(raw) != 2 or type(raw[0]) is not str:
                return None
            fig = figures(content_dir / raw[0])  # taken after the build read it: changed since it began, not trusted
            if not _same_figures(raw[1], fig) or (fig is not None and racy(fig, taken)):
                return None
        if not _lock_intact(stamp["lock"], lock_path):
            return None
        if type(stamp["outputs"]) is not list or len(stamp["outputs"]) != len(outputs):
            return None
        for raw, output in zip(stamp["outputs"], outputs):
            if not _same_figures(raw, figures(output)):
                return None
        said = stamp["said"]
        files, questions, counts = said["files"], said["questions"], said["counts"]
        if type(files) is not int or type(questions) is not int or not _valid_counts(counts):
            return None
        skipped = tuple(_valid_skipped(s) for s in said["skipped"])
        notices = tuple(_valid_notice(n) for n in said["notices"])
    except (KeyError, TypeError, ValueError):
        return None
    return Recorded(files, questions, counts, skipped, notices)


COUNTS = (
    "files", "questions", "notes", "merged", "skipped", "warnings", "left_out", "left_out_files", "left_out_notes",
    "removed", "remembered", "cards",
)  # fmt: skip


def _valid_counts(raw: Any) -> bool:
    """Whether `raw` has the shape of a report's counts."""
    if type(raw) is not dict or set(raw) != {*COUNTS, "kinds"} or any(type(raw[k]) is not int for k in COUNTS):
        return False
    kinds = raw["kinds"]
    return type(kinds) is dict and all(type(k) is str and type(v) is int for k, v in kinds.items())


def _lock_intact(raw: Any, lock_path: Path | None) -> bool:
    """Whether the lock file is the one the last build wrote (by its figures, else by its hash)."""
    if lock_path is None:
        return raw is None
    if type(raw) is not list or len(raw) != 3 or type(raw[2]) is not str or type(raw[1]) is not int:
        return False
    fig = figures(lock_path)
    if fig is not None and _same_figures(raw[0], fig) and not racy(fig, raw[1]):
        return True
    return fig is not None and file_hash(lock_path) == raw[2]


def write(
    path: Path,
    now: Inputs,
    content_dir: Path,
    deps: Iterable[str],
    lock_path: Path | None,
    outputs: Sequence[Path],
    said: Recorded,
    lock_digest: str | None = None,
) -> None:
    """Record what this build read and wrote (after it wrote its files); a stamp that cannot be written is skipped.

    `lock_digest`: the lock file's `file_hash`, when the caller has it.
    """
    written = time.time_ns()
    lock: list[Any] | None = None
    if lock_path is not None:
        fig, digest = figures(lock_path), lock_digest or file_hash(lock_path)
        lock = [list(fig) if fig else None, written, digest or ""]
    data = {
        "format": FORMAT,
        "key": now.key,
        "content": str(content_dir.resolve()),
        "taken": now.taken_ns,
        "written": written,
        "sources": [[rel, list(fig) if fig else None] for rel, fig in now.sources],
        "scan_notices": [_notice_data(n) for n in now.scan_notices],
        "deps": [[dep, list(fig) if (fig := figures(content_dir / dep)) else None] for dep in sorted(set(deps))],
        "lock": lock,
        "outputs": [list(fig) if (fig := figures(output)) else None for output in outputs],
        "said": {
            "files": said.files,
            "questions": said.questions,
            "counts": said.counts,
            "skipped": [[s.file, s.line, s.title, s.reason] for s in said.skipped],
            "notices": [_notice_data(n) for n in said.notices],
        },
    }
    if private_folder(path.parent.parent) is None and private_folder(path.parent) is None:
        write_private(path, (json.dumps(data, ensure_ascii=False).encode(),))
