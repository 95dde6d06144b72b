"""Markdown → [Question]: one file at a time, a pure function of its text and the config."""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from markdown_it.token import Token

from flashmark.config import ANSWER_LINE_LABELS, QUESTION_LINE_LABELS, Config
from flashmark.errors import ParseError
from flashmark.markdown import cloze
from flashmark.markdown.details import CLOSE as DETAILS_CLOSE
from flashmark.markdown.details import OPEN as DETAILS_OPEN
from flashmark.markdown.flavours import NUMBERS_ENV, flavour_notices, footnote_labels, footnote_tokens
from flashmark.markdown.highlight import Budget
from flashmark.markdown.media import ImageFiles
from flashmark.markdown.parser import (
    TooMuch,
    blocks_text,
    copy_token,
    inline_text,
    render_blocks,
    render_inline,
    tokenize,
)
from flashmark.text import (
    ATTRIBUTE_NAMES,
    Attributes,
    clean_title,
    normalise,
    numbering_prefix,
    prompt_key,
    split_attributes,
    topic_tag,
    user_tag,
)
from flashmark.types import CLOZE, QA, Notice, ParsedFile, Question, Section, Skipped, Source, Verified

PROMPT, ANSWER, EXTRA = "prompt", "answer", "extra"
QUESTION_LINE, ANSWER_LINE = "question line", "answer line"
_PLAIN_LABEL = re.compile(r"\s*([^\s:：]{1,12}|[A-Za-z][A-Za-z ]{0,24}?)\s*[:：]")
_MAX_LABEL_CHARS = 16
_MAX_LABEL_WORDS = 4


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What a file's YAML front matter says."""

    deck: str | None = None
    topic: str | None = None
    tags: tuple[str, ...] = ()
    reverse: bool | None = None  # None: as flashmark.toml says
    list_questions: bool | None = None


@dataclass(frozen=True, slots=True)
class _Segment:
    """A run of body tokens under one label (None: before any label)."""

    label: str | None
    role: str
    tokens: tuple[Token, ...]


def _label_roles(config: Config) -> dict[str, str]:
    roles: dict[str, str] = {}
    for role, words in ((EXTRA, config.extra_labels), (ANSWER, config.answer_labels), (PROMPT, config.prompt_labels)):
        for word in words:
            roles[normalise(word)] = role
    return roles


_TRAILING_NUMBER = re.compile(r"[\s#.]*\d+$")  # "Q1", "问题 2", "A#3": a label with its number (one label string)


def line_word(label: str) -> str:
    """A label as label lines compare it: normalised, its number dropped (Q1 → q, 问题2 → 问题)."""
    return normalise(_TRAILING_NUMBER.sub("", label) or label)


def _line_roles(config: Config) -> dict[str, tuple[str, str]]:
    """Label-line words → (role, family). A `Q:` pairs only with an `A:` of its family: Q with A, Question
    with Answer, 问 with 答, 问题 with 答案 (so `Question:` followed by an option `A: …` is no pair);
    words added in the settings form one family of their own."""
    roles: dict[str, tuple[str, str]] = {}
    for role, words, defaults in (
        (ANSWER_LINE, config.answer_line_labels, ANSWER_LINE_LABELS),
        (QUESTION_LINE, config.question_line_labels, QUESTION_LINE_LABELS),
    ):
        for n, word in enumerate(words):
            family = str(n) if n < len(defaults) and word == defaults[n] else "settings"
            roles[line_word(word)] = (role, family)
    return roles


MAX_FRONT_MATTER = 64 * 1024  # bytes: front matter holds a few settings, never a data set
_YAML = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml when present; every scalar stays text (no dates)


def _key_line(content: str, key: str) -> int:
    """The file line where front matter sets `key` (front matter starts on line 2), else its first line."""
    for n, line in enumerate(content.split("\n")):
        if line.split(":", 1)[0].strip() == key:
            return n + 2
    return 2


