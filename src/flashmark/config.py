"""Build settings from flashmark.toml (or [tool.flashmark] in pyproject.toml) and defaults."""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flashmark.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

PROMPT_LABELS = ("题目", "问题", "题干", "Question", "Prompt")
ANSWER_LABELS = ("答案", "回答", "解答", "参考答案", "Answer")
EXTRA_LABELS = (
    "应用",
    "举例",
    "例子",
    "示例",
    "解析",
    "分析",
    "代码示例",
    "注意",
    "补充",
    "扩展",
    "总结",
    "提示",
    "Example",
    "Examples",
    "Explanation",
    "Note",
    "Notes",
    "Hint",
    "Analysis",
    "Code",
)
# Label lines: a paragraph opening with one of these, followed by one opening with an answer-line label,
# is a question without a heading ("Q: … / A: …").
QUESTION_LINE_LABELS = ("Q", "Question", "问", "问题")
ANSWER_LINE_LABELS = ("A", "Answer", "答", "答案")
# Markdown flavours ([markdown] in flashmark.toml; markdown/flavours.py reads them), all on by default.
FLAVOURS = ("alerts", "autolinks", "comments", "footnotes", "highlight", "task_lists", "wikilinks")
SKIP_HEADINGS = (
    "参考文献",
    "参考资料",
    "参考",
    "References",
    "Reference",
    "目录",
    "Table of Contents",
    "Contents",
    "TOC",
)

CONFIG_FILE = "flashmark.toml"


@dataclass(frozen=True, slots=True)
class Config:
    """Settings for one build; every field has a sensible default."""

    deck: str | None = None
    prompt_labels: tuple[str, ...] = PROMPT_LABELS
    answer_labels: tuple[str, ...] = ANSWER_LABELS
    extra_labels: tuple[str, ...] = EXTRA_LABELS
    skip_headings: tuple[str, ...] = SKIP_HEADINGS
    exclude: tuple[str, ...] = ()
    allow_html: bool = False
    max_image_mb: float = 20.0  # an image larger than this is not packed (a warning names it)
    reverse: bool = False  # every Q&A note also gets a reversed card (answer → question)
    question_line_labels: tuple[str, ...] = QUESTION_LINE_LABELS
    answer_line_labels: tuple[str, ...] = ANSWER_LINE_LABELS
    # Question formats ([formats] in flashmark.toml), each switchable:
    details: bool = True  # <details><summary>Answer</summary>…</details> holds the answer
    label_lines: bool = True  # "Q: …" / "A: …" paragraphs are questions
    list_questions: bool = False  # list items with nested answers are questions
    cloze: bool = True  # {{c1::…}} in an answer makes a cloze note
    flavours: frozenset[str] = frozenset(FLAVOURS)  # the GitHub and Obsidian syntaxes read ([markdown])
    source: str | None = field(default=None, compare=False)

    def with_deck(self, deck: str | None) -> Config:
        """Return a copy whose deck name is overridden when `deck` is given."""
        return self if deck is None else replace(self, deck=deck)

    def override(
        self, deck: str | None = None, exclude: tuple[str, ...] = (), allow_html: bool | None = None
    ) -> Config:
        """Apply command-line options: they win over the settings file (`exclude` adds patterns)."""
        cfg = self.with_deck(deck)
        if exclude:
            cfg = replace(cfg, exclude=cfg.exclude + tuple(exclude))
        if allow_html is not None:
            cfg = replace(cfg, allow_html=allow_html)
        return cfg

    def fingerprint(self) -> str:
        """A stable text that changes whenever a setting that affects parsing changes."""
        return repr(
            (
                self.prompt_labels,
                self.answer_labels,
                self.extra_labels,
                self.skip_headings,
                self.allow_html,
                self.max_image_mb,
                self.reverse,
                self.question_line_labels,
                self.answer_line_labels,
                self.details,
                self.label_lines,
                self.list_questions,
                self.cloze,
                tuple(sorted(self.flavours)),
            )
        )


