"""Markdown flavours end to end: GitHub, Obsidian and Typora pages built and imported into a real Anki collection.

Each page is written the way its tool writes notes; the cards are checked as Anki renders them
(`card.answer()`), and every picture that exists must reach the collection's media folder.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from ankitools import AnkiView, import_apkg
from flashmark.build import build
from flashmark.cli import main
from flashmark.config import Config
from flashmark.parse import parse_source
from flashmark.report import BuildResult
from flashmark.sources import decode
from flashmark.types import ParsedFile, Source

FIXTURES = Path(__file__).parent / "fixtures" / "flavours"
PICTURES = {
    "github": ["images/rebase.png"],
    "obsidian": ["attachments/handshake.png", "Topics/diagram.png"],
    "typora": ["img/ch14/lr-curve.png", "img/ch14/range test.png"],
}


def png(width: int, height: int, shade: int) -> bytes:
    """A small PNG of one colour (each picture gets its own, so their media names differ)."""
    raw = b"".join(b"\x00" + bytes([shade, 80, 160]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def page(name: str, tmp: Path) -> Path:
    """One fixture folder copied, with its pictures drawn."""
    content = Path(shutil.copytree(FIXTURES / name, tmp / name))
    for n, rel in enumerate(PICTURES[name]):
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_bytes(png(8 + n, 4, 40 * n))
    return content


def build_page(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, AnkiView]:
    """A fixture page built and imported into a fresh collection."""
    tmp = tmp_path_factory.mktemp(name)
    content = page(name, tmp)
    result = build(content, tmp / "out", lock=False)
    (tmp / "anki").mkdir()
    return result, import_apkg(result.output, tmp / "anki" / "collection.anki2", render=True)


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, AnkiView]:
    return build_page("github", tmp_path_factory)


@pytest.fixture(scope="module")
def obsidian(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, AnkiView]:
    return build_page("obsidian", tmp_path_factory)


@pytest.fixture(scope="module")
def typora(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, AnkiView]:
    return build_page("typora", tmp_path_factory)


def backs(view: AnkiView) -> dict[str, str]:
    """Each note's answer side as Anki renders it, by its question."""
    out = {}
    for note in view.notes.values():
        (cid, *_) = note.card_ids
        out[note.fields["Question"]] = view.rendered[cid][1]
    return out


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_every_picture_that_exists_reaches_the_collection(name: str, request: pytest.FixtureRequest) -> None:
    result, view = request.getfixturevalue(name)
    assert [n.message for n in result.notices if n.kind == "image"] == []  # no "not found"
    assert len(view.media_files) == len(PICTURES[name])
    assert len(view.notes) == 2 and not result.skipped


def test_github_footnotes_tasks_autolinks_alerts(github: tuple[BuildResult, AnkiView]) -> None:
    _, view = github
    rebase = backs(view)["What does <code>git rebase</code> do?"]
    assert "[^1]" not in rebase and '<sup class="fm-fnref">1</sup>' in rebase
    assert '<ol class="fm-footnotes">' in rebase and "The base is the commit the branch starts from." in rebase
    assert (
        '<a href="https://git-scm.com/docs/git-rebase"' in rebase and '<a href="http://www.atlassian.com/git"' in rebase
    )
    assert (
        '<div class="fm-callout fm-callout-warning">' in rebase and '<p class="fm-callout-title">Warning</p>' in rebase
    )
    assert "[!WARNING]" not in rebase
    assert '<span class="fm-task fm-task-done">☑</span> Rebase a feature branch' in rebase
    assert '<span class="fm-task">☐</span> Rebase a published branch' in rebase
    assert "<s><code>git merge --squash</code></s>" in rebase and "<table>" in rebase
    ff = backs(view)["什么是快进合并？"]
    # Each card numbers its own footnotes from 1, and lists only its own.
    assert '<sup class="fm-fnref">1</sup>' in ff and "即 fast-forward。" in ff and "The base is" not in ff
    assert '<div class="fm-callout fm-callout-tip">' in ff


def test_obsidian_embeds_wikilinks_highlights_callouts_comments(obsidian: tuple[BuildResult, AnkiView]) -> None:
    _, view = obsidian
    tcp = backs(view)["What is a TCP handshake?"]
    assert "<mark>Three messages</mark>" in tcp
    assert "See TCP and the RFC." in tcp and "[[" not in tcp
    assert 'width="300"' in tcp and 'alt="handshake.png"' in tcp  # found in attachments/, size kept
    assert "TODO" not in tcp and "only the author sees" not in tcp and "%%" not in tcp
    assert '<p class="fm-callout-title">Remember</p>' in tcp and "fm-callout-tip" in tcp
    assert '<p class="fm-callout-title">Why three?</p>' in tcp and "fm-callout-warning" in tcp
    purpose = backs(view)["什么是三次握手的目的？"]
    assert "<mark>同步双方的初始序列号</mark>" in purpose and "<img " in purpose


