"""Cards fit a phone: Anki's own rendering of a built deck, laid out by headless Chromium at phone and desktop width.

A deck built from tests/fixtures/layout/ is imported into a real collection; each card's front and
back, as Anki renders them (the note type's CSS in front, as `card.question()` gives it), go into a
page shaped like Anki's reviewer, `<body class="card"><div id="qa">…</div>`, at 390 px (AnkiDroid and
AnkiMobile on a phone) and 800 px, in light mode and in each way the apps mark night mode. What is
checked is computed layout: widths, scroll widths and the lines each word lands on.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from playwright.sync_api import Browser, Page

from browser import headless_chromium
from flashmark.build import build

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "layout"
IMAGE_SIZE = (1200, 240)  # wider than any screen the card is shown on
PHONE, DESKTOP = 390, 800
WIDTHS = (PHONE, DESKTOP)
# How night mode reaches the card: (classes on <html>, classes on <body>). Anki and AnkiMobile put
# nightMode on the body, AnkiDroid night_mode; the style also follows either class set on an ancestor.
MODES = {
    "light": ("", "card card1"),
    "nightMode": ("", "card card1 nightMode"),
    "night_mode": ("", "card card1 night_mode"),
    "night_mode-above": ("night_mode", "card card1"),
}
LIGHT_BG, NIGHT_BG = "rgb(255, 255, 255)", "rgb(30, 31, 34)"

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
</head><body class="card card1"><div id="qa">{card}</div></body></html>
"""

# One evaluation gathers every measurement of a rendered side. A "word" is a run of Latin letters
# and digits with the punctuation that holds a name or number together (ResNet-18, 1.8×10^9, 30.24%);
# it is broken if its characters land on more than one line.
MEASURE = """() => {
  const WORD = /[A-Za-z0-9](?:[A-Za-z0-9.,%×^_+\\-]*[A-Za-z0-9%])?/g;
  const CJK = /[\\u3400-\\u9fff\\uf900-\\ufaff]/g;
  const box = e => e.getBoundingClientRect();
  const inner = e => {
    const s = getComputedStyle(e);
    return e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  };
  const range = (node, start, end) => {
    const r = document.createRange(); r.setStart(node, start); r.setEnd(node, end); return r;
  };
  const lineCount = r => new Set([...r.getClientRects()].filter(q => q.width > 0).map(q => Math.round(q.top))).size;
  const textNodes = root => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT), nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    return nodes;
  };
  // Content inside a scroll box may reach past the screen; the box itself may not.
  const clips = e => getComputedStyle(e).overflowX !== 'visible';
  const unclipped = e => {
    for (let a = e.parentElement; a && a.id !== 'qa'; a = a.parentElement) if (clips(a)) return false;
    return true;
  };
  const scroller = e => ({scrollWidth: e.scrollWidth, clientWidth: e.clientWidth, right: box(e).right,
                          scrolls: ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)});
  const cells = [...document.querySelectorAll('#qa th, #qa td')].map(cell => {
    const broken = [];
    let cjk = 0, cjkWidth = 0;
    for (const node of textNodes(cell)) {
      for (const m of node.data.matchAll(WORD))
        if (lineCount(range(node, m.index, m.index + m[0].length)) > 1) broken.push(m[0]);
      for (const m of node.data.matchAll(CJK)) {
        cjk += 1;
        cjkWidth = Math.max(cjkWidth, box(range(node, m.index, m.index + 1)).width);
      }
    }
    return {text: cell.textContent.trim(), width: inner(cell), overflow: cell.scrollWidth - cell.clientWidth,
            broken, cjk, cjkWidth};
  });
  const cardWidths = new Map([...document.querySelectorAll('.fm-card')].map(c => [c, inner(c)]));
  return {
    viewport: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    background: getComputedStyle(document.body).backgroundColor,
    widest: Math.max(...[...document.querySelectorAll('#qa *')].filter(unclipped).map(e => box(e).right)),
    cells,
    tables: [...document.querySelectorAll('#qa table')].map(scroller),
    code: [...document.querySelectorAll('#qa pre')].map(scroller),
    formulas: [...document.querySelectorAll('#qa .fm-math-display')].map(scroller),
    images: [...document.querySelectorAll('#qa img')].map(img => ({
      natural: img.naturalWidth, width: box(img).width, right: box(img).right,
      card: cardWidths.get(img.closest('.fm-card')),
    })),
  };
}"""

