"""Writing a build's files: each atomically, and the deck, report and lock file together or not at all.

Every file is first written to a temporary file beside its target, named `.flashmark-tmp-<pid>-…`,
flushed to disk, then renamed over the target. A build's deck, report and lock file are staged
first and renamed only once all three are written (a `Transaction`): a build that fails leaves all
three as they were. Between the renames, a journal beside the deck lists them; a build killed
right then is finished by the next one (`recover`), which also removes the temporary files that
killed builds left behind (`sweep`), so the deck and the lock file never disagree for long.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flashmark.errors import OutputError

TMP_PREFIX = ".flashmark-tmp-"
# What flashmark 0.1 named its temporary files: `.<target>.<8 random characters>.tmp`.
_LEGACY_TMP = re.compile(r"\.(?:flashmark\.lock|.+\.apkg|.+\.report\.json|.+\.html)\.[A-Za-z0-9_]{8}\.tmp")


def _why(exc: OSError) -> str:
    """An OSError in words a user can act on."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EDQUOT:
        return "the disk quota is used up"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{exc.strerror}; fix the folder's permissions"
    return exc.strerror or str(exc)


def temp_path(target: Path) -> Path:
    """A fresh name for a temporary file beside `target`, marked with this process's id."""
    return target.with_name(f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name}")


def file_mode(path: Path) -> int:
    """Permissions for a written file: kept when it exists, else the usual ones (not a temp file's 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def flush_to_disk(path: Path) -> None:
    """fsync a file (so a rename never publishes a file whose data is still in memory) or, best effort, a folder."""
    if path.is_dir():
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # Windows cannot open folders; its renames need no folder sync
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
        return
    # Read-only is enough for fsync on POSIX (the lock file may carry a read-only mode by now); Windows needs write.
    fd = os.open(path, (os.O_RDWR if os.name == "nt" else os.O_RDONLY) | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(target: Path, write: Callable[[Path], None]) -> Path:
    """Write `target`'s new content to a temporary file beside it, flushed; the caller renames or removes it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(
            "cannot write to the output folder: a file is in its way; give a folder, or a file name ending in .apkg",
            target.parent,
        ) from None
    except OSError as exc:
        raise OutputError(f"cannot write to the output folder: {_why(exc)}", target.parent) from None
    tmp = temp_path(target)
    try:
        write(tmp)
        tmp.chmod(file_mode(target))
        flush_to_disk(tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write: {_why(exc)}", target) from None
    except OutputError as exc:  # raised by `write` naming the temporary file: name the target instead
        tmp.unlink(missing_ok=True)
        raise OutputError(exc.message, target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write` on a temporary file beside `target`, then rename it into place."""
    tmp = _write_temp(target, write)
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write: {_why(exc)}", target) from None
    finally:
        tmp.unlink(missing_ok=True)
    flush_to_disk(target.parent)


class Transaction:
    """Files staged one by one, then all renamed into place (`commit`), or all dropped (`abort`)."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.staged: list[tuple[Path, Path]] = []  # (temporary file, target)

    def stage(self, target: Path, write: Callable[[Path], None]) -> None:
        """Write `target`'s new content aside; it replaces `target` only when the transaction commits."""
        self.staged.append((_write_temp(target, write), target))

    def commit(self) -> None:
        """Rename every staged file into place, recording the renames first so a killed build is finished later."""
        if not self.staged:
            return
        record = json.dumps([[os.path.abspath(tmp), os.path.abspath(target)] for tmp, target in self.staged])

        def write(tmp: Path) -> None:
            tmp.write_text(record, encoding="utf-8")

        atomic_write(self.journal, write)
        try:
            for tmp, target in self.staged:
                os.replace(tmp, target)
        except OSError as exc:  # half renamed: the journal stays, and the next build finishes the job
            raise OutputError(f"cannot write: {_why(exc)}", target) from None
        for folder in {target.parent for _, target in self.staged}:
            flush_to_disk(folder)
        self.journal.unlink(missing_ok=True)
        self.staged = []

    def abort(self) -> None:
        """Drop every staged file; the targets stay as they were."""
        for tmp, _ in self.staged:
            tmp.unlink(missing_ok=True)
        self.staged = []


@contextmanager
def transaction(journal: Path) -> Iterator[Transaction]:
    """A Transaction that is dropped unless the block commits it (on any error, Ctrl+C included)."""
    t = Transaction(journal)
    try:
        yield t
    finally:
        t.abort()


def recover(journal: Path) -> None:
    """Finish the renames a build was killed in the middle of (its journal lists them), then drop the journal."""
    try:
        pairs = json.loads(journal.read_text(encoding="utf-8"))
    except OSError:  # none (the usual case), or no folder to hold one yet
        return
    except ValueError:  # cut short by the kill itself: its renames never started
        journal.unlink(missing_ok=True)
        return
    if isinstance(pairs, list):
        for pair in pairs:
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
                tmp, target = Path(pair[0]), Path(pair[1])
                if tmp.name.startswith(TMP_PREFIX) and tmp.parent == target.parent and tmp.exists():
                    os.replace(tmp, target)
    journal.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or no way to tell: leave its files alone
    return True


def sweep(folder: Path) -> None:
    """Remove the temporary files and folders that killed flashmark processes left in `folder`."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if _LEGACY_TMP.fullmatch(name):
            (folder / name).unlink(missing_ok=True)
            continue
        if not name.startswith(TMP_PREFIX):
            continue
        pid = name[len(TMP_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
