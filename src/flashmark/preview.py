"""[RenderedNote] → one self-contained HTML page showing every card's front and back, for checking before import."""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape, unescape
from pathlib import Path
from typing import Any

from latex2mathml.converter import convert as tex_to_mathml

from flashmark.anki import cloze
from flashmark.anki.notetype import KINDS, card_css, card_labels, kind_label, template_text
from flashmark.anki.package import package_media
from flashmark.build import CACHE_DIR, deck_name, load_corpus
from flashmark.config import load_config
from flashmark.errors import SourceError
from flashmark.markdown.sanitize import PROCESS_CLASSES
from flashmark.outputs import atomic_write
from flashmark.render import render_notes
from flashmark.types import MediaFile, Notice, RenderedNote, Skipped

DEFAULT_OUTPUT = Path("build/preview.html")

_SECTION = re.compile(r"\{\{([#^])([^{}]+)\}\}(.*?)\{\{/\2\}\}", re.S)
_FIELD = re.compile(r"\{\{([^#^/{}][^{}]*)\}\}")
# Anki treats a field holding only whitespace, <br> and empty <div>s as empty.
_EMPTY_FIELD = re.compile(r"^(?:\s|&nbsp;|</?(?:br|div)\s*/?>)*$", re.I)
_MATH = re.compile(
    rf'<(span|div) class="fm-math(?: fm-math-display)? {PROCESS_CLASSES}">\\([(\[])(.*?)\\[)\]]</\1>', re.S
)
_MEDIA_SRC = re.compile(r'src="(fm-[0-9a-f]{16}(?:\.[a-z0-9]{1,5})?)"')
_TAGS = re.compile(r"<[^>]*>")

MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"
MATHML_TAGS = frozenset(
    {
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "msub",
        "msup",
        "msubsup",
        "mfrac",
        "msqrt",
        "mroot",
        "mstyle",
        "mtable",
        "mtr",
        "mtd",
        "mover",
        "munder",
        "munderover",
        "mpadded",
        "mphantom",
        "menclose",
        "merror",
        "mmultiscripts",
        "mprescripts",
        "none",
        "mlabeledtr",
        "semantics",
    }
)
MATHML_ATTRIBUTES = frozenset(
    {
        "display",
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "width",
        "height",
        "depth",
        "linethickness",
        "displaystyle",
        "scriptlevel",
        "columnalign",
        "rowalign",
        "columnspacing",
        "rowspacing",
        "columnlines",
        "rowlines",
        "frame",
        "notation",
        "accent",
        "accentunder",
        "movablelimits",
        "minsize",
        "maxsize",
        "symmetric",
        "largeop",
        "form",
        "columnspan",
        "rowspan",
        "mathsize",
        "voffset",
    }
)


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """What a preview run read and wrote."""

    deck: str
    output: Path
    notes: int
    skipped: tuple[Skipped, ...]
    notices: tuple[Notice, ...]
    cards: int = 0  # one per cloze number and per reversed card


def _is_empty(value: str) -> bool:
    return _EMPTY_FIELD.match(value) is not None


def render_template(
    template: str, fields: Mapping[str, str], front_side: str = "", *, ordinal: int = 0, question: bool = True
) -> str:
    """Fill a card template the way Anki does, for the syntax our templates use.

    Supports `{{Field}}`, `{{#Field}}…{{/Field}}`, `{{^Field}}…{{/Field}}`, `{{FrontSide}}` and
    `{{cloze:Field}}` (card `ordinal`, its front when `question`).
    """

    def value(name: str) -> str:
        name = name.strip()
        if name == "FrontSide":
            return front_side
        if name.startswith("cloze:"):
            return cloze.render(value(name[len("cloze:") :]), ordinal, question)
        if name not in fields:
            raise KeyError(f"template uses unknown field {{{{{name}}}}}")
        return fields[name]

    def section(m: re.Match[str]) -> str:
        shown = not _is_empty(value(m.group(2)))
        if m.group(1) == "^":
            shown = not shown
        return _SECTION.sub(section, m.group(3)) if shown else ""

    return _FIELD.sub(lambda m: value(m.group(1)), _SECTION.sub(section, template))