# What MathJax 3 (CHTML output) puts in place of a display formula, with the style it gives it, here
# for a formula 1000 px wide, so that a typeset formula can be checked without loading MathJax.
TYPESET = """() => {
  const style = document.createElement('style');
  style.textContent = 'mjx-container[jax="CHTML"][display="true"] { display: block; text-align: center; margin: 1em 0; }'
    + ' mjx-math { display: inline-block; white-space: nowrap; width: 1000px; height: 2em; }';
  document.head.append(style);
  for (const formula of document.querySelectorAll('#qa .fm-math-display'))
    formula.innerHTML = '<mjx-container class="MathJax" jax="CHTML" display="true"><mjx-math></mjx-math></mjx-container>';
  let c = document.querySelector('#qa mjx-math');  // the box the reader scrolls: its nearest scrolling ancestor
  do c = c.parentElement; while (!['auto', 'scroll'].includes(getComputedStyle(c).overflowX) && c.id !== 'qa');
  return {pageWidth: document.documentElement.scrollWidth, box: c.tagName.toLowerCase(),
          scrollWidth: c.scrollWidth, clientWidth: c.clientWidth, right: c.getBoundingClientRect().right};
}"""


def png(width: int, height: int) -> bytes:
    """A one-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" + b"\x2f\x81\xb7" * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Side:
    """One side of one card as Anki renders it for the reviewer."""

    name: str  # "<question> (front)" or "(back)"
    html: str


@dataclass(frozen=True)
class Deck:
    media: Path
    sides: tuple[Side, ...]


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Deck:
    """The layout fixture built by flashmark, imported into a fresh collection, every card side rendered by Anki."""
    root = tmp_path_factory.mktemp("layout")
    content = root / "layout"
    shutil.copytree(FIXTURE, content)
    (content / "images").mkdir()
    (content / "images" / "flops.png").write_bytes(png(*IMAGE_SIZE))
    apkg = build(content, root / "out").output
    (root / "anki").mkdir()
    col = Collection(str(root / "anki" / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=ImportAnkiPackageOptions()))
        sides: list[Side] = []
        for card_id in sorted(col.find_cards("")):
            card = col.get_card(card_id)
            notetype = card.note_type()
            assert notetype is not None
            note = card.note()
            css, title = notetype["css"], note["Title" if "Title" in note else "Question"]
            for name, html in (("front", card.question()), ("back", card.answer())):
                assert html.startswith(f"<style>{css}</style>")  # the note type's CSS, as the reviewer gets it
                sides.append(Side(f"{title} ({name})", html))
        return Deck(media=Path(col.media.dir()), sides=tuple(sides))
    finally:
        col.close()


@pytest.fixture(scope="module")
def page(chromium_path: str) -> Iterator[Page]:
    with headless_chromium(chromium_path) as browser:
        yield new_page(browser)


def new_page(browser: Browser) -> Page:
    page = browser.new_page(viewport={"width": PHONE, "height": 844})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    return page


def show(page: Page, deck: Deck, side: Side) -> None:
    """Load one card side into the reviewer-shaped page, from the media folder so its images resolve."""
    reviewer = deck.media / "reviewer.html"
    reviewer.write_text(PAGE.format(card=side.html), encoding="utf-8")
    page.goto(reviewer.as_uri())


def switch(page: Page, width: int, mode: str) -> None:
    """Resize the screen and switch night mode on or off, as the apps do, without reloading the card."""
    if page.viewport_size != {"width": width, "height": 844}:
        page.set_viewport_size({"width": width, "height": 844})
    page.evaluate(
        "([html, body]) => { document.documentElement.className = html; document.body.className = body; }", MODES[mode]
    )


@pytest.fixture(scope="module")
def measured(page: Page, deck: Deck) -> dict[tuple[int, str], list[tuple[str, dict[str, Any]]]]:
    """Every side's measurements at each width and in each mode."""
    out: dict[tuple[int, str], list[tuple[str, dict[str, Any]]]] = {(w, m): [] for w in WIDTHS for m in MODES}
    for side in deck.sides:
        show(page, deck, side)
        for width, mode in out:
            switch(page, width, mode)
            out[width, mode].append((side.name, page.evaluate(MEASURE)))
    return out


