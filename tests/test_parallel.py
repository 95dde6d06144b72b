"""Parsing in worker processes and through the cache gives exactly the output of a plain serial parse."""

from __future__ import annotations

import shutil
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from ankitools import import_apkg
from flashmark import parallel
from flashmark.build import CACHE_DIR, build, deck_name, load_corpus
from flashmark.config import load_config
from flashmark.errors import ParseError, SourceError
from flashmark.render import render_notes
from flashmark.sources import find_files

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from corpus import generate

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Generated questions (with repeats and near-duplicate titles) plus every fixture deck, in one folder."""
    root = tmp_path_factory.mktemp("corpus") / "content"
    generate(600, root / "generated")
    for name in ("decks/course", "merge", "parse"):
        shutil.copytree(FIXTURES / name, root / name.replace("/", "-"), ignore=shutil.ignore_patterns("flashmark.toml"))
    return root


def built_notes(content: Path, **kwargs):
    config = load_config(content)
    loaded = load_corpus(content, config, **kwargs)
    rendered = render_notes(loaded.merge.notes, deck_name(content, config))
    return loaded, [(n.guid, n.deck, n.fields, n.tags) for n in rendered]


def test_same_output_with_any_number_of_workers_and_with_or_without_cache(corpus: Path, tmp_path: Path) -> None:
    serial, notes = built_notes(corpus, workers=1)
    assert len(serial.files) > 25 and len(notes) > 400 and serial.merge.groups
    for kwargs in (
        {"workers": 2},
        {"workers": 3},
        {"workers": 7},
        {},  # the automatic choice
        {"workers": 2, "cache_dir": tmp_path / "c2"},  # cold: parsed in workers, written to the cache
        {"workers": 2, "cache_dir": tmp_path / "c2"},  # warm: everything from the cache
        {"workers": 1, "cache_dir": tmp_path / "c1"},
        {"workers": 3, "cache_dir": tmp_path / "c1"},
    ):
        loaded, rendered = built_notes(corpus, **kwargs)
        assert loaded.files == serial.files, kwargs
        assert loaded.merge == serial.merge, kwargs
        assert rendered == notes, kwargs


def test_cached_rebuild_imports_the_same_as_a_fresh_build(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fresh = build(corpus, out)
    assert (out / CACHE_DIR).is_dir()
    first = fresh.output.rename(tmp_path / "fresh.apkg")
    cached = build(corpus, out)
    a = import_apkg(first, tmp_path / "a.anki2")
    b = import_apkg(cached.output, tmp_path / "b.anki2")

    def view(anki):
        return sorted(
            (n.guid, n.fields["Question"], tuple(n.fields.values()), n.tags, n.decks) for n in anki.notes.values()
        )

    assert view(a) == view(b) and len(a.notes) == len(fresh.notes)


def test_worker_errors_name_file_and_line(tmp_path: Path) -> None:
    """An error in a worker reads exactly like the same error parsed here (file, line, type)."""
    content = tmp_path / "content"
    generate(300, content)
    bad = sorted(content.rglob("*.md"))[3]
    bad.write_text("---\ntopic: [unclosed\n---\n\n## 问题\n\n答案。\n", encoding="utf-8")
    rel = bad.relative_to(content).as_posix()
    errors = []
    for workers in (1, 2):
        with pytest.raises(ParseError) as caught:
            load_corpus(content, workers=workers)
        errors.append((type(caught.value), str(caught.value), caught.value.path, caught.value.line))
    assert errors[0] == errors[1]
    assert errors[0][2] == rel and errors[0][1].startswith(f"{rel}:")

    bad.write_bytes("## 标题\n\n答案".encode("utf-16"))
    with pytest.raises(SourceError, match="UTF-16"):
        load_corpus(content, workers=2, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("workers", [1, 2])
def test_keep_going_collects_errors_in_order_and_parses_the_rest(tmp_path: Path, workers: int) -> None:
    content = tmp_path / "content"
    generate(300, content)
    paths = find_files(content)
    paths[2].write_text("---\ntopic: [unclosed\n---\n\n## 问题\n\n答案。\n", encoding="utf-8")
    paths[7].write_bytes(b"## \xff\xfe broken\n")
    config = load_config(content)
    files, errors = parallel.parse_files(
        paths, content, config, workers=workers, keep_going=True, cache_dir=tmp_path / "c"
    )
    rels = [p.relative_to(content).as_posix() for p in paths]
    assert [e.path for e in errors] == [rels[2], rels[7]]
    assert [type(e) for e in errors] == [ParseError, SourceError]
    assert [f.rel for f in files] == [r for k, r in enumerate(rels) if k not in (2, 7)]
    with pytest.raises(ParseError):
        parallel.parse_files(paths, content, config, workers=workers, cache_dir=tmp_path / "c")


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_once_per_file_in_order(corpus: Path, tmp_path: Path, workers: int) -> None:
    content = tmp_path / "content"
    shutil.copytree(corpus, content)
    paths = find_files(content)
    rels = [p.relative_to(content).as_posix() for p in paths]
    for _ in range(3):  # cold; then from the cache with one file edited; then all from the cache
        calls: list[tuple[int, int, str]] = []
        parallel.parse_files(
            paths,
            content,
            load_config(content),
            tmp_path / "c",
            workers,
            progress=lambda *call: calls.append(call),  # noqa: B023 - called before the loop moves on
        )
        assert calls == [(k, len(paths), rel) for k, rel in enumerate(rels)]
        paths[5].write_text(paths[5].read_text(encoding="utf-8") + "\n## 新问题\n\n新答案。\n", encoding="utf-8")


def test_a_broken_pool_falls_back_to_parsing_here(corpus: Path, monkeypatch) -> None:
    serial = load_corpus(corpus, workers=1)

    class DiesAfterOneResult:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            pass

        def map(self, fn, tasks, chunksize=1):
            yield fn(tasks[0])
            raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", DiesAfterOneResult)
    assert load_corpus(corpus, workers=2).files == serial.files


def test_worker_count() -> None:
    assert parallel.worker_count([100] * 50, None) == 1  # too little to parse: not worth starting processes
    assert parallel.worker_count([parallel.MIN_PARALLEL_BYTES] * 2, None) == 1  # too few files
    big = [parallel.MIN_PARALLEL_BYTES] * 8
    assert parallel.worker_count(big, None) == min(parallel.available_cores(), 8)
    assert parallel.worker_count(big, 3) == 3
    assert parallel.worker_count([10, 10], 5) == 2
    assert parallel.worker_count([], None) == 1
