"""A markdown-it block rule for `<details><summary>Answer</summary> … </details>`: an answer folded away.

Interview collections on GitHub fold each answer into a `<details>` element whose body is Markdown:

    <details><summary><b>答案</b></summary>
    <p>

    #### 答案：D

    The explanation…

    </p>
    </details>

The rule reads that shape whether raw HTML is allowed or escaped: the summary (its tags and emphasis
dropped) becomes the token's `meta["summary"]`, the lines in between are parsed as Markdown, and lines
that hold nothing but wrapper tags (`<p>`, `</p>`, `<div>`, `<br>`) are read as blank lines. A
`<details>` that is never closed is left to the other rules.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

OPEN, CLOSE = "details_open", "details_close"
# Regexes on one line's text at a time (the rule's own line), never on the document.
_OPENER = re.compile(r"<details(?:\s[^<>]*)?>", re.I)
_SUMMARY = re.compile(r"\s*<summary(?:\s[^<>]*)?>(.*?)</summary>", re.I)
_SUMMARY_START = re.compile(r"\s*<summary(?:\s[^<>]*)?>", re.I)
_CLOSER = re.compile(r"</details\s*>", re.I)
_WRAPPER = re.compile(r"\s*(?:</?(?:p|div|br|span)(?:\s[^<>]*)?/?>\s*)*", re.I)
_TAG = re.compile(r"<[^<>]*>")
MAX_SUMMARY = 200


def _matching_closers(state: StateBlock) -> dict[int, int]:
    """For each `<details>` line of the document, the line of the `</details>` that closes it (nested ones
    matched inside out), worked out once per document: a file of folds never closed stays linear."""
    found: dict[int, int] | None = state.env.get("fm_details_matches")
    if found is None:
        found = {}
        open_lines: list[int] = []
        for line in range(len(state.bMarks) - 1):
            text = _line_text(state, line)
            if "details" not in text:
                continue
            opened = _OPENER.match(text)
            if opened is not None:
                rest = text[opened.end() :]
                summary = _SUMMARY.match(rest)
                if not _closes(rest[summary.end() :] if summary is not None else rest):
                    open_lines.append(line)
            elif _closes(text) and open_lines:
                found[open_lines.pop()] = line
        state.env["fm_details_matches"] = found
    return found


def _line_text(state: StateBlock, line: int) -> str:
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def summary_text(raw: str) -> str:
    """A summary's words: tags, emphasis marks and spaces around them dropped."""
    return " ".join(_TAG.sub(" ", raw).replace("**", " ").replace("__", " ").split())[:MAX_SUMMARY]


def _wrapper_only(text: str) -> bool:
    m = _WRAPPER.fullmatch(text)
    return m is not None


def _closes(text: str) -> bool:
    """Whether a line is `</details>`, give or take wrapper tags around it."""
    m = _CLOSER.search(text)
    return m is not None and _wrapper_only(text[: m.start()]) and _wrapper_only(text[m.end() :])


def _blank(state: StateBlock, line: int) -> None:
    """Make a line read as empty to the rules that parse the body."""
    state.bMarks[line] = state.eMarks[line]
    state.tShift[line] = 0
    state.sCount[line] = 0


def details_rule(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`<details>` … `</details>` on lines of their own: a details block whose body is Markdown."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    first = _line_text(state, start)
    opened = _OPENER.match(first)
    if opened is None:
        return False
    rest = first[opened.end() :]
    summary: str | None = None
    body = start + 1
    found = _SUMMARY.match(rest)
    if found is not None:
        summary, rest = summary_text(found.group(1)), rest[found.end() :]
    elif _SUMMARY_START.match(rest):
        return False  # a summary running over several lines: not a shape this rule reads
    if _closes(rest):  # `<details><summary>…</summary></details>`: nothing inside
        close = start
    else:
        if not _wrapper_only(rest):
            return False  # text after the opening tag on its line: leave it to the other rules
        if summary is None:  # the summary on the next non-blank line
            while body < end and state.isEmpty(body):
                body += 1
            if body < end:
                found = _SUMMARY.match(_line_text(state, body))
                if found is not None and _wrapper_only(_line_text(state, body)[found.end() :]):
                    summary = summary_text(found.group(1))
                    body += 1
                else:
                    body = start + 1
        close = _matching_closers(state).get(start, -1)
        if close < body or close >= end:
            return False
    if silent:
        return True
    for line in range(body, close):
        if not state.isEmpty(line) and _wrapper_only(_line_text(state, line)):
            _blank(state, line)
    token = state.push(OPEN, "details", 1)
    token.map = [start, close + 1]
    token.meta = {"summary": summary}
    token.block = True
    if close > body:
        old_max, old_parent = state.lineMax, state.parentType
        state.lineMax, state.parentType = close, "details"
        state.md.block.tokenize(state, body, close)
        state.lineMax, state.parentType = old_max, old_parent
    token = state.push(CLOSE, "details", -1)
    token.block = True
    state.line = close + 1
    return True


def _render_open(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: object) -> str:
    summary = tokens[idx].meta.get("summary")
    return "<details>" + (f"<summary>{escapeHtml(summary)}</summary>" if summary else "") + "\n"


def _render_close(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: object) -> str:
    return "</details>\n"


def details_plugin(md: MarkdownIt) -> None:
    """Read `<details>` blocks (before raw HTML blocks, so they read the same with HTML on or off)."""
    md.block.ruler.before(
        "html_block", "fm_details", details_rule, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    md.add_render_rule(OPEN, _render_open)
    md.add_render_rule(CLOSE, _render_close)
