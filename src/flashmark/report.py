"""The build report: a human summary line and a JSON document accounting for every question."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashmark import __version__
from flashmark.anki.notetype import CLOZE, QA, card_labels, kind_label, rendered_kind
from flashmark.diagnostics import Diagnostic, from_error, ordered, warnings_of
from flashmark.errors import FlashmarkError
from flashmark.types import Match, MergeResult, Moved, Notice, Removed, RenderedNote, Skipped


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build read, made and wrote."""

    deck: str
    files: int
    questions: int
    notes: Sequence[RenderedNote]  # a build made from the last one's state reads its kept notes when first asked
    merge: MergeResult  # its groups and conflicts (its notes: see `notes`)
    skipped: tuple[Skipped, ...]
    notices: tuple[Notice, ...]
    output: Path
    report: Path
    seconds: float
    left_out: int = 0
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    matches: tuple[Match, ...] = ()
    removed: tuple[Removed, ...] = ()  # gone since the last build
    lock: Path | None = None
    remembered: tuple[Removed, ...] = ()  # every removed note the lock remembers
    restored: tuple[Removed, ...] = ()
    moved: tuple[Moved, ...] = ()
    left_out_files: int = 0  # Markdown files the settings or --exclude left out
    left_out_notes: int = 0  # lock entries kept for the notes of those files
    errors: tuple[FlashmarkError, ...] = ()  # files left out because they could not be read (with keep_going)
    # Set when nothing changed since the last build and nothing was written: that build's counts.
    unchanged: dict[str, Any] | None = None
    tally: tuple[dict[str, int], int] | None = None  # notes by kind, and cards, when known without reading the notes

    @property
    def merged(self) -> int:
        """How many input questions were folded into another question's note."""
        return self.questions - len(self.skipped) - len(self.notes) - self.left_out

    @property
    def filtered(self) -> bool:
        """Whether --tag/--exclude-tag chose which notes went into the deck."""
        return bool(self.tags or self.exclude_tags)

    @property
    def warnings(self) -> int:
        return len(self.skipped) + len(self.notices)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(result: BuildResult) -> str:
    """One line: files read, questions found, notes written, merged, skipped, left out, remembered, output, seconds."""
    if result.unchanged is not None:
        counts = result.unchanged
        made = _plural(counts["notes"], "note")
        if not set(counts["kinds"]) <= {"qa"}:
            made += f", {_plural(counts['cards'], 'card')}{kinds_text(counts['kinds'])}"
        return (
            f"up to date: {_plural(result.files, 'file')}, {_plural(result.questions, 'question')} → {made} "
            f"({_plural(result.warnings, 'warning')}) → {result.output}: nothing changed since the last build, "
            f"nothing written (--force builds anyway) in {result.seconds:.2f} s"
        )
    parts = [f"{_plural(result.merged, 'repeat')} merged", f"{len(result.skipped)} skipped"]
    if result.filtered:
        parts.append(f"{_plural(result.left_out, 'note')} left out by tag filter")
    if result.left_out_files:
        kept = f" with {_plural(result.left_out_notes, 'note')}" if result.left_out_notes else ""
        parts.append(f"{_plural(result.left_out_files, 'file')} left out{kept}")
    if result.remembered:
        parts.append(f"{_plural(len(result.remembered), 'removed note')} remembered")
    if result.errors:
        parts.append(f"{_plural(len(result.errors), 'error')}")
    parts.append(_plural(result.warnings, "warning"))
    kinds, cards = tally(result)
    made = _plural(len(result.notes), "note")
    if not set(kinds) <= {"qa"}:
        made += f", {_plural(cards, 'card')}{kinds_text(kinds)}"
    return (
        f"{_plural(result.files, 'file')}, {_plural(result.questions, 'question')} → "
        f"{made} ({', '.join(parts)}) → {result.output} in {result.seconds:.2f} s"
    )


def tally(result: BuildResult) -> tuple[dict[str, int], int]:
    """The deck's notes by kind (qa, qa+reverse, cloze) and its cards."""
    if result.tally is not None:
        return result.tally
    return dict(Counter(rendered_kind(rn) for rn in result.notes)), sum(len(card_labels(rn)) for rn in result.notes)


