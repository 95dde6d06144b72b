"""markdown-it rules for TeX delimiters: display math blocks (`$$…$$`, `\\[…\\]`) and `\\(…\\)`, `\\[…\\]` in text.

Display math ends where TeX would reject it anyway: it never runs past a blank line, a heading or
the start of a code fence or HTML block, so an unclosed `$$` cannot swallow the questions after it
or change where a fence begins and ends. Text after a closing delimiter on the
same line is kept. Every search for a closing delimiter is remembered, so parsing stays linear
in the length of the file whatever the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.fence import fence
from markdown_it.rules_block.heading import heading
from markdown_it.rules_block.html_block import html_block
from markdown_it.rules_inline import StateInline

INLINE = "math_inline"
INLINE_DISPLAY = "math_inline_double"
BLOCK = "math_block"
BLOCK_EQNO = "math_block_eqno"

_DELIMITERS = {"$$": "$$", "\\[": "\\]"}
_EQNO = re.compile(r"\s*\(([^)$\r\n]+)\)\s*")  # `\] (3)` after a display formula: its equation number


def _find(state: StateInline | StateBlock, needle: str, start: int) -> int:
    """`state.src.find(needle, start)`, remembering the last answer so repeated searches stay linear."""
    memo: dict[str, tuple[int, int]] = state.__dict__.setdefault("_fm_find", {})
    known = memo.get(needle)
    if known is not None and known[0] <= start and (known[1] < 0 or start <= known[1]):
        return known[1]
    found = state.src.find(needle, start)
    memo[needle] = (start, found)
    return found


def _inline_rule(opener: str, closer: str, kind: str) -> Callable[[StateInline, bool], bool]:
    def rule(state: StateInline, silent: bool) -> bool:
        pos = state.pos
        if not state.src.startswith(opener, pos):
            return False
        close = _find(state, closer, pos + len(opener) + 1)  # the formula holds at least one character
        if close < 0 or close + len(closer) > state.posMax:
            return False
        if not silent:
            token = state.push(kind, "math", 0)
            token.content = state.src[pos + len(opener) : close]
            token.markup = opener
        state.pos = close + len(closer)
        return True

    return rule


def _line(state: StateBlock, line: int) -> tuple[int, int]:
    return state.bMarks[line] + state.tShift[line], state.eMarks[line]


def _closing(rest: str, closer: str) -> tuple[int, str | None] | None:
    """Where `closer` ends the formula in the rest of a line, and its equation number; None if it does not."""
    if closer == "$$":
        stripped = rest.rstrip()
        return (len(stripped) - 2, None) if stripped.endswith("$$") else None
    at = rest.find(closer)
    if at < 0:
        return None
    tail = rest[at + len(closer) :]
    if not tail.strip():
        return at, None
    eqno = _EQNO.fullmatch(tail)
    return (at, eqno.group(1).strip()) if eqno is not None else None


def _interrupts(state: StateBlock, line: int, end_line: int) -> bool:
    """Whether a line starts a heading, a code fence or an HTML block: display math never swallows one."""
    return (
        heading(state, line, end_line, True)
        or fence(state, line, end_line, True)
        or html_block(state, line, end_line, True)
    )


def display_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """`$$…$$` or `\\[…\\]` starting a line: display math, on one line or several without blank lines."""
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    begin, end = _line(state, start_line)
    opener = state.src[begin : begin + 2]
    closer = _DELIMITERS.get(opener)
    if closer is None:
        return False
    first = state.src[begin + 2 : end]
    label: str | None = None
    close_line = start_line
    if closer in first:
        found = _closing(first, closer)
        if found is None or (closer != "$$" and found[0] == 0):
            return False  # text after the formula: leave the line to the paragraph (inline math keeps it all)
        close_at, label = begin + 2 + found[0], found[1]
    else:
        close_at = -1
        line = start_line + 1
        while line < end_line:
            lbegin, lend = _line(state, line)
            if lbegin >= lend or state.sCount[line] < state.blkIndent or _interrupts(state, line, end_line):
                return False  # the formula does not close before a blank line, an outdent, a heading or a fence
            text = state.src[lbegin:lend]
            if closer in text:
                found = _closing(text, closer)
                if found is not None:
                    close_at, label, close_line = lbegin + found[0], found[1], line
                    break
                if closer != "$$":
                    return False
            line += 1
        if close_at < 0:
            return False
    if silent:
        return True
    if close_line == start_line:
        content = state.src[begin + 2 : close_at]
    else:
        parts = [state.src[begin + 2 : state.eMarks[start_line]]]
        parts += [state.src[state.bMarks[n] : state.eMarks[n]] for n in range(start_line + 1, close_line)]
        parts.append(state.src[state.bMarks[close_line] : close_at])
        content = "\n".join(parts)
    token = state.push(BLOCK_EQNO if label else BLOCK, "math", 0)
    token.block = True
    token.content = content
    token.info = label or ""
    token.markup = opener
    token.map = [start_line, close_line + 1]
    state.line = close_line + 1
    return True


def math_delimiters_plugin(md: MarkdownIt) -> None:
    """Add display math blocks and `\\(…\\)`, `\\[…\\]` in text (use with dollarmath's block rule disabled)."""
    md.block.ruler.before("fence", "fm_display_math", display_block)
    md.inline.ruler.before("escape", "fm_paren_math", _inline_rule("\\(", "\\)", INLINE))
    md.inline.ruler.before("escape", "fm_bracket_math", _inline_rule("\\[", "\\]", INLINE_DISPLAY))
