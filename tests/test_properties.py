"""Property tests: generated Markdown never crashes parse, merge or build, and no question is lost.

The documents are generated from a structure the test knows (which headings have a body, which
have sub-headings), so the expected questions come from the format's definition, not from parse.py:
a heading with a body is a question (a note, or skipped with a reason); one with neither body nor
sub-headings is skipped; one with only sub-headings is a topic.
"""

from __future__ import annotations

import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from flashmark.build import build, load_corpus
from flashmark.config import Config
from flashmark.errors import FlashmarkError, ParseError
from flashmark.markdown.parser import tokenize
from flashmark.merge import merge
from flashmark.parse import parse_source
from flashmark.render import render_notes
from flashmark.sources import decode
from flashmark.types import Source

LATIN = [
    "What",
    "is",
    "a",
    "ResNet",
    "gradient",
    "descent",
    "C#",
    "C++",
    "DeepLabv3+",
    "x",
    "GIL",
    "Python",
    "loss",
    "v2",
]
CJK = [
    "什么",
    "是",
    "卷积",
    "深度",
    "可分离",
    "残差",
    "连接",
    "梯度",
    "消失",
    "注意力",
    "机制",
    "模型",
    "结构",
    "の",
    "한국어",
]
SPACES = [" ", " ", " ", "\t", "\u00a0", "\u200b", "\u3000", "\u2009", "\ufeff"]
NUMBERING = [
    "",
    "",
    "",
    "1. ",
    "12、",
    "3.1.1 ",
    "Q3. ",
    "Question 4: ",
    "面试题 12：",
    "问题3:",
    "第3题：",
    "(2) ",
    "一、",
]
DECOR = [
    "*强调*",
    "**bold**",
    "`code`",
    "$x_1$",
    "$$a^2$$",
    "\\(a+b\\)",
    "\\[c\\]",
    "[link](https://example.com/x)",
    "![图](missing.png)",
    "![remote](https://example.com/a.png)",
    "<b>html</b>",
    "&amp;",
    "\\*",
    "~~del~~",
    "$5 and $10",
]
UNCLOSED_INLINE = ["`code", "**bold", "$x", "[link(", "\\(a", "\\[a", "<b", "![x](", "$$a", "{#"]
PUNCTUATION = ["？！", "…", "---", "***", "（）", "、。", "#", "- -", "\u200b"]
SKIP_WORDS = {"参考文献", "参考资料", "参考", "references", "reference", "目录", "tableofcontents", "contents", "toc"}
FILE_NAMES = ["a.md", "笔记.md", "sub/b.markdown", "x y.md"]

word = st.sampled_from(LATIN) | st.sampled_from(CJK)
space = st.sampled_from(SPACES)
junk = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x00"), max_size=8)
piece = word | word | word | st.sampled_from(DECOR) | st.sampled_from(UNCLOSED_INLINE) | junk


@st.composite
def text_line(draw: st.DrawFn) -> str:
    """One line of paragraph text: it starts with a word, so it can never start a block of its own."""
    rest = draw(st.lists(st.tuples(space, piece), max_size=6))
    return draw(word) + "".join(s + p for s, p in rest)


@st.composite
def title(draw: st.DrawFn) -> str:
    """A heading title: numbering, words with odd spaces and inline markup, maybe an {#id} or closing #s."""
    kind = draw(st.sampled_from(["words", "words", "words", "words", "punctuation", "empty", "junk"]))
    if kind == "empty":
        return ""
    if kind == "punctuation":
        return draw(st.sampled_from(PUNCTUATION))
    if kind == "junk":
        return draw(junk)
    parts = draw(st.lists(st.tuples(space, piece), max_size=4))
    text = draw(st.sampled_from(NUMBERING)) + draw(word) + "".join(s + p for s, p in parts)
    if draw(st.booleans()) and draw(st.booleans()):
        text += f" {{#id-{draw(st.integers(0, 3))}}}"
    if draw(st.integers(0, 9)) == 0:
        text += " ##"
    return text


def _skip_word(text: str) -> bool:
    plain = "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())
    return plain in SKIP_WORDS


LABELS = [
    "**答案：**",
    "**答案**：",
    "答案：",
    "**Answer:**",
    "Answer:",
    "**题目：**",
    "**Question:**",
    "**应用：**",
    "**Example:**",
    "**解析**:",
]


