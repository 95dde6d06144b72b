"""[RenderedNote] → .apkg with genanki, written atomically."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import genanki

from flashmark.errors import OutputError, SourceError
from flashmark.identity import deck_id
from flashmark.media import media_name
from flashmark.notetype import note_type
from flashmark.types import MediaFile, RenderedNote


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write` on a temp file beside `target`, then rename it into place."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write to the output folder: {exc.strerror}", target.parent) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}", target) from None
    finally:
        tmp.unlink(missing_ok=True)


def package_media(notes: Sequence[RenderedNote]) -> list[MediaFile]:
    """Every media file the notes reference, once per name."""
    return list({m.name: m for rn in notes for m in rn.note.media}.values())


def stage_media(media: Sequence[MediaFile], folder: Path) -> list[str]:
    """Copy media into `folder` under their package names (genanki names files by their base name)."""
    staged = []
    for m in media:
        try:
            data = Path(m.path).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read image: {exc.strerror}", m.path) from None
        if media_name(data, Path(m.name).suffix) != m.name:
            raise SourceError("image changed while the deck was being built; build again", m.path)
        dest = folder / m.name
        dest.write_bytes(data)
        staged.append(str(dest))
    return staged


def make_package(
    notes: Sequence[RenderedNote], timestamp: float | None = None, media_files: Sequence[str] = ()
) -> genanki.Package:
    """Build the genanki package: one deck per deck name, one note per rendered note, plus media files."""
    model = note_type()
    decks: dict[str, genanki.Deck] = {}
    for rn in notes:
        deck = decks.get(rn.deck)
        if deck is None:
            deck = decks[rn.deck] = genanki.Deck(deck_id(rn.deck), rn.deck)
        deck.add_note(genanki.Note(model=model, fields=list(rn.fields), tags=list(rn.tags), guid=rn.guid))
    package = genanki.Package(list(decks.values()), media_files=list(media_files))
    return package


def write_package(notes: Sequence[RenderedNote], target: Path, timestamp: float | None = None) -> None:
    """Write the .apkg to `target` atomically; an earlier deck survives any failure."""
    stamp = time.time() if timestamp is None else timestamp
    with tempfile.TemporaryDirectory(prefix="flashmark-media-") as folder:
        package = make_package(notes, stamp, media_files=stage_media(package_media(notes), Path(folder)))
        atomic_write(target, lambda tmp: package.write_to_file(str(tmp), timestamp=stamp))
