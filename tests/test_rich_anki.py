"""End to end: rich notes (math, code, images) built into a deck and imported into a real Anki collection."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from flashmark.build import build
from flashmark.errors import SourceError
from flashmark.markdown.media import media_name

BARS = Path(__file__).resolve().parent / "fixtures" / "rich" / "images" / "bars.png"


def test_image_lands_in_anki_media_and_the_field_references_it(
    fixture_dir: Callable[[str], Path], build_and_import: Callable[..., tuple]
) -> None:
    content = fixture_dir("rich")
    result, anki = build_and_import(content)
    name = f"fm-{hashlib.sha256(BARS.read_bytes()).hexdigest()[:16]}.png"
    note = anki.by_title("What does the bar chart show?")
    assert f'<img src="{name}" alt="four coloured bars" title="Bars">' in note.fields["Answer"]
    assert name in anki.media_files
    assert (anki.media_dir / name).read_bytes() == BARS.read_bytes()
    # Only referenced, readable images are shipped: nothing from outside the folder.
    assert [f for f in anki.media_files if f.startswith("fm-")] == [name]
    warnings = {(n.where, n.kind) for n in result.notices}
    assert {
        ("pictures.md:14", "image"),
        ("pictures.md:18", "image"),
        ("pictures.md:20", "image"),
        ("pictures.md:22", "image"),
    } <= warnings


def test_nested_note_may_use_an_image_from_elsewhere_in_the_content_folder(
    tmp_path: Path, build_and_import: Callable[..., tuple]
) -> None:
    content = tmp_path / "content"
    (content / "images").mkdir(parents=True)
    (content / "notes" / "cnn").mkdir(parents=True)
    (content / "images" / "bars.png").write_bytes(BARS.read_bytes())
    (content / "notes" / "cnn" / "charts.md").write_text(
        "# Charts\n\n## What does the chart show?\n\n![bars](../../images/bars.png)\n", encoding="utf-8"
    )
    result, anki = build_and_import(content)
    name = f"fm-{hashlib.sha256(BARS.read_bytes()).hexdigest()[:16]}.png"
    assert result.notices == ()
    assert f'<img src="{name}" alt="bars">' in anki.by_title("What does the chart show?").fields["Answer"]
    assert name in anki.media_files


def test_math_and_code_survive_anki_import(
    fixture_dir: Callable[[str], Path], build_and_import: Callable[..., tuple]
) -> None:
    _, anki = build_and_import(fixture_dir("rich"))
    conv = next(
        n for n in anki.notes.values() if "卷积作用" in n.fields["Question"] and "1\\times1" in n.fields["Question"]
    )
    assert (
        conv.fields["Question"]
        == '<span class="fm-math mathjax_process tex2jax_process">\\(1\\times1\\)</span>卷积作用？'
    )
    assert "\\(C_{in}\\)" in conv.fields["Answer"]
    assert re.search(r"\\\[y_\{i,j\} = \\sum_\{c=1\}\^\{C\}", conv.fields["Answer"])
    code = anki.by_title("How do you read a file line by line?")
    assert '<span class="k">with</span>' in code.fields["Answer"]
    links = anki.by_title("Which links are kept?")
    assert "javascript:" not in links.fields["Answer"].replace("[click me](javascript:alert(1))", "")
    assert "<script" not in links.fields["Answer"] and "<img" not in links.fields["Answer"]


def test_an_image_changed_during_a_build_makes_it_start_again_with_the_new_image(
    fixture_dir: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = fixture_dir("rich")
    out = tmp_path / "out"
    first = build(content, out)
    before = first.output.read_bytes()

    import flashmark.build as build_module

    real_render = build_module.render_notes

    edits: list[int] = []

    def render_then_edit(*args: object, **kwargs: object) -> object:
        edits.append(1)
        (content / "images" / "bars.png").write_bytes(BARS.read_bytes() + b"changed" * len(edits))
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module, "render_notes", render_then_edit)
    with pytest.raises(SourceError, match="changed while the deck was being built"):
        build(content, out, force=True)  # it changes every time: after one fresh start the build gives up
    assert len(edits) == 2 and first.output.read_bytes() == before

    def edit_once(*args: object, **kwargs: object) -> object:
        edits.append(1)
        if len(edits) == 3:  # the picture changes once, while the first attempt renders
            (content / "images" / "bars.png").write_bytes(BARS.read_bytes() + b"once")
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module, "render_notes", edit_once)
    packed = {m.name for rn in build(content, out, force=True).notes for m in rn.note.media}
    assert len(edits) == 4 and media_name(BARS.read_bytes() + b"once", ".png") in packed
