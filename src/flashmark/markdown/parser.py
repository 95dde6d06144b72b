"""The one Markdown parser configuration, and rendering of token slices to safe card HTML."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.table import table
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from flashmark.markdown.details import details_plugin
from flashmark.markdown.flavours import FLAVOURS, flavours_plugin
from flashmark.markdown.highlight import code_block
from flashmark.markdown.mathsyntax import math_delimiters_plugin
from flashmark.markdown.sanitize import MATH_CLASS, sanitize
from flashmark.markdown.texsafe import unsafe_commands

MISSING_IMAGE_CLASS = "fm-img-missing"
INLINE_MATH = ("math_inline",)
DISPLAY_MATH = ("math_inline_double", "math_block", "math_block_label", "math_block_eqno")


# Shapes that make markdown-it-py (or the sanitiser) slow beyond reason, capped per file: a paragraph's
# link brackets cost the square of their number (20,000 `![` take 1.4 s), tables and raw HTML tags cost
# time and memory per row and per tag (nested tags: the square of their depth, in the sanitiser). Tables
# are counted before they are parsed: parsing 60,000 rows alone takes 2 s and 200 MB.
MAX_LINES_PER_FILE = 150_000  # markdown-it-py spends 10-20 µs on every line, whatever is on it
MAX_MARKS_PER_FILE = 150_000  # emphasis, code, link, HTML and math marks in text: ~12 µs and several tokens each
MAX_BRACKETS_PER_PARAGRAPH = 20_000
MAX_BRACKETS_PER_FILE = 50_000
MAX_TABLE_ROWS_PER_FILE = 20_000
MAX_HTML_TAGS_PER_FILE = 20_000


class TooMuch(Exception):
    """A file holds more of some construct than flashmark reads: the message, and the line it starts on."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_MARKS = re.compile(r"[*_`<\[\\$~=]")


def check_size(text: str) -> None:
    """Refuse a file with more lines than flashmark parses in reasonable time, before parsing it."""
    lines = text.count("\n")
    if lines > MAX_LINES_PER_FILE:
        raise TooMuch(
            f"{lines:,} lines, more than the {MAX_LINES_PER_FILE:,} flashmark reads in one file; split it", None
        )


def _count_limits(state: StateCore) -> None:
    """Refuse a file before inline parsing when it would take minutes: too many marks, brackets, rows or tags."""
    brackets = tags = marks = 0
    for token in state.tokens:
        line = token.map[0] + 1 if token.map else None
        if token.type == "inline":
            marks += len(_MARKS.findall(token.content))
            if marks > MAX_MARKS_PER_FILE:
                raise TooMuch(
                    f"more than {MAX_MARKS_PER_FILE:,} marks (* _ ` < [ $ and the like) in the text of one file; "
                    "split the file",
                    line,
                )
            here = token.content.count("[")
            brackets += here
            if here > MAX_BRACKETS_PER_PARAGRAPH:
                raise TooMuch(
                    f"a paragraph with {here:,} '[' (links, images, brackets); flashmark reads at most "
                    f"{MAX_BRACKETS_PER_PARAGRAPH:,} in one paragraph: split it, or write \\[ for a bracket",
                    line,
                )
            if brackets > MAX_BRACKETS_PER_FILE:
                raise TooMuch(
                    f"more than {MAX_BRACKETS_PER_FILE:,} '[' (links, images, brackets) in one file; split the file",
                    line,
                )
            if "<" in token.content and state.md.options["html"]:
                tags += token.content.count("<")
        elif token.type == "html_block":
            tags += token.content.count("<")
        if tags > MAX_HTML_TAGS_PER_FILE:
            raise TooMuch(f"more than {MAX_HTML_TAGS_PER_FILE:,} raw HTML tags in one file; split the file", line)