@st.composite
def block(draw: st.DrawFn) -> tuple[str, list[str]]:
    """One block of a question body, as (kind, lines)."""
    kind = draw(
        st.sampled_from(
            [
                "paragraph",
                "paragraph",
                "label",
                "label",
                "fence",
                "tilde",
                "math",
                "unclosed_math",
                "list",
                "quote",
                "table",
                "html",
                "indented",
                "fake_headings",
                "reference",
            ]
        )
    )
    line = text_line()
    if kind == "paragraph":
        return kind, draw(st.lists(line, min_size=1, max_size=3))
    if kind == "label":
        return kind, [draw(st.sampled_from(LABELS)) + draw(space) + draw(line)]
    if kind in ("fence", "tilde"):
        mark = "```" if kind == "fence" else "~~~"
        lang = draw(st.sampled_from(["", "python", "bash", "math", "no-such-language"]))
        return kind, [mark + lang, "# not a heading", draw(line), "## still code", mark]
    if kind == "math":
        return kind, draw(
            st.sampled_from([["$$", "a^2 + b^2", "$$"], ["\\[", "x_1", "\\] (2)"], ["$$x$$"], ["\\[y\\]"]])
        )
    if kind == "unclosed_math":  # must not swallow the headings after it
        return kind, [draw(st.sampled_from(["$$", "\\[", "$$ a", "\\[ b"])), draw(line)]
    if kind == "list":
        return kind, ["- " + draw(line), "- # a heading inside a list item", "1. " + draw(line)]
    if kind == "quote":
        return kind, ["> " + draw(line), "> ## a quoted heading"]
    if kind == "table":
        return kind, ["| a | b |", "|---|:-:|", "| " + draw(line).replace("|", "/") + " | 2 |"]
    if kind == "html":
        return kind, [
            draw(
                st.sampled_from(
                    ["<div>块</div>", "<!-- comment -->", "<script>alert(1)</script>", "<p onclick=x>p</p>"]
                )
            )
        ]
    if kind == "indented":
        return kind, ["    # indented code, not a heading", "    x = 1"]
    if kind == "fake_headings":
        return kind, [
            draw(st.sampled_from(["#hashtag", "####### seven", "\\# escaped", "#\u00a0nbsp"])) + " " + draw(line)
        ]
    return kind, ["[ref]: https://example.com/r", draw(line) + " [ref]"]


@dataclass(frozen=True)
class Heading:
    """A generated heading: its level, title and body blocks."""

    level: int
    indent: int
    title: str
    body: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Document:
    """A generated file: its text and which of its lines are questions and empty headings."""

    name: str
    text: str
    questions: frozenset[int]
    empty: frozenset[int]
    bad_front_matter: bool
    hides_headings: bool


FRONT_MATTER = [
    ["---", "topic: 主题", "tags: [面试, Python]", "---"],
    ["---", "deck: 笔记", "---"],
    ["---", "---"],
    ["---", "tags: 'a b::c'", "topic: 12", "---"],
]
BAD_FRONT_MATTER = [["---", "topic: [unclosed", "---"], ["---", "- a list", "---"], ["---", "tags: {a: 1}", "---"]]


@st.composite
def document(draw: st.DrawFn, name: str) -> Document:
    """A file of headings with known kinds, and the line of each question and empty heading."""
    headings = draw(
        st.lists(
            st.builds(
                Heading,
                level=st.integers(1, 6),
                indent=st.integers(0, 3),
                title=title(),
                body=st.lists(block().map(lambda b: (b[0], tuple(b[1]))), max_size=3).map(tuple),
            ),
            min_size=0,
            max_size=8,
        )
    )
    for h in headings:
        assume(not _skip_word(h.title))
    lines: list[str] = []
    bad = draw(st.integers(0, 9)) == 0
    if bad:
        lines += draw(st.sampled_from(BAD_FRONT_MATTER))
    elif draw(st.booleans()):
        lines += draw(st.sampled_from(FRONT_MATTER))
    if draw(st.integers(0, 4)) == 0:
        lines += ["", draw(text_line())]  # text before the first heading
    questions: set[int] = set()
    empty: set[int] = set()
    after_list = False
    where = 0
    for n, h in enumerate(headings):
        if lines:
            lines.append("")
        indent = 0 if after_list else h.indent  # an indented line after a list would continue the list
        marker = "#" * h.level
        lines.append(" " * indent + marker + (" " + h.title if h.title else draw(st.sampled_from(["", " "]))))
        where = len(lines)
        after_list = False
        for i, (kind, block_lines) in enumerate(h.body):
            if i or draw(st.booleans()):
                lines.append("")
            lines += list(block_lines)
            after_list = kind in ("list", "quote") or (
                after_list and kind == "indented"
            )  # indented lines continue a list
        if h.body:
            questions.add(where)
        elif not (n + 1 < len(headings) and headings[n + 1].level > h.level):
            empty.add(where)
    hides = draw(st.integers(0, 5)) == 0
    if hides:  # a fence left open runs to the end of the file, and is the last heading's body
        lines += ["", "```python", "# hidden heading", "x = 1"]
        if where in empty:
            empty.remove(where)
            questions.add(where)
    ending = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = ending.join(lines) + (ending if draw(st.booleans()) else "")
    if draw(st.integers(0, 5)) == 0:
        text = "\ufeff" + text
    return Document(name, text, frozenset(questions), frozenset(empty), bad, hides)


