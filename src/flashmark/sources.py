"""Finding content files and decoding them."""

from __future__ import annotations

import fnmatch
import os
import stat
import unicodedata
from pathlib import Path

from flashmark.errors import SourceError
from flashmark.types import Source

SUFFIXES = (".md", ".markdown")
SKIP_NAMES = ("readme.md", "readme.markdown")
MAX_FILE_BYTES = 64 * 1024 * 1024  # far beyond any notes file; a bigger one is a mistake, not notes
_UTF32 = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16 = (b"\xff\xfe", b"\xfe\xff")


def is_excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(Path(rel).name, p) for p in patterns)


def find_files(content_dir: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    """Return the Markdown files under `content_dir`, sorted, skipping dot-files, READMEs and `exclude` matches."""
    return scan_files(content_dir, exclude)[0]


def scan_files(content_dir: Path, exclude: tuple[str, ...] = ()) -> tuple[list[Path], list[str]]:
    """The Markdown files under `content_dir` to read, sorted, and the paths (relative) that `exclude` leaves out."""
    if not content_dir.exists():
        raise SourceError("content folder does not exist", content_dir)
    if not content_dir.is_dir():
        raise SourceError("content path is not a folder; pass the folder that holds your .md files", content_dir)
    found: list[Path] = []
    left_out: list[str] = []
    seen_dirs: set[tuple[int, int]] = set()

    def walk_error(exc: OSError) -> None:
        raise SourceError(f"cannot read folder: {exc.strerror}", exc.filename)

    for root, dirs, files in os.walk(content_dir, onerror=walk_error, followlinks=True):
        try:
            st = os.stat(root)
        except OSError as exc:
            raise SourceError(f"cannot read folder: {exc.strerror}", root) from None
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop: do not descend again
            dirs[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or name.lower() in SKIP_NAMES or not name.lower().endswith(SUFFIXES):
                continue
            path = Path(root, name)
            rel = path.relative_to(content_dir).as_posix()
            if is_excluded(rel, exclude):
                left_out.append(rel)
            else:
                found.append(path)
    found.sort(key=lambda p: p.relative_to(content_dir).as_posix())
    if not found:
        what = "every Markdown file is excluded" if left_out else "no Markdown files (*.md, *.markdown) found"
        raise SourceError(f"{what} in content folder", content_dir)
    return found, sorted(left_out)


def _looks_utf16(data: bytes) -> bool:
    """Whether bytes that are not UTF-8 read as UTF-16 text saved without a byte-order mark."""
    if len(data) < 4 or len(data) % 2:
        return False
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = data[:4096].decode(codec)
        except UnicodeDecodeError:
            continue
        odd = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs") and ch not in "\n\r\t")
        if "\n" in text and odd <= len(text) // 50:
            return True
    return False


def decode(data: bytes, path: Path | str) -> str:
    """Decode UTF-8 (dropping a BOM) and normalise line endings; other encodings are an error."""
    if data.startswith(_UTF32):
        raise SourceError("file is UTF-32; save it as UTF-8", path)
    if data.startswith(_UTF16):
        raise SourceError("file is UTF-16; save it as UTF-8", path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _looks_utf16(data):
            raise SourceError("file is UTF-16; save it as UTF-8", path) from None
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(f"not valid UTF-8 (byte offset {exc.start}); save the file as UTF-8", path, line) from None
    if "\x00" in text:
        if _looks_utf16(data):
            raise SourceError("file is UTF-16; save it as UTF-8", path)
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SourceError("file contains NUL bytes; is it a binary file?", path, line)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_bytes(path: Path, rel: str) -> bytes:
    """A regular file's bytes; a pipe, socket or device named *.md is refused instead of read (which could block)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror}", rel) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SourceError("not a regular file (a pipe, socket or device); remove it or rename it", rel)
        if info.st_size > MAX_FILE_BYTES:
            size = info.st_size / 1024 / 1024
            raise SourceError(
                f"file is {size:.0f} MB, more than the {MAX_FILE_BYTES // 1024 // 1024} MB a notes file may have; "
                "split it, or leave it out with --exclude",
                rel,
            )
        try:
            return f.read()
        except OSError as exc:
            raise SourceError(f"cannot read file: {exc.strerror}", rel) from None


def read_source(path: Path, content_dir: Path, data: bytes | None = None) -> Source:
    """Read and decode one content file (`data`: its bytes, when the caller has read them already)."""
    rel = path.relative_to(content_dir).as_posix()
    return Source(path=path, rel=rel, text=decode(read_bytes(path, rel) if data is None else data, rel))
