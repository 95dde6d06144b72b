"""Finding content files and decoding them."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from flashmark.errors import SourceError
from flashmark.types import Notice, Source

SUFFIXES = (".md", ".markdown")
SKIP_NAMES = ("readme.md", "readme.markdown")
MAX_FILE_BYTES = 64 * 1024 * 1024  # far beyond any notes file; a bigger one is a mistake, not notes
MAX_FOLDER_DEPTH = 32  # folders nested deeper are skipped (Anki's decks go 11 levels deep at most anyway)
# C0 controls but tab and line feed (carriage returns are line ends, dealt with first), and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_UTF32 = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16 = (b"\xff\xfe", b"\xfe\xff")


def is_excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(Path(rel).name, p) for p in patterns)


@dataclass(frozen=True, slots=True)
class Scan:
    """What a content folder holds: the files to read, those left out, and what was skipped or refused."""

    files: list[Path]
    left_out: list[str]  # paths (relative) that `exclude` leaves out
    notices: list[Notice] = field(default_factory=list)  # links out of the folder, folders too deep
    errors: list[SourceError] = field(default_factory=list)  # files whose names cannot be used


def find_files(content_dir: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    """Return the Markdown files under `content_dir`, sorted, skipping dot-files, READMEs and `exclude` matches."""
    return scan_files(content_dir, exclude).files


def _bad_name(rel: str) -> str | None:
    """Why a file or folder name cannot be used in a deck, or None."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8 (saved by another system's encoding, such as a GBK zip); rename it"
    if _CONTROL.search(rel):
        return "its name holds control characters; rename it"
    return None


def _shown(rel: str) -> str:
    """A path that may hold undecodable bytes, made printable (each such byte written as \\xNN)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def scan_files(content_dir: Path, exclude: tuple[str, ...] = ()) -> Scan:
    """Walk `content_dir` (never leaving it through a symlink) for the Markdown files to read, sorted."""
    if not content_dir.exists():
        raise SourceError("content folder does not exist", content_dir)
    if not content_dir.is_dir():
        raise SourceError("content path is not a folder; pass the folder that holds your .md files", content_dir)
    root = os.path.realpath(content_dir)
    scan = Scan([], [])
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[str, str, int]] = [(os.fspath(content_dir), "", 0)]  # (folder, its path relative, depth)
    while stack:
        folder, prefix, depth = stack.pop()
        try:
            info = os.stat(folder)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise SourceError(f"cannot read folder: {exc.strerror}", folder) from None
        if (info.st_dev, info.st_ino) in seen:  # a symlink loop, or two links to one folder: read it once
            continue
        seen.add((info.st_dev, info.st_ino))
        for entry in reversed(entries):
            name = entry.name
            if name.startswith("."):
                continue
            rel = prefix + name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()  # follows a symlink
            except OSError:
                is_link, is_dir = True, False
            is_file = not is_dir and name.lower().endswith(SUFFIXES) and name.lower() not in SKIP_NAMES
            if not (is_dir or is_file):
                continue
            if is_link and not os.path.exists(entry.path):
                nowhere = "is a symlink that leads nowhere (its target is missing, or it loops); skipped"
                scan.notices.append(Notice(_shown(rel), None, "outside", nowhere))
                continue
            if is_link:
                target = os.path.realpath(entry.path)
                if target != root and not target.startswith(root.rstrip(os.sep) + os.sep):
                    scan.notices.append(
                        Notice(
                            _shown(rel), None, "outside", "is a symlink to a place outside the content folder; skipped"
                        )
                    )
                    continue
            if is_dir:
                if depth + 1 > MAX_FOLDER_DEPTH:
                    scan.notices.append(
                        Notice(
                            _shown(rel), None, "deep", f"folder is nested more than {MAX_FOLDER_DEPTH} deep; skipped"
                        )
                    )
                else:
                    stack.append((entry.path, rel + "/", depth + 1))
                continue
            bad = _bad_name(rel)
            if bad is not None:
                scan.errors.append(SourceError(f"cannot be read: {bad}", _shown(rel), in_content=True))
            elif is_excluded(rel, exclude):
                scan.left_out.append(rel)
            else:
                scan.files.append(Path(content_dir, rel))
    scan.files.sort(key=lambda p: p.relative_to(content_dir).as_posix())
    scan.left_out.sort()
    scan.notices.sort(key=lambda n: n.file)
    if not scan.files and not scan.errors:
        what = "every Markdown file is excluded" if scan.left_out else "no Markdown files (*.md, *.markdown) found"
        raise SourceError(f"{what} in content folder", content_dir)
    return scan


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
        if text.count("\x00") > max(8, len(text) // 100):
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise SourceError("file holds many NUL bytes: it is a binary file, not notes", path, line)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def control_notices(text: str, rel: str) -> tuple[str, tuple[Notice, ...]]:
    """Text with NUL and the other control characters Anki cannot keep in a field replaced by U+FFFD, and a warning.

    CommonMark replaces NUL with U+FFFD; the rest (the field separator \\x1f among them) would break the deck.
    """
    found = _CONTROL.search(text)
    if found is None:
        return text, ()
    count = len(_CONTROL.findall(text))
    line = text.count("\n", 0, found.start()) + 1
    code = ascii(found.group())[1:-1]
    more = f" (and {count - 1} more)" if count > 1 else ""
    message = f"control character {code}{more} replaced by \ufffd: cards cannot hold it"
    return _CONTROL.sub("\ufffd", text), (Notice(rel, line, "control", message),)


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
    text, notices = control_notices(decode(read_bytes(path, rel) if data is None else data, rel), rel)
    return Source(path=path, rel=rel, text=text, notices=notices)
