"""A file's figures (size, modification time, change time, inode): how every cache tells that a file changed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

RACY_NS = 50_000_000  # file times on ext4, APFS and NTFS step in at most a few milliseconds
COARSE_RACY_NS = 2_000_000_000  # FAT and older file systems keep whole (or even) seconds

Figures = tuple[int, int, int, int]  # size, modification time, change time, inode


def figures(path: Path | str) -> Figures | None:
    """A file's size, modification time, change time (ns) and inode; None when it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def racy(fig: Sequence[int], taken_ns: int) -> bool:
    """Whether a file's figures were taken so soon after it changed that a later change might not show in them."""
    coarse = fig[1] % 1_000_000_000 == 0 and fig[2] % 1_000_000_000 == 0
    return max(fig[1], fig[2]) >= taken_ns - (COARSE_RACY_NS if coarse else RACY_NS)