KNOWN_KEYS = (
    "allow_html",
    "deck",
    "exclude",
    "formats",
    "labels",
    "markdown",
    "max_image_mb",
    "reverse",
    "skip_headings",
)
LABEL_ROLES = ("answer", "answer_line", "extra", "prompt", "question_line")
FORMATS = ("cloze", "details", "label_lines", "list_questions")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


@dataclass(frozen=True, slots=True)
class _Where:
    """A settings file, its text, and the table holding the settings, for messages with line numbers."""

    path: str
    text: str
    table: tuple[str, ...]

    def error(self, message: str, key: str | None = None) -> ConfigError:
        """A ConfigError naming the file and, when it can be found, the line of `key`."""
        return ConfigError(message, self.path, self.line_of(key) if key else None)

    def line_of(self, dotted: str) -> int | None:
        """The line where a (dotted) key is set, falling back to its parent keys; None if not found."""
        parts = tuple(dotted.split("."))
        for n in range(len(parts), 0, -1):
            line = _find_key(self.text, self.table + parts[:n])
            if line is not None:
                return line
        return None


def _key_parts(raw: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in raw.split("."))


def _find_key(text: str, full: tuple[str, ...]) -> int | None:
    """Best-effort line number of a key or table header in TOML text (tomllib reports no positions)."""
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _TABLE_HEADER.match(line)
        if header is not None:
            table = _key_parts(header.group(1))
            if table == full:
                return number
            continue
        key = _KEY_LINE.match(line)
        if key is not None and table + _key_parts(key.group(1)) == full:
            return number
    return None


def _strings(value: Any, key: str, where: _Where) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise where.error(f"'{key}' must be a list of non-empty strings, e.g. {key.split('.')[-1]} = [\"…\"]", key)
    return tuple(v.strip() for v in value)


def _unknown(key: str, known: tuple[str, ...], prefix: str = "") -> str:
    guess = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean '{prefix}{guess[0]}'?" if guess else ""
    return f"unknown setting '{prefix}{key}' (known: {', '.join(known)}){hint}"


def _switched(cfg: Config, name: str, value: bool) -> Config:
    """The config with one question format switched on or off."""
    if name == "cloze":
        return replace(cfg, cloze=value)
    if name == "details":
        return replace(cfg, details=value)
    if name == "label_lines":
        return replace(cfg, label_lines=value)
    return replace(cfg, list_questions=value)