def _serialise_mathml(element: ET.Element) -> str:
    """Write back a parsed MathML tree, keeping only MathML elements and presentation attributes."""
    tag = element.tag.removeprefix(MATHML_NS)
    if tag not in MATHML_TAGS:
        raise ValueError(f"unexpected element {tag!r} in MathML")
    attrs = "".join(
        f' {name}="{escape(val)}"' for name, val in sorted(element.attrib.items()) if name in MATHML_ATTRIBUTES
    )
    if tag == "math":
        attrs = ' xmlns="http://www.w3.org/1998/Math/MathML"' + attrs
    inner = escape(element.text or "", quote=False) + "".join(_serialise_mathml(child) for child in element)
    return f"<{tag}{attrs}>{inner}</{tag}>" + escape(element.tail or "", quote=False)


def math_preview(tex: str, display: bool) -> str:
    """TeX as MathML (browsers draw it without scripts), or the TeX source if it cannot be converted."""
    try:
        mathml = tex_to_mathml(tex, display="block" if display else "inline")
        return _serialise_mathml(ET.fromstring(mathml))
    except Exception:  # noqa: BLE001 - any TeX the converter cannot handle is shown as source
        delimiters = ("\\[", "\\]") if display else ("\\(", "\\)")
        return f'<code class="fm-tex">{escape(delimiters[0] + tex + delimiters[1], quote=False)}</code>'


def _with_math(html: str) -> str:
    def convert(m: re.Match[str]) -> str:
        display = m.group(2) == "["
        css = "fm-math fm-math-display" if display else "fm-math"
        return f'<{m.group(1)} class="{css}">{math_preview(unescape(m.group(3)), display)}</{m.group(1)}>'

    return _MATH.sub(convert, html)


_INDENT = "\u00a0\u00a0"
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"), (b"RIFF", "image/webp"))