def note_data(rn: RenderedNote) -> dict[str, Any]:
    """A note as the report lists it."""
    return {
        "key": rn.key,
        "guid": rn.guid,
        "mod": rn.mod,
        "title": rn.note.title,
        "kind": rendered_kind(rn),
        "cards": len(card_labels(rn)),
        "deck": rn.deck,
        "tags": list(rn.tags),
        "sources": list(rn.note.sources),
    }


def note_line(rn: RenderedNote) -> str:
    """A note's line in the report."""
    return _encode(note_data(rn))


def kinds_text(kinds: Mapping[str, int]) -> str:
    """` (9 Q&A, 1 Q&A + reverse, 2 cloze)` when the notes are not all plain Q&A, else nothing."""
    if set(kinds) <= {"qa"}:
        return ""
    order = (("qa", QA, False), ("qa+reverse", QA, True), ("cloze", CLOZE, False))
    return " (" + ", ".join(f"{kinds[k]} {kind_label(kind, r)}" for k, kind, r in order if kinds.get(k)) + ")"


def diagnostics(result: BuildResult, content_dir: Path) -> list[Diagnostic]:
    """The build's errors (files left out with keep_going) and warnings, sorted by file and line."""
    return ordered(
        [
            *(from_error(e, content_dir) for e in result.errors),
            *warnings_of(result.notices, result.skipped, content_dir),
        ]
    )


def _day(stamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(stamp)) if stamp else "an earlier build"


def rebuild_lines(result: BuildResult, for_import: bool = True) -> list[str]:
    """What changed in identity since the last build: matched, restored, moved and removed notes.

    Without `for_import` (when sync applies the build), only the matches: sync moves and retires notes itself.
    """
    lines = [
        f"matched: '{m.old_title}' → '{m.new_title}' ({m.reason}): the same Anki note, progress kept"
        if m.old_title != m.new_title
        else f"matched: '{m.new_title}' ({m.old_key} → {m.new_key}; {m.reason}): the same Anki note, progress kept"
        for m in result.matches
    ]
    if not for_import:
        return lines
    lines += [
        f"restored: '{r.title}' is back (removed on {_day(r.since)}): it takes its old Anki note again"
        for r in result.restored
    ]
    lines += [
        f"moved: '{m.title}' from deck {m.old_deck} to {m.new_deck} "
        f"(Anki keeps its cards in {m.old_deck}; use Change Deck, or `flashmark sync`)"
        for m in result.moved
    ]
    lines += [f"removed: '{r.title}'; find it in Anki's browser with: {r.search}" for r in result.removed]
    if result.removed:
        lines.append(
            f"{_plural(len(result.removed), 'note')} removed since the last build; delete them in Anki if you no "
            "longer want them (`flashmark removed` lists every removed note the lock remembers)"
        )
    return lines


def report_data(result: BuildResult, notes: bool = True) -> dict[str, Any]:
    """The JSON report: every note with its sources (unless not `notes`), every merge, skip and warning."""
    m = result.merge
    return {
        "flashmark": __version__,
        "deck": result.deck,
        "output": str(result.output),
        "seconds": round(result.seconds, 3),
        "counts": counts_data(result),
        "filter": {"tags": list(result.tags), "exclude_tags": list(result.exclude_tags)},
        "notes": [note_data(rn) for rn in result.notes] if notes else [],
        "merged": [
            {"key": g.key, "title": g.title, "titles": list(g.titles), "sources": list(g.sources), "reason": g.reason}
            for g in m.groups
        ],
        "conflicts": [{"title": c.title, "sources": list(c.sources), "reason": c.reason} for c in m.conflicts],
        "skipped": [{"file": s.file, "line": s.line, "title": s.title, "reason": s.reason} for s in result.skipped],
        "warnings": [{"file": n.file, "line": n.line, "kind": n.kind, "message": n.message} for n in result.notices],
        "errors": [{"file": e.path, "line": e.line, "message": e.message} for e in result.errors],
        "lock": str(result.lock) if result.lock is not None else None,
        "matched": [
            {
                "old_key": m.old_key,
                "new_key": m.new_key,
                "guid": m.guid,
                "old_title": m.old_title,
                "new_title": m.new_title,
                "reason": m.reason,
            }
            for m in result.matches
        ],
        "removed": [_removed_data(r) for r in result.removed],
        "remembered": [_removed_data(r) for r in result.remembered],
        "restored": [_removed_data(r) for r in result.restored],
        "moved": [
            {"key": m.key, "guid": m.guid, "title": m.title, "old_deck": m.old_deck, "new_deck": m.new_deck}
            for m in result.moved
        ],
    }


