"""Card HTML that can do no harm: an allowlist of tags and attributes, and math that only flashmark arms.

Anki shows fields inside its reviewer, a web page with script. Two things can run code there: HTML
(scripts, event handlers, `javascript:` links) and MathJax, which typesets `\\(…\\)` and `\\[…\\]` and
has commands that write HTML. So every fragment passes `sanitize` (nh3's allowlist), and every field
passes `card_html`, which lets MathJax see only flashmark's own formulas:

- the note type's templates mark the whole card `mathjax_ignore` (`tex2jax_ignore` for MathJax 2),
  so MathJax skips text anywhere on it...
- ...except inside elements marked `mathjax_process`, which only `card_html` adds, and only to a
  formula span holding nothing but `\\(…\\)` or `\\[…\\]` whose TeX passes the allowlist in `texsafe`;
- the classes that steer MathJax are removed from everything a note writes itself (`allow_html`);
- a `\\(` or `\\[` left in ordinary text gets an invisible word joiner after its backslash, so no
  MathJax that ignored the classes could read a formula there either;
- Anki's own field tags (`[sound:…]`, `[latex]`, `[$]`, `[$$]`) written in a note are shown as text.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import nh3

from flashmark.markdown.texsafe import unsafe_commands

MATH_CLASS = "fm-math"
# MathJax 3's class names for "skip this" and "typeset this", and MathJax 2's (older Anki clients).
IGNORE_CLASSES = "mathjax_ignore tex2jax_ignore"
PROCESS_CLASSES = "mathjax_process tex2jax_process"
WORD_JOINER = "\u2060"
_MATHJAX_CLASSES = frozenset((IGNORE_CLASSES + " " + PROCESS_CLASSES).split())

# What may reach a card. Our own output only uses a subset; with `allow_html = true` the
# user's raw HTML is held to the same list, so scripts, event handlers, `javascript:` URLs,
# iframes, forms and external style sheets never get through.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
        "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt",
        "ruby", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"class", "title", "lang", "dir", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
}
ALLOWED_STYLE = frozenset(
    {"color", "background-color", "text-align", "font-weight", "font-style", "text-decoration", "vertical-align"}
)
URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})
_IMAGE_DATA = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")
# The only local file a card may point at: an image flashmark packed under its content-hash name.
_MEDIA_NAME = re.compile(r"fm-[0-9a-f]{16}(?:\.[a-z0-9]{1,5})?")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:", re.I)
_DOUBLE_BRACE = re.compile(r"(?<=\{)(?=\{)|(?<=\})(?=\})")
_URL_ATTRIBUTES = frozenset({"href", "src"})


def _no_cloze(attr: str, value: str) -> str:
    """An attribute value in which Anki finds no cloze marker: it would write its own tags into the value."""
    if "{{" not in value and "}}" not in value:
        return value
    if attr in _URL_ATTRIBUTES:
        return value.replace("{", "%7B").replace("}", "%7D")
    return _DOUBLE_BRACE.sub(WORD_JOINER, value)


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Drop what nh3's allowlist lets through but a card must not have.

    `data:` URLs only as inline raster images; links only to web and mail addresses (a relative link
    would open a file from Anki's media folder); local images only under flashmark's media names;
    no class that steers MathJax; no `{{`/`}}` for Anki's cloze reader to find.
    """
    value = _no_cloze(attr, value)
    if attr == "class":
        kept = [c for c in value.split() if c not in _MATHJAX_CLASSES]
        return " ".join(kept) or None
    plain = value.strip().lower()
    if plain.startswith("data:"):
        return value if tag == "img" and attr == "src" and plain.startswith(_IMAGE_DATA) else None
    if tag == "a" and attr == "href":
        return value if _SCHEME.match(plain) or plain.startswith("#") else None
    if tag == "img" and attr == "src":
        return value if _SCHEME.match(plain) or plain.startswith("//") or _MEDIA_NAME.fullmatch(value) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    filter_style_properties=set(ALLOWED_STYLE),
    attribute_filter=_attribute_filter,
    strip_comments=True,
)


def sanitize(html: str) -> str:
    """Reduce HTML to the card allowlist: no scripts, event handlers, `javascript:` URLs or MathJax classes."""
    return _CLEANER.clean(html)


# A formula span as flashmark writes it (and nh3 writes it back): only text inside, one pair of delimiters.
_FORMULA = re.compile(
    rf'<(span|div) class="{MATH_CLASS}( fm-math-display)?">(\\\((?:(?!\\\)).)*\\\)|\\\[(?:(?!\\\]).)*\\\])</\1>',
    re.S,
)
_OPENER = re.compile(r"\\(?=[(\[])")
_ANKI_TAG = re.compile(r"\[(?=(?:sound:|/?latex\]|/?\$\$?\]))", re.I)
_MATHJAX_SKIPS = frozenset({"pre", "code", "script", "style", "textarea"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


def _arm(m: re.Match[str]) -> str:
    body = m.group(3)
    if "<" in body or unsafe_commands(unescape(body)):
        return m.group(0)  # not flashmark's own formula, or TeX that could write HTML: MathJax leaves it alone
    return f'<{m.group(1)} class="{MATH_CLASS}{m.group(2) or ""} {PROCESS_CLASSES}">{body}</{m.group(1)}>'


class _TextRuns(HTMLParser):
    """The stretches of an HTML fragment's text outside <pre>, <code> and the armed formulas."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)
        self.starts = [0, *(m.end() for m in re.finditer("\n", html))]  # HTMLParser counts lines by \n alone
        self.skip: list[bool] = []
        self.runs: list[tuple[int, int]] = []
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        armed = any(name == "class" and value and "mathjax_process" in value.split() for name, value in attrs)
        self.skip.append(tag in _MATHJAX_SKIPS or armed)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            self.skip.pop()

    def handle_data(self, data: str) -> None:
        if not any(self.skip):
            start = self._offset()
            self.runs.append((start, start + len(data)))


def _disarm_text(html: str) -> str:
    """Put a word joiner after the backslash of every `\\(` and `\\[` in ordinary text (outside formulas and code)."""
    if not _OPENER.search(html):
        return html
    parts: list[str] = []
    done = 0
    for a, b in _TextRuns(html).runs:
        parts.append(html[done:a])
        parts.append(_OPENER.sub("\\\\" + WORD_JOINER, html[a:b]))
        done = b
    parts.append(html[done:])
    return "".join(parts)


def card_html(field: str) -> str:
    """A sanitised field made ready for Anki: flashmark's safe formulas armed for MathJax, nothing else."""
    if "\\" in field:
        field = _disarm_text(_FORMULA.sub(_arm, field))
    if "[" in field:
        field = _ANKI_TAG.sub("&#91;", field)
    return field
