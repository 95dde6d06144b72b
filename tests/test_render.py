"""Rendering rules: math, code, tables and friends, images and media, HTML safety, note type CSS."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from flashmark.anki.notetype import card_css, note_type
from flashmark.config import Config
from flashmark.markdown.highlight import code_block, palette_css
from flashmark.markdown.parser import render_blocks, tokenize
from flashmark.merge import merge
from flashmark.parse import parse_source
from flashmark.types import ParsedFile, Source

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a1b2d00000000049454e44ae426082"
)


def html(markdown: str, allow_html: bool = False) -> str:
    return render_blocks(tokenize(markdown, allow_html), allow_html, {})


def parse(folder: Path, text: str, name: str = "n.md", config: Config | None = None) -> ParsedFile:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return parse_source(Source(path=path, rel=name, text=text), config or Config(), folder)


# --- math ---------------------------------------------------------------------------------


def test_dollar_math_becomes_mathjax_inline_with_tex_untouched() -> None:
    out = html("Loss $a_b * c_d < e$ here")
    assert r"\(a_b * c_d &lt; e\)" in out
    assert "<em>" not in out


def test_paren_math_becomes_mathjax_inline() -> None:
    assert r"\(x_{i}^{2}\)" in html(r"Then \(x_{i}^{2}\) grows")


def test_display_math_in_both_notations() -> None:
    out = html("$$\n\\sum_{i=1}^{n} x_i\n$$\n\n\\[\na*b*c\n\\]\n")
    assert r"\[\sum_{i=1}^{n} x_i\]" in out
    assert r"\[a*b*c\]" in out
    assert "<em>" not in out


def test_double_dollar_inside_a_paragraph_is_display_math() -> None:
    out = html("so $$E=mc^2$$ holds")
    assert r"\[E=mc^2\]" in out and "<p>so " in out


def test_math_mixed_into_chinese_text() -> None:
    out = html("可以把 $C_{in}$ 个通道映射到$C_{out}$个通道")
    assert '可以把 <span class="fm-math">\\(C_{in}\\)</span> 个通道映射到' in out
    assert r"\(C_{out}\)</span>个通道" in out


def test_lone_dollars_in_prose_stay_text() -> None:
    out = html("A small one costs $5 and a big one $10, so $50 and $100 in total.")
    assert "fm-math" not in out
    assert "$5 and a big one $10" in out


def test_math_in_heading_keeps_formula_and_drops_numbering(tmp_path: Path) -> None:
    parsed = parse(tmp_path, "#### 5.8 $1\\times1$卷积作用？\n\n通道之间的线性组合。\n")
    (q,) = parsed.questions
    assert q.title == "$1\\times1$卷积作用？"
    assert q.title_html == '<span class="fm-math">\\(1\\times1\\)</span>卷积作用？'
    assert "5.8" not in q.title_html


def test_different_formulas_do_not_compare_equal(tmp_path: Path) -> None:
    text = (
        "# 卷积\n\n## $1\\times1$卷积作用？\n\n通道之间的线性组合，减少参数。\n\n"
        "## $3\\times3$卷积作用？\n\n提取局部空间特征。\n\n"
        "## $\\Sigma$ 的含义？\n\n求和。\n\n## $\\sigma$ 的含义？\n\n求和。\n\n"
        "## $x_1$ 是什么？\n\n第一个分量。\n\n## $x^1$ 是什么？\n\n第一个分量。\n"
    )
    questions = parse(tmp_path, text).questions
    assert len({q.title_norm for q in questions}) == 6
    assert len(merge(questions).notes) == 6


def test_same_formula_spaced_differently_compares_equal(tmp_path: Path) -> None:
    text = "# A\n\n## $x + y$ 的值？\n\n答案是和。\n\n# B\n\n## $x+y$ 的值？\n\n答案是和。\n"
    a, b = parse(tmp_path, text).questions
    assert a.title_norm == b.title_norm
    assert len(merge((a, b)).notes) == 1


def test_answers_differing_only_in_formula_are_both_kept(tmp_path: Path) -> None:
    text = "# A\n\n## 面积？\n\n$S = a^2$\n\n# B\n\n## 面积？\n\n$S = a_2$\n"
    questions = parse(tmp_path, text).questions
    assert questions[0].answer_norm != questions[1].answer_norm


# --- code -------------------------------------------------------------------------------------


def test_fenced_code_is_highlighted_with_css_classes() -> None:
    out = html("```python\ndef f(x):\n    return x < 1  # small\n```\n")
    assert '<pre class="fm-code fm-hl"><code class="language-python">' in out
    assert '<span class="k">def</span>' in out
    assert '<span class="o">&lt;</span>' in out
    assert "style=" not in out


def test_unknown_language_gives_escaped_plain_block() -> None:
    out = html('```brainfunk\n<<>> & "q"\n```\n')
    assert '<pre class="fm-code"><code class="language-brainfunk">&lt;&lt;&gt;&gt; &amp; "q"' in out
    assert "<span" not in out


def test_missing_language_and_indented_code_give_plain_blocks() -> None:
    assert html("```\n<b>x</b>\n```\n").startswith('<pre class="fm-code"><code>&lt;b&gt;x&lt;/b&gt;')
    assert html("    <i>y</i>\n").startswith('<pre class="fm-code"><code>&lt;i&gt;y&lt;/i&gt;')


def test_inline_code_is_escaped() -> None:
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in html("Run `<script>alert(1)</script>` now")


def test_math_fence_is_display_math() -> None:
    assert r"\[a^2 + b^2\]" in html("```math\na^2 + b^2\n```\n")


def test_palettes_cover_every_highlighted_class_in_light_and_dark() -> None:
    sample = code_block("import os\n@dec\nclass A(B):\n    '''doc'''\n    x: int = 0x1F  # c\n", "python")
    classes = set(re.findall(r'<span class="([\w-]+)"', sample)) - {"w"}
    css = palette_css()
    assert classes
    for cls in classes:
        assert f".fm-hl .{cls} {{" in css, cls
    light = dict(re.findall(r"^\.fm-hl \.([\w-]+) \{ (.*) \}$", css, re.M))
    dark = dict(re.findall(r"^\.nightMode \.fm-hl \.([\w-]+), \.night_mode \.fm-hl \.\1 \{ (.*) \}$", css, re.M))
    # Dark mode states a value for every property the light palette sets, so no light colour leaks.
    for cls, decls in light.items():
        for prop in re.findall(r"([\w-]+):", decls):
            assert f"{prop}:" in dark.get(cls, ""), (cls, prop)


def test_note_type_css_carries_palettes_and_keeps_id_and_fields() -> None:
    model = note_type()
    assert model.css == card_css()
    assert ".nightMode .fm-hl .k" in model.css and ".fm-hl .k {" in model.css
    assert [f["name"] for f in model.fields] == ["Question", "Prompt", "Answer", "Extra", "Topic", "Source"]
    assert model.model_id == 1_733_300_020_251


def test_note_type_css_has_fonts_night_mode_labels_and_small_screens() -> None:
    css = card_css()
    assert "PingFang SC" in css and "Noto Sans CJK SC" in css and "Segoe UI" in css
    assert ".nightMode .card" in css
    assert ".fm-label" in css
    assert "@media (max-width: 480px)" in css
    assert re.search(r"\.fm-card \{[^}]*max-width: 46em", css)


# --- tables, lists, quotes, strikethrough, links ---------------------------------------------------


def test_table_with_alignment_renders() -> None:
    out = html("| a | b |\n|:--|--:|\n| 1 | 2 |\n")
    assert "<table>" in out and '<th style="text-align:left">a</th>' in out
    assert '<td style="text-align:right">2</td>' in out


def test_nested_lists_render() -> None:
    out = html("- a\n  - b\n    1. c\n")
    assert re.search(r"<ul>\s*<li>a\s*<ul>\s*<li>b\s*<ol>\s*<li>c</li>", out)


def test_blockquote_and_strikethrough_render() -> None:
    out = html("> quoted ~~old~~ new\n")
    assert "<blockquote>" in out and "<s>old</s>" in out


def test_links_render_with_safe_rel() -> None:
    out = html("See [docs](https://example.com/a?b=1&c=2).")
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer">docs</a>' in out


def test_javascript_links_never_become_links() -> None:
    for source in (
        "[x](javascript:alert(1))",
        "<javascript:alert(1)>",
        "[x](JAVASCRIPT:alert(1))",
        "[x](vbscript:msgbox)",
    ):
        out = html(source)
        assert "<a" not in out, source
        assert "href" not in out, source


# --- raw HTML ---------------------------------------------------------------------------------------


def test_raw_html_is_escaped_by_default() -> None:
    out = html('Hi <b onclick="x()">bold</b>\n\n<script>alert(1)</script>\n')
    assert "&lt;b onclick=" in out and "&lt;script&gt;" in out
    assert "<b" not in out and "<script" not in out


def test_allowed_html_passes_through_the_allowlist() -> None:
    source = (
        '<span style="color: red; position: fixed">red</span> <b onclick="x()">bold</b> '
        '<a href="javascript:alert(1)">js</a> <img src="x.png" onerror="alert(1)"> <u>u</u>\n\n'
        '<script>alert(1)</script>\n\n<iframe src="https://example.com"></iframe>\n\n'
        "<div><details><summary>More</summary>hidden</details></div>\n"
    )
    out = html(source, allow_html=True)
    assert '<span style="color:red">red</span>' in out
    assert "<b>bold</b>" in out and "<u>u</u>" in out and "<summary>More</summary>" in out
    assert "<script" not in out and "alert(1)</" not in out
    assert "onclick" not in out and "onerror" not in out and "javascript:" not in out
    assert "<iframe" not in out and "position" not in out


def test_data_urls_only_as_inline_images() -> None:
    out = html('<img src="data:image/png;base64,AAAA"> <a href="data:text/html,<b>x</b>">d</a>', allow_html=True)
    assert '<img src="data:image/png;base64,AAAA">' in out
    assert "data:text" not in out


def test_allow_html_setting_reaches_the_cards(tmp_path: Path) -> None:
    text = "# Q\n\nHi <kbd>Ctrl</kbd> <img src=x onerror=alert(1)>\n"
    escaped = parse(tmp_path, text).questions[0].answer_html
    allowed = parse(tmp_path, text, config=Config(allow_html=True)).questions[0].answer_html
    assert "&lt;kbd&gt;" in escaped
    assert "<kbd>Ctrl</kbd>" in allowed and "onerror" not in allowed


# --- images -------------------------------------------------------------------------------------------


def media_name(data: bytes, suffix: str = ".png") -> str:
    return f"fm-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"


def test_local_image_becomes_content_hash_media(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Chart One.PNG").write_bytes(PNG)
    parsed = parse(tmp_path, '# Q\n\nSee ![a chart](img/Chart%20One.PNG "Title") and ![again](<img/Chart One.PNG>)\n')
    (q,) = parsed.questions
    name = media_name(PNG)
    assert f'<img src="{name}" alt="a chart" title="Title">' in q.answer_html
    assert f'<img src="{name}" alt="again">' in q.answer_html
    assert [(m.name, Path(m.path)) for m in q.media] == [(name, (tmp_path / "img" / "Chart One.PNG").resolve())]
    assert parsed.notices == ()


def test_media_name_changes_when_the_image_changes(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    first = parse(tmp_path, "# Q\n\n![x](a.png)\n").questions[0].media[0].name
    (tmp_path / "a.png").write_bytes(PNG + b"\0")
    second = parse(tmp_path, "# Q\n\n![x](a.png)\n").questions[0].media[0].name
    assert first != second and re.fullmatch(r"fm-[0-9a-f]{16}\.png", second)


def test_image_in_a_subfolder_may_point_up_inside_the_content_folder(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "p.png").write_bytes(PNG)
    parsed = parse(tmp_path, "# Q\n\n![p](../shared/p.png)\n", name="topic/n.md")
    assert parsed.questions[0].media[0].name == media_name(PNG)
    assert parsed.notices == ()


def test_each_question_carries_only_its_own_media(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "b.png").write_bytes(PNG + b"b")
    parsed = parse(tmp_path, "# A\n\n![a](a.png)\n\n# B\n\nplain\n\n# C\n\n![b](b.png) ![a](a.png)\n")
    assert [[m.name for m in q.media] for q in parsed.questions] == [
        [media_name(PNG)],
        [],
        [media_name(PNG + b"b"), media_name(PNG)],
    ]


def test_missing_image_warns_with_file_and_line_and_keeps_alt_text(tmp_path: Path) -> None:
    parsed = parse(tmp_path, "# Q\n\nFirst line\nthen ![lost chart](gone.png) here\n")
    (q,) = parsed.questions
    assert '<span class="fm-img-missing">lost chart</span>' in q.answer_html
    assert "<img" not in q.answer_html and q.media == ()
    (notice,) = parsed.notices
    assert notice.where == "n.md:4" and notice.kind == "image" and "gone.png" in notice.message


@pytest.mark.parametrize("src", ["../outside.png", "../../outside.png", "sub/../../outside.png"])
def test_image_outside_the_content_folder_is_refused(tmp_path: Path, src: str, reads: list[Path]) -> None:
    root = tmp_path / "deep" / "content"
    root.mkdir(parents=True)
    (tmp_path / "deep" / "outside.png").write_bytes(PNG)
    (tmp_path / "outside.png").write_bytes(PNG)
    parsed = parse(root, f"# Q\n\n![secret]({src})\n")
    assert reads == []
    (q,) = parsed.questions
    assert q.media == () and "<img" not in q.answer_html and "secret" in q.answer_html
    (notice,) = parsed.notices
    assert notice.where == "n.md:3" and "outside the content folder" in notice.message


def test_absolute_image_path_is_refused(tmp_path: Path, reads: list[Path]) -> None:
    parsed = parse(tmp_path, "# Q\n\n![pw](/etc/passwd) ![f](file:///etc/passwd)\n")
    assert reads == []
    (q,) = parsed.questions
    assert q.media == () and "<img" not in q.answer_html
    assert any("/etc/passwd" in n.message and "not a relative path" in n.message for n in parsed.notices)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file read with Path.read_bytes during the test."""
    seen: list[Path] = []
    original = Path.read_bytes

    def spy(self: Path) -> bytes:
        seen.append(self.resolve())
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    return seen


def test_symlink_pointing_outside_is_refused_and_not_read(tmp_path: Path, reads: list[Path]) -> None:
    root = tmp_path / "content"
    root.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    (root / "link.png").symlink_to(secret)
    parsed = parse(root, "# Q\n\n![s](link.png)\n")
    assert secret.resolve() not in reads
    assert parsed.questions[0].media == ()
    (notice,) = parsed.notices
    assert "outside the content folder" in notice.message and notice.where == "n.md:3"


def test_remote_image_stays_with_a_warning(tmp_path: Path) -> None:
    parsed = parse(tmp_path, "# Q\n\n![logo](https://example.com/logo.png)\n")
    (q,) = parsed.questions
    assert '<img src="https://example.com/logo.png" alt="logo">' in q.answer_html
    (notice,) = parsed.notices
    assert "remote URL" in notice.message and "online" in notice.message and notice.where == "n.md:3"


def test_image_in_a_table_cell_and_heading_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    parsed = parse(tmp_path, "# See ![icon](a.png)\n\n| x |\n|---|\n| ![cell](nope.png) |\n")
    (q,) = parsed.questions
    assert media_name(PNG) in q.title_html
    (notice,) = parsed.notices
    assert notice.where == "n.md:5"
