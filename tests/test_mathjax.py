"""Every card of the security corpus, as Anki renders it, typeset by Anki's own MathJax in headless Chromium:
no `javascript:` link, no event handler, nothing covering the card.

MathJax and its settings come from Anki's reviewer files (`make anki-mathjax`, tools/fetch_anki_mathjax.py).
The page mimics Anki's reviewer: the card's HTML in `#qa` inside `body.card`, then
`MathJax.typesetPromise([qa])`, as reviewer.js does.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from anki.collection import Collection
from playwright.sync_api import Browser, Page

from ankitools import import_apkg
from browser import headless_chromium
from fetch_anki_mathjax import is_complete, target_dir
from flashmark.anki.notetype import card_labels
from flashmark.build import build
from security_corpus import PAYLOADS, write_corpus

# What must never be in a typeset card: checked in the page after MathJax ran.
CHECK = """() => {
  const bad = [];
  const danger = /^\\s*(javascript|vbscript|livescript|data):/i;
  for (const card of document.querySelectorAll('.probe')) {
    for (const el of card.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        const value = attr.value.replace(/[\\u0000-\\u0020]/g, '');
        if (name.startsWith('on')) bad.push([card.id, `${name}= on <${el.localName}>`]);
        if (['href', 'xlink:href', 'src', 'action', 'formaction'].includes(name) && danger.test(value)
            && !(el.localName === 'img' && /^data:image\\/(png|jpeg|gif|webp)/i.test(value))) {
          bad.push([card.id, `${name}=${attr.value.slice(0, 60)} on <${el.localName}>`]);
        }
      }
      const style = getComputedStyle(el);
      if (style.position === 'fixed') bad.push([card.id, `position: fixed on <${el.localName}>`]);
      if (el.closest('a') && el.localName !== 'img') {
        const box = el.getBoundingClientRect();
        if (box.width * box.height > 0.25 * innerWidth * innerHeight) bad.push([card.id, `a link covers the card`]);
      }
    }
  }
  return bad;
}"""


def _mathjax_dir() -> Path:
    folder = target_dir(metadata.version("anki"))
    if is_complete(folder):
        return folder
    message = f"Anki's MathJax is not in {folder}: run `make anki-mathjax` (it downloads Anki's aqt wheel)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: the MathJax tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def reviewer(chromium_path: str) -> Iterator[tuple[Browser, Path]]:
    folder = _mathjax_dir()
    with headless_chromium(chromium_path) as browser:
        yield browser, folder


_PAGES = iter(range(1_000_000))


def _page(browser: Browser, folder: Path, cards: list[tuple[str, str]], night: bool = False) -> Page:
    """A reviewer-like page holding each card in its own `#qa`-like box, typeset by Anki's MathJax."""
    config = (
        (folder / "mathjax.js")
        .read_text(encoding="utf-8")
        .replace('"/_anki/js/vendor/mathjax"', json.dumps((folder / "vendor" / "mathjax").as_uri()))
    )
    boxes = "".join(f'<div class="probe" id="{cid}">{html}</div>' for cid, html in cards)
    page = browser.new_page(viewport={"width": 800, "height": 900})
    page.on("dialog", lambda dialog: dialog.dismiss())
    probe = Path(tempfile.gettempdir()) / f"flashmark-probe-{os.getpid()}-{next(_PAGES)}.html"
    probe.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><script>{config}</script>'
        f'<script src="{(folder / "vendor" / "mathjax" / "tex-chtml-full.js").as_uri()}"></script></head>'
        f'<body class="card{" nightMode" if night else ""}">{boxes}</body></html>',
        encoding="utf-8",
    )
    page.goto(probe.as_uri())
    probe.unlink()
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate(
        "async () => { await MathJax.startup.promise; MathJax.typesetClear();"
        " await MathJax.typesetPromise([...document.querySelectorAll('.probe')]); }"
    )
    return page


def _cards(apkg: Path, collection: Path) -> list[tuple[str, str]]:
    """Every card's front and back HTML as Anki renders them (`card.question()`, `card.answer()`)."""
    import_apkg(apkg, collection)
    col = Collection(str(collection))
    try:
        out = []
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            out += [(f"q{cid}", card.question()), (f"a{cid}", card.answer())]
        return out
    finally:
        col.close()


def test_the_probe_sees_what_mathjax_makes_of_unchecked_tex(reviewer: tuple[Browser, Path]) -> None:
    """A formula flashmark would refuse, armed by hand: MathJax really runs, and the check catches its link."""
    browser, folder = reviewer
    armed = '<span class="mathjax_process">\\(\\href{javascript:alert(1)}{x}\\)</span>'
    cover = '<span class="mathjax_process">\\(\\style{position:fixed;inset:0}{x}\\)</span>'
    safe = '<span class="fm-math mathjax_process">\\(\\frac{a}{b}\\)</span>'
    page = _page(browser, folder, [("armed", armed), ("cover", cover), ("safe", safe)])
    found = {cid for cid, _ in page.evaluate(CHECK)}
    assert found == {"armed", "cover"}
    assert page.locator("#safe mjx-container").count() == 1
    page.close()


@pytest.mark.parametrize("allow_html", [False, True], ids=["html-escaped", "allow-html"])
def test_no_card_of_the_security_corpus_runs_script_under_anki_mathjax(
    reviewer: tuple[Browser, Path], tmp_path: Path, allow_html: bool
) -> None:
    browser, folder = reviewer
    content = write_corpus(tmp_path / "notes")
    result = build(content, tmp_path / "out", allow_html=allow_html, lock=False)
    cards = _cards(result.output, tmp_path / "collection.anki2")
    assert len(cards) == 2 * sum(len(card_labels(rn)) for rn in result.notes)
    page = _page(browser, folder, cards)
    assert page.evaluate(CHECK) == []
    # MathJax did typeset flashmark's own formulas: the corpus puts $x$ and $y$ around every payload.
    assert page.locator(".probe mjx-container").count() >= 2 * len(PAYLOADS)
    page.close()


def test_the_note_type_keeps_mathjax_out_of_everything_but_armed_formulas(
    reviewer: tuple[Browser, Path], tmp_path: Path
) -> None:
    """Text that reached a field with an opener intact (as no build lets it) is still not typeset on the card."""
    browser, folder = reviewer
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text("# 主题\n\n## PLACEHOLDER $x^2$\n\n答案 $y$。\n", encoding="utf-8")
    (_, front), (_, back) = _cards(build(content, tmp_path / "out").output, tmp_path / "collection.anki2")
    raw = "\\(\\href{javascript:alert(1)}{click}\\)"
    assert "mathjax_ignore" in front and "mathjax_ignore" in back
    cards = [("front", front.replace("PLACEHOLDER", raw)), ("back", back.replace("PLACEHOLDER", raw))]
    unguarded = [
        (f"bare-{cid}", html.replace("mathjax_ignore", "").replace("tex2jax_ignore", "")) for cid, html in cards
    ]
    page = _page(browser, folder, cards + unguarded)
    assert {cid for cid, _ in page.evaluate(CHECK)} == {"bare-front", "bare-back"}
    assert page.locator("#front mjx-container").count() == 1  # $x^2$, armed by flashmark
    assert page.locator("#back mjx-container").count() == 2  # the front again ($x^2$), and the answer ($y$)
    page.close()