def counts_data(result: BuildResult) -> dict[str, Any]:
    """The report's counts: files, questions, notes, merges, skips, warnings, left out, removed, cards, kinds."""
    if result.unchanged is not None:
        return {**result.unchanged, "removed": 0}
    return {
        "files": result.files,
        "questions": result.questions,
        "notes": len(result.notes),
        "merged": result.merged,
        "skipped": len(result.skipped),
        "warnings": result.warnings,
        "left_out": result.left_out,
        "left_out_files": result.left_out_files,
        "left_out_notes": result.left_out_notes,
        "removed": len(result.removed),
        "remembered": len(result.remembered),
        "cards": tally(result)[1],
        "kinds": tally(result)[0],
    }


def _removed_data(r: Removed) -> dict[str, Any]:
    return {"key": r.key, "guid": r.guid, "title": r.title, "search": r.search, "since": r.since}


def summary_data(result: BuildResult, content_dir: Path) -> dict[str, Any]:
    """The short build summary `flashmark build --json` prints: counts, paths, filter, diagnostics."""
    full = report_data(result, notes=False)
    keys = ("flashmark", "deck", "output", "seconds", "counts", "filter")
    return {
        **{k: full[k] for k in keys},
        "up_to_date": result.unchanged is not None,
        "report": str(result.report),
        "diagnostics": [d.data() for d in diagnostics(result, content_dir)],
    }


_ENCODER = json.JSONEncoder(ensure_ascii=False)
# json's C encoder called directly skips JSONEncoder.encode's per-call set-up, which is half the
# time per record at 100,000 notes; the pure-Python JSONEncoder is the fallback where there is no C.
_MAKE_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODER = (
    _MAKE_C_ENCODER(None, None, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    if _MAKE_C_ENCODER is not None
    else None
)


def _encode(value: Any) -> str:
    """One JSON value on one line, non-ASCII characters kept."""
    if _C_ENCODER is not None and isinstance(value, (dict, list)):
        return "".join(_C_ENCODER(value, 0))
    text: str = _ENCODER.encode(value)
    return text


def _json_lines(data: dict[str, Any], encoded: Mapping[str, Iterable[str]] | None = None) -> Iterator[str]:
    """Indented at the top level, one line per list item: stable, diff-friendly and written by json's C encoder.

    `encoded` gives the items of some lists already encoded, one per line (read as they are written).
    """
    yield "{"
    last_key = len(data) - 1
    for n, (key, value) in enumerate(data.items()):
        comma = "," if n < last_key else ""
        head = f"  {_encode(key)}: "
        given = encoded.get(key) if encoded is not None else None
        lines = (
            iter(given) if given is not None else (_encode(item) for item in value) if isinstance(value, list) else None
        )
        first = next(lines, None) if lines is not None else None
        if lines is not None and first is not None:
            yield head + "["
            pending = first
            for line in lines:
                yield "    " + pending + ","
                pending = line
            yield "    " + pending
            yield "  ]" + comma
        else:
            yield head + _encode([] if lines is not None else value) + comma
    yield "}"


def report_json(result: BuildResult) -> str:
    """The report as stable JSON text, one line per note, merge, skip or warning."""
    return "\n".join(_json_lines(report_data(result))) + "\n"


def write_report_json(result: BuildResult, path: Path, note_lines: Iterable[str] | None = None) -> None:
    """Write `report_json(result)` to `path` a line at a time, never holding the whole text; `note_lines`:
    the notes' lines (`note_line`) when they are known already."""
    lines = note_lines if note_lines is not None else (note_line(rn) for rn in result.notes)
    with open(path, "w", encoding="utf-8") as out:
        for line in _json_lines(report_data(result, notes=False), {"notes": lines}):
            out.write(line + "\n")
