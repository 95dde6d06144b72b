"""Markdown → [Question]: one file at a time, a pure function of its text and the config."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from markdown_it.token import Token

from flashmark.config import Config
from flashmark.errors import ParseError
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
from flashmark.text import clean_title, normalise, numbering_prefix, split_anchor, topic_tag, user_tag
from flashmark.types import Notice, ParsedFile, Question, Section, Skipped, Source

PROMPT, ANSWER, EXTRA = "prompt", "answer", "extra"
_PLAIN_LABEL = re.compile(r"\s*([^\s:：]{1,12}|[A-Za-z][A-Za-z ]{0,24}?)\s*[:：]")
_MAX_LABEL_CHARS = 16
_MAX_LABEL_WORDS = 4


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What a file's YAML front matter says."""

    deck: str | None = None
    topic: str | None = None
    tags: tuple[str, ...] = ()


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
    )


def _strip_leading(children: Sequence[Token]) -> list[Token]:
    """Drop the breaks and spaces left at the start of a paragraph once its label is cut off."""
    rest = list(children)
    while rest:
        head = rest[0]
        if head.type in ("softbreak", "hardbreak") or (head.type == "text" and not head.content.strip()):
            rest.pop(0)
        elif head.type == "text" and head.content != head.content.lstrip():
            rest[0] = copy_token(head, content=head.content.lstrip())
            break
        else:
            break
    return rest


def _short_label(label: str) -> bool:
    return 0 < len(label) <= _MAX_LABEL_CHARS and len(label.split()) <= _MAX_LABEL_WORDS


def _find_label(inline: Token, roles: dict[str, str]) -> tuple[str, str, list[Token]] | None:
    """If a paragraph starts with a label, return (label, role, the paragraph's remaining children)."""
    ch = _strip_leading(inline.children or [])
    if len(ch) >= 3 and ch[0].type == "strong_open" and ch[1].type == "text" and ch[2].type == "strong_close":
        text = ch[1].content.strip()
        if text.endswith((":", "：")):
            label, rest = text[:-1].strip(), list(ch[3:])
        elif len(ch) > 3 and ch[3].type == "text" and ch[3].content.lstrip().startswith((":", "：")):
            label = text
            rest = [copy_token(ch[3], content=ch[3].content.lstrip()[1:]), *ch[4:]]
        else:
            return None
        if not _short_label(label):
            return None
        return label, roles.get(normalise(label), EXTRA), _strip_leading(rest)
    if ch and ch[0].type == "text":
        m = _PLAIN_LABEL.match(ch[0].content)
        if m is not None and normalise(m.group(1)) in roles:
            label = m.group(1).strip()
            rest = [copy_token(ch[0], content=ch[0].content[m.end() :]), *ch[1:]]
            return label, roles[normalise(label)], _strip_leading(rest)
    return None


def _segments(body: Sequence[Token], roles: dict[str, str]) -> list[_Segment]:
    """Split a question body at its labelled paragraphs."""
    segments: list[_Segment] = []
    label: str | None = None
    role = ANSWER
    current: list[Token] = []
    i = 0
    while i < len(body):
        token = body[i]
        found = None
        if token.type == "paragraph_open" and token.level == 0 and i + 2 < len(body):
            found = _find_label(body[i + 1], roles)
        if found is None:
            current.append(token)
            i += 1
            continue
        if current or label is not None:
            segments.append(_Segment(label, role, tuple(current)))
        label, role, rest = found
        current = [token, copy_token(body[i + 1], children=rest), body[i + 2]] if rest else []
        i += 3
    if current or label is not None:
        segments.append(_Segment(label, role, tuple(current)))
    if not any(s.label is not None and s.role in (PROMPT, ANSWER) for s in segments):
        return [_Segment(None, ANSWER, tuple(body))]
    return segments


def _trim(tokens: Sequence[Token]) -> list[Token]:
    """Drop thematic breaks (`---` between questions) at either end of a body."""
    out = list(tokens)
    while out and out[0].type == "hr":
        out.pop(0)
    while out and out[-1].type == "hr":
        out.pop()
    return out


def _title_children(inline: Token) -> tuple[list[Token], str, str | None]:
    """The heading's inline children without numbering or `{#id}`, its clean text, and the id."""
    children = list(inline.children or [])
    raw, anchor = split_anchor(inline_text(children))
    if anchor is not None and children and children[-1].type == "text":
        children[-1] = copy_token(children[-1], content=split_anchor(children[-1].content)[0])
    cut = numbering_prefix(raw)
    if cut and children and children[0].type == "text" and children[0].content.startswith(raw[:cut].lstrip()):
        first = children[0].content.lstrip()
        children[0] = copy_token(children[0], content=first[len(raw[:cut].lstrip()) :])
    return children, clean_title(raw), anchor


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