def _from_table(table: dict[str, Any], where: _Where) -> Config:
    """Check a settings table key by key and build a Config from it."""
    cfg = Config(source=where.path)
    for key in table:
        if key not in KNOWN_KEYS:
            raise where.error(_unknown(key, KNOWN_KEYS), key)
    if "deck" in table:
        deck = table["deck"]
        if not isinstance(deck, str) or not deck.strip():
            raise where.error("'deck' must be a non-empty string, e.g. deck = \"Interview prep\"", "deck")
        cfg = replace(cfg, deck=deck.strip())
    if "max_image_mb" in table:
        limit = table["max_image_mb"]
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit <= 1024:
            raise where.error("'max_image_mb' must be a number of megabytes, from 0 to 1024, e.g. 50", "max_image_mb")
        cfg = replace(cfg, max_image_mb=float(limit))
    for key in ("allow_html", "reverse"):
        if key in table:
            if not isinstance(table[key], bool):
                raise where.error(f"'{key}' must be true or false", key)
            cfg = replace(cfg, allow_html=table[key]) if key == "allow_html" else replace(cfg, reverse=table[key])
    if "formats" in table:
        formats = table["formats"]
        if not isinstance(formats, dict):
            raise where.error("'formats' must be a table of switches, e.g. [formats] list_questions = true", "formats")
        for name, value in formats.items():
            if name not in FORMATS:
                raise where.error(_unknown(name, FORMATS, "formats."), f"formats.{name}")
            if not isinstance(value, bool):
                raise where.error(f"'formats.{name}' must be true or false", f"formats.{name}")
            cfg = _switched(cfg, name, value)
    if "markdown" in table:
        syntaxes = table["markdown"]
        if not isinstance(syntaxes, dict):
            raise where.error("'markdown' must be a table of switches, e.g. [markdown] footnotes = false", "markdown")
        flavours = set(cfg.flavours)
        for name, value in syntaxes.items():
            if name not in FLAVOURS:
                raise where.error(_unknown(name, FLAVOURS, "markdown."), f"markdown.{name}")
            if not isinstance(value, bool):
                raise where.error(f"'markdown.{name}' must be true or false", f"markdown.{name}")
            (flavours.add if value else flavours.discard)(name)
        cfg = replace(cfg, flavours=frozenset(flavours))
    if "skip_headings" in table:
        cfg = replace(cfg, skip_headings=SKIP_HEADINGS + _strings(table["skip_headings"], "skip_headings", where))
    if "exclude" in table:
        cfg = replace(cfg, exclude=_strings(table["exclude"], "exclude", where))
    if "labels" in table:
        labels = table["labels"]
        if not isinstance(labels, dict):
            raise where.error("'labels' must be a table with prompt, answer and extra lists, e.g. [labels]", "labels")
        for role in labels:
            if role not in LABEL_ROLES:
                raise where.error(_unknown(role, LABEL_ROLES, "labels."), f"labels.{role}")
        cfg = replace(
            cfg,
            prompt_labels=PROMPT_LABELS + _strings(labels.get("prompt", []), "labels.prompt", where),
            answer_labels=ANSWER_LABELS + _strings(labels.get("answer", []), "labels.answer", where),
            extra_labels=EXTRA_LABELS + _strings(labels.get("extra", []), "labels.extra", where),
            question_line_labels=QUESTION_LINE_LABELS
            + _strings(labels.get("question_line", []), "labels.question_line", where),
            answer_line_labels=ANSWER_LINE_LABELS
            + _strings(labels.get("answer_line", []), "labels.answer_line", where),
        )
    return cfg


def _read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """A TOML file's text and contents; a syntax error names the line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path) from None
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8; save the file as UTF-8", path) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line: int | None = getattr(exc, "lineno", None)
        position = _TOML_POSITION.search(message)
        if position is not None:
            line = line or int(position.group(1))
            message = message[: position.start()]
        raise ConfigError(f"not valid TOML: {message}", path, line) from None
    except (RecursionError, ValueError):  # nested thousands deep, or a number thousands of digits long
        raise ConfigError("not readable TOML: nested too deeply or a number too long; simplify it", path) from None


def _pyproject_candidates(content_dir: Path) -> list[Path]:
    """pyproject.toml in the content folder, then in the folder above it (each once)."""
    candidates = [content_dir / "pyproject.toml", content_dir.resolve().parent / "pyproject.toml"]
    seen: set[Path] = set()
    unique: list[Path] = []
    for c in candidates:
        key = c.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def config_path(content_dir: Path) -> Path | None:
    """The file settings are read from: flashmark.toml, else a pyproject.toml with [tool.flashmark]."""
    own = content_dir / CONFIG_FILE
    if own.is_file():
        return own
    if own.exists() or own.is_symlink():
        raise ConfigError("is not a settings file (a folder, or a link to nowhere); remove or replace it", own)
    for candidate in _pyproject_candidates(content_dir):
        if candidate.is_file():
            _, data = _read_toml(candidate)
            tool = data.get("tool")
            if isinstance(tool, dict) and "flashmark" in tool:
                return candidate
    return None


def load_config(content_dir: Path) -> Config:
    """Read flashmark.toml in the content folder, else [tool.flashmark] in a pyproject.toml beside or above it."""
    path = config_path(content_dir)
    if path is None:
        return Config()
    text, data = _read_toml(path)
    if path.name == CONFIG_FILE:
        return _from_table(data, _Where(str(path), text, ()))
    table = data["tool"]["flashmark"]
    if not isinstance(table, dict):
        raise ConfigError("[tool.flashmark] must be a table of settings", path, _find_key(text, ("tool", "flashmark")))
    return _from_table(table, _Where(str(path), text, ("tool", "flashmark")))