def test_typora_windows_paths_and_paths_with_spaces(typora: tuple[BuildResult, AnkiView]) -> None:
    _, view = typora
    by_title = backs(view)
    missing = 'class="fm-img-missing"'
    assert "<img " in by_title["什么是超参数？"] and missing not in by_title["什么是超参数？"]
    chosen = by_title["如何选择学习率？"]
    assert chosen.count("<img ") == 2 and missing not in chosen


# ---------------------------------------------------------------- switches and warnings


def parse_text(text: str, config: Config | None = None) -> ParsedFile:
    return parse_source(Source(Path("a.md"), "a.md", decode(text.encode(), "a.md")), config or Config())


# Each syntax: a snippet, what it shows with the syntax on, and what it shows with it off.
SYNTAX = {
    "footnotes": ("A[^1]\n\n[^1]: note\n", 'class="fm-fnref"', "^1"),
    "task_lists": ("- [x] done\n", "☑", "[x] done"),
    "autolinks": ("see https://example.com\n", "<a ", "see https://example.com"),
    "alerts": ("> [!NOTE]\n> body\n", "fm-callout", "[!NOTE]"),
    "highlight": ("==marked==\n", "<mark>", "==marked=="),
    "wikilinks": ("[[Page|alias]]\n", "<p>alias</p>", "[[Page|alias]]"),
    "comments": ("a %%secret%% b\n", "<p>a  b</p>", "%%secret%%"),
}


@pytest.mark.parametrize("syntax", sorted(SYNTAX))
def test_each_syntax_can_be_switched_off(syntax: str) -> None:
    text, shown_on, shown_off = SYNTAX[syntax]
    on = parse_text("## Q\n\n" + text).questions[0].answer_html
    off = parse_text("## Q\n\n" + text, Config(flavours=Config().flavours - {syntax})).questions[0].answer_html
    assert shown_on in on and shown_on not in off
    assert shown_off in off and shown_off not in on


def test_settings_switch_syntaxes_off(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text("## Q\n\n==a== [[b]]\n", encoding="utf-8")
    (content / "flashmark.toml").write_text("[markdown]\nhighlight = false\nwikilinks = false\n", encoding="utf-8")
    answer = build(content, tmp_path / "out", lock=False).notes[0].fields[2]
    assert "==a== [[b]]" in answer


def test_check_says_where_a_flavour_changed_how_text_reads(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text("## Q\n\nif x==1 and y==2 then\n\nsee [^nowhere]\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(content)])
    assert "a.md:3: warning: '==' inside a word is read as a highlight" in result.output
    assert "a.md:5: warning: footnote [^nowhere] has no definition" in result.output


def test_a_case_mismatch_gets_a_did_you_mean(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    (content / "img").mkdir(parents=True)
    (content / "img" / "Figure.png").write_bytes(png(2, 2, 0))
    (content / "a.md").write_text("## Q\n\n![x](img/figure.png)\n", encoding="utf-8")
    result = build(content, tmp_path / "out", lock=False)
    (notice,) = [n for n in result.notices if n.kind == "image"]
    assert notice.message == (
        "image 'img/figure.png' not found; did you mean 'img/Figure.png'? (the letter case differs); "
        "its alt text is shown instead"
    )


def test_an_embed_named_twice_in_the_vault_takes_the_nearest(tmp_path: Path) -> None:
    content = tmp_path / "vault"
    for rel in ("notes/here/pic.png", "elsewhere/pic.png"):
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_bytes(png(2, 2, len(rel)))
    (content / "notes" / "here" / "sub").mkdir()
    (content / "notes" / "here" / "sub" / "a.md").write_text("## Q\n\n![[pic.png]]\n", encoding="utf-8")
    (content / "top.md").write_text("## R\n\n![[pic.png]]\n", encoding="utf-8")
    result = build(content, tmp_path / "out", lock=False)
    media = {rn.note.title: rn.note.media[0].path for rn in result.notes}
    assert media["Q"] == str((content / "notes/here/pic.png").resolve())
    warned = [n for n in result.notices if n.kind == "image"]
    assert [(n.file, n.line) for n in warned] == [("top.md", 3)]
    assert "names several pictures" in warned[0].message