def _scalar(data: dict[str, Any], key: str, rel: str, content: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip() and "\n" not in value.strip():
        return value.strip()
    raise ParseError(f"front matter '{key}' must be a single line of text", rel, _key_line(content, key))


def _deck(value: str | None, rel: str, content: str) -> str | None:
    """A deck name from front matter: levels split at `::`, blank ones dropped."""
    if value is None:
        return None
    levels = [level.strip() for level in value.split("::") if level.strip()]
    if not levels:
        raise ParseError(f"front matter 'deck' has no name in it ({value!r})", rel, _key_line(content, "deck"))
    return "::".join(levels)


def _load_yaml(content: str, rel: str) -> Any:
    """Parse front matter: plain values only, no anchors or aliases (they can blow up to gigabytes)."""
    if len(content.encode()) > MAX_FRONT_MATTER:
        raise ParseError(
            f"front matter is larger than {MAX_FRONT_MATTER // 1024} KB; keep it to a few settings", rel, 1
        )
    try:
        for event in yaml.parse(content, Loader=_YAML):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                line = event.start_mark.line + 2 if event.start_mark is not None else 2
                raise ParseError(
                    "front matter may not use YAML anchors or aliases (& and *); write values out", rel, line
                )
        return yaml.load(content, Loader=_YAML)  # BaseLoader builds plain strings, lists and maps, nothing else
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        last = content.rstrip("\n").count("\n") + 2  # the front matter's last line: a problem seen at its end is there
        line = min(mark.line + 2, last) if mark is not None else 1
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ParseError(f"front matter is not valid YAML ({problem}); fix or remove it", rel, line) from None
    except (RecursionError, ValueError):  # nested thousands deep
        raise ParseError("front matter is nested too deeply; simplify it", rel, 2) from None


def _front_matter(tokens: list[Token], rel: str) -> FileMeta:
    """Read `deck`, `topic` and `tags` from YAML front matter, if the file has any."""
    if not tokens or tokens[0].type != "front_matter":
        return FileMeta()
    content = tokens[0].content
    data = _load_yaml(content, rel)
    if data is None or data == "":
        return FileMeta()
    if not isinstance(data, dict):
        raise ParseError("front matter must be a mapping such as 'topic: ResNet'", rel, 2)
    raw_tags = data.get("tags")
    if raw_tags is None:
        tags: list[str] = []
    elif isinstance(raw_tags, str):
        tags = raw_tags.replace(",", " ").split()
    elif isinstance(raw_tags, list) and all(isinstance(t, str) for t in raw_tags):
        tags = list(raw_tags)
    else:
        raise ParseError(
            "front matter 'tags' must be a list of words, e.g. tags: [ResNet, CNN]", rel, _key_line(content, "tags")
        )
    cleaned = tuple(dict.fromkeys(t for t in (user_tag(tag) for tag in tags) if t))
    return FileMeta(
        deck=_deck(_scalar(data, "deck", rel, content), rel, content),
        topic=_scalar(data, "topic", rel, content),
        tags=cleaned,
        reverse=_switch(data, "reverse", rel, content),
        list_questions=_switch(data, "list_questions", rel, content),
    )


def _switch(data: dict[str, Any], key: str, rel: str, content: str) -> bool | None:
    value = _scalar(data, key, rel, content)
    if value is None:
        return None
    if value.lower() in ("true", "yes", "on"):
        return True
    if value.lower() in ("false", "no", "off"):
        return False
    raise ParseError(f"front matter '{key}' must be true or false", rel, _key_line(content, key))


def _leading_blanks(children: Sequence[Token], start: int = 0) -> int:
    """The index of the first child from `start` on that is not a line break or white space."""
    i = start
    while i < len(children) and (
        children[i].type in ("softbreak", "hardbreak")
        or (children[i].type == "text" and not children[i].content.strip())
    ):
        i += 1
    return i


def _strip_leading(children: Sequence[Token]) -> list[Token]:
    """Drop the breaks and spaces left at the start of a paragraph once its label is cut off."""
    rest = list(children[_leading_blanks(children) :])
    if rest and rest[0].type == "text" and rest[0].content != rest[0].content.lstrip():
        rest[0] = copy_token(rest[0], content=rest[0].content.lstrip())
    return rest


def _short_label(label: str) -> bool:
    return 0 < len(label) <= _MAX_LABEL_CHARS and len(label.split()) <= _MAX_LABEL_WORDS


Known = Callable[[str], bool]
_WINDOW = 5  # children a label is read from; the rest of a paragraph is only copied once a label is found


def _find_label(
    children: Sequence[Token], known: Known, any_bold: bool = True, start: int = 0
) -> tuple[str, list[Token]] | None:
    """If inline children (from `start` on) begin with a label, return (label, the children after it).

    A bold label ending in a colon (`**答案：**`, `**答案**：`) counts when `any_bold` or when `known`
    says so; a plain one (`答案：`), or a known one opening a bold line (`**Q: What is…?**`), only when known.
    """
    first = _leading_blanks(children, start)
    ch = _strip_leading(children[first : first + _WINDOW])
    found = _read_label(ch, known, any_bold)
    if found is None:
        return None
    label, rest = found
    return label, _strip_leading([*rest, *children[first + _WINDOW :]])


def _read_label(ch: list[Token], known: Known, any_bold: bool) -> tuple[str, list[Token]] | None:
    """The label the first few children of a paragraph open with, and those children after it."""
    if len(ch) >= 3 and ch[0].type == "strong_open" and ch[1].type == "text" and ch[2].type == "strong_close":
        text = ch[1].content.strip()
        if text.endswith((":", "：")):
            label, rest = text[:-1].strip(), list(ch[3:])
        elif len(ch) > 3 and ch[3].type == "text" and ch[3].content.lstrip().startswith((":", "：")):
            label = text
            rest = [copy_token(ch[3], content=ch[3].content.lstrip()[1:]), *ch[4:]]
        else:
            m = _PLAIN_LABEL.match(ch[1].content)
            if m is None or not known(m.group(1).strip()):
                return None
            label = m.group(1).strip()  # the whole line in bold: keep the rest of it, without the bold
            rest = [copy_token(ch[1], content=ch[1].content[m.end() :]), *ch[3:]]
        if not _short_label(label) or not (any_bold or known(label)):
            return None
        return label, rest
    if ch and ch[0].type == "text":
        m = _PLAIN_LABEL.match(ch[0].content)
        if m is not None and known(m.group(1).strip()):
            return m.group(1).strip(), [copy_token(ch[0], content=ch[0].content[m.end() :]), *ch[1:]]
    return None


def _split_paragraphs(body: Sequence[Token], known: Known) -> list[Token]:
    """Start a new paragraph at each line that opens with a known label (`问：…⏎答：…` written as one paragraph)."""
    out: list[Token] = []
    i = 0
    while i < len(body):
        token = body[i]
        if not (token.type == "paragraph_open" and token.level == 0 and i + 2 < len(body)):
            out.append(token)
            i += 1
            continue
        inline, close = body[i + 1], body[i + 2]
        children = list(inline.children or [])
        cuts = [
            j
            for j, child in enumerate(children)
            if child.type in ("softbreak", "hardbreak") and _find_label(children, known, any_bold=False, start=j + 1)
        ]
        if not cuts:
            out.extend(body[i : i + 3])
            i += 3
            continue
        start = token.map[0] if token.map else 0
        bounds = [0, *(j + 1 for j in cuts), len(children) + 1]
        for a, b in itertools.pairwise(bounds):
            part = children[a : b - 1]
            first = start + sum(1 for c in children[:a] if c.type in ("softbreak", "hardbreak"))
            lines = [first, first + 1 + sum(1 for c in part if c.type in ("softbreak", "hardbreak"))]
            out.append(copy_token(token))
            out[-1].map = lines
            out.append(copy_token(inline, children=part, content=inline_text(part)))
            out[-1].map = lines
            out.append(close)
        i += 3
    return out


def _details_end(body: Sequence[Token], i: int) -> int:
    """The index of the details_close that matches the details_open at `i`."""
    depth = 0
    for j in range(i, len(body)):
        if body[j].type == DETAILS_OPEN:
            depth += 1
        elif body[j].type == DETAILS_CLOSE:
            depth -= 1
            if depth == 0:
                return j
    return len(body) - 1


def _role(label: str, roles: dict[str, str]) -> str | None:
    """A label's role: as written (答案), else without its number (答案1, Q2)."""
    return roles.get(normalise(label)) or roles.get(line_word(label))


# Words that make a fold's summary an answer (点击查看答案, Show answer, Solution): labels of the answer role
# (two characters or more) and these.
_FOLD_ANSWER_WORDS = ("solution", "answers")


def _fold_role(summary: str, roles: dict[str, str]) -> str | None:
    """The section a `<details>` fold is, by its summary: the answer when the summary says so, a prompt or
    extra section when it is such a label (解析, Hint), else None: a fold kept as it is inside the answer."""
    role = _role(summary, roles) if summary else None
    if role is not None:
        return role
    plain = normalise(summary, keep_meaning=False)
    words = set(re.findall(r"[a-z]+", summary.casefold()))
    for word, found in roles.items():
        if found == ANSWER and len(word) >= 2 and (word in words if word.isascii() else word in plain):
            return ANSWER
    return ANSWER if words & set(_FOLD_ANSWER_WORDS) else None


def _segments(body: Sequence[Token], roles: dict[str, str]) -> list[_Segment]:
    """Split a question body at its labelled paragraphs and `<details>` blocks.

    Sections count only when one of them is a prompt or an answer; then what stands before the first
    answer, unlabelled (code, options), is the prompt. Otherwise the whole body is the answer.
    """
    segments: list[_Segment] = []
    label: str | None = None
    role = ANSWER
    current: list[Token] = []

    def known(word: str) -> bool:
        return _role(word, roles) is not None

    i = 0
    while i < len(body):
        token = body[i]
        folded = _fold_role(token.meta.get("summary") or "", roles) if token.type == DETAILS_OPEN else None
        if folded is not None and token.level == 0 and body[i + 1].type != DETAILS_CLOSE:
            if current or label is not None:
                segments.append(_Segment(label, role, tuple(current)))
            end = _details_end(body, i)
            segments.append(_Segment(token.meta.get("summary") or "", folded, tuple(body[i + 1 : end])))
            label, role, current = None, ANSWER, []
            i = end + 1
            continue
        found = None
        if token.type == "paragraph_open" and token.level == 0 and i + 2 < len(body):
            found = _find_label(body[i + 1].children or [], known)
        if found is None:
            current.append(token)
            i += 1
            continue
        if current or label is not None:
            segments.append(_Segment(label, role, tuple(current)))
        label, rest = found
        role = _role(label, roles) or EXTRA
        current = [token, copy_token(body[i + 1], children=rest), body[i + 2]] if rest else []
        i += 3
    if current or label is not None:
        segments.append(_Segment(label, role, tuple(current)))
    answers = [n for n, s in enumerate(segments) if s.label is not None and s.role == ANSWER]
    if not answers and not any(s.label is not None and s.role == PROMPT for s in segments):
        return [_Segment(None, ANSWER, tuple(body))]
    if answers and segments[0].label is None:
        segments[0] = _Segment(None, PROMPT, segments[0].tokens)  # what stands between the title and the answer
    return segments


def _labelled(body: Sequence[Token], roles: dict[str, str]) -> bool:
    """Whether a body has a prompt or answer of its own: a labelled section or a `<details>` answer."""
    return any(s.label is not None for s in _segments(body, roles))


def _trim(tokens: Sequence[Token]) -> list[Token]:
    """Drop thematic breaks (`---` between questions) at either end of a body."""
    out = list(tokens)
    while out and out[0].type == "hr":
        out.pop(0)
    while out and out[-1].type == "hr":
        out.pop()
    return out


def _title_children(children: Sequence[Token]) -> tuple[list[Token], str, Attributes | None]:
    """A title's inline children without numbering or `{#id …}`, its clean text, and its attributes."""
    children = list(children)
    raw, attributes = split_attributes(inline_text(children))
    if attributes is not None:
        last = children[-1] if children else None
        if last is not None and last.type == "text" and split_attributes(last.content)[1] == attributes:
            children[-1] = copy_token(last, content=split_attributes(last.content)[0])
        else:  # the braces are not all in one piece of text: leave the title as written
            raw, attributes = inline_text(children), None
    cut = numbering_prefix(raw)
    if cut and children and children[0].type == "text" and children[0].content.startswith(raw[:cut].lstrip()):
        first = children[0].content.lstrip()
        children[0] = copy_token(children[0], content=first[len(raw[:cut].lstrip()) :])
    return children, clean_title(raw), attributes


def _level0_blocks(body: Sequence[Token]) -> list[tuple[int, int]]:
    """The (start, end) index ranges of the top-level blocks of a body."""
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(body):
        start, depth = i, 0
        while i < len(body):
            depth += body[i].nesting
            i += 1
            if depth <= 0:
                break
        blocks.append((start, i))
    return blocks


def _line_of(tokens: Sequence[Token]) -> int | None:
    first = next((t for t in tokens if t.map), None)
    return first.map[0] + 1 if first is not None and first.map else None


def _has_content(tokens: Sequence[Token]) -> bool:
    return any(t.type not in ("front_matter", "hr") for t in tokens)


def _hidden_headings(content: str) -> list[str]:
    """The titles of the headings Markdown text would have if it were not inside a code or HTML block."""
    tokens = tokenize(content)
    return [
        clean_title(inline_text(tokens[i + 1].children or [])) for i, t in enumerate(tokens) if t.type == "heading_open"
    ]


def _unclosed_fence(token: Token, lines: list[str]) -> bool:
    """Whether a code fence never closes: it then runs to the end of the file."""
    if token.map is None or token.map[1] < len(lines):
        return False
    last = lines[token.map[1] - 1].strip() if token.map[1] - 1 > token.map[0] else ""
    mark = token.markup[:1]
    return not (mark and last and set(last) == {mark} and len(last) >= len(token.markup))


def _swallowed(tokens: Sequence[Token], text: str, rel: str) -> list[Notice]:
    """Warn when an unclosed code fence or a raw HTML block holds lines that would otherwise be headings."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    notices = []
    for token in tokens:
        if token.level != 0 or token.map is None:
            continue
        if token.type == "fence" and _unclosed_fence(token, lines):
            what, fix = f"code block opened with {token.markup} is never closed", f"close it with {token.markup}"
        elif token.type == "html_block":
            what, fix = "raw HTML block runs on", "close the HTML tag, or end the HTML with a blank line"
        else:
            continue
        hidden = _hidden_headings(token.content)
        if hidden:
            shown = ", ".join(f"'{t}'" for t in hidden[:3]) + (
                f" and {len(hidden) - 3} more" if len(hidden) > 3 else ""
            )
            are = "heading in it is not a question" if len(hidden) == 1 else "headings in it are not questions"
            notices.append(
                Notice(rel, token.map[0] + 1, "swallowed", f"{what}, so {len(hidden)} {are} ({shown}); {fix}")
            )
    return notices


class _FileParser:
    """One file's questions, skips and warnings, gathered while its heading tree is walked."""

    def __init__(
        self, source: Source, config: Config, root: Path | None, images: Mapping[str, Verified] | None = None
    ) -> None:
        self.rel = rel = source.rel
        self.text = source.text
        self.config = config
        self.images = ImageFiles(
            source.path, rel, root if root is not None else source.path.parent, config.max_image_mb, images
        )
        self.questions: list[Question] = []
        self.skipped: list[Skipped] = []
        self.notices: list[Notice] = list(source.notices)
        self.budget = Budget()
        # One env for parsing (which gathers footnote definitions into it) and rendering (which reads them).
        self.env: dict[str, Any] = {"file": rel, "images": self.images, "warn": self.warn, "highlight": self.budget}
        try:
            self.tokens = tokenize(source.text, config.allow_html, config.details, config.flavours, self.env)
        except TooMuch as exc:
            raise ParseError(exc.message, rel, exc.line) from None
        self.meta = _front_matter(self.tokens, rel)
        self.roles = _label_roles(config)
        self.line_roles = _line_roles(config) if config.label_lines else {}
        self.file_topic = self.meta.topic or PurePosixPath(rel).stem
        self.deck = self.meta.deck or _file_deck(rel)
        self.reverse = config.reverse if self.meta.reverse is None else self.meta.reverse
        self.list_questions = config.list_questions if self.meta.list_questions is None else self.meta.list_questions
        self.topic_tags: dict[tuple[str, ...], tuple[str, ...]] = {}

    def warn(self, line: int | None, kind: str, message: str) -> None:
        self.notices.append(Notice(self.rel, line, kind, message))

    # ------------------------------------------------------------ labels

    def _is_line_label(self, role: str, family: str | None = None) -> Known:
        def known(word: str) -> bool:
            found = self.line_roles.get(line_word(word))
            return found is not None and found[0] == role and (family is None or found[1] == family)

        return known

    def _any_line_label(self, word: str) -> bool:
        return line_word(word) in self.line_roles or normalise(word) in self.roles

    def _question_lines(self, body: Sequence[Token], first: bool = False) -> list[int]:
        """Indexes of the paragraphs that open a label-line question: `Q:` with an `A:` of its family (or a
        details block) after it, before the next `Q:`. With `first`, none unless the body opens with one."""
        if not self.line_roles:
            return []
        is_question = self._is_line_label(QUESTION_LINE)
        starts: list[int] = []
        pending: tuple[int, str] | None = None
        for n, (start, _) in enumerate(_level0_blocks(body)):
            token = body[start]
            if token.type == "paragraph_open" and start + 1 < len(body):
                children = body[start + 1].children or []
                opened = _find_label(children, is_question, any_bold=False)
                if opened is not None:
                    pending = (start, self.line_roles[line_word(opened[0])][1])
                    continue
                if pending is not None:
                    is_answer = self._is_line_label(ANSWER_LINE, pending[1])
                    if _find_label(children, is_answer, any_bold=False) is not None:
                        starts.append(pending[0])
                        pending = None
            elif token.type == DETAILS_OPEN and pending is not None and self.config.details:
                starts.append(pending[0])
                pending = None
            if first and n == 0 and not (starts or pending):
                return []  # the body opens with something else: an ordinary answer that quotes Q:/A: lines
        return starts

    # ------------------------------------------------------------ one question

    def _attribute_problems(self, attributes: Attributes | None, line: int, topic: bool = False) -> None:
        """Warn of attributes that were not read, or that a heading which is no question cannot use."""
        if attributes is None:
            return
        if attributes.unreadable:
            (shown,) = attributes.unknown
            self.warn(
                line,
                "attribute",
                f'cannot read the attributes {{{shown}}}: write them as {{#id tags="a b" reverse}} (quotes around '
                "tags with spaces; reverse or reverse=false); ignored",
            )
        elif attributes.unknown:
            shown = ", ".join(attributes.unknown)
            known = f"#id, {', '.join(ATTRIBUTE_NAMES)}"
            self.warn(line, "attribute", f"unknown attribute {shown} on the question (known: {known}); ignored")
        if topic and (attributes.anchor or attributes.tags or attributes.reverse is not None):
            self.warn(
                line,
                "attribute",
                "attributes on a heading that is a topic, not a question, are not used: put them on its questions",
            )

    def _tags(self, topic: tuple[str, ...]) -> tuple[str, ...]:
        tags = self.topic_tags.get(topic)
        if tags is None:  # one shared tuple per topic: a large corpus holds fewer copies
            tags = self.topic_tags[topic] = tuple(dict.fromkeys(t for t in (topic_tag(topic), *self.meta.tags) if t))
        return tags

    def question(
        self,
        title_tokens: Sequence[Token],
        body: Sequence[Token],
        topic: tuple[str, ...],
        line: int,
        roles: dict[str, str],
        *,
        untitled: bool = False,
    ) -> None:
        """Make one question (or a skip) from its title's inline children and its body's block tokens."""
        children, title, attributes = _title_children(title_tokens)
        if untitled:  # a cloze paragraph on its own: its text (clozes revealed) names it in messages and keys it
            title = " ".join(cloze.revealed(blocks_text(body)).split())[:80]
        title_norm = normalise(title)
        if not title_norm:
            self.skipped.append(
                Skipped(self.rel, line, title, "heading has no words, only punctuation or numbering; give it a title")
            )
            return
        self._attribute_problems(attributes, line)
        segments = _segments(body, roles)
        prompt = [t for s in segments if s.role == PROMPT for t in s.tokens]
        answer = [t for s in segments if s.role == ANSWER for t in s.tokens]
        if not answer:
            self.skipped.append(
                Skipped(self.rel, line, title, "has labelled sections but no answer (答案/Answer) section")
            )
            return
        kind = QA
        if self.config.cloze and cloze.has_cloze([*prompt, *answer]):
            ready, numbers = cloze.prepare([*prompt, *answer], lambda at, message: self.warn(at, "cloze", message))
            prompt, answer = ready[: len(prompt)], ready[len(prompt) :]
            if numbers:
                kind = CLOZE
        extra_segments = [s for s in segments if s.role == EXTRA and s.tokens]
        if self.config.cloze:
            for s in extra_segments:
                if cloze.has_cloze(s.tokens):
                    self.warn(
                        _line_of(s.tokens) or line,
                        "cloze",
                        f"clozes in the '{s.label}' section are shown as written: only the question's text and "
                        "answer make cloze cards",
                    )
            if not untitled and cloze.MARK.search(title):
                self.warn(line, "cloze", "clozes in a title are shown as written: put them in the text under it")
        reverse = self.reverse if attributes is None or attributes.reverse is None else attributes.reverse
        if kind == CLOZE and attributes is not None and attributes.reverse:
            self.warn(line, "reverse", "a cloze note has no reversed card; {reverse} is ignored")
        allow, env = self.config.allow_html, self.env
        # The footnotes this question refers to go under its answer, numbered from 1 on its card.
        labels = footnote_labels([copy_token(Token("inline", "", 0), children=children), *prompt, *answer])
        labels += [x for s in extra_segments for x in footnote_labels(s.tokens) if x not in labels]
        env[NUMBERS_ENV] = {label: n for n, label in enumerate(labels, 1)}
        answer = [*answer, *footnote_tokens(labels, env)]
        extras = tuple(
            Section(sys.intern(s.label or ""), render_blocks(s.tokens, allow, env), normalise(blocks_text(s.tokens)))
            for s in extra_segments
        )
        tags = self._tags(topic)
        if attributes is not None and attributes.tags:
            tags = tuple(dict.fromkeys((*tags, *attributes.tags)))
        self.questions.append(
            Question(
                title=title,
                title_html="" if untitled else render_inline(children, allow, env).strip(),
                title_norm=title_norm,
                topic=topic,
                prompt_html=render_blocks(prompt, allow, env),
                prompt_norm=prompt_key(blocks_text(prompt)),
                answer_html=render_blocks(answer, allow, env),
                answer_norm=normalise(blocks_text(answer)),
                extras=extras,
                file=self.rel,
                line=line,
                deck=self.deck,
                tags=tags,
                anchor=attributes.anchor if attributes is not None else None,
                media=self.images.take(),
                kind=kind,
                reverse=reverse and kind == QA,
            )
        )

    # ------------------------------------------------------------ bodies

    def heading_body(self, title_tokens: Sequence[Token], body: list[Token], topic: tuple[str, ...], line: int) -> None:
        """A heading with text under it: one question, or the topic of the label-line or list questions in it."""
        split = _split_paragraphs(body, self._any_line_label) if self.line_roles else body
        starts = self._question_lines(split, first=True)
        own_topic = (*topic, clean_title(split_attributes(inline_text(title_tokens))[0]))
        if len(starts) >= 2:
            self._attribute_problems(_title_children(title_tokens)[2], line, topic=True)
            self.loose(split[: starts[0]], own_topic, "under this heading, before its first Q:")
            self.label_lines(split, starts, own_topic)
            return
        if self.list_questions and not starts and not _labelled(body, self.roles) and self.list_body(body, own_topic):
            self._attribute_problems(_title_children(title_tokens)[2], line, topic=True)
            return  # a list of questions, unless the heading has an answer of its own (a label, a details block)
        roles = self.roles
        if starts and not _labelled(body, roles):
            # One Q:/A: pair opening a heading's text: the heading is the question, Q: its prompt, A: its answer.
            roles = {**roles, **{w: PROMPT if r == QUESTION_LINE else ANSWER for w, (r, _) in self.line_roles.items()}}
            body = split
        self.question(title_tokens, body, topic or (self.file_topic,), line, roles)

    def label_lines(self, body: Sequence[Token], starts: list[int], topic: tuple[str, ...]) -> None:
        """Questions written as `Q: …` / `A: …` paragraphs, each running to the next `Q:`."""
        is_question = self._is_line_label(QUESTION_LINE)
        answer_roles = {**self.roles, **{w: ANSWER for w, (r, _) in self.line_roles.items() if r == ANSWER_LINE}}
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(body)
            found = _find_label(body[start + 1].children or [], is_question, any_bold=False)
            assert found is not None
            line = (body[start].map or [0])[0] + 1
            self.question(found[1], _trim(body[start + 3 : end]), topic, line, answer_roles)

    def list_body(self, body: Sequence[Token], topic: tuple[str, ...]) -> bool:
        """Questions written as list items, the first line the question, the rest the answer; False if none.

        A list counts when most of its items have an answer under them; a list of plain items (`- list`,
        `- dict`) is an ordinary answer."""
        blocks = _level0_blocks(body)
        lists = [
            (a, b)
            for a, b in blocks
            if body[a].type in ("bullet_list_open", "ordered_list_open") and _mostly_answered(body[a + 1 : b - 1])
        ]
        if not lists:
            return False
        outside: list[Token] = []
        for a, b in blocks:
            if (a, b) not in lists:
                outside.extend(body[a:b])
                continue
            for item_start, item_end in _level0_blocks(list(body[a + 1 : b - 1])):
                self.list_item(body[a + 1 + item_start : a + 1 + item_end], topic)
        self.loose(outside, topic, "between the list questions")
        return True

    def list_item(self, item: Sequence[Token], topic: tuple[str, ...]) -> None:
        inner = list(item[1:-1])  # inside list_item_open … list_item_close
        line = (item[0].map or [0])[0] + 1
        if len(inner) < 3 or inner[0].type != "paragraph_open":
            self.skipped.append(Skipped(self.rel, line, "", "list item does not start with a line of text"))
            return
        children = list(inner[1].children or [])
        cut = next((j for j, c in enumerate(children) if c.type in ("softbreak", "hardbreak")), len(children))
        title, rest = children[:cut], _strip_leading(children[cut + 1 :])
        answer = list(inner[3:])
        if rest:
            opener = copy_token(inner[0])
            opener.hidden = False
            closer = copy_token(inner[2])
            closer.hidden = False
            answer = [opener, copy_token(inner[1], children=rest, content=inline_text(rest)), closer, *answer]
        if not answer:
            text = clean_title(inline_text(title))
            self.skipped.append(Skipped(self.rel, line, text, "list question has no answer under it (indent it)"))
            return
        self.question(title, [_unhide(t) for t in answer], topic, line, {})

    def loose(self, tokens: Sequence[Token], topic: tuple[str, ...], where: str) -> None:
        """Text that belongs to no question: a cloze paragraph in it is a note of its own; the rest is reported."""
        rest: list[Token] = []
        for a, b in _level0_blocks(tokens):
            block = tokens[a:b]
            if self.config.cloze and block[0].type not in ("front_matter", "hr") and cloze.has_cloze(block):
                self.question([], list(block), topic, _line_of(block) or 1, {}, untitled=True)
            else:
                rest.extend(block)
        if _has_content(rest):
            first = next(t for t in rest if t.type not in ("front_matter", "hr"))
            line = first.map[0] + 1 if first.map else None
            self.warn(line, "outside", f"text {where} is not part of any question; give it a heading")

    def preamble(self, tokens: list[Token], has_headings: bool) -> None:
        """What comes before the first heading: label-line, list or cloze questions, else a warning."""
        split = _split_paragraphs(tokens, self._any_line_label) if self.line_roles else tokens
        starts = self._question_lines(split)
        topic = (self.file_topic,)
        where = "before the first heading" if has_headings else "in a file without headings"
        if starts:
            self.loose(split[: starts[0]], topic, where)
            self.label_lines(split, starts, topic)
        elif not (self.list_questions and self.list_body(tokens, topic)):
            self.loose(tokens, topic, where)

    def parse(self) -> ParsedFile:
        tokens, rel = self.tokens, self.rel
        skip_titles = {normalise(t) for t in self.config.skip_headings}
        heads = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.level == 0]
        preamble = [t for t in tokens[: heads[0] if heads else len(tokens)] if t.type != "front_matter"]
        if _has_content(preamble):
            self.preamble(_trim(preamble), bool(heads))
        elif not heads:
            what = "holds only front matter" if tokens and tokens[0].type == "front_matter" else "is empty"
            self.notices.append(Notice(rel, None, "empty", f"file {what}; it adds no questions"))

        stack: list[tuple[int, str]] = []
        skip_below: int | None = None
        for k, h in enumerate(heads):
            level = int(tokens[h].tag[1:])
            line = (tokens[h].map or [0])[0] + 1
            end = heads[k + 1] if k + 1 < len(heads) else len(tokens)
            if skip_below is not None and level > skip_below:
                continue
            skip_below = None
            while stack and stack[-1][0] >= level:
                stack.pop()
            title_tokens = tokens[h + 1].children or []
            _, title, attributes = _title_children(title_tokens)
            body = _trim(tokens[h + 3 : end])
            if normalise(title) in skip_titles:
                skip_below = level
                continue
            has_subheadings = k + 1 < len(heads) and int(tokens[heads[k + 1]].tag[1:]) > level
            parents = tuple(t for _, t in stack)
            stack.append((level, title))
            if not body:
                if not has_subheadings:
                    self.skipped.append(Skipped(rel, line, title, "heading has no answer under it"))
                else:
                    self._attribute_problems(attributes, line, topic=True)
                continue
            self.heading_body(title_tokens, body, parents, line)
        self.notices.extend(_swallowed(tokens, self.text, rel))
        self.notices.extend(_folded_questions(tokens, rel))
        for at, message in flavour_notices(tokens, self.config.flavours, self.env):
            self.warn(at, "markdown", message)
        return self.finish()

    def finish(self) -> ParsedFile:
        notices = self.notices
        notices.extend(self.images.notices)
        if self.budget.plain:
            count = len(self.budget.plain)
            blocks = "code block is" if count == 1 else f"{count} code blocks are"
            message = f"{blocks} shown without colours: too big or too slow to highlight (a lexer stuck on odd input)"
            notices.append(Notice(self.rel, self.budget.plain[0], "highlight", message))
        return ParsedFile(
            rel=self.rel,
            questions=tuple(self.questions),
            skipped=tuple(self.skipped),
            notices=tuple(notices),
            deps=self.images.looked_at(),
        )


