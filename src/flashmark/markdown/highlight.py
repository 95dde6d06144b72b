"""Code blocks → HTML with Pygments CSS classes, and the light and dark palettes for those classes."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
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

# Some Pygments lexers backtrack badly on odd input (C: a line of 10,000 spaces takes 11 s), so
# highlighting is bounded: big blocks are shown plain, and each block gets a time limit, enforced
# by a timer signal where there is one (the main thread; worker processes parse in theirs).
MAX_HIGHLIGHT_BYTES = 64 * 1024
BLOCK_SECONDS = 1.0
FILE_SECONDS = 3.0
MAX_LINE_WITHOUT_TIMER = 400  # off the main thread nothing can stop a lexer: lines this long are not highlighted


class _TooSlow(Exception):
    """Raised by the timer signal inside a lexer that ran out of time."""


@dataclass(slots=True)
class Budget:
    """The highlighting time one file may spend, and the blocks shown plain because of it."""

    seconds: float = FILE_SECONDS
    plain: list[int | None] = field(default_factory=list)  # lines of the blocks left unhighlighted


def _timer_usable() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0  # someone else's timer is running: leave it alone
    )


def _on_timer(signum: int, frame: object) -> None:
    raise _TooSlow


def _bounded(code: str, lexer: Lexer, budget: Budget | None) -> str | None:
    """Highlighted HTML, or None when the block is too big or took too long (the budget records it)."""
    if budget is None:
        return pygments_highlight(code, lexer, _FORMATTER)
    if len(code.encode()) > MAX_HIGHLIGHT_BYTES or budget.seconds <= 0:
        return None
    if not _timer_usable():
        if any(len(line) > MAX_LINE_WITHOUT_TIMER for line in code.split("\n")):
            return None
        return pygments_highlight(code, lexer, _FORMATTER)
    limit = min(BLOCK_SECONDS, budget.seconds)
    started = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _on_timer)
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return pygments_highlight(code, lexer, _FORMATTER)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _TooSlow:
        return None
    finally:
        signal.signal(signal.SIGALRM, previous)
        budget.seconds -= time.perf_counter() - started


def code_block(code: str, lang: str, budget: Budget | None = None, line: int | None = None) -> str:
    """A fenced block as `<pre><code>`: highlighted when Pygments knows `lang` (within `budget`), else as is."""
    lexer = _lexer(lang.lower()) if lang else None
    lang_class = f' class="language-{escape(lang)}"' if lang else ""
    body = _bounded(code, lexer, budget) if lexer is not None else None
    if body is None:
        if lexer is not None and budget is not None:
            budget.plain.append(line)
        return f'<pre class="{CODE_CLASS}"><code{lang_class}>{escape(code, quote=False)}</code></pre>\n'
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
