"""The package the last build wrote: its images, and its collection for a rebuild to patch, copied as stored bytes."""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flashmark.figures import Figures, figures

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip entry's local header, as zipfile reads it
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class LastPackage:
    """A package a build wrote before: each media name's entry, and the collection's, all stored uncompressed."""

    package: Path
    entries: Mapping[str, zipfile.ZipInfo]
    collection: zipfile.ZipInfo | None
    figures: Figures  # the package's when its index was read: copying from it is for that file only

    def open(self) -> BinaryIO | None:
        """The package opened for copying, when it is still the file that was indexed (else None)."""
        try:
            file = open(self.package, "rb")  # noqa: SIM115  # the caller closes it
        except OSError:
            return None
        st = os.fstat(file.fileno())
        if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != self.figures:
            file.close()
            return None
        return file


def _plain(info: zipfile.ZipInfo | None) -> zipfile.ZipInfo | None:
    """The entry when it is stored plain (as flashmark writes it): its bytes ready to copy."""
    return info if info is not None and info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1 else None


def last_package(package: Path) -> LastPackage | None:
    """The entries of `package` by media name, and its collection's; None when it is not one of flashmark's."""
    fig = figures(package)
    if fig is None:
        return None
    try:
        with zipfile.ZipFile(package) as z:
            index = json.loads(z.read("media"))
            infos = {info.filename: info for info in z.infolist()}
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, RuntimeError):
        return None
    if not isinstance(index, dict):
        return None
    entries: dict[str, zipfile.ZipInfo] = {}
    for number, name in index.items():
        info = _plain(infos.get(number))
        if type(name) is str and info is not None:
            entries[name] = info
    collection = _plain(infos.get("collection.anki2"))
    return LastPackage(package, entries, collection, fig) if figures(package) == fig else None


def _data_start(source: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where an entry's bytes begin: after its local header, whose name and extra field may differ in length from
    the central directory's."""
    source.seek(info.header_offset)
    header = source.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no entry at offset {info.header_offset}")
    fields = _LOCAL_HEADER.unpack(header)
    flags, method, crc, stored_size, size = fields[3], fields[4], fields[7], fields[8], fields[9]
    if method != zipfile.ZIP_STORED or (
        not flags & 0x08 and (crc, stored_size, size) != (info.CRC, info.file_size, info.file_size)
    ):
        raise zipfile.BadZipFile(f"the entry at offset {info.header_offset} is not the one the index names")
    return info.header_offset + _LOCAL_HEADER.size + int(fields[10]) + int(fields[11])


def _copy_range(source: BinaryIO, start: int, size: int, target: BinaryIO) -> None:
    """Copy `size` bytes of `source` from `start` to `target`'s position, in the kernel where it can."""
    target.flush()
    at = target.tell()
    done = 0
    if hasattr(os, "copy_file_range"):
        try:
            while done < size:
                n = os.copy_file_range(source.fileno(), target.fileno(), size - done, start + done, at + done)
                if n == 0:
                    break
                done += n
        except OSError:  # a file system or kernel without it: copy through this process
            pass
    if done < size:
        source.seek(start + done)
        target.seek(at + done)
        left = size - done
        while left:
            chunk = source.read(min(_COPY_CHUNK, left))
            if not chunk:
                raise zipfile.BadZipFile("the package ends inside an entry")
            target.write(chunk)
            left -= len(chunk)
    target.seek(at + size)


def copy_entry(out: zipfile.ZipFile, source: BinaryIO, info: zipfile.ZipInfo, name: str) -> None:
    """Add the stored entry `info` of the open package `source` to `out` under `name`, its bytes copied as they are
    (their CRC is the one the old package carries)."""
    fp = out.fp
    if fp is None:
        raise ValueError("the package is closed")
    start = _data_start(source, info)
    entry = zipfile.ZipInfo(name, date_time=info.date_time)
    entry.compress_type = zipfile.ZIP_STORED
    entry.CRC = info.CRC
    entry.compress_size = entry.file_size = info.file_size
    entry.external_attr = info.external_attr
    fp.seek(out.start_dir)
    entry.header_offset = out.start_dir
    target: BinaryIO = fp  # type: ignore[assignment]  # a real file: ZipFile was handed one
    target.write(entry.FileHeader())
    _copy_range(source, start, info.file_size, target)
    out.filelist.append(entry)
    out.NameToInfo[name] = entry
    out.start_dir = target.tell()


def copy_out(source: BinaryIO, info: zipfile.ZipInfo, target: Path) -> None:
    """Write the stored bytes of the entry `info` of the open package `source` to a file of their own."""
    start = _data_start(source, info)
    with open(target, "wb") as file:
        _copy_range(source, start, info.file_size, file)