def _table_rule(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """markdown-it's table rule, refusing a file's tables once they pass the row limit, before parsing them."""
    if not silent and table(state, start, end, True):
        lines = start
        while lines < end and state.bMarks[lines] + state.tShift[lines] < state.eMarks[lines]:
            lines += 1
        seen: int = state.env.setdefault("fm_table_rows", 0)
        if seen + lines - start > MAX_TABLE_ROWS_PER_FILE:
            raise TooMuch(f"more than {MAX_TABLE_ROWS_PER_FILE:,} table rows in one file; split the file", start + 1)
    found = table(state, start, end, silent)
    if found and not silent:
        state.env["fm_table_rows"] += state.line - start
    return found


class ImageResolver(Protocol):
    """Maps an image reference in a content file to what the card's `src` should be."""

    def resolve(self, src: str, line: int | None, embed: bool = False) -> str | None:
        """The `src` for the card, or None when the image cannot be shown (a warning was recorded).

        `embed`: an Obsidian embed (`![[name.png]]`), which may name a picture anywhere in the folder.
        """


def _mark_lines(state: StateCore) -> None:
    """Record on each image and formula token the source line it is on, for warnings that name file:line."""
    for token in state.tokens:
        if token.type != "inline" or not token.map or not token.children:
            continue
        line = token.map[0] + 1
        for child in token.children:
            if child.type == "image" or child.type in INLINE_MATH + DISPLAY_MATH:
                child.meta["line"] = line
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type in INLINE_MATH + DISPLAY_MATH or child.type == "code_inline":
                line += child.content.count("\n")


def math_html(tex: str, display: bool, block: bool = False) -> str:
    """TeX in Anki's MathJax delimiters, HTML-escaped and otherwise untouched."""
    tex = escapeHtml(tex.strip())
    if not display:
        return f'<span class="{MATH_CLASS}">\\({tex}\\)</span>'
    if block:
        return f'<div class="{MATH_CLASS} fm-math-display">\\[{tex}\\]</div>\n'
    return f'<span class="{MATH_CLASS} fm-math-display">\\[{tex}\\]</span>'


def _safe_math(tex: str, display: bool, block: bool, token: Token, env: Any) -> str:
    """A formula for MathJax, or, when it uses a command that could write HTML, its TeX shown as code."""
    unsafe = unsafe_commands(tex)
    if not unsafe:
        return math_html(tex, display, block)
    warn = env.get("warn") if isinstance(env, dict) else None
    if warn is not None:
        line = token.meta.get("line") or (token.map[0] + 1 if token.map else None)
        shown = ", ".join(unsafe[:3])
        warn(line, "math", f"formula uses {shown}, which cards may not (MathJax makes HTML of it); shown as text")
    opener, closer = ("\\[", "\\]") if display else ("\\(", "\\)")
    code = f'<code class="fm-tex">{escapeHtml(opener + tex.strip() + closer)}</code>'
    return f'<div class="fm-math-display">{code}</div>\n' if block else code


def _render_math(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    token = tokens[idx]
    tex = token.content
    if token.type == "math_block_eqno" and token.info.strip():
        tex = f"{tex.strip()} \\tag{{{token.info.strip()}}}"
    if token.type in INLINE_MATH:
        return _safe_math(tex, False, False, token, env)
    return _safe_math(tex, True, token.block, token, env)


def _render_fence(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    token = tokens[idx]
    info = unescapeAll(token.info).strip()
    lang = info.split(maxsplit=1)[0] if info else ""
    if lang.lower() == "math":
        return _safe_math(token.content, True, True, token, env)
    budget = env.get("highlight") if isinstance(env, dict) else None
    return code_block(token.content, lang, budget, token.map[0] + 1 if token.map else None)


def _render_code_block(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    return code_block(tokens[idx].content, "")


def _render_image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    """A local image becomes a package media name; an unusable one leaves its alt text."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    resolver: ImageResolver | None = env.get("images") if isinstance(env, dict) else None
    if resolver is not None:
        resolved = resolver.resolve(src, token.meta.get("line"), bool(token.meta.get("embed")))
        if resolved is None:
            shown = alt or src.rsplit("/", 1)[-1] or "image"
            return f'<span class="{MISSING_IMAGE_CLASS}">{escapeHtml(shown)}</span>'
        src = resolved
    title = token.attrGet("title")
    extra = f' title="{escapeHtml(str(title))}"' if title else ""
    for size in ("width", "height"):  # an embed's size hint (`![[figure.png|300]]`)
        value = token.attrGet(size)
        if value:
            extra += f' {size}="{escapeHtml(str(value))}"'
    return f'<img src="{escapeHtml(src)}" alt="{escapeHtml(alt)}"{extra}>'


ALL_FLAVOURS = frozenset(FLAVOURS)


@lru_cache(maxsize=16)
def parser(allow_html: bool = False, details: bool = True, flavours: frozenset[str] = ALL_FLAVOURS) -> MarkdownIt:
    """The MarkdownIt instance every stage shares; raw HTML is escaped unless allowed.

    `details` reads `<details><summary>…</summary>…</details>` blocks as folded Markdown; `flavours`
    are the GitHub and Obsidian syntaxes to read (markdown/flavours.py).
    """
    md = MarkdownIt("commonmark", {"html": allow_html, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.block.ruler.at("table", _table_rule, {"alt": ["paragraph", "reference"]})
    md.use(front_matter_plugin)
    # `$…$` must hug its content and not touch digits, so prices ("$5 and $10") stay text.
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    # Display math (`$$…$$`, `\[…\]`) and `\(…\)` come from our own rules, which stop at blank lines
    # and headings and stay linear on any input; dollarmath's block rule does neither.
    md.block.ruler.disable("math_block")
    md.use(math_delimiters_plugin)
    if details:
        md.use(details_plugin)
    flavours_plugin(md, flavours)
    md.core.ruler.before("inline", "fm_limits", _count_limits)
    md.core.ruler.push("fm_lines", _mark_lines)
    for kind in INLINE_MATH + DISPLAY_MATH:
        md.add_render_rule(kind, _render_math)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("image", _render_image)
    return md


def tokenize(
    text: str,
    allow_html: bool = False,
    details: bool = True,
    flavours: frozenset[str] = ALL_FLAVOURS,
    env: dict[str, Any] | None = None,
) -> list[Token]:
    """Parse a whole file once (TooMuch when it is larger than flashmark reads in reasonable time).

    `env` keeps what the parse gathers for rendering later (footnote definitions).
    """
    check_size(text)
    return parser(allow_html, details, flavours).parse(text, env if env is not None else {})


def copy_token(token: Token, *, content: str | None = None, children: list[Token] | None = None) -> Token:
    """A shallow copy of `token` with new content or children (Token.copy is much slower)."""
    return Token(
        token.type,
        token.tag,
        token.nesting,
        token.attrs,
        token.map,
        token.level,
        token.children if children is None else children,
        token.content if content is None else content,
        token.markup,
        token.info,
        token.meta,
        token.block,
        token.hidden,
    )


def _renderer(md: MarkdownIt) -> RendererHTML:
    renderer = md.renderer
    assert isinstance(renderer, RendererHTML)
    return renderer


def render_blocks(tokens: Sequence[Token], allow_html: bool = False, env: dict[str, Any] | None = None) -> str:
    """Render a slice of block tokens to sanitised HTML."""
    md = parser(allow_html)  # every parser renders alike: the render rules of all flavours are in each
    return sanitize(_renderer(md).render(list(tokens), md.options, env if env is not None else {}))


def render_inline(children: Sequence[Token], allow_html: bool = False, env: dict[str, Any] | None = None) -> str:
    """Render the children of one inline token to sanitised HTML."""
    md = parser(allow_html)
    return sanitize(_renderer(md).renderInline(list(children), md.options, env if env is not None else {}))


def inline_text(children: Sequence[Token], image_sources: bool = False) -> str:
    """The plain text of inline tokens (text, code, `$math$`), without markup; optionally image paths too."""
    parts: list[str] = []
    for child in children:
        if child.type in INLINE_MATH:
            parts.append(f"${child.content}$")
        elif child.type in DISPLAY_MATH:
            parts.append(f"$${child.content}$$")
        elif child.type == "image":
            parts.append(inline_text(child.children or []))
            if image_sources:
                parts.append(f"({child.attrGet('src') or ''})")
        elif child.children:
            parts.append(inline_text(child.children, image_sources))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.content and child.type not in ("html_inline",):
            parts.append(child.content)
    return "".join(parts)


def blocks_text(tokens: Sequence[Token]) -> str:
    """The plain text of block tokens (formulas and image paths included), for comparing answers."""
    parts: list[str] = []
    for token in tokens:
        if token.type == "inline":
            parts.append(inline_text(token.children or [], image_sources=True))
        elif token.type in DISPLAY_MATH:
            parts.append(f"$${token.content}$$")
        elif token.type in ("fence", "code_block", "html_block"):
            parts.append(token.content)
        if token.block and token.nesting <= 0:
            parts.append("\n")
    return "".join(parts)
