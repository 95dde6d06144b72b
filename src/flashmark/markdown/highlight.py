"""Code blocks → HTML with Pygments CSS classes, and the light and dark palettes for those classes."""

from __future__ import annotations

from functools import lru_cache
from html import escape

from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound

CODE_CLASS = "fm-code"
HIGHLIGHT_CLASS = "fm-hl"
LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"
# Anki desktop and AnkiMobile mark dark mode with `.nightMode`, AnkiDroid with `.night_mode`.
DARK_SCOPES = (".nightMode", ".night_mode")


@lru_cache(maxsize=256)
def _lexer(lang: str) -> Lexer | None:
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


_FORMATTER = HtmlFormatter(nowrap=True)


def code_block(code: str, lang: str) -> str:
    """A fenced block as `<pre><code>`: highlighted when Pygments knows `lang`, else escaped as is."""
    lexer = _lexer(lang.lower()) if lang else None
    lang_class = f' class="language-{escape(lang)}"' if lang else ""
    if lexer is None:
        return f'<pre class="{CODE_CLASS}"><code{lang_class}>{escape(code, quote=False)}</code></pre>\n'
    body = pygments_highlight(code, lexer, _FORMATTER)
    return f'<pre class="{CODE_CLASS} {HIGHLIGHT_CLASS}"><code{lang_class}>{body}</code></pre>\n'


_RESET = {
    "color": "inherit",
    "font-weight": "inherit",
    "font-style": "inherit",
    "text-decoration": "none",
    "background-color": "transparent",
}


def _properties(style_name: str, ttype: _TokenType) -> dict[str, str]:
    """The CSS properties Pygments' style sets for one token type (inherited ones included)."""
    info = get_style_by_name(style_name).style_for_token(ttype)
    props: dict[str, str] = {}
    if info["color"]:
        props["color"] = f"#{info['color']}"
    if info["bold"]:
        props["font-weight"] = "bold"
    if info["italic"]:
        props["font-style"] = "italic"
    if info["underline"]:
        props["text-decoration"] = "underline"
    if info["bgcolor"]:
        props["background-color"] = f"#{info['bgcolor']}"
    return props


def _rule(selectors: list[str], props: dict[str, str]) -> str:
    return f"{', '.join(selectors)} {{ {'; '.join(f'{k}: {v}' for k, v in props.items())} }}"


@lru_cache(maxsize=1)
def palette_css() -> str:
    """CSS for the token classes `code_block` emits: a light palette, and a dark one under `.nightMode`."""
    light: list[str] = []
    dark: list[str] = []
    for ttype, cls in sorted(STANDARD_TYPES.items(), key=lambda item: item[1]):
        if not cls:
            continue
        day, night = _properties(LIGHT_STYLE, ttype), _properties(DARK_STYLE, ttype)
        if day:
            light.append(_rule([f".{HIGHLIGHT_CLASS} .{cls}"], day))
        # Dark mode must also undo whatever the light palette set for this class.
        night = {**{k: _RESET[k] for k in day if k not in night}, **night}
        if night:
            dark.append(_rule([f"{scope} .{HIGHLIGHT_CLASS} .{cls}" for scope in DARK_SCOPES], night))
    header = f"/* Code highlighting: Pygments '{LIGHT_STYLE}' (light) and '{DARK_STYLE}' (dark). */"
    return "\n".join([header, *light, *dark]) + "\n"