def _data_uri(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read image: {exc.strerror}", path) from None
    mime = mimetypes.guess_type(path)[0] or next((m for magic, m in _MAGIC if data.startswith(magic)), "image/png")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _with_images(html: str, uris: Mapping[str, str]) -> str:
    return _MEDIA_SRC.sub(lambda m: f'src="{uris[m.group(1)]}"' if m.group(1) in uris else m.group(0), html)


def card_sides(rn: RenderedNote, uris: Mapping[str, str], card: int = 0) -> tuple[str, str]:
    """The front and back of one of a note's cards as Anki would show them (math drawn as MathML, images inlined).

    `card` is the card's ordinal: its template for Q&A notes, its cloze number less one for cloze notes.
    """
    kind = KINDS[rn.notetype]
    fields = dict(zip(kind.fields, rn.fields))
    _, front_file, back_file = kind.templates[0 if kind.cloze else card]
    front = render_template(template_text(front_file), fields, ordinal=card, question=True)
    back = render_template(template_text(back_file), fields, front_side=front, ordinal=card, question=False)
    return _with_images(_with_math(front), uris), _with_images(_with_math(back), uris)


def _tag_options(tags: Iterable[str]) -> list[str]:
    """Every tag and every parent level of a hierarchical tag, once regardless of case (as in Anki), sorted."""
    options: dict[str, str] = {}
    for tag in tags:
        parts = tag.split("::")
        for i in range(len(parts)):
            level = "::".join(parts[: i + 1])
            options.setdefault(level.casefold(), level)
    return sorted(options.values(), key=lambda t: t.casefold())


def _card_data(rn: RenderedNote) -> list[dict[str, Any]]:
    """Each of a note's cards for the page's data: where it is, its kind, tags, two sides and text for searching."""
    cards = []
    kind = kind_label(rn.note.kind, rn.note.reverse)
    for ordinal, label in card_labels(rn):
        front, back = card_sides(rn, {}, ordinal)
        cards.append(
            {
                "deck": rn.deck,
                "tags": list(rn.tags),
                "src": " ".join(rn.note.sources),
                "kind": kind,
                "card": label,
                "front": front,
                "back": back,
                "text": unescape(_TAGS.sub(" ", back)).lower(),
            }
        )
    return cards


def _script_json(data: Any) -> str:
    """JSON to put inside a <script> element: nothing in it can close the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def preview_html(notes: Sequence[RenderedNote], title: str, media: Sequence[MediaFile] | None = None) -> str:
    """One HTML page with every note's card, a tag filter, a search box and a light/dark switch.

    The cards travel as data and are drawn a batch at a time as the page scrolls, so a deck of
    30,000 notes opens as quickly as one of thirty; each picture is in the page once.
    """
    files = package_media(notes) if media is None else list(media)
    cards = [card for rn in notes for card in _card_data(rn)]
    data = {"media": {m.name: _data_uri(m.path) for m in files}, "cards": cards}
    script = template_text("preview.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"
    tag_options = "".join(
        f'<option value="{escape(t)}">{_INDENT * t.count("::")}{escape(t.rsplit("::", 1)[-1])}</option>'
        for t in _tag_options(t for rn in notes for t in rn.tags)
    )
    count = len(cards)
    return f"""<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{escape(title)} · flashmark preview</title>
<style>
{card_css()}
</style>
<style>
{template_text("preview.css")}
</style>
</head>
<body class="pv-body">
<header class="pv-bar">
<h1 class="pv-title">{escape(title)}</h1>
<div class="pv-controls">
<input id="pv-search" type="search" placeholder="Search cards…" aria-label="Search cards">
<select id="pv-tag" aria-label="Filter by tag"><option value="">All tags</option>{tag_options}</select>
<button id="pv-theme" type="button" aria-pressed="false">Dark</button>
<span class="pv-count"><span id="pv-shown">{count}</span> of {count} cards</span>
</div>
</header>
<main id="pv-notes"></main>
<p id="pv-none" class="pv-none" hidden>No cards match.</p>
<div id="pv-more" class="pv-more" aria-hidden="true"></div>
<footer class="pv-foot">Offline preview: math is drawn by the browser (MathML) where Anki uses MathJax; remote images are not loaded.</footer>
<script type="application/json" id="pv-data">{_script_json(data)}</script>
<script>{script}</script>
</body>
</html>
"""


def preview_file(output: Path) -> Path:
    """The page to write: `output` when it ends in .html, else `preview.html` in the folder `output`."""
    return output if output.suffix.lower() in (".html", ".htm") else output / "preview.html"


def write_preview(
    content_dir: Path,
    output: Path = DEFAULT_OUTPUT,
    deck: str | None = None,
    *,
    exclude: tuple[str, ...] = (),
    allow_html: bool | None = None,
) -> PreviewResult:
    """Read, parse, merge and render `content_dir`, and write its preview page to `output` (a file or a folder).

    Files parsed by earlier builds into the same folder come from its parse cache (`.cache`).
    """
    target = preview_file(output)
    config = load_config(content_dir).override(deck=deck, exclude=exclude, allow_html=allow_html)
    corpus = load_corpus(content_dir, config, cache_dir=target.parent / CACHE_DIR)
    root = deck_name(content_dir, config)
    rendered = render_notes(corpus.merge.notes, root)
    page = preview_html(rendered, root)

    def write(tmp: Path) -> None:
        tmp.write_text(page, encoding="utf-8")

    atomic_write(target, write)
    cards = sum(len(card_labels(rn)) for rn in rendered)
    return PreviewResult(
        deck=root, output=target, notes=len(rendered), skipped=corpus.skipped, notices=corpus.notices, cards=cards
    )
