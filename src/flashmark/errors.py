"""User-facing errors: each names the file (and line) and says how to fix it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# Characters a terminal acts on instead of showing: control codes (escape sequences, line breaks;
# the tab is kept), line and paragraph separators, and the bidirectional overrides.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """`text` safe to print as one terminal line: control characters appear as codes such as `\\x1b`."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


class FlashmarkError(Exception):
    """A problem with the user's input or environment, shown as one line."""

    def __init__(
        self, message: str, path: Path | str | None = None, line: int | None = None, *, in_content: bool = False
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        # Whether `path` is relative to the content folder (a note file), not to where the command runs.
        self.in_content = in_content
        super().__init__(self.__str__())

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with file and line intact, so an error raised in a worker process reads the same."""
        return (_rebuild, (type(self), self.message, self.path, self.line, self.in_content))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return one_line(f"{where}{self.message}")


def _rebuild(
    cls: type[FlashmarkError], message: str, path: str | None, line: int | None, in_content: bool
) -> FlashmarkError:
    return cls(message, path, line, in_content=in_content)


class SourceError(FlashmarkError):
    """A content file or folder cannot be found, read or decoded."""


class ParseError(FlashmarkError):
    """A content file is malformed (for example its front matter)."""


class ConfigError(FlashmarkError):
    """flashmark.toml has an unknown key or a value of the wrong type."""


class LockError(FlashmarkError):
    """The lock file (content/flashmark.lock) is not a lock file this version can read."""


class OutputError(FlashmarkError):
    """The deck or report cannot be written."""
