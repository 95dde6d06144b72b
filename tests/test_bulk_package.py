"""The bulk package writer produces exactly what stock genanki writes, as Anki sees it after import."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import genanki
import pytest

from ankitools import AnkiView, import_apkg
from flashmark.anki.notetype import KINDS, note_type
from flashmark.anki.package import BulkPackage, write_package
from flashmark.build import deck_name, load_corpus
from flashmark.config import load_config
from flashmark.identity import deck_id
from flashmark.render import render_notes
from flashmark.types import RenderedNote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from corpus import generate

STAMP = 1_700_000_000.0


@pytest.fixture(autouse=True)
def scratch(tmp_path: Path, monkeypatch) -> Path:
    """A temp folder of the test's own: stock genanki leaves a file in it on every write."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def stock_genanki(notes: list[RenderedNote], target: Path) -> None:
    """The reference: genanki's own Deck/Note/Package objects, one execute per row."""
    decks: dict[str, genanki.Deck] = {}
    for rn in notes:
        deck = decks.get(rn.deck)
        if deck is None:
            deck = decks[rn.deck] = genanki.Deck(deck_id(rn.deck), rn.deck)
        deck.add_note(
            genanki.Note(model=note_type(rn.notetype), fields=list(rn.fields), tags=list(rn.tags), guid=rn.guid)
        )
    genanki.Package(list(decks.values())).write_to_file(str(target), timestamp=STAMP)


def rendered(content: Path) -> list[RenderedNote]:
    config = load_config(content)
    return render_notes(load_corpus(content, config).merge.notes, deck_name(content, config))


def both(notes: list[RenderedNote], tmp_path: Path) -> tuple[AnkiView, AnkiView]:
    ours, theirs = tmp_path / "bulk.apkg", tmp_path / "stock.apkg"
    write_package(notes, ours, timestamp=STAMP)
    stock_genanki(notes, theirs)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    return import_apkg(ours, tmp_path / "a" / "col.anki2"), import_apkg(theirs, tmp_path / "b" / "col.anki2")


@pytest.mark.parametrize("fixture", ["decks/course", "merge"])
def test_same_as_stock_genanki(fixture: str, fixture_dir, tmp_path: Path) -> None:
    notes = rendered(fixture_dir(fixture))
    ours, theirs = both(notes, tmp_path)
    assert len(ours.notes) == len(notes) > 0
    assert ours.notes == theirs.notes  # ids, guids, mod, fields, tags, decks, card ids
    assert ours.decks == theirs.decks and ours.notetypes == theirs.notetypes
    assert {n.notetype for n in ours.notes.values()} <= {k.notetype_name for k in KINDS.values()}


def test_same_as_stock_genanki_with_many_decks(tmp_path: Path) -> None:
    content = tmp_path / "corpus"
    generate(400, content)
    notes = rendered(content)
    ours, theirs = both(notes, tmp_path)
    assert len({rn.deck for rn in notes}) > 10
    assert ours.notes == theirs.notes and ours.decks == theirs.decks
    assert ours.card_count == len(notes)


def test_rejects_a_tag_with_a_space(fixture_dir) -> None:
    notes = rendered(fixture_dir("decks/course"))
    from dataclasses import replace

    bad = [replace(notes[0], tags=("two words",)), *notes[1:]]
    with pytest.raises(ValueError, match="contains a space"):
        BulkPackage(bad)


def test_rejects_a_note_whose_fields_do_not_fit_its_note_type_before_writing_anything(fixture_dir) -> None:
    """Checked when the package is made (before `sync` touches a collection), not when its rows are written."""
    from dataclasses import replace

    from flashmark.anki.package import apkg_writer

    notes = rendered(fixture_dir("decks/course"))
    bad = [replace(notes[0], fields=notes[0].fields[:-1]), *notes[1:]]
    with pytest.raises(ValueError, match="fields, its note type"):
        apkg_writer(bad)


