"""User-facing errors: each names the file (and line) and says how to fix it."""

from __future__ import annotations

from pathlib import Path


class FlashmarkError(Exception):
    """A problem with the user's input or environment, shown as one line."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __reduce__(self) -> tuple[type[FlashmarkError], tuple[str, str | None, int | None]]:
        """Pickle with file and line intact, so an error raised in a worker process reads the same."""
        return (type(self), (self.message, self.path, self.line))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return f"{where}{self.message}"


class SourceError(FlashmarkError):
    """A content file or folder cannot be found, read or decoded."""


class ParseError(FlashmarkError):
    """A content file is malformed (for example its front matter)."""


class ConfigError(FlashmarkError):
    """flashmark.toml has an unknown key or a value of the wrong type."""


class OutputError(FlashmarkError):
    """The deck or report cannot be written."""