CASES = [pytest.param(width, mode, id=f"{width}px-{mode}") for width in WIDTHS for mode in MODES]


def test_the_fixture_has_what_is_measured(deck: Deck) -> None:
    backs = [s.html for s in deck.sides if s.name.endswith("(back)")]
    assert len(backs) == 7  # two plain cards, a card and its reversed card, three cloze cards
    assert "<table>" in backs[0] and "<pre" in backs[0]
    assert 'class="fm-math fm-math-display ' in backs[1] and "<img " in backs[1]
    fronts = [s.html for s in deck.sides if s.name.endswith("(front)")]
    assert sum('class="fm-card fm-cloze-card' in f for f in fronts) == 3
    assert sum('class="fm-card fm-reverse' in f for f in fronts) == 1


@pytest.mark.parametrize(("width", "mode"), CASES)
def test_the_card_is_never_wider_than_the_screen(measured: dict[Any, Any], width: int, mode: str) -> None:
    for name, m in measured[width, mode]:
        assert m["viewport"] == width
        assert m["pageWidth"] <= width, name
        assert m["widest"] <= width, name


@pytest.mark.parametrize(("width", "mode"), CASES)
def test_table_cells_keep_words_whole_and_chinese_readable(measured: dict[Any, Any], width: int, mode: str) -> None:
    cells = [(name, cell) for name, m in measured[width, mode] for cell in m["cells"]]
    assert len(cells) == 6 * 6  # the one table: a header row and five rows of six columns
    for name, cell in cells:
        assert cell["broken"] == [], (name, cell["text"])
        assert cell["overflow"] <= 0, (name, cell["text"])
        if cell["cjk"]:  # at least three characters a line (fewer only if the cell has fewer)
            assert cell["width"] >= min(3, cell["cjk"]) * cell["cjkWidth"] - 0.5, (name, cell)


@pytest.mark.parametrize(("width", "mode"), CASES)
def test_a_wide_table_scrolls_on_a_phone_and_fits_on_a_desktop(measured: dict[Any, Any], width: int, mode: str) -> None:
    tables = [t for _, m in measured[width, mode] for t in m["tables"]]
    assert len(tables) == 1
    [table] = tables
    assert table["right"] <= width
    if width == PHONE:
        assert table["scrolls"] and table["scrollWidth"] > table["clientWidth"] + 50
    else:
        assert table["scrollWidth"] <= table["clientWidth"]


@pytest.mark.parametrize(("width", "mode"), CASES)
def test_long_code_and_display_math_scroll_inside_their_boxes(measured: dict[Any, Any], width: int, mode: str) -> None:
    boxes = [b for _, m in measured[width, mode] for b in m["code"] + m["formulas"]]
    assert len(boxes) == 2
    for b in boxes:
        assert b["scrolls"] and b["scrollWidth"] > b["clientWidth"] and b["right"] <= width


@pytest.mark.parametrize(("width", "mode"), CASES)
def test_images_shrink_to_the_card(measured: dict[Any, Any], width: int, mode: str) -> None:
    images = [i for _, m in measured[width, mode] for i in m["images"]]
    assert len(images) == 1
    [image] = images
    assert image["natural"] == IMAGE_SIZE[0]  # loaded from the collection's media folder
    assert 0 < image["width"] <= image["card"] + 0.5 and image["right"] <= width


@pytest.mark.parametrize(("width", "mode"), CASES)
def test_night_mode_reaches_the_card(measured: dict[Any, Any], width: int, mode: str) -> None:
    expected = LIGHT_BG if mode == "light" else NIGHT_BG
    assert {m["background"] for _, m in measured[width, mode]} == {expected}


@pytest.mark.parametrize("width", WIDTHS)
def test_a_typeset_formula_scrolls_instead_of_widening_the_card(page: Page, deck: Deck, width: int) -> None:
    [side] = [s for s in deck.sides if 'class="fm-math fm-math-display ' in s.html and s.name.endswith("(back)")]
    show(page, deck, side)
    switch(page, width, "light")
    typeset = page.evaluate(TYPESET)
    assert typeset["pageWidth"] <= width and typeset["right"] <= width
    assert typeset["box"] == "mjx-container" and typeset["scrollWidth"] > typeset["clientWidth"]
