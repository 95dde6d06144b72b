"""Images referenced by a content file → package media under content-hash names, with warnings."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from flashmark.types import MediaFile, Notice

MEDIA_PREFIX = "fm-"
KIND = "image"
# Only pictures are packed: anything else (`![x](page.html)`) would put a document in Anki's media folder.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".avif", ".ico", ".tif", ".tiff", ".apng"}
)
MAX_IMAGE_MB = 20
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
_REMOTE = ("http", "https")


def media_name(data: bytes, suffix: str) -> str:
    """The name an image gets in Anki's media folder: changes exactly when its bytes change."""
    suffix = suffix.lower()
    return f"{MEDIA_PREFIX}{hashlib.sha256(data).hexdigest()[:16]}{suffix if _SUFFIX.fullmatch(suffix) else ''}"


class ImageFiles:
    """Resolves the image references of one content file against the content folder."""

    def __init__(self, source: Path, rel: str, root: Path, max_mb: float = MAX_IMAGE_MB) -> None:
        self._dir = source.parent
        self._rel = rel
        self._max_bytes = int(max_mb * 1024 * 1024)
        self._looked_up: dict[str, MediaFile | str | None] = {}
        self._warned: dict[str, int] = {}  # message → index in notices, so a repeated warning is said once
        self._root = root.resolve()
        self._resolved: dict[Path, MediaFile | None] = {}
        self._used: dict[str, MediaFile] = {}
        self.notices: list[Notice] = []

    def _warn(self, line: int | None, message: str) -> None:
        if message in self._warned:
            return  # 300,000 references to one missing image are one warning, at the first of them
        self._warned[message] = len(self.notices)
        self.notices.append(Notice(self._rel, line, KIND, message))

    def resolve(self, src: str, line: int | None) -> str | None:
        """The `src` a card should use for `src`, or None (with a warning) when it cannot be shown."""
        if src not in self._looked_up:  # a note may name one picture thousands of times: look once
            self._looked_up[src] = self._lookup(src, line)
        found = self._looked_up[src]
        if isinstance(found, MediaFile):
            self._used.setdefault(found.name, found)
            return found.name
        return found

    def _lookup(self, src: str, line: int | None) -> MediaFile | str | None:
        shown = unquote(src)
        parts = urlsplit(src)
        scheme = parts.scheme.lower()
        if scheme in _REMOTE or (not scheme and src.startswith("//")):
            self._warn(line, f"image '{shown}' is a remote URL: it shows only when the device is online")
            return src
        if scheme == "data":
            return src
        path = unquote(parts.path)
        if scheme or path.startswith(("/", "\\")) or PurePosixPath(path).is_absolute():
            self._warn(line, f"image '{shown}' is not a relative path; not included (put it in the content folder)")
            return None
        if not path:
            self._warn(line, "image has no file name; its alt text is shown instead")
            return None
        try:
            target = (self._dir / path).resolve()
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a symlink loop
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a usable file name"
            self._warn(line, f"image '{shown}' cannot be used ({reason}); its alt text is shown instead")
            return None
        if not target.is_relative_to(self._root):
            self._warn(line, f"image '{path}' is outside the content folder; not included (copy it into the folder)")
            return None
        if target not in self._resolved:
            self._resolved[target] = self._read(target, path, line)
        return self._resolved[target]

    def _read(self, target: Path, path: str, line: int | None) -> MediaFile | None:
        try:
            info = target.stat()
        except (OSError, ValueError):
            self._warn(line, f"image '{path}' not found; its alt text is shown instead")
            return None
        if not stat.S_ISREG(info.st_mode):  # a folder, or a pipe or device that reading could block on
            self._warn(line, f"image '{path}' is not a file; its alt text is shown instead")
            return None
        if PurePosixPath(path).suffix.lower() not in IMAGE_SUFFIXES:
            self._warn(line, f"'{path}' is not a picture (.png, .jpg, .svg, …); not included, its alt text is shown")
            return None
        if info.st_size > self._max_bytes:
            size = info.st_size / 1024 / 1024
            limit = self._max_bytes / 1024 / 1024
            self._warn(
                line,
                f"image '{path}' is {size:.0f} MB, over the {limit:g} MB limit (max_image_mb); not included",
            )
            return None
        try:
            data = target.read_bytes()
        except OSError as exc:
            self._warn(line, f"image '{path}' cannot be read ({exc.strerror}); its alt text is shown instead")
            return None
        return MediaFile(media_name(data, PurePosixPath(path).suffix), str(target))

    def looked_at(self) -> tuple[str, ...]:
        """Every image file the parse looked for (found or not), relative to the content folder."""
        return tuple(sorted(path.relative_to(self._root).as_posix() for path in self._resolved))

    def take(self) -> tuple[MediaFile, ...]:
        """The media used since the last call (one question's worth), in order of first use."""
        used = tuple(self._used.values())
        self._used = {}
        return used
