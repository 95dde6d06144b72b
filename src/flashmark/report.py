"""The build report: a human summary line and a JSON document accounting for every question."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashmark import __version__
from flashmark.types import MergeResult, Notice, RenderedNote, Skipped


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

    @property
    def merged(self) -> int:
        """How many input questions were folded into another question's note."""
        return self.questions - len(self.skipped) - len(self.notes)

    @property
    def warnings(self) -> int:
        return len(self.skipped) + len(self.notices)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(result: BuildResult) -> str:
    """One line: files read, questions found, notes written, merged, skipped, output, seconds."""
    return (
        f"{_plural(result.files, 'file')}, {_plural(result.questions, 'question')} → "
        f"{_plural(len(result.notes), 'note')} ({result.merged} repeats merged, {len(result.skipped)} skipped, "
        f"{_plural(result.warnings, 'warning')}) → {result.output} in {result.seconds:.2f} s"
    )


def warning_lines(result: BuildResult) -> list[str]:
    """One line per skipped question or input warning, each with file:line."""
    lines = [f"{s.where}: skipped '{s.title}': {s.reason}" for s in result.skipped]
    lines += [f"{n.where}: {n.message}" for n in result.notices]
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
        },
        "notes": [
            {
                "key": rn.key,
                "guid": rn.guid,
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
