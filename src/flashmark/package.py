"""[RenderedNote] → .apkg with genanki, written atomically."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import genanki

from flashmark.errors import OutputError
from flashmark.identity import deck_id
from flashmark.notetype import note_type
from flashmark.types import RenderedNote


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


def make_package(notes: Sequence[RenderedNote], timestamp: float | None = None) -> genanki.Package:
    """Build the genanki package: one deck per deck name, one note per rendered note."""
    model = note_type()
    decks: dict[str, genanki.Deck] = {}
    media: dict[str, None] = {}
    for rn in notes:
        deck = decks.get(rn.deck)
        if deck is None:
            deck = decks[rn.deck] = genanki.Deck(deck_id(rn.deck), rn.deck)
        deck.add_note(genanki.Note(model=model, fields=list(rn.fields), tags=list(rn.tags), guid=rn.guid))
        media.update(dict.fromkeys(rn.note.media))
    package = genanki.Package(list(decks.values()), media_files=list(media))
    return package


def write_package(notes: Sequence[RenderedNote], target: Path, timestamp: float | None = None) -> None:
    """Write the .apkg to `target` atomically; an earlier deck survives any failure."""
    package = make_package(notes)
    stamp = time.time() if timestamp is None else timestamp
    atomic_write(target, lambda tmp: package.write_to_file(str(tmp), timestamp=stamp))
