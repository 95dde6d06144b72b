"""The parse cache: each file's ParsedFile, stored under OUT/.cache/parse/ and reused while the file is unchanged.

One entry per source file, named by a hash of its path relative to the content folder, in a
subfolder named by a hash of the content folder's absolute path. An entry is plain JSON data, never
code: a header line (cache environment, path, content hash, dependencies), then the ParsedFile as
nested lists, read back field by field with every type checked. Entries are only read from a
folder the build made and owns alone (mode 0700, the user's own): a cache folder anyone else could
write to, such as one that came with a cloned repository, is ignored with a notice, since what it
holds would reach the cards without passing the sanitiser again. An entry is used only when all of
these still match:

- the file's bytes (BLAKE2 hash of the content, not its modification time);
- the environment: flashmark's version, a hash of flashmark's own code, the versions of the
  libraries it depends on, the record types' field names and `Config.fingerprint()`;
- every file the parse read besides the source (`ParsedFile.deps`, such as images), compared
  by size, modification time, change time and inode (the change time cannot be set back, so an
  image replaced by one of the same size and modification time is still noticed).

Anything else (a missing, truncated, corrupt or foreign entry) is a miss: the file is parsed
again and the entry rewritten. Entries are written atomically, so the folder is safe to delete
at any time, and entries of files that no longer exist are removed after each build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
import re
import stat
import sys
import tempfile
import types as types_module
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from flashmark import __version__, types
from flashmark.config import Config
from flashmark.figures import figures, racy
from flashmark.types import Notice, ParsedFile

FORMAT = 2
SUFFIX = ".parsed"
_MAGIC = b"flashmark-parse 2\n"
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def content_hash(data: bytes) -> str:
    """The hash a cache entry is keyed by: BLAKE2b of the file's bytes."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _record_types() -> tuple[type[Any], ...]:
    """The frozen records a ParsedFile is made of (every dataclass in flashmark.types)."""
    return tuple(
        obj
        for obj in vars(types).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == types.__name__
    )


_FIELDS: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls))
    for cls in _record_types()
    if all(f.init for f in dataclasses.fields(cls))
}


class _Pickler(pickle.Pickler):
    """Pickles the frozen records as `cls(*fields)` calls: several times faster to load than their default state."""

    def reducer_override(self, obj: Any) -> Any:
        names = _FIELDS.get(type(obj))
        if names is None:
            return NotImplemented
        return type(obj), tuple([getattr(obj, name) for name in names])


def encode(parsed: ParsedFile) -> bytes:
    """A ParsedFile as bytes for handing results back from this build's own worker processes (pickle)."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(parsed)
    return buffer.getvalue()


def decode(blob: bytes | memoryview) -> ParsedFile:
    """The ParsedFile that `encode` wrote, in this build's own worker: never used on data read from disk."""
    parsed = pickle.loads(blob)
    if not isinstance(parsed, ParsedFile):
        raise TypeError(f"worker sent {type(parsed).__name__}, not ParsedFile")
    return parsed


# ---------------------------------------------------------------- data-only entries


class _Invalid(Exception):
    """An entry whose data does not have the shape of a ParsedFile."""


Reader = Callable[[Any], Any]