def _mostly_answered(items: Sequence[Token]) -> bool:
    """Whether more than half the items of a list (its tokens inside the list) have something under their first line."""
    spans = _level0_blocks(list(items))
    answered = 0
    for start, end in spans:
        inner = items[start + 1 : end - 1]
        first_lines = inner[1].children or [] if len(inner) >= 3 and inner[0].type == "paragraph_open" else []
        if len(inner) > 3 or any(c.type in ("softbreak", "hardbreak") for c in first_lines):
            answered += 1
    return answered * 2 > len(spans)


def _unhide(token: Token) -> Token:
    """A list item's paragraph shown as a paragraph (tight lists hide them) once the item is an answer."""
    if token.hidden and token.type in ("paragraph_open", "paragraph_close"):
        token = copy_token(token)
        token.hidden = False
    return token


def _folded_questions(tokens: Sequence[Token], rel: str) -> list[Notice]:
    """Warn when a `<details>` fold holds headings of its own question's level: a `</details>` further down than
    meant has made the questions under them part of this answer."""
    notices = []
    level = 0
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0:
            level = int(token.tag[1:])
        elif token.type == DETAILS_OPEN and token.level == 0 and level:
            end = _details_end(tokens, i)
            inner = [
                clean_title(inline_text(tokens[j + 1].children or []))
                for j in range(i + 1, end)
                if tokens[j].type == "heading_open" and int(tokens[j].tag[1:]) == level
            ]
            if inner and token.map:
                shown = ", ".join(f"'{t}'" for t in inner[:3]) + (
                    f" and {len(inner) - 3} more" if len(inner) > 3 else ""
                )
                notices.append(
                    Notice(
                        rel,
                        token.map[0] + 1,
                        "swallowed",
                        f"<details> fold runs to line {token.map[1]} and holds the headings {shown}, so they are part "
                        "of this answer, not questions; close the fold (</details>) before them",
                    )
                )
    return notices


def _file_deck(rel: str) -> str:
    return "::".join(PurePosixPath(rel).with_suffix("").parts)


def parse_source(
    source: Source, config: Config, root: Path | None = None, images: Mapping[str, Verified] | None = None
) -> ParsedFile:
    """Parse one file into its questions, skipped headings and warnings.

    Images may come from anywhere under `root`, the content folder (default: the file's own folder); `images`
    are those checked against their names before, by path (see ImageFiles).
    """
    return _FileParser(source, config, root, images).parse()
