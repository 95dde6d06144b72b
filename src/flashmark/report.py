"""The build report: a human summary line and a JSON document accounting for every question."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashmark import __version__
from flashmark.types import Match, MergeResult, Notice, Removed, RenderedNote, Skipped


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build read, made and wrote."""

    deck: str
    files: int
    questions: int
    notes: tuple[RenderedNote, ...]
    merge: MergeResult
    skipped: tuple[Skipped, ...]
    notices: tuple[Notice, ...]
    output: Path
    report: Path
    seconds: float
    left_out: int = 0
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    matches: tuple[Match, ...] = ()
    removed: tuple[Removed, ...] = ()
    lock: Path | None = None

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
    """One line: files read, questions found, notes written, merged, skipped, output, seconds."""
    left_out = f"{_plural(result.left_out, 'note')} left out by tag filter, " if result.filtered else ""
    return (
        f"{_plural(result.files, 'file')}, {_plural(result.questions, 'question')} → "
        f"{_plural(len(result.notes), 'note')} ({_plural(result.merged, 'repeat')} merged, {len(result.skipped)} skipped, "
        f"{left_out}{_plural(result.warnings, 'warning')}) → {result.output} in {result.seconds:.2f} s"
    )


def warning_lines(result: BuildResult) -> list[str]:
    """One line per skipped question or input warning, each with file:line."""
    lines = [f"{s.where}: skipped '{s.title}': {s.reason}" for s in result.skipped]
    lines += [f"{n.where}: {n.message}" for n in result.notices]
    return lines


def rebuild_lines(result: BuildResult) -> list[str]:
    """One line per note that kept its GUID under a new key, and per note gone since the last build."""
    lines = [
        f"matched: '{m.old_title}' → '{m.new_title}' ({m.reason}): the same Anki note, progress kept"
        if m.old_title != m.new_title
        else f"matched: '{m.new_title}' ({m.old_key} → {m.new_key}; {m.reason}): the same Anki note, progress kept"
        for m in result.matches
    ]
    lines += [f"removed: '{r.title}'; find it in Anki's browser with: {r.search}" for r in result.removed]
    if result.removed:
        lines.append(
            f"{_plural(len(result.removed), 'note')} removed since the last build; delete them in Anki if you no longer want them"
        )
    return lines


def report_data(result: BuildResult) -> dict[str, Any]:
    """The JSON report: every note with its sources, every merge, skip and warning."""
    m = result.merge
    return {
        "flashmark": __version__,
        "deck": result.deck,
        "output": str(result.output),
        "seconds": round(result.seconds, 3),
        "counts": {
            "files": result.files,
            "questions": result.questions,
            "notes": len(result.notes),
            "merged": result.merged,
            "skipped": len(result.skipped),
            "warnings": result.warnings,
            "left_out": result.left_out,
        },
        "filter": {"tags": list(result.tags), "exclude_tags": list(result.exclude_tags)},
        "notes": [
            {
                "key": rn.key,
                "guid": rn.guid,
                "mod": rn.mod,
                "title": rn.note.title,
                "deck": rn.deck,
                "tags": list(rn.tags),
                "sources": list(rn.note.sources),
            }
            for rn in result.notes
        ],
        "merged": [
            {"key": g.key, "title": g.title, "titles": list(g.titles), "sources": list(g.sources), "reason": g.reason}
            for g in m.groups
        ],
        "conflicts": [{"title": c.title, "sources": list(c.sources), "reason": c.reason} for c in m.conflicts],
        "skipped": [{"file": s.file, "line": s.line, "title": s.title, "reason": s.reason} for s in result.skipped],
        "warnings": [{"file": n.file, "line": n.line, "kind": n.kind, "message": n.message} for n in result.notices],
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
        "removed": [{"key": r.key, "guid": r.guid, "title": r.title, "search": r.search} for r in result.removed],
    }


def summary_data(result: BuildResult) -> dict[str, Any]:
    """The short build summary `flashmark build --json` prints: counts, paths, filter, warnings."""
    full = report_data(result)
    keys = ("flashmark", "deck", "output", "seconds", "counts", "filter")
    return {
        **{k: full[k] for k in keys},
        "report": str(result.report),
        "warnings": warning_lines(result),
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


def _json_lines(data: dict[str, Any]) -> Iterator[str]:
    """Indented at the top level, one line per list item: stable, diff-friendly and written by json's C encoder."""
    yield "{"
    last_key = len(data) - 1
    for n, (key, value) in enumerate(data.items()):
        comma = "," if n < last_key else ""
        head = f"  {_encode(key)}: "
        if isinstance(value, list) and value:
            yield head + "["
            last = len(value) - 1
            for i, item in enumerate(value):
                yield "    " + _encode(item) + ("," if i < last else "")
            yield "  ]" + comma
        else:
            yield head + _encode(value) + comma
    yield "}"


def report_json(result: BuildResult) -> str:
    """The report as stable JSON text, one line per note, merge, skip or warning."""
    return "\n".join(_json_lines(report_data(result))) + "\n"


def write_report_json(result: BuildResult, path: Path) -> None:
    """Write `report_json(result)` to `path` a line at a time, never holding the whole text."""
    with open(path, "w", encoding="utf-8") as out:
        for line in _json_lines(report_data(result)):
            out.write(line + "\n")
