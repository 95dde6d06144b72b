"""The one Markdown parser configuration, and rendering of token slices to HTML."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin


@lru_cache(maxsize=4)
def parser(allow_html: bool = False) -> MarkdownIt:
    """The MarkdownIt instance every stage shares; raw HTML is escaped unless allowed."""
    md = MarkdownIt("commonmark", {"html": allow_html, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    return md


def tokenize(text: str, allow_html: bool = False) -> list[Token]:
    """Parse a whole file once."""
    return parser(allow_html).parse(text, {})


def copy_token(token: Token, *, content: str | None = None, children: list[Token] | None = None) -> Token:
    """A shallow copy of `token` with new content or children (Token.copy is much slower)."""
    return Token(
        token.type, token.tag, token.nesting, token.attrs, token.map, token.level,
        token.children if children is None else children,
        token.content if content is None else content,
        token.markup, token.info, token.meta, token.block, token.hidden,
    )


def render_blocks(tokens: Sequence[Token], allow_html: bool = False, env: dict[str, Any] | None = None) -> str:
    """Render a slice of block tokens to HTML."""
    md = parser(allow_html)
    html: str = md.renderer.render(list(tokens), md.options, env if env is not None else {})
    return html


def render_inline(children: Sequence[Token], allow_html: bool = False, env: dict[str, Any] | None = None) -> str:
    """Render the children of one inline token to HTML."""
    md = parser(allow_html)
    renderer: RendererHTML = md.renderer  # type: ignore[assignment]
    html: str = renderer.renderInline(list(children), md.options, env if env is not None else {})
    return html


def inline_text(children: Sequence[Token]) -> str:
    """The plain text of inline tokens (text, code, math), without markup."""
    parts: list[str] = []
    for child in children:
        if child.children:
            parts.append(inline_text(child.children))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(inline_text(child.children or []))
        elif child.content and child.type not in ("html_inline",):
            parts.append(child.content)
    return "".join(parts)


def blocks_text(tokens: Sequence[Token]) -> str:
    """The plain text of block tokens, for comparing answers."""
    parts: list[str] = []
    for token in tokens:
        if token.type == "inline":
            parts.append(inline_text(token.children or []))
        elif token.type in ("fence", "code_block", "math_block", "html_block"):
            parts.append(token.content)
        if token.block and token.nesting <= 0:
            parts.append("\n")
    return "".join(parts)