def test_leaves_no_scratch_database_behind(fixture_dir, tmp_path: Path, scratch: Path) -> None:
    """genanki writes the collection to a temp file it never deletes; a build must not leave it behind."""
    notes = rendered(fixture_dir("decks/course"))
    write_package(notes, tmp_path / "deck.apkg")
    assert (tmp_path / "deck.apkg").is_file()
    assert list(scratch.iterdir()) == []
    stock_genanki(notes, tmp_path / "stock.apkg")  # the reference shows what the check would catch
    assert len(list(scratch.iterdir())) == 1


def _picture_notes(root: Path) -> list[RenderedNote]:
    """Two notes of a folder with two pictures, rendered."""
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    (root / "img" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 40)
    (root / "n.md").write_text(
        "# 图\n\n## 甲\n\n### 一？\n\n**答案：** ![a](img/a.png)\n\n### 二？\n\n**答案：** ![b](img/b.png)\n",
        encoding="utf-8",
    )
    corpus = load_corpus(root)
    return list(render_notes(corpus.merge.notes, deck_name(root, load_config(root))))


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_images_of_the_last_package_are_copied_as_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_copy: bool
) -> None:
    """A package made with the last one's stored images (copied in the kernel, or through the process where the
    system has no copy_file_range) holds the same images under new entry numbers, and Anki imports them; the
    folder's copies, unchanged since they were checked, are not read."""
    import os
    import time

    from flashmark.anki.package import apkg_writer
    from flashmark.anki.stored import last_package
    from flashmark.figures import RACY_NS
    from flashmark.types import Verified

    notes = _picture_notes(tmp_path / "c")
    time.sleep(RACY_NS / 1e9 + 0.01)  # the pictures are trusted by their figures from here on
    first = tmp_path / "first.apkg"
    checked: dict[str, Verified] = {}
    apkg_writer(notes, STAMP, verified=checked)(first)
    stored = last_package(first)
    assert stored is not None and len(stored.entries) == 2 and len(checked) == 2
    if not kernel_copy:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: b"read" if p.suffix == ".png" else real(p))
    second = tmp_path / "second.apkg"
    apkg_writer(notes[1:], STAMP, trusted=checked, last=stored)(second)  # one picture: entry "0", was "1"
    monkeypatch.undo()
    view = import_apkg(second, tmp_path / "col.anki2")
    assert len(view.media_files) == 1
    kept = (view.media_dir / view.media_files[0]).read_bytes()
    assert kept == b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 40


def test_an_image_changed_since_its_check_is_not_copied(tmp_path: Path) -> None:
    """The last package holds an image under its name, but the file changed since it was checked (as an editor
    saving during a build): it is read, and a mismatch with its name stops the build, which starts again."""
    import time

    from flashmark.anki.package import MediaChanged, apkg_writer
    from flashmark.anki.stored import last_package
    from flashmark.figures import RACY_NS
    from flashmark.types import Verified

    notes = _picture_notes(tmp_path / "c")
    time.sleep(RACY_NS / 1e9 + 0.01)
    first = tmp_path / "first.apkg"
    checked: dict[str, Verified] = {}
    apkg_writer(notes, STAMP, verified=checked)(first)
    (tmp_path / "c" / "img" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n changed")
    with pytest.raises(MediaChanged):
        apkg_writer(notes, STAMP, trusted=checked, last=last_package(first))(tmp_path / "second.apkg")


def test_a_replaced_last_package_is_not_copied_from(tmp_path: Path) -> None:
    """A package replaced after its index was read is not copied from: its entries may be elsewhere."""
    from flashmark.anki.stored import last_package

    notes = _picture_notes(tmp_path / "c")
    first = tmp_path / "first.apkg"
    write_package(notes, first, STAMP)
    stored = last_package(first)
    assert stored is not None
    file = stored.open()
    assert file is not None
    file.close()
    write_package(notes[1:], first, STAMP)
    assert stored.open() is None


def test_a_file_that_is_not_a_package_has_no_stored_images(tmp_path: Path) -> None:
    from flashmark.anki.stored import last_package

    (tmp_path / "x.apkg").write_bytes(b"PK\x03\x04 not really")
    assert last_package(tmp_path / "x.apkg") is None
    assert last_package(tmp_path / "missing.apkg") is None
