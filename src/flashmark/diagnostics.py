"""One shape for every problem flashmark reports: `PATH:LINE: error|warning|info: message [code]` (GNU style).

PATH is written as it can be opened from the folder the command runs in (relative to it when
the file is inside it), so editors and terminals can jump to it. Every command prints the same
lines, sorted by file and line, and its `--json` gives the same fields.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashmark.errors import FlashmarkError, ParseError, SourceError, one_line
from flashmark.types import Notice, Skipped

ERROR, WARNING, INFO = "error", "warning", "info"
_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem (or merge, for info) with where it is."""

    file: str | None
    line: int | None
    level: str
    code: str
    message: str

    def __str__(self) -> str:
        where = "" if self.file is None else f"{self.file}:" if self.line is None else f"{self.file}:{self.line}:"
        prefix = f"{where} " if where else ""
        return one_line(f"{prefix}{self.level}: {self.message} [{self.code}]")

    def data(self) -> dict[str, Any]:
        """The JSON form: file, line, level, code, message."""
        return {"file": self.file, "line": self.line, "level": self.level, "code": self.code, "message": self.message}


def shown_path(path: str | Path, content_dir: Path | None = None) -> str:
    """A path as it can be opened from the current folder: relative paths are relative to `content_dir`.

    A file inside the current folder is named relative to it; one outside, by the shorter of its
    relative path (`../notes/a.md`) and its absolute one.
    """
    p = Path(path)
    if not p.is_absolute() and content_dir is not None:
        p = content_dir / p
    absolute = os.path.abspath(p)
    try:
        rel = os.path.relpath(absolute)
    except ValueError:  # another drive, on Windows
        return absolute
    return rel if not rel.startswith("..") or len(rel) < len(absolute) else absolute


def from_notice(notice: Notice, content_dir: Path) -> Diagnostic:
    return Diagnostic(shown_path(notice.file, content_dir), notice.line, WARNING, notice.kind, notice.message)


def from_skipped(skipped: Skipped, content_dir: Path) -> Diagnostic:
    message = f"'{skipped.title}' skipped: {skipped.reason}"
    return Diagnostic(shown_path(skipped.file, content_dir), skipped.line, WARNING, "skipped", message)


def error_code(exc: FlashmarkError) -> str:
    """What kind of error: a file that cannot be read, a malformed one, the settings, the lock, the output."""
    if isinstance(exc, SourceError):
        return "unreadable"
    if isinstance(exc, ParseError):
        return "invalid"
    return type(exc).__name__.removesuffix("Error").lower() or "error"


def from_error(exc: FlashmarkError, content_dir: Path | None = None) -> Diagnostic:
    """An error as a diagnostic; its path is shown relative to the content folder only when it is a note file's."""
    file = None if exc.path is None else shown_path(exc.path, content_dir if exc.in_content else None)
    return Diagnostic(file, exc.line, ERROR, error_code(exc), exc.message)


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file and line, errors before warnings before info at one place."""
    return sorted(diagnostics, key=lambda d: (d.file or "", d.line or 0, _ORDER.get(d.level, 3), d.code))


def warnings_of(notices: Iterable[Notice], skipped: Iterable[Skipped], content_dir: Path) -> list[Diagnostic]:
    """The warnings of a build or preview, sorted."""
    return ordered([*(from_notice(n, content_dir) for n in notices), *(from_skipped(s, content_dir) for s in skipped)])
