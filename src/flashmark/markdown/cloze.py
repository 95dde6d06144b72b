"""Cloze markers (`{{c1::text}}`, `{{c1::text::hint}}`) in a question's tokens: found, checked, made safe.

Anki reads cloze markers in a field's HTML as plain text, with no idea of code or formulas. So, for
a note that is a cloze, before its tokens are rendered:

- markers in ordinary text may span several paragraphs; each must be closed, else Anki shows the
  note's other clozes as text too: an unclosed one gets a warning and a word joiner (`{⁠{c1::`), so
  Anki reads it as text;
- markers inside a formula must close inside it (Anki then blanks that part of the formula); a
  formula's own `}}` (`\\sqrt{\\frac{1}{2}}`) is written `} }`, which TeX reads the same, so it cannot
  end a cloze early;
- code shows braces as written: every `{{` and `}}` in it gets a word joiner, so no cloze starts or
  ends in code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markdown_it.token import Token

from flashmark.markdown.parser import DISPLAY_MATH, INLINE_MATH, copy_token

WORD_JOINER = "\u2060"
MARK = re.compile(r"\{\{c(\d+)::")
_TEXT_EVENT = re.compile(r"\{\{c(\d+)::|\}\}")
_DOUBLE = re.compile(r"(?<=\{)(?=\{)|(?<=\})(?=\})")
_COLONS = re.compile(r"(?<=:)(?=:)")
_CODE = ("code_inline",)
_BLOCK_CODE = ("fence", "code_block")

Warn = Callable[[int | None, str], None]


def _contents(tokens: Sequence[Token]) -> list[str]:
    texts: list[str] = []
    for token in tokens:
        if token.type == "inline":
            texts.extend(c.content for c in token.children or () if c.type == "text" or c.type in INLINE_MATH)
            texts.extend(c.content for c in token.children or () if c.type in DISPLAY_MATH)
        elif token.type in DISPLAY_MATH:
            texts.append(token.content)
    return texts


def has_cloze(tokens: Sequence[Token]) -> bool:
    """Whether text or formulas in these block tokens hold a cloze marker (code does not count)."""
    return any("{{c" in text and MARK.search(text) for text in _contents(tokens))


_SIMPLE_CLOZE = re.compile(r"\{\{c\d+::((?:(?!\{\{|\}\}|::).)*)(?:::(?:(?!\{\{|\}\}).)*)?\}\}", re.S)


def revealed(text: str) -> str:
    """Text with its clozes shown as their answers, hints dropped (`{{c1::三::次数}}` → 三), inner ones first."""
    for _ in range(8):  # nested clozes, from the inside out
        text, found = _SIMPLE_CLOZE.subn(r"\1", text)
        if not found:
            break
    return text


def _line(token: Token) -> int | None:
    return token.map[0] + 1 if token.map else None


def _marker_line(inline: Token, child: int, offset: int) -> int | None:
    """The line of a marker at `offset` in the text of an inline token's child: its paragraph's first line,
    plus the line breaks before it."""
    first = _line(inline)
    if first is None:
        return None
    children = inline.children or []
    breaks = sum(1 for c in children[:child] if c.type in ("softbreak", "hardbreak"))
    return first + breaks + children[child].content.count("\n", 0, offset)


def code_braces(text: str, in_cloze: bool = False) -> str:
    """Code with a word joiner inside every `{{` and `}}`: Anki reads no cloze there. In a cloze (`in_cloze`),
    also inside every `::`, which Anki would read as the start of the cloze's hint (`std::vector`)."""
    if "{{" in text or "}}" in text:
        text = _DOUBLE.sub(WORD_JOINER, text)
    if in_cloze and "::" in text:
        text = _COLONS.sub(WORD_JOINER, text)
    return text