@st.composite
def corpus(draw: st.DrawFn) -> list[Document]:
    names = draw(st.lists(st.sampled_from(FILE_NAMES), min_size=1, max_size=3, unique=True))
    return [draw(document(name)) for name in names]


def _write(folder: Path, docs: list[Document]) -> None:
    for doc in docs:
        path = folder / doc.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(doc.text.encode("utf-8"))


@given(corpus(), st.booleans())
def test_every_question_heading_is_a_note_or_skipped(docs: list[Document], allow_html: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "content"
        content.mkdir()
        _write(content, docs)
        loaded = load_corpus(content, Config(allow_html=allow_html), keep_going=True)

        bad = {d.name for d in docs if d.bad_front_matter}
        # One {#id} on two questions that are different notes is an error too (it names both).
        clashes = [e for e in loaded.errors if "is also on" in e.message]
        assert {e.path for e in loaded.errors if e not in clashes} == bad
        assert all(isinstance(e, ParseError) and e.line is not None for e in loaded.errors)

        good = [d for d in docs if not d.bad_front_matter]
        expected = {f"{d.name}:{line}" for d in good for line in d.questions}
        empty = {f"{d.name}:{line}" for d in good for line in d.empty}
        in_notes = Counter(s for note in loaded.merge.notes for s in note.sources)
        skipped = Counter(s.where for s in loaded.skipped)
        assert all(n == 1 for n in (in_notes + skipped).values()), "a question is in two places"
        assert set(in_notes) | set(skipped) == expected | empty
        assert empty <= set(skipped), "a heading without an answer must be reported as skipped"
        assert all(s.reason for s in loaded.skipped)
        for d in good:
            if d.hides_headings:
                assert any(n.file == d.name and n.kind == "swallowed" for n in loaded.notices)

        out = Path(tmp) / "out"
        try:
            result = build(content, out, allow_html=allow_html)
        except FlashmarkError as exc:
            assert bad or clashes, f"unexpected error: {exc}"
            assert exc.path in bad or exc.message in {c.message for c in clashes}
            return
        assert not bad
        assert result.questions == len(expected | empty)
        assert len(result.notes) == len(loaded.merge.notes)
        assert result.output.is_file()


MARKDOWN_CHARS = list("#*_`$\\[]()!<>{}:：-=+| \t\n\r~.、0123456789") + ["\u00a0", "\u200b", "卷", "积", "a", "\x00"]


@given(
    st.text(st.sampled_from(MARKDOWN_CHARS) | st.characters(exclude_categories=("Cs",)), max_size=300), st.booleans()
)
def test_any_text_parses_merges_and_renders(text: str, allow_html: bool) -> None:
    """Whatever the characters, the stages raise nothing but FlashmarkError and place every question once."""
    try:
        decoded = decode(text.encode("utf-8"), "x.md")
    except FlashmarkError:
        return
    with tempfile.TemporaryDirectory() as tmp:
        source = Source(Path(tmp) / "x.md", "x.md", decoded)
        try:
            parsed = parse_source(source, Config(allow_html=allow_html), Path(tmp))
        except FlashmarkError:
            return
    lines = decoded.count("\n") + 1
    places = [q.where for q in parsed.questions] + [s.where for s in parsed.skipped]
    assert len(places) == len(set(places))
    assert all(1 <= int(p.rsplit(":", 1)[1]) <= lines for p in places)
    result = merge(parsed.questions)
    assert sorted(s for n in result.notes for s in n.sources) == sorted(q.where for q in parsed.questions)
    for rendered in render_notes(result.notes, "deck"):
        assert "<script" not in "".join(rendered.fields).lower()


_PLAIN = {html: MarkdownIt("commonmark", {"html": html}).enable(["table", "strikethrough"]) for html in (False, True)}


def _atx_lines(tokens: list) -> set[int]:  # type: ignore[type-arg]
    return {t.map[0] for t in tokens if t.type == "heading_open" and t.level == 0 and t.markup.startswith("#")}


@given(
    st.lists(
        st.sampled_from(
            [
                "$$",
                "$$ a",
                "a $$",
                "\\[",
                "\\]",
                "\\] (1)",
                "x",
                "# H",
                "## H2",
                "",
                "```",
                "~~~",
                "- item",
                "+ b",
                "> q",
                "    code",
                "$a$",
                "\\(",
                "<pre>",
                "</pre>",
                "<!--",
                "-->",
                "<div>",
                "</div>",
            ]
        ),
        max_size=20,
    ),
    st.booleans(),
)
def test_math_never_hides_a_heading_plain_commonmark_shows(lines: list[str], allow_html: bool) -> None:
    """Display math may hold lines, but every heading CommonMark sees without math is still a heading.

    With raw HTML on, a formula can end where a paragraph would have gone on, and an HTML block may
    then start there and run over a heading: parse warns about exactly that ('raw HTML block runs on').
    """
    text = "\n".join(lines)
    ours = tokenize(text, allow_html)
    in_html = {n for t in ours if t.type == "html_block" and t.map for n in range(*t.map)}
    assert _atx_lines(_PLAIN[allow_html].parse(text)) - _atx_lines(ours) <= in_html


# ---------------------------------------------------------------- every format in one file

FORMAT_WORDS = ["什么", "卷积", "残差", "梯度", "What", "is", "loss", "ResNet", "模型", "注意力", "x"]


@st.composite
def format_item(draw: st.DrawFn, n: int) -> tuple[list[str], list[int], list[int]]:
    """One piece of a file in some question format: its lines, and which of them (0-based) are questions
    that must become notes, and which are questions without an answer (skipped, with a reason)."""
    words = st.lists(st.sampled_from(FORMAT_WORDS), min_size=1, max_size=4).map(" ".join)
    title = f"{draw(words)} {n}"
    answer = draw(words)
    kind = draw(st.sampled_from(["heading", "details", "cloze", "labels", "bold_labels", "list", "attributes"]))
    if kind == "heading":
        return [f"## {title}", "", answer], [0], []
    if kind == "attributes":
        return [f'## {title} {{#q{n} tags="t{n}" reverse}}', "", answer], [0], []
    if kind == "details":
        summary = draw(st.sampled_from(["<b>答案</b>", "Answer", "点击查看", ""]))
        return (
            [f"###### {title}", "", "```js", "f()", "```", "", "- A: 1", f"<details><summary>{summary}</summary>"]
            + ["<p>", "", f"#### 答案：{answer}", "", "</p>", "</details>"],
            [0],
            [],
        )
    if kind == "cloze":
        return [f"## {title}", "", f"{answer} {{{{c1::{draw(words)}}}}} {{{{c2::{n}::hint}}}}"], [0], []
    if kind in ("labels", "bold_labels"):
        count = draw(st.integers(2, 3))
        q, a = (
            ("**Q:** ", "**A:** ")
            if kind == "bold_labels"
            else draw(st.sampled_from([("Q: ", "A: "), ("问：", "答：")]))
        )
        lines, questions = [f"# {title}", ""], []
        for k in range(count):
            questions.append(len(lines))
            lines += [f"{q}{draw(words)} {n}.{k}？", f"{a}{draw(words)}", ""]
        return lines, questions, []
    lines, questions, skipped = [f"# {title}", ""], [], []
    for k in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            questions.append(len(lines))
            lines += [f"{k + 1}. {draw(words)} {n}.{k}？", f"   {draw(words)}"]
        else:
            skipped.append(len(lines))
            lines += [f"{k + 1}. {draw(words)} {n}.{k}"]
    if len(questions) <= len(skipped):  # a list mostly of plain items is the heading's answer
        return lines, [0], []
    return lines, questions, skipped


@st.composite
def format_file(draw: st.DrawFn) -> tuple[str, set[int], set[int]]:
    """A file mixing every question format: its text, and the lines (1-based) of its questions and its skips."""
    text: list[str] = []
    questions: set[int] = set()
    skipped: set[int] = set()
    for n in range(draw(st.integers(1, 6))):
        lines, asked, empty = draw(format_item(n))
        questions |= {len(text) + 1 + i for i in asked}
        skipped |= {len(text) + 1 + i for i in empty}
        text += [*lines, "", draw(st.sampled_from(["", "---", ""])), ""]
    return "\n".join(text), questions, skipped


@given(format_file())
def test_every_question_in_any_mix_of_formats_is_in_exactly_one_note_or_skipped(
    generated: tuple[str, set[int], set[int]],
) -> None:
    text, questions, skipped = generated
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "notes"
        content.mkdir()
        (content / "mix.md").write_text(text, encoding="utf-8")
        (content / "flashmark.toml").write_text("[formats]\nlist_questions = true\n", encoding="utf-8")
        loaded = load_corpus(content)
        in_notes = Counter(s for note in loaded.merge.notes for s in note.sources)
        skips = Counter(s.where for s in loaded.skipped)
        assert all(n == 1 for n in (in_notes + skips).values()), "a question is in two places"
        assert set(in_notes) == {f"mix.md:{line}" for line in questions}, text
        assert set(skips) == {f"mix.md:{line}" for line in skipped}, text
        assert all(s.reason for s in loaded.skipped)
        assert not [n for n in loaded.notices if n.kind == "outside"], text
        result = build(content, Path(tmp) / "out")
        assert len(result.notes) == len(loaded.merge.notes) and result.output.is_file()
