"""Cloze markers: found in the token stream, made safe around code and formulas, and read as Anki reads them.

flashmark's own reading of cloze text (which cards a note makes, and each card's two sides for the
preview) is compared with Anki's backend on the same text, hand-picked and generated.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from anki.collection import Collection
from hypothesis import given, settings
from hypothesis import strategies as st

from flashmark.anki import cloze as anki_cloze
from flashmark.config import Config
from flashmark.markdown.cloze import WORD_JOINER, code_braces, tex_clozes
from flashmark.parse import parse_source
from flashmark.sources import decode
from flashmark.types import CLOZE, QA, ParsedFile, Source


def parse_text(text: str, config: Config | None = None) -> ParsedFile:
    return parse_source(Source(Path("a.md"), "a.md", decode(text.encode(), "a.md")), config or Config())


# ---------------------------------------------------------------- formulas and code


@pytest.mark.parametrize(
    ("tex", "made", "numbers", "left"),
    [
        ("\\sqrt{\\frac{1}{2}}", "\\sqrt{\\frac{1}{2} }", [], 0),  # no cloze: TeX's }} spaced anyway
        ("c = {{c1::299792458}}", "c = {{c1::299792458}}", [1], 0),
        ("{{c1::\\frac{1}{2}}}", "{{c1::\\frac{1}{2} }}", [1], 0),  # the group closes, then the cloze
        ("{{c2::x^{2}}} + {{c3::y}}", "{{c2::x^{2} }} + {{c3::y}}", [2, 3], 0),
        ("\\{{c1::x}}\\}", "\\{{c1::x}}\\}", [1], 0),  # \{ is a character, not a group
        ("{{c1::a {{c2::b}} c}}", "{{c1::a {{c2::b}} c}}", [2, 1], 0),
        ("{{c1::never closed", "{ {c1::never closed", [], 1),
    ],
)
def test_formulas_keep_their_clozes_and_lose_stray_double_braces(
    tex: str, made: str, numbers: list[int], left: int
) -> None:
    assert tex_clozes(tex) == (made, numbers, left)


def test_code_gets_a_word_joiner_inside_every_double_brace() -> None:
    assert code_braces("d = {{c1::x}}}") == f"d = {{{WORD_JOINER}{{c1::x}}{WORD_JOINER}}}{WORD_JOINER}}}"
    assert code_braces("plain {x}") == "plain {x}"


# ---------------------------------------------------------------- parse


def test_a_question_with_cloze_markers_is_a_cloze_note_and_others_are_not() -> None:
    parsed = parse_text(
        "# T\n\n## 填空\n\n第一段 {{c1::甲}}\n\n- 列表里 {{c2::乙}}\n\n## 普通\n\n没有填空，`{{c1::代码}}` 里的不算。\n"
    )
    kinds = {q.title: q.kind for q in parsed.questions}
    assert kinds == {"填空": CLOZE, "普通": QA}
    plain = next(q for q in parsed.questions if q.title == "普通")
    assert "{{c1::代码}}" in plain.answer_html  # a Q&A note shows code as written (Anki clozes nothing there)


def test_a_cloze_may_span_paragraphs_and_wrap_a_list() -> None:
    parsed = parse_text("# T\n\n## 步骤\n\n心肺复苏的步骤：{{c1::\n\n1. 按压\n2. 通气\n\n}}\n")
    (q,) = parsed.questions
    assert q.kind == CLOZE and parsed.notices == ()
    assert anki_cloze.card_ords(q.answer_html) == [0]


def test_clozes_can_be_switched_off() -> None:
    parsed = parse_text("# T\n\n## 填空\n\n{{c1::甲}}\n", Config(cloze=False))
    assert parsed.questions[0].kind == QA and "{{c1::甲}}" in parsed.questions[0].answer_html


def test_problems_are_warned_at_their_line() -> None:
    parsed = parse_text("# T\n\n## 填空\n\n{{c1::好的}}\n\n{{c0::零}} 和 {{c2::没闭合\n\n$x = {{c3::1$\n")
    warnings = sorted((n.line, n.message) for n in parsed.notices if n.kind == "cloze")
    assert [line for line, _ in warnings] == [7, 7, 9]
    assert any("never closed" in m and "{{c2::" in m for _, m in warnings)
    assert any("cloze number 0" in m for _, m in warnings)
    assert any("inside a formula is never closed" in m for _, m in warnings)


def test_a_cloze_paragraph_outside_any_question_is_a_note_of_its_own() -> None:
    parsed = parse_text("光速约为 {{c1::3e8}} m/s。\n\n# 标题\n\n## 问\n\n答。\n")
    cloze_note = next(q for q in parsed.questions if q.kind == CLOZE)
    assert cloze_note.title_html == "" and cloze_note.title.startswith("光速约为")
    assert cloze_note.topic == ("a",) and cloze_note.line == 1
    assert not any(n.kind == "outside" for n in parsed.notices)


def test_attributes_in_cloze_titles_and_no_reverse_for_clozes() -> None:
    parsed = parse_text("# T\n\n## 填空 {#fill reverse}\n\n{{c1::甲}}\n")
    (q,) = parsed.questions
    assert q.kind == CLOZE and q.anchor == "fill" and q.reverse is False
    assert any(n.kind == "reverse" for n in parsed.notices)


# ---------------------------------------------------------------- as Anki reads it


@pytest.fixture(scope="module")
def anki_cloze_renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collection]:
    """A collection whose cloze note type shows only `{{cloze:Text}}` on both sides."""
    col = Collection(str(tmp_path_factory.mktemp("cloze") / "collection.anki2"))
    model = col.models.by_name("Cloze")
    assert model is not None
    model["tmpls"][0]["qfmt"] = model["tmpls"][0]["afmt"] = "{{cloze:Text}}"
    col.models.update_dict(model)
    yield col
    col.close()


def anki_sides(col: Collection, text: str) -> tuple[list[int], dict[int, tuple[str, str]]]:
    """The card ordinals Anki makes of a cloze text, and each card's front and back."""
    model = col.models.by_name("Cloze")
    assert model is not None
    note = col.new_note(model)
    note["Text"] = text
    col.add_note(note, col.decks.id("Default"))  # type: ignore[arg-type]
    cards = note.cards()
    sides = {c.ord: (c.question().split("</style>")[-1], c.answer().split("</style>")[-1]) for c in cards}
    col.remove_notes([note.id])
    return [c.ord for c in cards], sides


