"""Build settings from flashmark.toml (or [tool.flashmark] in pyproject.toml) and defaults."""

from __future__ import annotations

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
    "应用", "举例", "例子", "示例", "解析", "分析", "代码示例", "注意", "补充", "扩展", "总结", "提示",
    "Example", "Examples", "Explanation", "Note", "Notes", "Hint", "Analysis", "Code",
)
SKIP_HEADINGS = ("参考文献", "参考资料", "参考", "References", "Reference", "目录", "Table of Contents", "Contents", "TOC")

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
    source: str | None = field(default=None, compare=False)

    def with_deck(self, deck: str | None) -> Config:
        """Return a copy whose deck name is overridden when `deck` is given."""
        return self if deck is None else replace(self, deck=deck)

    def fingerprint(self) -> str:
        """A stable text that changes whenever a setting that affects parsing changes."""
        return repr((self.prompt_labels, self.answer_labels, self.extra_labels, self.skip_headings, self.allow_html))


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"'{key}' must be a list of non-empty strings", where)
    return tuple(v.strip() for v in value)


def _from_table(table: dict[str, Any], where: str) -> Config:
    """Check a settings table key by key and build a Config from it."""
    cfg = Config(source=where)
    known = {"deck", "labels", "skip_headings", "exclude", "allow_html"}
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown setting '{key}' (known: {', '.join(sorted(known))})", where)
    if "deck" in table:
        deck = table["deck"]
        if not isinstance(deck, str) or not deck.strip():
            raise ConfigError("'deck' must be a non-empty string", where)
        cfg = replace(cfg, deck=deck.strip())
    if "allow_html" in table:
        if not isinstance(table["allow_html"], bool):
            raise ConfigError("'allow_html' must be true or false", where)
        cfg = replace(cfg, allow_html=table["allow_html"])
    if "skip_headings" in table:
        cfg = replace(cfg, skip_headings=SKIP_HEADINGS + _strings(table["skip_headings"], "skip_headings", where))
    if "exclude" in table:
        cfg = replace(cfg, exclude=_strings(table["exclude"], "exclude", where))
    if "labels" in table:
        labels = table["labels"]
        if not isinstance(labels, dict):
            raise ConfigError("'labels' must be a table with prompt, answer and extra lists", where)
        for role in labels:
            if role not in ("prompt", "answer", "extra"):
                raise ConfigError(f"unknown setting 'labels.{role}' (known: answer, extra, prompt)", where)
        cfg = replace(
            cfg,
            prompt_labels=PROMPT_LABELS + _strings(labels.get("prompt", []), "labels.prompt", where),
            answer_labels=ANSWER_LABELS + _strings(labels.get("answer", []), "labels.answer", where),
            extra_labels=EXTRA_LABELS + _strings(labels.get("extra", []), "labels.extra", where),
        )
    return cfg


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path) from exc


def load_config(content_dir: Path) -> Config:
    """Read flashmark.toml in the content folder, else [tool.flashmark] in a pyproject.toml beside it."""
    own = content_dir / CONFIG_FILE
    if own.is_file():
        return _from_table(_read_toml(own), str(own))
    for candidate in (content_dir / "pyproject.toml", content_dir.parent / "pyproject.toml"):
        if candidate.is_file():
            table = _read_toml(candidate).get("tool", {}).get("flashmark")
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError("[tool.flashmark] must be a table", candidate)
                return _from_table(table, str(candidate))
    return Config()