def _reader(hint: Any) -> Reader:
    """A function that checks JSON data against a type from flashmark.types and builds the value."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in _FIELDS:
        return _record_reader(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _reader(args[0])
        if args[0] is str:
            return _strings
        return lambda data: tuple([item(x) for x in _list(data)])
    if origin in (typing.Union, types_module.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        read = _reader(inner)
        return lambda data: None if data is None else read(data)
    if hint in (str, int, bool):
        return _scalar(hint)
    raise TypeError(f"no reader for {hint!r}")


def _list(data: Any) -> list[Any]:
    if type(data) is not list:
        raise _Invalid
    return data


def _strings(data: Any) -> tuple[str, ...]:
    if type(data) is not list or not all(type(x) is str for x in data):
        raise _Invalid
    return tuple(data)


def _scalar(kind: type[Any]) -> Reader:
    def read(data: Any) -> Any:
        if type(data) is not kind:
            raise _Invalid
        return data

    return read


_READERS: dict[type[Any], Reader] = {}


def _record_reader(cls: type[Any]) -> Reader:
    if cls in _READERS:
        return _READERS[cls]
    hints = typing.get_type_hints(cls)
    readers: list[Reader] = []

    def read(data: Any) -> Any:
        if type(data) is not list or len(data) != len(readers):
            raise _Invalid
        return cls(*[r(x) for r, x in zip(readers, data)])

    _READERS[cls] = read  # before filling in the fields, for records that hold themselves
    readers.extend(_reader(hints[name]) for name in _FIELDS[cls])
    return read


def _plain(obj: Any) -> Any:
    """A record as JSON-ready lists (field order as declared)."""
    names = _FIELDS.get(type(obj))
    if names is not None:
        return [_plain(getattr(obj, name)) for name in names]
    if isinstance(obj, tuple):
        return [_plain(x) for x in obj]
    return obj


def to_json(parsed: ParsedFile) -> bytes:
    """A ParsedFile as JSON: data only, nothing that could run when read back."""
    return json.dumps(_plain(parsed), ensure_ascii=False, separators=(",", ":")).encode()


def from_json(blob: bytes | memoryview) -> ParsedFile:
    """The ParsedFile `to_json` wrote; ValueError when the data does not have its exact shape."""
    try:
        parsed = _record_reader(ParsedFile)(json.loads(bytes(blob)))
    except (_Invalid, RecursionError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("not a parsed file") from exc
    assert isinstance(parsed, ParsedFile)
    return parsed


def _dependency_versions() -> list[str]:
    """Installed versions of flashmark's runtime dependencies (they shape the parsed HTML)."""
    try:
        requirements = metadata.requires("flashmark") or []
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        requirements = ["markdown-it-py", "mdit-py-plugins", "PyYAML"]
    versions = []
    for requirement in requirements:
        match = _REQUIREMENT_NAME.match(requirement)
        if match is None or "extra ==" in requirement:
            continue
        try:
            versions.append(f"{match.group(0)}=={metadata.version(match.group(0))}")
        except metadata.PackageNotFoundError:
            versions.append(f"{match.group(0)} absent")
    return versions


@lru_cache(maxsize=1)
def code_key() -> str:
    """Everything but the config that decides what parsing a file produces."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (f"format {FORMAT}", __version__, sys.version.split()[0], *_dependency_versions()):
        digest.update(part.encode() + b"\0")
    for cls, names in sorted(_FIELDS.items(), key=lambda item: item[0].__name__):
        digest.update(f"{cls.__name__}({','.join(names)})".encode() + b"\0")
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def environment_key(config: Config) -> str:
    """A key that changes with flashmark's version or code, its dependencies, or a setting that affects parsing."""
    return hashlib.blake2b(f"{code_key()}\0{config.fingerprint()}".encode(), digest_size=20).hexdigest()


def private_folder(folder: Path) -> str | None:
    """Why `folder` cannot be trusted to hold only what this user's builds wrote, or None when it can.

    It must be a real folder (not a link), owned by this user, that nobody else may write to. Where
    there are no owners and modes (Windows), any folder will do.
    """
    if not hasattr(os, "getuid"):
        return None
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != os.getuid():
        return "belongs to another user"
    if info.st_mode & 0o077:
        return "others may read or write it (flashmark makes its cache folders for its user alone)"
    return None


def make_private(folder: Path) -> None:
    """Create `folder`, and each missing folder above it, for this user alone."""
    missing = [folder, *folder.parents]
    missing = missing[: next((n for n, p in enumerate(missing) if p.exists()), len(missing))]
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        path.chmod(0o700)


