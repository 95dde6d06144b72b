"""`flashmark watch`: rebuild a content folder whenever something in it changes."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import watchfiles

from flashmark.build import build, output_folder
from flashmark.config import config_path
from flashmark.errors import FlashmarkError
from flashmark.report import BuildResult, summary

if TYPE_CHECKING:
    from flashmark.anki.sync import SyncResult

LOCK_FILE = "flashmark.lock"
OUTPUT_SUFFIXES = (".apkg", ".report.json")
WAKE_MS = 300  # how often the watcher wakes up when nothing changes


class StopEvent(Protocol):
    """Anything with `is_set()`, such as threading.Event: watching ends once it is set."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Rebuild:
    """One build made by `watch`: what changed before it, and its result or error."""

    changed: tuple[str, ...]
    result: BuildResult | None = None
    error: FlashmarkError | None = None
    synced: SyncResult | None = None  # with sync: what it did to the collection
    sync_error: FlashmarkError | None = None  # with sync: why it did not (Anki open, say); the deck was built


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def change_filter(content_dir: Path, out_dir: Path) -> Callable[[watchfiles.Change, str], bool]:
    """Which changed paths call for a rebuild: not our own output, the lock file, dot-files or editor backups."""
    root = os.path.realpath(content_dir)
    out = os.path.realpath(out_dir)
    # An output folder that holds the whole content folder cannot be ignored as a whole.
    ignore_out = not _inside(root, out)
    default = watchfiles.DefaultFilter()

    def keep(change: watchfiles.Change, path: str) -> bool:
        real = os.path.realpath(path)
        name = os.path.basename(path)
        if name == LOCK_FILE or name.endswith(OUTPUT_SUFFIXES):
            return False
        if ignore_out and _inside(real, out):
            return False
        if _inside(real, root):
            rel = os.path.relpath(real, root)
            if any(part.startswith(".") for part in Path(rel).parts):
                return False
        return default(change, path)

    return keep


def watched_paths(content_dir: Path) -> list[Path]:
    """The content folder, plus the settings file when it lies outside it (a pyproject.toml above)."""
    paths = [content_dir]
    try:
        settings = config_path(content_dir)
    except FlashmarkError:
        settings = None
    if settings is not None and not _inside(os.path.realpath(settings), os.path.realpath(content_dir)):
        paths.append(settings)
    return paths


def _display(path: str, content_dir: Path) -> str:
    real, root = os.path.realpath(path), os.path.realpath(content_dir)
    return Path(os.path.relpath(real, root)).as_posix() if _inside(real, root) else path


def _folder_id(folder: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def watch(
    content_dir: Path,
    out_dir: Path,
    on_rebuild: Callable[[Rebuild], None],
    *,
    stop_event: StopEvent | None = None,
    sync: dict[str, Any] | None = None,
    **options: Any,
) -> None:
    """Build once, then again after every change, until interrupted or `stop_event` is set.

    `options` are passed on to `build` (deck, tags, exclude_tags, exclude, allow_html, lock,
    keep_going). A failed build is passed to `on_rebuild` as its error, and watching goes on; when
    the content folder is deleted, watching waits for it to come back and builds it again then.
    With `sync` (the options of `flashmark.anki.sync.sync`), each build is synced into the
    collection; while Anki has it open, the deck is only built, and the next change tries again.
    """

    def rebuild(changed: tuple[str, ...]) -> None:
        try:
            if sync is not None:
                from flashmark.anki.collection import CollectionError
                from flashmark.anki.sync import sync as run_sync

                build_options = {k: v for k, v in options.items() if k != "lock"}
                try:
                    synced = run_sync(content_dir, out_dir, **sync, **build_options)
                except CollectionError as exc:
                    on_rebuild(Rebuild(changed, result=build(content_dir, out_dir, **options), sync_error=exc))
                else:
                    on_rebuild(Rebuild(changed, result=synced.build, synced=synced))
                return
            result = build(content_dir, out_dir, **options)
        except FlashmarkError as exc:
            on_rebuild(Rebuild(changed, error=exc))
        else:
            on_rebuild(Rebuild(changed, result=result))

    def stopped() -> bool:
        return stop_event is not None and stop_event.is_set()

    first = True
    while not stopped():
        folder = _folder_id(content_dir)
        if folder is None:  # gone (or not yet there): look again until it is back
            time.sleep(WAKE_MS / 1000)
            continue
        # The first (empty) batch arrives once the watcher is running: building then, not before,
        # means an edit made during the build is not missed.
        started = False
        for changes in watchfiles.watch(
            *watched_paths(content_dir),
            watch_filter=change_filter(content_dir, output_folder(out_dir)),
            stop_event=stop_event,
            rust_timeout=WAKE_MS,
            yield_on_timeout=True,
            raise_interrupt=True,
        ):
            if not started:
                started = True
                rebuild(() if first else ("(the folder is back)",))
                first = False
            if _folder_id(content_dir) != folder:
                break  # deleted or replaced: the watcher sees nothing more of it; start over
            if changes:
                rebuild(tuple(sorted({_display(path, content_dir) for _, path in changes})))


def rebuild_line(rebuild: Rebuild, clock: float | None = None) -> str:
    """One line per build: the time, what changed, and the build summary or the error."""
    stamp = time.strftime("%H:%M:%S", time.localtime(clock))
    changed = ""
    if rebuild.changed:
        shown = ", ".join(rebuild.changed[:3])
        more = len(rebuild.changed) - 3
        changed = f" after {shown}{f' and {more} more' if more > 0 else ''} changed"
    if rebuild.error is not None:
        return f"[{stamp}] build failed{changed} (waiting for changes)"
    assert rebuild.result is not None
    if rebuild.result.unchanged is not None:  # e.g. a file saved without a change
        return f"[{stamp}] {summary(rebuild.result)}"
    return f"[{stamp}] built{changed}: {summary(rebuild.result)}"
