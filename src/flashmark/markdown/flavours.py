"""Markdown as GitHub, Obsidian and Typora write it, as markdown-it rules: each one switchable.

- `autolinks`: bare `https://…` and `www.…` become links (mdit-py-plugins' GFM autolinks).
- `footnotes`: `[^1]` with a `[^1]: …` definition anywhere in the file. A question's card lists the
  footnotes it refers to under its answer, numbered from 1 on that card; no anchors or ids, so the
  footnotes of one card (or of two notes on one page) never point at another's.
- `task_lists`: `- [x]` / `- [ ]` items start with a ticked or an empty box glyph.
- `alerts`: GitHub alerts (`> [!NOTE]`) and Obsidian callouts (`> [!tip] Title`, `[!faq]-`) are
  labelled boxes; their kind picks the colour.
- `highlight`: `==text==` is `<mark>` (Obsidian, Typora).
- `wikilinks`: `![[figure.png]]` and `![[figure.png|300]]` embed a picture like an image; `[[Note]]`
  and `[[Note|alias]]` show their text (a card has nothing to link to).
- `comments`: Obsidian's `%%comments%%`, inline or as lines of their own, are left out.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.state_inline import Delimiter
from markdown_it.token import Token
from markdown_it.utils import OptionsDict
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.gfm_autolink import gfm_autolink_plugin

from flashmark.config import FLAVOURS as FLAVOURS

AUTOLINKS, FOOTNOTES, TASK_LISTS, ALERTS = "autolinks", "footnotes", "task_lists", "alerts"
HIGHLIGHT, WIKILINKS, COMMENTS = "highlight", "wikilinks", "comments"

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".avif", ".ico", ".tif", ".tiff", ".apng")

# ---------------------------------------------------------------- autolinks

MAX_LINK = 4096  # characters an autolink is looked for in
# The GFM autolink rules and the character each starts at. Each copies the rest of the paragraph when it
# looks at its character: a paragraph of many `:` would take the square of its length.
_AUTOLINK_RULES = (("gfm_autolink_www", "w"), ("gfm_autolink_protocol", ":"), ("gfm_autolink_email", "@"))
InlineRule = Callable[[StateInline, bool], bool]


def _windowed(rule: InlineRule, trigger: str) -> InlineRule:
    """An autolink rule that only runs at its character, and sees at most MAX_LINK characters of text."""

    def guarded(state: StateInline, silent: bool) -> bool:
        if state.src[state.pos] != trigger:
            return False
        limit = state.posMax
        state.posMax = min(limit, state.pos + MAX_LINK)
        try:
            return rule(state, silent)
        finally:
            state.posMax = limit

    return guarded


# ---------------------------------------------------------------- ==highlight==

_EQUALS = 0x3D


def _mark_tokenize(state: StateInline, silent: bool) -> bool:
    """Each `==` as a text token on the delimiter list (markdown-it's strikethrough rule, for `=`)."""
    start = state.pos
    if silent or state.src[start] != "=":
        return False
    scanned = state.scanDelims(start, True)
    length = scanned.length
    if length < 2:
        return False
    if length % 2:
        token = state.push("text", "", 0)
        token.content = "="
        length -= 1
    for _ in range(0, length, 2):
        token = state.push("text", "", 0)
        token.content = "=="
        state.delimiters.append(
            Delimiter(
                marker=_EQUALS,
                length=0,
                token=len(state.tokens) - 1,
                end=-1,
                open=scanned.can_open,
                close=scanned.can_close,
            )
        )
    state.pos += scanned.length
    return True


def _mark_pairs(state: StateInline, delimiters: list[Delimiter]) -> None:
    lone: list[int] = []
    for start in delimiters:
        if start.marker != _EQUALS or start.end == -1:
            continue
        end = delimiters[start.end]
        for index, kind in ((start.token, "mark_open"), (end.token, "mark_close")):
            token = state.tokens[index]
            token.type, token.tag, token.markup, token.content = kind, "mark", "==", ""
            token.nesting = 1 if kind == "mark_open" else -1
        if state.tokens[end.token - 1].type == "text" and state.tokens[end.token - 1].content == "=":
            lone.append(end.token - 1)
    while lone:  # an odd `=` left of a closing `==` goes after it, as strikethrough does for `~`
        i = lone.pop()
        j = i + 1
        while j < len(state.tokens) and state.tokens[j].type == "mark_close":
            j += 1
        j -= 1
        if i != j:
            state.tokens[i], state.tokens[j] = state.tokens[j], state.tokens[i]


def _mark_post(state: StateInline) -> None:
    _mark_pairs(state, state.delimiters)
    for meta in state.tokens_meta:
        if meta and "delimiters" in meta:
            _mark_pairs(state, meta["delimiters"])


# ---------------------------------------------------------------- %%comments%%


def _comment_inline(state: StateInline, silent: bool) -> bool:
    """`%%…%%` within a paragraph: dropped."""
    if not state.src.startswith("%%", state.pos):
        return False
    end = state.src.find("%%", state.pos + 2, state.posMax)
    if end < 0:
        return False
    state.pos = end + 2
    return True


def _comment_closers(state: StateBlock) -> list[int]:
    """The lines ending in `%%`, found once per document (so a file of unclosed comments stays linear)."""
    found: list[int] | None = state.env.get("fm_comment_closers")
    if found is None:
        found = [
            line
            for line in range(len(state.bMarks) - 1)
            if state.src[state.bMarks[line] : state.eMarks[line]].rstrip().endswith("%%")
        ]
        state.env["fm_comment_closers"] = found
    return found


def _comment_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """Lines from one starting with `%%` to one ending with `%%`: dropped (an unclosed `%%` is text)."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    first = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    if not first.startswith("%%"):
        return False
    if first.rstrip().endswith("%%") and len(first.rstrip()) >= 4:
        if first.rstrip()[2:-2].find("%%") >= 0:
            return False  # `%%a%% text %%b%%`: inline comments within a paragraph
        close = start
    else:
        closers = _comment_closers(state)
        at = bisect.bisect_right(closers, start)
        if at == len(closers) or closers[at] >= end:
            return False
        close = closers[at]
    if not silent:
        state.line = close + 1
    return True


# ---------------------------------------------------------------- [[wikilinks]] and ![[embeds]]

_WIKI = re.compile(r"(!?)\[\[([^\[\]\n|]+)(?:\|([^\[\]\n]*))?\]\]")
_SIZE = re.compile(r"\s*(\d{1,5})(?:\s*x\s*(\d{1,5}))?\s*")


def _wikilink(state: StateInline, silent: bool) -> bool:
    """`[[Note|alias]]` as its text; `![[picture.png|300]]` as an image (a note embedded shows its name)."""
    ch = state.src[state.pos]
    if ch not in "![" or not state.src.startswith("[[", state.pos + (ch == "!")):
        return False
    m = _WIKI.match(state.src, state.pos, state.posMax)
    if m is None:
        return False
    if not silent:
        embed, target, label = m.group(1) == "!", m.group(2).strip(), m.group(3)
        path = target.split("#", 1)[0].strip()
        if embed and path.lower().endswith(IMAGE_SUFFIXES):
            size = _SIZE.fullmatch(label or "")
            token = state.push("image", "img", 0)
            token.attrs = {"src": state.md.normalizeLink(path), "alt": ""}
            if size is not None:
                token.attrs["width"] = size.group(1)
                if size.group(2):
                    token.attrs["height"] = size.group(2)
            alt = label if label and size is None else path.rsplit("/", 1)[-1]
            text = Token("text", "", 0)
            text.content = alt
            token.children = [text]
            token.content = alt
            token.meta["embed"] = True
        else:
            token = state.push("text", "", 0)
            shown = label.strip() if label and label.strip() else " › ".join(p for p in target.split("#") if p.strip())
            token.content = shown.replace("^", "") if not label else shown
            token.meta["wikilink"] = True
    state.pos = m.end()
    return True


# ---------------------------------------------------------------- > [!NOTE] alerts and callouts

_CALLOUT = re.compile(r"\[!([A-Za-z][\w-]*)\]([+-]?)[ \t]*(.*)")
# Obsidian's callout kinds and their aliases, by the colour they take (GitHub's five alerts among them).
_FAMILIES = {
    "note": ("note", "info", "todo", "abstract", "summary", "tldr"),
    "tip": ("tip", "hint", "success", "check", "done"),
    "important": ("important", "example"),
    "warning": ("warning", "attention", "question", "help", "faq"),
    "caution": ("caution", "danger", "error", "failure", "fail", "missing", "bug"),
    "quote": ("quote", "cite"),
}
_FAMILY = {kind: family for family, kinds in _FAMILIES.items() for kind in kinds}


def callout_family(kind: str) -> str:
    """The colour family of a callout kind (`faq` → warning); an unknown kind is a note."""
    return _FAMILY.get(kind.lower(), "note")


def _callouts(state: StateCore) -> None:
    """A quote whose first line is `[!kind] Title` becomes a box with that title (default: the kind's name)."""
    tokens = state.tokens
    out: list[Token] = []
    closers: list[bool] = []  # for each open blockquote: whether it became a callout
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "blockquote_close":
            became = closers.pop() if closers else False
            if became:
                token.type, token.tag = "callout_close", "div"
            out.append(token)
            i += 1
            continue
        if token.type != "blockquote_open":
            out.append(token)
            i += 1
            continue
        found = None
        if i + 2 < len(tokens) and tokens[i + 1].type == "paragraph_open" and tokens[i + 2].type == "inline":
            first, _, rest = tokens[i + 2].content.partition("\n")
            found = _CALLOUT.fullmatch(first.strip())
        closers.append(found is not None)
        if found is None:
            out.append(token)
            i += 1
            continue
        kind, title = found.group(1), found.group(3).strip()
        token.type, token.tag = "callout_open", "div"
        token.attrs = {"class": f"fm-callout fm-callout-{callout_family(kind)}"}
        token.meta = {"kind": kind.lower()}
        out.append(token)
        heading = Token("callout_title_open", "p", 1)
        heading.attrs = {"class": "fm-callout-title"}
        heading.block = True
        label = Token("inline", "", 0)
        label.content = title or kind.capitalize()
        label.children = []
        label.map = tokens[i + 2].map
        closing = Token("callout_title_close", "p", -1)
        closing.block = True
        out += [heading, label, closing]
        if rest.strip():
            tokens[i + 2].content = rest
            where = tokens[i + 2].map
            if where:
                tokens[i + 2].map = [where[0] + 1, where[1]]
            out += tokens[i + 1 : i + 4]
        i += 4  # past the paragraph the marker opened (kept when it holds more than the marker line)
    state.tokens = out


# ---------------------------------------------------------------- footnotes

FOOTNOTES_ENV = "fm_footnotes"  # env key: footnote label → the definition's block tokens
NUMBERS_ENV = "fm_footnote_numbers"  # env key, set while one question renders: label → its number there


def _footnote_defs(state: StateCore) -> None:
    """Take the footnote definitions out of the token stream; each question lists the ones it refers to."""
    defs: dict[str, list[Token]] = state.env.setdefault(FOOTNOTES_ENV, {})
    out: list[Token] = []
    current: list[Token] | None = None
    depth = 0
    for token in state.tokens:
        if token.type == "footnote_reference_open":
            if depth == 0:
                current = defs.setdefault(str(token.meta.get("label", "")), [])
            depth += 1
            continue
        if token.type == "footnote_reference_close":
            depth -= 1
            if depth == 0:
                current = None
            continue
        if current is not None:
            current.append(token)
        else:
            out.append(token)
    state.tokens = out


def footnote_labels(tokens: Sequence[Token]) -> list[str]:
    """The footnote labels these tokens refer to, first reference first."""
    labels: dict[str, None] = {}
    for token in tokens:
        for child in (token.children or ()) if token.type == "inline" else (token,):
            if child.type == "footnote_ref":
                labels.setdefault(str(child.meta.get("label", "")), None)
    return list(labels)


def footnote_tokens(labels: Sequence[str], env: dict[str, Any]) -> list[Token]:
    """The list of footnotes for one card: `<ol class="fm-footnotes">` with each definition, in order."""
    defs: dict[str, list[Token]] = env.get(FOOTNOTES_ENV, {})
    found = [label for label in labels if label in defs]
    if not found:
        return []
    opener = Token("footnotes_open", "ol", 1)
    opener.attrs = {"class": "fm-footnotes"}
    opener.block = True
    out = [opener]
    for label in found:
        item = Token("list_item_open", "li", 1)
        item.block = True
        out += [item, *defs[label]]
        closing = Token("list_item_close", "li", -1)
        closing.block = True
        out.append(closing)
    closer = Token("footnotes_close", "ol", -1)
    closer.block = True
    out.append(closer)
    return out


def _render_footnote_ref(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    label = str(tokens[idx].meta.get("label", ""))
    numbers: dict[str, int] = env.get(NUMBERS_ENV, {}) if isinstance(env, dict) else {}
    number = numbers.get(label)
    shown = str(number) if number is not None else escapeHtml(label)
    return f'<sup class="fm-fnref">{shown}</sup>'


# ---------------------------------------------------------------- task lists


def _render_list_item(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    token = tokens[idx]
    result = self.renderToken(tokens, idx, options, env)
    if token.meta and "checked" in token.meta:
        done = bool(token.meta["checked"])
        result += f'<span class="fm-task{" fm-task-done" if done else ""}">{"☑" if done else "☐"}</span> '
    return result


# ---------------------------------------------------------------- what a flavour changed

_UNDEFINED_NOTE = re.compile(r"\[\^([^\]\s]+)\]")


def _edge(children: Sequence[Token], i: int, step: int) -> str:
    """The character next to child `i` on one side (step -1: before it, +1: after it), if text is there."""
    j = i + step
    if 0 <= j < len(children) and children[j].type == "text" and children[j].content:
        return children[j].content[-1 if step < 0 else 0]
    return ""


def flavour_notices(
    tokens: Sequence[Token], enabled: frozenset[str], env: dict[str, Any]
) -> list[tuple[int | None, str]]:
    """Where a flavour may have changed how text reads: `==` inside words read as a highlight, and `[^x]`
    left as text for want of a definition. (line, message) pairs."""
    found: list[tuple[int | None, str]] = []
    defined = env.get(FOOTNOTES_ENV, {})
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        line = token.map[0] + 1 if token.map else None
        children = token.children
        for i, child in enumerate(children):
            if HIGHLIGHT in enabled and child.type in ("mark_open", "mark_close"):
                side = _edge(children, i, -1 if child.type == "mark_open" else 1)
                if side.isalnum():
                    found.append(
                        (
                            line,
                            "'==' inside a word is read as a highlight (x==1 and y==2 → x<mark>1 and y</mark>2); "
                            "write \\== for equals signs, or set [markdown] highlight = false",
                        )
                    )
                    break
            if FOOTNOTES in enabled and child.type == "text" and "[^" in child.content:
                for m in _UNDEFINED_NOTE.finditer(child.content):
                    if m.group(1) not in defined:
                        found.append(
                            (line, f"footnote [^{m.group(1)}] has no definition ([^{m.group(1)}]: …); shown as written")
                        )
                        break
    return found


# ---------------------------------------------------------------- the plugin


def flavours_plugin(md: MarkdownIt, enabled: frozenset[str]) -> None:
    """Add the flavours in `enabled` (names from FLAVOURS) to a parser."""
    if AUTOLINKS in enabled:
        md.use(gfm_autolink_plugin)
        for name, trigger in _AUTOLINK_RULES:
            rule = next(r.fn for r in md.inline.ruler.__rules__ if r.name == name)
            md.inline.ruler.at(name, _windowed(rule, trigger))
    if FOOTNOTES in enabled:
        md.use(footnote_plugin, inline=False, move_to_end=False)
        md.core.ruler.after("inline", "fm_footnotes", _footnote_defs)
        md.add_render_rule("footnote_ref", _render_footnote_ref)
    if TASK_LISTS in enabled:
        md.options["tasklists"] = True
        md.options["tasklists_editable"] = False
        md.add_render_rule("list_item_open", _render_list_item)
    if ALERTS in enabled:
        md.core.ruler.after("block", "fm_callouts", _callouts)
    if HIGHLIGHT in enabled:
        md.inline.ruler.before("emphasis", "fm_mark", _mark_tokenize)
        md.inline.ruler2.before("emphasis", "fm_mark", _mark_post)
    if WIKILINKS in enabled:
        md.inline.ruler.before("link", "fm_wikilink", _wikilink)
    if COMMENTS in enabled:
        md.inline.ruler.before("emphasis", "fm_comment", _comment_inline)
        md.block.ruler.before("paragraph", "fm_comment", _comment_block, {"alt": ["paragraph"]})
