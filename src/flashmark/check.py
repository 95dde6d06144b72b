"""`flashmark check`: every problem and merge in a content folder, each with file:line, without building."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashmark.build import Corpus, load_corpus
from flashmark.config import load_config
from flashmark.errors import FlashmarkError, LockError, ParseError, SourceError
from flashmark.lock import LOCK_FILE, read_lock
from flashmark.types import Question

ERROR, WARNING, INFO = "error", "warning", "info"
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}
TOPIC_SEPARATOR = " › "


@dataclass(frozen=True, slots=True)
class Place:
    """One input question a finding refers to: where it is, its title and topic."""

    where: str
    title: str
    topic: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing `check` reports: errors stop a build, warnings lose or split questions, info is a merge."""

    severity: str
    kind: str
    file: str | None
    line: int | None
    message: str
    places: tuple[Place, ...] = ()

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `check` read and found."""

    files: int
    questions: int
    notes: int
    findings: tuple[Finding, ...]

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, strict: bool = False) -> bool:
        """Errors fail a check; with `strict`, so do warnings."""
        return self.count(ERROR) > 0 or (strict and self.count(WARNING) > 0)


def _split_where(where: str) -> tuple[str, int | None]:
    file, _, line = where.rpartition(":")
    return (file, int(line)) if file and line.isdigit() else (where, None)


def _error_kind(exc: FlashmarkError) -> str:
    if isinstance(exc, SourceError):
        return "unreadable"
    if isinstance(exc, ParseError):
        return "invalid"
    return "error"


def findings(corpus: Corpus) -> list[Finding]:
    """Turn a corpus (read with keep_going) into findings, sorted by file and line."""
    by_where: dict[str, Question] = {q.where: q for q in corpus.questions}

    def place(where: str) -> Place:
        q = by_where.get(where)
        return Place(where, q.title, q.topic) if q is not None else Place(where, "")

    out: list[Finding] = [Finding(ERROR, _error_kind(e), e.path, e.line, e.message) for e in corpus.errors]
    out += [Finding(WARNING, "skipped", s.file, s.line, f"'{s.title}' skipped: {s.reason}") for s in corpus.skipped]
    out += [Finding(WARNING, n.kind, n.file, n.line, n.message) for n in corpus.notices]
    for c in corpus.merge.conflicts:
        file, line = _split_where(c.sources[0])
        out.append(
            Finding(
                WARNING,
                "conflict",
                file,
                line,
                f"'{c.title}' has different answers under different topics, so it is kept as separate notes; "
                "merge the answers if it is one question, or retitle one",
                tuple(place(s) for s in c.sources),
            )
        )
    for g in corpus.merge.groups:
        file, line = _split_where(g.sources[0])
        out.append(
            Finding(
                INFO,
                "merged",
                file,
                line,
                f"{len(g.sources)} questions merged into one note '{g.title}' ({g.reason})",
                tuple(place(s) for s in g.sources),
            )
        )
    out.sort(key=_order)
    return out


def check(
    content_dir: Path,
    *,
    exclude: tuple[str, ...] = (),
    allow_html: bool | None = None,
) -> CheckResult:
    """Read every file of a content folder, carrying on past bad files, and report what a build would do."""
    config = load_config(content_dir).override(exclude=exclude, allow_html=allow_html)
    corpus = load_corpus(content_dir, config, keep_going=True)
    found = findings(corpus) + lock_findings(content_dir / LOCK_FILE, corpus)
    found.sort(key=_order)
    return CheckResult(
        files=len(corpus.files) + len(corpus.errors),
        questions=len(corpus.questions) + len(corpus.skipped),
        notes=len(corpus.merge.notes),
        findings=tuple(found),
    )


def lock_findings(path: Path, corpus: Corpus) -> list[Finding]:
    """What a build would say of the lock file: an error where it would refuse it, warnings for pins gone astray."""
    try:
        lock = read_lock(path)
    except LockError as exc:
        return [Finding(ERROR, "lock", exc.path, exc.line, exc.message)]
    if lock is None:
        return []
    anchors = {note.anchor for note in corpus.merge.notes if note.anchor}
    left_out = set(corpus.left_out)
    return [
        Finding(
            WARNING,
            "lock",
            str(path),
            None,
            f"the lock pins {{{entry.key}}} ('{entry.title}') but no question carries that id now; the next build lists "
            "the note as removed (put the id back on its heading to keep the note)",
        )
        for entry in lock.notes
        if entry.live
        and entry.key.startswith("#")
        and entry.key[1:] not in anchors
        and not any(f in left_out for f in entry.files)
    ]


def _order(f: Finding) -> tuple[str, int, int, str]:
    return (f.file or "", f.line or 0, _SEVERITY_ORDER.get(f.severity, 3), f.kind)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def check_summary(result: CheckResult) -> str:
    """The last line of the text report."""
    merged = sum(1 for f in result.findings if f.kind == "merged")
    return (
        f"{_plural(result.files, 'file')}, {_plural(result.questions, 'question')} → "
        f"{_plural(result.notes, 'note')}: {_plural(result.count(ERROR), 'error')}, "
        f"{_plural(result.count(WARNING), 'warning')}, {_plural(merged, 'merged group')}"
    )


def check_lines(result: CheckResult) -> list[str]:
    """The text report: one line per finding (places indented below it), then the summary."""
    lines: list[str] = []
    for f in result.findings:
        prefix = f"{f.where}: " if f.where else ""
        lines.append(f"{prefix}{f.severity}: {f.message} [{f.kind}]")
        for p in f.places:
            topic = f"  ({TOPIC_SEPARATOR.join(p.topic)})" if f.kind == "conflict" and p.topic else ""
            lines.append(f"    {p.where}  {p.title}{topic}")
    lines.append(check_summary(result))
    return lines


def check_data(result: CheckResult, strict: bool = False) -> dict[str, Any]:
    """The JSON report of `check --format json`."""
    return {
        "ok": not result.failed(strict),
        "strict": strict,
        "counts": {
            "files": result.files,
            "questions": result.questions,
            "notes": result.notes,
            "errors": result.count(ERROR),
            "warnings": result.count(WARNING),
            "merged": sum(1 for f in result.findings if f.kind == "merged"),
            "conflicts": sum(1 for f in result.findings if f.kind == "conflict"),
        },
        "findings": [
            {
                "severity": f.severity,
                "kind": f.kind,
                "file": f.file,
                "line": f.line,
                "message": f.message,
                "places": [{"where": p.where, "title": p.title, "topic": list(p.topic)} for p in f.places],
            }
            for f in result.findings
        ],
    }


def check_json(result: CheckResult, strict: bool = False) -> str:
    """`check_data` as pretty JSON text."""
    return json.dumps(check_data(result, strict), ensure_ascii=False, indent=2)
