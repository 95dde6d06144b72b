"""`flashmark list` and `flashmark tags`: what notes a content folder makes, and its tag tree."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flashmark.anki.notetype import kind_key, kind_label
from flashmark.build import load_corpus
from flashmark.config import load_config
from flashmark.tags import TagFilter, TagNode, select_notes, tag_tree
from flashmark.types import Note


def list_notes(
    content_dir: Path,
    *,
    tags: Iterable[str] = (),
    exclude_tags: Iterable[str] = (),
    exclude: tuple[str, ...] = (),
    allow_html: bool | None = None,
    cache_dir: Path | None = None,
) -> tuple[Note, ...]:
    """The merged notes of a content folder, in build order, keeping those a tag filter selects.

    `cache_dir` is a build's parse cache, to reuse the parses of files that did not change.
    """
    tag_filter = TagFilter.of(tags, exclude_tags)
    config = load_config(content_dir).override(exclude=exclude, allow_html=allow_html)
    corpus = load_corpus(content_dir, config, cache_dir=cache_dir)
    return select_notes(corpus.merge.notes, tag_filter, require_some=False).notes


def folder_tags(
    content_dir: Path,
    *,
    exclude: tuple[str, ...] = (),
    allow_html: bool | None = None,
    cache_dir: Path | None = None,
) -> tuple[TagNode, ...]:
    """The tag tree of a content folder's notes with note counts."""
    return tag_tree(list_notes(content_dir, exclude=exclude, allow_html=allow_html, cache_dir=cache_dir))


def note_line(note: Note) -> str:
    """One tab-separated line: key, title, tags (space-separated), sources (space-separated), kind."""
    kind = kind_label(note.kind, note.reverse)
    return "\t".join((note.key, note.title, " ".join(note.tags), " ".join(note.sources), kind))


def notes_data(notes: Iterable[Note]) -> list[dict[str, Any]]:
    """The notes as JSON-ready records."""
    return [
        {
            "key": n.key,
            "title": n.title,
            "kind": kind_key(n.kind, n.reverse),
            "topic": list(n.topic),
            "tags": list(n.tags),
            "sources": list(n.sources),
        }
        for n in notes
    ]


def tree_lines(nodes: Iterable[TagNode], depth: int = 0) -> list[str]:
    """The tag tree indented two spaces per level, each tag with its note count."""
    lines: list[str] = []
    for node in nodes:
        lines.append(f"{'  ' * depth}{node.name} ({node.notes})")
        lines += tree_lines(node.children, depth + 1)
    return lines


def tree_data(nodes: Iterable[TagNode]) -> list[dict[str, Any]]:
    """The tag tree as nested JSON-ready records."""
    return [{"name": n.name, "tag": n.tag, "notes": n.notes, "children": tree_data(n.children)} for n in nodes]


def to_json(data: Any) -> str:
    """Pretty JSON that keeps Chinese text readable."""
    return json.dumps(data, ensure_ascii=False, indent=2)