@dataclass(frozen=True, slots=True)
class ParseCache:
    """The cache folder for one content folder and one environment; small enough to send to worker processes."""

    folder: Path
    content_dir: Path
    env: str

    @classmethod
    def open(cls, cache_dir: Path, content_dir: Path, config: Config) -> ParseCache:
        """The parse cache for `content_dir` under `cache_dir` (created on first write).

        Each content folder gets its own subfolder, so two folders built into one output folder
        do not evict each other's entries.
        """
        root = hashlib.blake2b(str(content_dir.resolve()).encode(), digest_size=8).hexdigest()
        return cls(folder=cache_dir / "parse" / root, content_dir=content_dir, env=environment_key(config))

    def entry_path(self, rel: str) -> Path:
        """Where the entry for the source file `rel` lives."""
        return self.folder / (hashlib.blake2b(rel.encode(), digest_size=16).hexdigest() + SUFFIX)

    def load(self, rel: str, digest: str) -> ParsedFile | None:
        """The cached parse of `rel` if its content hash, environment and dependencies still match, else None."""
        try:
            data = self.entry_path(rel).read_bytes()
        except OSError:
            return None
        if not data.startswith(_MAGIC):
            return None
        end = data.find(b"\n", len(_MAGIC))
        try:
            header = json.loads(data[len(_MAGIC) : end])
            if type(header) is not list or len(header) != 4 or header[:3] != [self.env, rel, digest]:
                return None
            deps = header[3]
            if type(deps) is not list or any(
                type(dep) is not list
                or len(dep) != 5
                or type(dep[0]) is not str
                or figures(self.content_dir / dep[0]) != tuple(dep[1:])
                for dep in deps
            ):
                return None
            return from_json(memoryview(data)[end + 1 :])
        except (ValueError, RecursionError):  # damaged or foreign data of any kind is a miss, never an error
            return None

    def store(self, rel: str, digest: str, parsed: ParsedFile, started_ns: int) -> None:
        """Write the entry for `rel` atomically; a cache that cannot be written is silently skipped.

        `started_ns`: when the parse began. A dependency changed since (or just before) is not trusted by the
        figures taken now, after the parse read it: the entry is not written.
        """
        deps = []
        for dep in parsed.deps:
            key = figures(self.content_dir / dep)
            if key is None or racy(key, started_ns):  # missing (the next build reports it again), or changing
                return
            deps.append([dep, *key])
        header = json.dumps([self.env, rel, digest, deps], ensure_ascii=False).encode()
        write_private(self.entry_path(rel), (_MAGIC, header, b"\n", to_json(parsed)))

    def prune(self, rels: list[str]) -> None:
        """Remove entries (and stray temp files) of files that are no longer part of the content."""
        keep = {self.entry_path(rel).name for rel in rels}
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            if (name.endswith(SUFFIX) and name not in keep) or (name.startswith(".") and name.endswith(".tmp")):
                try:
                    (self.folder / name).unlink()
                except OSError:
                    pass


def write_private(target: Path, parts: Iterable[bytes]) -> None:
    """Write a cache file atomically into its private folder (made when missing); a file that cannot be
    written is silently skipped, as the cache is only an optimisation."""
    tmp_name = None
    try:
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
        except FileNotFoundError:  # the first file: make the folder (only once writing is known to work)
            make_private(target.parent)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.writelines(parts)
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError:
        pass
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)


def trusted_cache(cache_dir: Path) -> tuple[Path | None, Notice | None]:
    """`cache_dir` when every folder of the cache in it is private to this user, else None and a warning."""
    for folder in (cache_dir, cache_dir / "parse"):
        why = private_folder(folder)
        if why is not None:
            message = f"cache folder {why}; it is not used (delete it, and flashmark makes its own)"
            return None, Notice(str(folder.absolute()), None, "cache", message)
    return cache_dir, None
