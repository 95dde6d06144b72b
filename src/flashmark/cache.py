"""The parse cache: each file's ParsedFile, stored under OUT/.cache/parse/ and reused while the file is unchanged.

One entry per source file, named by a hash of its path relative to the content folder, in a
subfolder named by a hash of the content folder's absolute path. An entry holds a header (cache environment, path, content hash, dependencies) and the pickled
ParsedFile. It is used only when all of these still match:

- the file's bytes (BLAKE2 hash of the content, not its modification time);
- the environment: flashmark's version, a hash of flashmark's own code, the versions of the
  libraries it depends on, the record types' field names and `Config.fingerprint()`;
- every file the parse read besides the source (`ParsedFile.deps`, such as images), compared
  by size and modification time.

Anything else (a missing, truncated, corrupt or foreign entry) is a miss: the file is parsed
again and the entry rewritten. Entries are written atomically, so the folder is safe to delete
at any time, and entries of files that no longer exist are removed after each build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import re
import struct
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from flashmark import __version__, types
from flashmark.config import Config
from flashmark.types import ParsedFile

FORMAT = 1
SUFFIX = ".parsed"
_HEADER = struct.Struct("<4sI")  # magic, header length
_MAGIC = b"FMP1"
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
    """A ParsedFile as bytes, for the cache and for handing results back from worker processes."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(parsed)
    return buffer.getvalue()


def decode(blob: bytes | memoryview) -> ParsedFile:
    """The ParsedFile that `encode` wrote."""
    parsed = pickle.loads(blob)
    if not isinstance(parsed, ParsedFile):
        raise TypeError(f"cache entry holds {type(parsed).__name__}, not ParsedFile")
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
def _code_key() -> str:
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
    return hashlib.blake2b(f"{_code_key()}\0{config.fingerprint()}".encode(), digest_size=20).hexdigest()


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


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
        try:
            magic, size = _HEADER.unpack_from(data)
            if magic != _MAGIC:
                return None
            env, entry_rel, entry_digest, deps = pickle.loads(memoryview(data)[_HEADER.size : _HEADER.size + size])
            if (env, entry_rel, entry_digest) != (self.env, rel, digest):
                return None
            if any(_stat_key(self.content_dir / dep) != (size_, mtime) for dep, size_, mtime in deps):
                return None
            return decode(memoryview(data)[_HEADER.size + size :])
        except Exception:  # noqa: BLE001 - a damaged entry of any kind is a miss, never an error
            return None

    def store(self, rel: str, digest: str, parsed: ParsedFile, blob: bytes | None = None) -> None:
        """Write the entry for `rel` atomically; a cache that cannot be written is silently skipped."""
        deps = []
        for dep in parsed.deps:
            key = _stat_key(self.content_dir / dep)
            if key is None:  # a missing dependency: do not cache, so the next build reports it again
                return
            deps.append((dep, *key))
        header = pickle.dumps((self.env, rel, digest, tuple(deps)), protocol=pickle.HIGHEST_PROTOCOL)
        body = encode(parsed) if blob is None else blob
        target = self.entry_path(rel)
        tmp_name = None
        try:
            try:
                fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=self.folder)
            except FileNotFoundError:  # the first entry: make the folder (only once writing is known to work)
                self.folder.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=self.folder)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_HEADER.pack(_MAGIC, len(header)))
                fh.write(header)
                fh.write(body)
            os.replace(tmp_name, target)
            tmp_name = None
        except OSError:
            pass
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)

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
