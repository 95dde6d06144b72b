"""The whole pipeline: read → parse → merge → render → package, plus the report."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from flashmark.config import Config, load_config
from flashmark.merge import merge
from flashmark.package import atomic_write, write_package
from flashmark.parallel import parse_files, paused_gc
from flashmark.render import render_notes
from flashmark.report import BuildResult, report_json
from flashmark.sources import find_files
from flashmark.types import MergeResult, Notice, ParsedFile, Question, Skipped

_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\s]+')
CACHE_DIR = ".cache"  # under the output folder; safe to delete


@dataclass(frozen=True, slots=True)
class Corpus:
    """Everything parsed from a content folder, merged into notes."""

    config: Config
    files: tuple[ParsedFile, ...]
    merge: MergeResult

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for f in self.files for q in f.questions)

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return tuple(s for f in self.files for s in f.skipped)

    @property
    def notices(self) -> tuple[Notice, ...]:
        return tuple(n for f in self.files for n in f.notices)


def deck_name(content_dir: Path, config: Config) -> str:
    """The root deck: --deck, else flashmark.toml's deck, else the content folder's name."""
    return config.deck or content_dir.resolve().name or "flashmark"


def output_name(deck: str) -> str:
    """A file name for a deck name: path separators, colons and spaces become `_`."""
    return _UNSAFE_FILENAME.sub("_", deck).strip("_.") or "deck"


def load_corpus(
    content_dir: Path, config: Config | None = None, cache_dir: Path | None = None, workers: int | None = None
) -> Corpus:
    """Read, parse and merge a content folder; `cache_dir` keeps parses of unchanged files between builds."""
    config = config or load_config(content_dir)
    paths = find_files(content_dir, config.exclude)
    parsed, _ = parse_files(paths, content_dir, config, cache_dir=cache_dir, workers=workers)
    questions = [q for f in parsed for q in f.questions]
    return Corpus(config=config, files=parsed, merge=merge(questions))


@paused_gc()  # the build makes millions of records and no reference cycles: collecting is pure overhead
def build(content_dir: Path, out_dir: Path, deck: str | None = None) -> BuildResult:
    """Build `content_dir` into `out_dir/<deck>.apkg` and `<deck>.report.json`."""
    started = time.perf_counter()
    config = load_config(content_dir).with_deck(deck)
    corpus = load_corpus(content_dir, config, cache_dir=out_dir / CACHE_DIR)
    root = deck_name(content_dir, config)
    rendered = tuple(render_notes(corpus.merge.notes, root))
    name = output_name(root)
    output = out_dir / f"{name}.apkg"
    report = out_dir / f"{name}.report.json"
    write_package(rendered, output)
    result = BuildResult(
        deck=root,
        files=len(corpus.files),
        questions=len(corpus.questions) + len(corpus.skipped),
        notes=rendered,
        merge=corpus.merge,
        skipped=corpus.skipped,
        notices=corpus.notices,
        output=output,
        report=report,
        seconds=time.perf_counter() - started,
    )
    text = report_json(result)

    def write_report(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(report, write_report)
    return result