def shown(side: str) -> str:
    """A card side as the reader sees it: entities decoded, the hidden `data-cloze` copy of the answer left out."""
    return html.unescape(re.sub(r' data-cloze="[^"]*"', "", side))


def assert_read_as_anki_does(col: Collection, text: str) -> None:
    ords, sides = anki_sides(col, text)
    assert anki_cloze.card_ords(text) == ords, text
    for ordinal, (front, back) in sides.items():
        if "No cloze" in front:
            continue  # Anki's message for a cloze note without clozes
        assert shown(anki_cloze.render(text, ordinal, True)) == shown(front), (text, ordinal)
        assert shown(anki_cloze.render(text, ordinal, False)) == shown(back), (text, ordinal)


@pytest.mark.parametrize(
    "text",
    [
        "a {{c1::b}} c {{c2::d::hint}} e",
        "x {{c1::outer {{c2::inner}} more}} y",
        "math \\(x = {{c1::2}}\\) and {{c3::z}}",
        "{{c0::zero}} {{c1::}} one",
        "<code>{{c1::k}}</code> {{c2::a <b>b}} c</b>",
        "{{c1::unclosed and {{c2::ok}}",
        "{{C1::upper}} {{c01::lead}}",
        "{{c1::a::b::c}}",
        "{{c1::x {{c2::y}}::hint}}",
        "{{c2::a}} {{c1::b}} {{c2::c}}",
        "}} {{c1::a}} }}",
        "\\[a {{c1::b::h}}\\] {{c2::c}}",
        "no clozes at all",
    ],
)
def test_cloze_text_is_read_as_anki_reads_it(anki_cloze_renderer: Collection, text: str) -> None:
    assert_read_as_anki_does(anki_cloze_renderer, text)


# Formulas come whole (balanced delimiters, as flashmark writes them); a hint's `::` right before its `}}`.
PIECES = [
    *["{{c1::", "{{c2::", "{{c12::", "{{c0::", "{{", "}}", "::h}}", "a", "b", " ", ":", "c1", "<b>", "</b>", "{", "}"],
    *["\\(x\\)", "\\(y {{c1::z}}\\)", "\\[{{c2::w::h}}\\]"],
]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(PIECES), max_size=14).map("".join))
def test_generated_cloze_text_is_read_as_anki_reads_it(anki_cloze_renderer: Collection, text: str) -> None:
    assert_read_as_anki_does(anki_cloze_renderer, text)
