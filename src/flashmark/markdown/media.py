"""Images referenced by a content file → package media under content-hash names, with warnings."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from flashmark.figures import racy
from flashmark.types import MediaFile, Notice, Verified

MEDIA_PREFIX = "fm-"
KIND = "image"
# Only pictures are packed: anything else (`![x](page.html)`) would put a document in Anki's media folder.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".avif", ".ico", ".tif", ".tiff", ".apng"}
)
MAX_IMAGE_MB = 20
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
_REMOTE = ("http", "https")


MAX_NAMES = 200_000  # files looked at when an embed has to be found by name


def _names_under(root: Path) -> dict[str, list[Path]]:
    """The pictures under `root` by file name (dot-folders skipped), for finding `![[name.png]]`."""
    names: dict[str, list[Path]] = {}
    seen = 0
    stack = [root]
    while stack and seen < MAX_NAMES:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif PurePosixPath(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                names.setdefault(entry.name, []).append(Path(entry.path))
    return names


def _other_case(target: Path) -> str | None:
    """A file whose path differs from `target` only in letter case (named from its folder), if there is one."""
    try:
        parent = target.parent
        if not parent.is_dir():
            return None
        wanted = target.name.casefold()
        for entry in os.scandir(parent):
            if entry.name.casefold() == wanted and entry.name != target.name:
                return entry.name
    except OSError:
        return None
    return None


def media_name(data: bytes, suffix: str) -> str:
    """The name an image gets in Anki's media folder: changes exactly when its bytes change."""
    return _suffixed(f"{MEDIA_PREFIX}{hashlib.sha256(data).hexdigest()[:16]}", suffix)


def _suffixed(stem: str, suffix: str) -> str:
    suffix = suffix.lower()
    return f"{stem}{suffix if _SUFFIX.fullmatch(suffix) else ''}"


def _known_name(known: Verified | None, info: os.stat_result, suffix: str) -> str | None:
    """The media name an image was checked to have, while its figures say it has not changed since."""
    if known is None:
        return None
    name, fig, taken = known
    now = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
    if tuple(fig) != now or racy(now, taken) or not name.startswith(MEDIA_PREFIX):
        return None
    return _suffixed(name[: len(MEDIA_PREFIX) + 16], suffix)


class ImageFiles:
    """Resolves the image references of one content file against the content folder."""

    def __init__(
        self,
        source: Path,
        rel: str,
        root: Path,
        max_mb: float = MAX_IMAGE_MB,
        known: Mapping[str, Verified] | None = None,
    ) -> None:
        """`known`: images checked against their names before (by path), not read again while unchanged."""
        self._known = known or {}
        self._dir = source.parent
        self._rel = rel
        self._max_bytes = int(max_mb * 1024 * 1024)
        self._looked_up: dict[str, MediaFile | str | None] = {}
        self._warned: dict[str, int] = {}  # message → index in notices, so a repeated warning is said once
        self._root = root.resolve()
        self._resolved: dict[Path, MediaFile | None] = {}
        self._used: dict[str, MediaFile] = {}
        self._names: dict[str, list[Path]] | None = None  # picture names under the root, for embeds
        self.notices: list[Notice] = []

    def _warn(self, line: int | None, message: str) -> None:
        if message in self._warned:
            return  # 300,000 references to one missing image are one warning, at the first of them
        self._warned[message] = len(self.notices)
        self.notices.append(Notice(self._rel, line, KIND, message))

    def resolve(self, src: str, line: int | None, embed: bool = False) -> str | None:
        """The `src` a card should use for `src`, or None (with a warning) when it cannot be shown.

        An Obsidian embed (`embed`) not found beside the note is looked for by name in the whole folder.
        """
        key = ("!" if embed else "") + src
        if key not in self._looked_up:  # a note may name one picture thousands of times: look once
            self._looked_up[key] = self._lookup(src, line, embed)
        found = self._looked_up[key]
        if isinstance(found, MediaFile):
            self._used.setdefault(found.name, found)
            return found.name
        return found

    def _lookup(self, src: str, line: int | None, embed: bool = False) -> MediaFile | str | None:
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
        path = path.replace("\\", "/")  # Windows separators (Typora writes them), read as browsers read them
        if embed and not (self._dir / path).exists():
            path = self._by_name(path, line) or path
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
            guess = _other_case(target)
            hint = (
                f"; did you mean '{PurePosixPath(path).with_name(guess)}'? (the letter case differs)" if guess else ""
            )
            self._warn(line, f"image '{path}' not found{hint}; its alt text is shown instead")
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
        suffix = PurePosixPath(path).suffix
        name = _known_name(self._known.get(str(target)), info, suffix)
        if name is not None:
            return MediaFile(name, str(target))
        try:
            data = target.read_bytes()
        except OSError as exc:
            self._warn(line, f"image '{path}' cannot be read ({exc.strerror}); its alt text is shown instead")
            return None
        return MediaFile(media_name(data, suffix), str(target))

    def _by_name(self, path: str, line: int | None) -> str | None:
        """An embedded picture's path relative to this file, found by its name anywhere in the content folder,
        as Obsidian finds it (the one nearest this file when several share the name)."""
        name = PurePosixPath(path).name
        if self._names is None:
            self._names = _names_under(self._root)
        found = self._names.get(name, [])
        if not found:
            return None
        here = self._dir.resolve()

        def shared(p: Path) -> int:  # how many folders the picture's path shares with this file's
            return len(os.path.commonpath([p.parent, here]).split(os.sep))

        found = sorted(found, key=lambda p: (-shared(p), len(p.parts), str(p)))
        if len(found) > 1 and shared(found[0]) == shared(found[1]):
            shown = ", ".join(p.relative_to(self._root).as_posix() for p in found[:3])
            self._warn(line, f"'{path}' names several pictures ({shown}); using the first: write its folder too")
        return os.path.relpath(found[0], here).replace(os.sep, "/")

    def looked_at(self) -> tuple[str, ...]:
        """Every image file the parse looked for (found or not), relative to the content folder."""
        return tuple(sorted(path.relative_to(self._root).as_posix() for path in self._resolved))

    def take(self) -> tuple[MediaFile, ...]:
        """The media used since the last call (one question's worth), in order of first use."""
        used = tuple(self._used.values())
        self._used = {}
        return used
