"""CommonMark conformance: every example of the spec, through flashmark's field renderer, gives markdown-it-py's
own HTML after sanitising, except where a documented flashmark rule reads the text differently.

The exceptions are listed by example number with the rule that explains them; the test fails on any
other difference, and on an exception that no longer differs, so the list stays exact.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from flashmark.markdown.parser import render_blocks, tokenize
from flashmark.markdown.sanitize import sanitize

SPEC = json.loads((Path(__file__).parent / "fixtures" / "commonmark" / "spec.json").read_text(encoding="utf-8"))

# Rules flashmark always applies.
ALWAYS = {
    12: "`\\[…\\]` is display math (README: What cards can show), so the escaped brackets become a formula",
    96: "a file opening with `---` lines is YAML front matter (README: Front matter)",
    98: "a file opening with `---` lines is YAML front matter (README: Front matter)",
}
# Markdown flavours, on by default (README: Markdown flavours).
FLAVOURED = {
    548: "`[[…]]` is a wikilink, shown as its text",
    559: "`[[…]]` is a wikilink, shown as its text",
    590: "`![[…]]` is an embed, and `[[…]]` a wikilink",
    608: "a bare https:// address is a link (GitHub autolinks)",
    611: "a bare https:// address is a link (GitHub autolinks)",
    612: "a bare e-mail address is a link (GitHub autolinks)",
}
_HIGHLIGHTED = re.compile(r'<pre class="fm-code[^"]*"><code( class="language-[^"]*")?>(.*?)</code></pre>', re.S)


def plain_code(html: str) -> str:
    """Code blocks as markdown-it writes them: flashmark's colour spans and classes on <pre> taken off."""
    return _HIGHLIGHTED.sub(
        lambda m: f"<pre><code{m.group(1) or ''}>{re.sub(r'</?span[^>]*>', '', m.group(2))}</code></pre>", html
    )


def differing(allow_html: bool, flavours: frozenset[str] | None = None) -> set[int]:
    reference = MarkdownIt("commonmark", {"html": allow_html})
    found = set()
    for example in SPEC:
        env: dict[str, object] = {}
        kwargs = {} if flavours is None else {"flavours": flavours}
        ours = render_blocks(tokenize(example["markdown"], allow_html, env=env, **kwargs), allow_html, env)
        if plain_code(ours) != sanitize(reference.render(example["markdown"])):
            found.add(example["example"])
    return found


@pytest.mark.parametrize("allow_html", [True, False], ids=["raw-html-allowed", "raw-html-escaped"])
def test_every_spec_example_renders_as_markdown_it_does_but_the_listed_ones(allow_html: bool) -> None:
    assert len(SPEC) == 652
    assert differing(allow_html) == set(ALWAYS) | set(FLAVOURED)


def test_with_every_flavour_off_only_the_rules_flashmark_always_applies_differ() -> None:
    assert differing(True, frozenset()) == set(ALWAYS)
