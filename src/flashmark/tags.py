"""Tags: matching them the way Anki's `tag:` search does, filtering notes by tag, and the tag tree."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, Protocol, TypeVar

from flashmark.errors import FlashmarkError
from flashmark.text import user_tag
from flashmark.types import Note

SEPARATOR = "::"


class FilterError(FlashmarkError):
    """A --tag/--exclude-tag filter is empty or matches no note."""


def clean_pattern(pattern: str) -> str:
    """A tag pattern as given on the command line, cleaned like a tag (spaces become `_`)."""
    cleaned = user_tag(pattern.strip().removeprefix("tag:"))
    if not cleaned:
        raise FilterError(f"'{pattern}' is not a tag; give a tag such as 深度学习::ResNet")
    return cleaned


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    """Anki's rule: the tag itself or any tag below it, ignoring case; `*` is any text, `_` any one character."""
    body: list[str] = []
    chars = iter(pattern.casefold())
    for ch in chars:
        if ch == "\\":
            body.append(re.escape(next(chars, "\\")))
        elif ch == "*":
            body.append(".*")
        elif ch == "_":
            body.append(".")
        else:
            body.append(re.escape(ch))
    return re.compile(f"{''.join(body)}(?:{SEPARATOR}.*)?", re.DOTALL)


def tag_matches(tag: str, pattern: str) -> bool:
    """Whether `tag` is `pattern` or one of its children (`a::b` matches `a`), as Anki's `tag:` search decides."""
    return _pattern(pattern).fullmatch(tag.casefold()) is not None


def has_tag(tags: Iterable[str], patterns: Sequence[str]) -> bool:
    """Whether any of `tags` matches any of `patterns`."""
    return any(tag_matches(t, p) for t in tags for p in patterns)


class Tagged(Protocol):
    """Anything with tags: a Note, a RenderedNote, a note a rebuild kept."""

    @property
    def tags(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Which notes a build keeps: those with a --tag (all when none is given), minus any --exclude-tag."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> TagFilter:
        """A filter from command-line patterns, cleaned and checked."""
        return cls(tuple(clean_pattern(p) for p in include), tuple(clean_pattern(p) for p in exclude))

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def keeps(self, note: Tagged) -> bool:
        if self.include and not has_tag(note.tags, self.include):
            return False
        return not (self.exclude and has_tag(note.tags, self.exclude))

    def describe(self) -> str:
        """The filter as command-line options, for messages."""
        return " ".join([*(f"--tag {p}" for p in self.include), *(f"--exclude-tag {p}" for p in self.exclude)])


T = TypeVar("T", bound="Tagged")


@dataclass(frozen=True, slots=True)
class Selection(Generic[T]):
    """The notes a filter keeps, and how many it left out."""

    notes: tuple[T, ...]
    left_out: int


def select_notes(notes: Sequence[T], tag_filter: TagFilter, require_some: bool = True) -> Selection[T]:
    """Apply a tag filter to merged notes; an active filter that keeps nothing is an error when `require_some`."""
    if not tag_filter.active:
        return Selection(tuple(notes), 0)
    kept = tuple(n for n in notes if tag_filter.keeps(n))
    if require_some and notes and not kept:
        roots = sorted({t.split(SEPARATOR)[0] for n in notes for t in n.tags}, key=str.casefold)
        shown = ", ".join(roots[:12]) + (", …" if len(roots) > 12 else "")
        raise FilterError(f"no note matches {tag_filter.describe()}; top-level tags here: {shown or 'none'}")
    return Selection(kept, len(notes) - len(kept))


@dataclass(frozen=True, slots=True)
class TagNode:
    """One level of the tag tree: its name, full tag, how many notes carry it or a tag below it."""

    name: str
    tag: str
    notes: int
    children: tuple[TagNode, ...] = ()


def tag_tree(notes: Iterable[Note]) -> tuple[TagNode, ...]:
    """The tag hierarchy (`a::b::c`) with note counts; tags differing only in case are one tag, as in Anki."""
    counts: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for note in notes:
        levels: set[str] = set()
        for tag in note.tags:
            parts = tag.split(SEPARATOR)
            for depth in range(1, len(parts) + 1):
                prefix = SEPARATOR.join(parts[:depth])
                key = prefix.casefold()
                spelling.setdefault(key, prefix)
                levels.add(key)
        for key in levels:
            counts[key] = counts.get(key, 0) + 1

    below: dict[str | None, list[str]] = {}
    for key in counts:
        parent = key.rsplit(SEPARATOR, 1)[0] if SEPARATOR in key else None
        below.setdefault(parent, []).append(key)

    def children_of(parent: str | None, parent_tag: str) -> tuple[TagNode, ...]:
        nodes = []
        for key in below.get(parent, []):
            name = spelling[key].split(SEPARATOR)[-1]
            tag = f"{parent_tag}{SEPARATOR}{name}" if parent_tag else name
            nodes.append(TagNode(name, tag, counts[key], children_of(key, tag)))
        return tuple(sorted(nodes, key=lambda n: n.name.casefold()))

    return children_of(None, "")
