"""Cloze text as Anki reads it: which cards a cloze field makes, and each card's front and back (for the preview).

Anki's rules, as its backend applies them: `{{cN::` opens a cloze (N in digits, `c` lower case), `}}`
closes the innermost open one, a `}}` with none open is text, and a cloze never closed is dropped
with everything after it (so flashmark never lets one through: see markdown/cloze.py). The hint is what follows the first `::` in the cloze's own
text. Cloze number 0 makes no card. Inside a formula (`\\(…\\)`, `\\[…\\]`) the cloze shows bare:
`[...]` on the front, its text on the back, so MathJax typesets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

_TOKEN = re.compile(r"\{\{c(\d+)::|\}\}")
_MATH_EDGE = re.compile(r"\\[()\[\]]")


@dataclass(slots=True)
class _Cloze:
    number: int
    parts: list[str | _Cloze] = field(default_factory=list)
    hint: str | None = None
    in_math: bool = False


def parse(text: str) -> list[str | _Cloze]:
    """Text and clozes, nested as Anki nests them."""
    root: list[str | _Cloze] = []
    stack: list[_Cloze] = []
    in_math = False
    pos = 0

    def add_text(chunk: str) -> None:
        nonlocal in_math
        if stack and stack[-1].hint is None and "::" in chunk:  # the hint: shown on the front, never typeset
            chunk, stack[-1].hint = chunk.split("::", 1)
        for m in _MATH_EDGE.finditer(chunk):
            in_math = m.group(0) in ("\\(", "\\[")
        if chunk:
            (stack[-1].parts if stack else root).append(chunk)

    for m in _TOKEN.finditer(text):
        add_text(text[pos : m.start()])
        pos = m.end()
        if m.group(1) is not None:
            stack.append(_Cloze(int(m.group(1)), in_math=in_math))
        elif stack:
            cloze = stack.pop()
            (stack[-1].parts if stack else root).append(cloze)
        else:
            add_text(m.group(0))
    add_text(text[pos:])
    return root  # a cloze still open here is dropped, with all it holds


def _numbers(nodes: list[str | _Cloze]) -> set[int]:
    found: set[int] = set()
    for node in nodes:
        if isinstance(node, _Cloze):
            found.add(node.number)
            found |= _numbers(node.parts)
    return found


def card_ords(text: str) -> list[int]:
    """The card ordinals a cloze field makes (c1 → 0), as Anki generates them; [0] when it holds none."""
    ords = sorted(n - 1 for n in _numbers(parse(text)) if n > 0)
    return ords or [0]


def _render(nodes: list[str | _Cloze], number: int, question: bool) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        inner = _render(node.parts, number, question)
        if node.number != number:
            out.append(
                inner if node.in_math else f'<span class="cloze-inactive" data-ordinal="{node.number}">{inner}</span>'
            )
        elif node.in_math:
            out.append(f"[{'...' if node.hint is None else node.hint}]" if question else inner)
        elif question:
            shown = f"[{'...' if node.hint is None else node.hint}]"
            out.append(f'<span class="cloze" data-cloze="{escape(inner)}" data-ordinal="{node.number}">{shown}</span>')
        else:
            out.append(f'<span class="cloze" data-ordinal="{node.number}">{inner}</span>')
    return "".join(out)


def render(text: str, ordinal: int, question: bool) -> str:
    """The field as `{{cloze:Text}}` shows it on card `ordinal` (0 for c1): front (`question`) or back."""
    return _render(parse(text), ordinal + 1, question)