def _file_deck(rel: str) -> str:
    return "::".join(PurePosixPath(rel).with_suffix("").parts)


def parse_source(source: Source, config: Config, root: Path | None = None) -> ParsedFile:
    """Parse one file into its questions, skipped headings and warnings.

    Images may come from anywhere under `root`, the content folder (default: the file's own folder).
    """
    rel = source.rel
    try:
        tokens = tokenize(source.text, config.allow_html)
    except TooMuch as exc:
        raise ParseError(exc.message, rel, exc.line) from None
    meta = _front_matter(tokens, rel)
    roles = _label_roles(config)
    skip_titles = {normalise(t) for t in config.skip_headings}
    file_topic = meta.topic or PurePosixPath(rel).stem
    deck = meta.deck or _file_deck(rel)
    images = ImageFiles(source.path, rel, root if root is not None else source.path.parent, config.max_image_mb)
    questions: list[Question] = []
    skipped: list[Skipped] = []
    notices: list[Notice] = list(source.notices)

    def warn(line: int | None, kind: str, message: str) -> None:
        notices.append(Notice(rel, line, kind, message))

    budget = Budget()
    env: dict[str, Any] = {"file": rel, "images": images, "warn": warn, "highlight": budget}
    allow = config.allow_html

    heads = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.level == 0]

    preamble = tokens[: heads[0] if heads else len(tokens)]
    if _has_content(preamble):
        first = next(t for t in preamble if t.type not in ("front_matter", "hr"))
        line = first.map[0] + 1 if first.map else None
        what = "text before the first heading" if heads else "a file without headings"
        notices.append(Notice(rel, line, "outside", f"{what} is not part of any question; give it a heading"))
    elif not heads:
        what = "holds only front matter" if tokens and tokens[0].type == "front_matter" else "is empty"
        notices.append(Notice(rel, None, "empty", f"file {what}; it adds no questions"))

    stack: list[tuple[int, str]] = []
    topic_tags: dict[tuple[str, ...], tuple[str, ...]] = {}
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
        children, title, anchor = _title_children(tokens[h + 1])
        title_norm = normalise(title)
        body = _trim(tokens[h + 3 : end])
        if title_norm in skip_titles:
            skip_below = level
            continue
        has_subheadings = k + 1 < len(heads) and int(tokens[heads[k + 1]].tag[1:]) > level
        parents = tuple(t for _, t in stack)
        stack.append((level, title))
        if not body:
            if not has_subheadings:
                skipped.append(Skipped(rel, line, title, "heading has no answer under it"))
            continue
        if not title_norm:
            skipped.append(
                Skipped(rel, line, title, "heading has no words, only punctuation or numbering; give it a title")
            )
            continue
        segments = _segments(body, roles)
        prompt = [t for s in segments if s.role == PROMPT for t in s.tokens]
        answer = [t for s in segments if s.role == ANSWER for t in s.tokens]
        if not answer:
            skipped.append(Skipped(rel, line, title, "has labelled sections but no answer (答案/Answer) section"))
            continue
        extras = tuple(
            Section(sys.intern(s.label or ""), render_blocks(s.tokens, allow, env), normalise(blocks_text(s.tokens)))
            for s in segments
            if s.role == EXTRA and s.tokens
        )
        topic = parents or (file_topic,)
        tags = topic_tags.get(topic)
        if tags is None:  # one shared tuple per topic: a large corpus holds fewer copies
            tags = topic_tags[topic] = tuple(dict.fromkeys(t for t in (topic_tag(topic), *meta.tags) if t))
        questions.append(
            Question(
                title=title,
                title_html=render_inline(children, allow, env).strip(),
                title_norm=title_norm,
                topic=topic,
                prompt_html=render_blocks(prompt, allow, env),
                prompt_norm=normalise(blocks_text(prompt)),
                answer_html=render_blocks(answer, allow, env),
                answer_norm=normalise(blocks_text(answer)),
                extras=extras,
                file=rel,
                line=line,
                deck=deck,
                tags=tags,
                anchor=anchor,
                media=images.take(),
            )
        )
    notices.extend(_swallowed(tokens, source.text, rel))
    notices.extend(images.notices)
    if budget.plain:
        count = len(budget.plain)
        blocks = "code block is" if count == 1 else f"{count} code blocks are"
        message = f"{blocks} shown without colours: too big or too slow to highlight (a lexer stuck on odd input)"
        notices.append(Notice(rel, budget.plain[0], "highlight", message))
    return ParsedFile(
        rel=rel, questions=tuple(questions), skipped=tuple(skipped), notices=tuple(notices), deps=images.looked_at()
    )