def tex_clozes(tex: str) -> tuple[str, list[int], int]:
    """A formula made safe for clozes inside and around it: (TeX, its cloze numbers, how many were left open).

    A `}}` closes a cloze only where the formula's own braces opened inside that cloze are closed;
    any other pair of closing braces gets a space between them. An unclosed marker becomes `{ {c…`.
    """
    out: list[str] = []
    numbers: list[int] = []
    stack: list[tuple[int, int, int]] = []  # (index in out of the marker, its number, braces open inside it)
    i, n = 0, len(tex)
    while i < n:
        ch = tex[i]
        if ch == "{":
            m = MARK.match(tex, i)
            if m is not None:
                stack.append((len(out), int(m.group(1)), 0))
                out.append(m.group(0))
                i = m.end()
                continue
            if stack:
                stack[-1] = (*stack[-1][:2], stack[-1][2] + 1)
            out.append(ch)
        elif ch == "}":
            if stack and stack[-1][2] == 0 and tex.startswith("}}", i):
                numbers.append(stack.pop()[1])
                out.append(" }}" if out and out[-1].endswith("}") else "}}")
                i += 2
                continue
            if stack and stack[-1][2] > 0:
                stack[-1] = (*stack[-1][:2], stack[-1][2] - 1)
            out.append(" }" if out and out[-1].endswith("}") else "}")
        elif ch == "\\" and i + 1 < n:
            opens = MARK.match(tex, i + 1) is not None
            closes = stack and stack[-1][2] == 0 and tex.startswith("}}", i + 1)
            if opens or closes:  # Anki reads a cloze marker there, backslash or not
                out.append(ch)
                i += 1
                continue
            out.append(tex[i : i + 2])  # `\{` and `\}` are characters, not groups
            i += 2
            continue
        else:
            out.append(ch)
        i += 1
    for index, _, _ in stack:
        out[index] = "{ " + out[index][1:]
    return "".join(out), numbers, len(stack)


@dataclass(slots=True)
class _Scan:
    """The text-level markers of one body, in order: where each open marker is, and which are matched."""

    opens: list[tuple[int, int, int, int]] = field(default_factory=list)  # (token, child, offset, number)
    stack: list[int] = field(default_factory=list)  # indexes into opens
    closed: set[int] = field(default_factory=set)
    numbers: list[int] = field(default_factory=list)


def prepare(tokens: Sequence[Token], warn: Warn) -> tuple[list[Token], tuple[int, ...]]:
    """A cloze note's block tokens, ready to render, and the cloze numbers they hold (first seen first).

    Unclosed markers and cloze number 0 are reported through `warn(line, message)`.
    """
    out = list(tokens)
    scan = _Scan()
    math_open = 0
    zero_line: int | None = None
    for t, token in enumerate(out):
        if token.type in _BLOCK_CODE:
            out[t] = copy_token(token, content=code_braces(token.content, bool(scan.stack)))
        elif token.type in DISPLAY_MATH:
            tex, numbers, left = tex_clozes(token.content)
            scan.numbers.extend(numbers)
            if left:
                math_open += left
                warn(_line(token), "a cloze inside a formula is never closed (end it with }} inside the formula)")
            if 0 in numbers and zero_line is None:
                zero_line = _line(token)
            out[t] = copy_token(token, content=tex)
        elif token.type == "inline" and token.children:
            children = list(token.children)
            for c, child in enumerate(children):
                if child.type == "text" and ("{{" in child.content or "}}" in child.content):
                    for m in _TEXT_EVENT.finditer(child.content):
                        if m.group(1) is not None:
                            scan.stack.append(len(scan.opens))
                            scan.opens.append((t, c, m.start(), int(m.group(1))))
                        elif scan.stack:
                            scan.closed.add(scan.stack.pop())
                elif child.type in _CODE:
                    children[c] = copy_token(child, content=code_braces(child.content, bool(scan.stack)))
                elif child.type in INLINE_MATH or child.type in DISPLAY_MATH:
                    tex, numbers, left = tex_clozes(child.content)
                    scan.numbers.extend(numbers)
                    if left:
                        math_open += left
                        warn(
                            _line(token), "a cloze inside a formula is never closed (end it with }} inside the formula)"
                        )
                    if 0 in numbers and zero_line is None:
                        zero_line = _line(token)
                    children[c] = copy_token(child, content=tex)
            out[t] = copy_token(token, children=children)
    unclosed = [o for k, o in enumerate(scan.opens) if k not in scan.closed]
    for t, c, offset, _ in reversed(unclosed):  # from the end, so earlier offsets stay right
        inline = out[t]
        children = list(inline.children or [])
        text = children[c].content
        children[c] = copy_token(children[c], content=text[: offset + 1] + WORD_JOINER + text[offset + 1 :])
        out[t] = copy_token(inline, children=children)
    if unclosed:
        t, c, offset, number = unclosed[0]
        more = f" (and {len(unclosed) - 1} more)" if len(unclosed) > 1 else ""
        message = f"cloze {{{{c{number}:: is never closed{more}; end it with }}}} (shown as written)"
        warn(_marker_line(out[t], c, offset), message)
    closed_numbers = [n for k, (_, _, _, n) in enumerate(scan.opens) if k in scan.closed]
    if 0 in closed_numbers and zero_line is None:
        zero_line = next(_line(out[t]) for k, (t, _, _, n) in enumerate(scan.opens) if n == 0 and k in scan.closed)
    if zero_line is not None:
        warn(zero_line, "cloze number 0 makes no card; cloze numbers start at c1")
    return out, tuple(dict.fromkeys(n for n in (*closed_numbers, *scan.numbers) if n > 0))
