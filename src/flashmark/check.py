"""`flashmark check`: every problem and merge in a content folder, each with file:line, without building."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flashmark.anki.notetype import kind_key
from flashmark.build import Corpus, load_corpus
from flashmark.config import load_config
from flashmark.diagnostics import (
    ERROR,
    INFO,
    WARNING,
    Diagnostic,
    from_error,
    from_notice,
    from_skipped,
    ordered,
    shown_path,
)
from flashmark.errors import LockError
from flashmark.lock import LOCK_FILE, read_lock
from flashmark.merge import OTHER_KINDS, OTHER_PROMPTS
from flashmark.report import kinds_text
from flashmark.types import Question

TOPIC_SEPARATOR = " › "


@dataclass(frozen=True, slots=True)
class Place:
    """One input question a finding refers to: where it is (file:line, as the user opens it), its title and topic."""

    where: str
    title: str
    topic: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing `check` reports: errors stop a build, warnings lose or split questions, info is a merge."""

    diagnostic: Diagnostic
    places: tuple[Place, ...] = ()

    @property
    def level(self) -> str:
        return self.diagnostic.level

    @property
    def code(self) -> str:
        return self.diagnostic.code


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `check` read and found."""

    files: int
    questions: int
    notes: int
    findings: tuple[Finding, ...]
    kinds: dict[str, int] = field(default_factory=dict)  # notes by kind: qa, qa+reverse, cloze

    def count(self, level: str) -> int:
        return sum(1 for f in self.findings if f.level == level)

    def failed(self, strict: bool = False) -> bool:
        """Errors fail a check; with `strict`, so do warnings."""
        return self.count(ERROR) > 0 or (strict and self.count(WARNING) > 0)


def _split_where(where: str) -> tuple[str, int | None]:
    file, _, line = where.rpartition(":")
    return (file, int(line)) if file and line.isdigit() else (where, None)


def findings(corpus: Corpus, content_dir: Path) -> list[Finding]:
    """Turn a corpus (read with keep_going) into findings, sorted by file and line."""
    by_where: dict[str, Question] = {q.where: q for q in corpus.questions}

    def shown(where: str) -> str:
        file, line = _split_where(where)
        return f"{shown_path(file, content_dir)}:{line}" if line is not None else shown_path(file, content_dir)

    def place(where: str) -> Place:
        q = by_where.get(where)
        return Place(shown(where), q.title, q.topic) if q is not None else Place(shown(where), "")

    def at(where: str, level: str, code: str, message: str) -> Diagnostic:
        file, line = _split_where(where)
        return Diagnostic(shown_path(file, content_dir), line, level, code, message)

    out = [Finding(from_error(e, content_dir)) for e in corpus.errors]
    out += [Finding(from_skipped(s, content_dir)) for s in corpus.skipped]
    out += [Finding(from_notice(n, content_dir)) for n in corpus.notices]
    for c in corpus.merge.conflicts:
        places = tuple(place(s) for s in c.sources)
        if c.reason in (OTHER_PROMPTS, OTHER_KINDS):  # different code or options, or a cloze: different questions
            why = "different prompts" if c.reason == OTHER_PROMPTS else "a cloze and a Q&A among them"
            message = f"{len(c.sources)} questions titled '{c.title}' have {why}, so each is a note of its own"
            out.append(Finding(at(c.sources[0], INFO, "apart", message), places))
            continue
        message = (
            f"'{c.title}' has different answers under different topics, so it is kept as separate notes; "
            "merge the answers if it is one question, or retitle one"
        )
        out.append(Finding(at(c.sources[0], WARNING, "conflict", message), places))
    for g in corpus.merge.groups:
        message = f"{len(g.sources)} questions merged into one note '{g.title}' ({g.reason})"
        out.append(Finding(at(g.sources[0], INFO, "merged", message), tuple(place(s) for s in g.sources)))
    return _sorted(out)


def _sorted(found: list[Finding]) -> list[Finding]:
    order = {id(d): n for n, d in enumerate(ordered(f.diagnostic for f in found))}
    return sorted(found, key=lambda f: order[id(f.diagnostic)])


def check(
    content_dir: Path,
    *,
    exclude: tuple[str, ...] = (),
    allow_html: bool | None = None,
    cache_dir: Path | None = None,
) -> CheckResult:
    """Read every file of a content folder, carrying on past bad files, and report what a build would do.

    `cache_dir` is a build's parse cache, to reuse the parses of files that did not change.
    """
    config = load_config(content_dir).override(exclude=exclude, allow_html=allow_html)
    corpus = load_corpus(content_dir, config, keep_going=True, cache_dir=cache_dir)
    found = _sorted(findings(corpus, content_dir) + lock_findings(content_dir / LOCK_FILE, corpus))
    return CheckResult(
        files=len(corpus.files) + len(corpus.errors),
        questions=len(corpus.questions) + len(corpus.skipped),
        notes=len(corpus.merge.notes),
        findings=tuple(found),
        kinds=dict(Counter(kind_key(n.kind, n.reverse) for n in corpus.merge.notes)),
    )


def lock_findings(path: Path, corpus: Corpus) -> list[Finding]:
    """What a build would say of the lock file: an error where it would refuse it, warnings for pins gone astray."""
    try:
        lock = read_lock(path)
    except LockError as exc:
        return [Finding(replace(from_error(exc), code="lock"))]
    if lock is None:
        return []
    anchors = {note.anchor for note in corpus.merge.notes if note.anchor}
    left_out = set(corpus.left_out)
    return [
        Finding(
            Diagnostic(
                shown_path(path),
                None,
                WARNING,
                "lock",
                f"the lock pins {{{entry.key}}} ('{entry.title}') but no question carries that id now; the next build "
                "lists the note as removed (put the id back on its heading to keep the note)",
            )
        )
        for entry in lock.notes
        if entry.live
        and entry.key.startswith("#")
        and entry.key[1:] not in anchors
        and not any(f in left_out for f in entry.files)
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def check_summary(result: CheckResult) -> str:
    """The last line of the text report."""
    merged = sum(1 for f in result.findings if f.code == "merged")
    return (
        f"{_plural(result.files, 'file')}, {_plural(result.questions, 'question')} → "
        f"{_plural(result.notes, 'note')}{kinds_text(result.kinds)}: {_plural(result.count(ERROR), 'error')}, "
        f"{_plural(result.count(WARNING), 'warning')}, {_plural(merged, 'merged group')}"
    )


def check_lines(result: CheckResult) -> list[str]:
    """The text report: one line per finding (places indented below it), then the summary."""
    lines: list[str] = []
    for f in result.findings:
        lines.append(str(f.diagnostic))
        for p in f.places:
            topic = f"  ({TOPIC_SEPARATOR.join(p.topic)})" if f.code == "conflict" and p.topic else ""
            lines.append(f"    {p.where}  {p.title}{topic}")
    lines.append(check_summary(result))
    return lines


def check_data(result: CheckResult, strict: bool = False) -> dict[str, Any]:
    """The JSON report of `check --format json`: each finding's file, line, level, code, message and places."""
    return {
        "ok": not result.failed(strict),
        "strict": strict,
        "counts": {
            "files": result.files,
            "questions": result.questions,
            "notes": result.notes,
            "errors": result.count(ERROR),
            "warnings": result.count(WARNING),
            "merged": sum(1 for f in result.findings if f.code == "merged"),
            "conflicts": sum(1 for f in result.findings if f.code == "conflict"),
            "kinds": {k: result.kinds.get(k, 0) for k in ("qa", "qa+reverse", "cloze")},
        },
        "findings": [
            {
                **f.diagnostic.data(),
                "places": [{"where": p.where, "title": p.title, "topic": list(p.topic)} for p in f.places],
            }
            for f in result.findings
        ],
    }


def check_json(result: CheckResult, strict: bool = False) -> str:
    """`check_data` as pretty JSON text."""
    return json.dumps(check_data(result, strict), ensure_ascii=False, indent=2)
