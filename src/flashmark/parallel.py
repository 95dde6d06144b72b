"""Parsing a whole content folder: cached files are loaded, the rest parsed, in worker processes when it pays."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path

from flashmark.cache import ParseCache, content_hash, decode, encode
from flashmark.config import Config
from flashmark.errors import FlashmarkError, ParseError, SourceError
from flashmark.parse import parse_source
from flashmark.sources import read_bytes, read_source
from flashmark.types import ParsedFile, Verified

# Below this many bytes to parse, starting worker processes costs more than it saves. Parsing runs at
# about 2.7 MB/s per core; a forked worker starts in milliseconds, a spawned one (macOS, Windows, or a
# process with threads) re-imports flashmark in about 0.3 s. bench/crossover.py measures this.
MIN_PARALLEL_BYTES = 128 * 1024
MIN_PARALLEL_BYTES_SPAWNED = 4 * 1024 * 1024
MIN_PARALLEL_FILES = 4

# progress(done, total, file): `done` of `total` files finished, `file` the one just finished.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class ParseTask:
    """One file to parse: everything a worker process needs, picklable."""

    path: Path
    rel: str
    content_dir: Path
    config: Config
    cache: ParseCache | None = None
    images: Mapping[str, Verified] | None = None  # images checked against their names before (see ImageFiles)


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many records that form no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_task(task: ParseTask) -> ParsedFile:
    """Read and parse one file, and store the result in the cache."""
    started = time.time_ns()
    data = read_bytes(task.path, task.rel)
    parsed = parse_source(read_source(task.path, task.content_dir, data), task.config, task.content_dir, task.images)
    if task.cache is not None:
        task.cache.store(task.rel, content_hash(data), parsed, started)
    return parsed


def _parse_in_worker(task: ParseTask) -> bytes | FlashmarkError:
    """Worker side: parse one file and hand it back encoded (cheaper to move between processes), or its error."""
    started = time.time_ns()
    try:
        data = read_bytes(task.path, task.rel)
        parsed = parse_source(
            read_source(task.path, task.content_dir, data), task.config, task.content_dir, task.images
        )
    except (SourceError, ParseError) as exc:
        return exc
    blob = encode(parsed)
    if task.cache is not None:
        task.cache.store(task.rel, content_hash(data), parsed, started)
    return blob


def _start_worker() -> None:
    """A worker collects garbage (a forked one inherits the build's pause): parsing a file leaves reference
    cycles behind, and a worker that never collects them grows by gigabytes over a large folder."""
    gc.enable()


def _context() -> BaseContext:
    """fork where it is safe (no other threads), as it starts workers without importing flashmark again."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _parse_in_pool(tasks: list[tuple[int, ParseTask]], done: _Done, count: int) -> list[tuple[int, ParseTask]]:
    """Parse `tasks` in `count` worker processes; return the tasks left if the pool broke down."""
    chunk = max(1, min(16, len(tasks) // (count * 8)))
    finished = 0
    try:
        pool = ProcessPoolExecutor(count, mp_context=_context(), initializer=_start_worker)
    except OSError:
        return tasks
    try:
        for (i, _), result in zip(tasks, pool.map(_parse_in_worker, [task for _, task in tasks], chunksize=chunk)):
            done.file(i, decode(result) if isinstance(result, bytes) else result)
            finished += 1
    except (BrokenProcessPool, OSError):  # workers cannot start or died: parallelism is only an optimisation
        return tasks[finished:]
    finally:  # after an error in one file, do not wait for the rest to be parsed
        pool.shutdown(wait=True, cancel_futures=True)
    return []


def worker_count(sizes: list[int], workers: int | None) -> int:
    """How many processes to parse `sizes` bytes of files with (1: parse in this process)."""
    if workers is not None:
        return max(1, min(workers, len(sizes)))
    least = MIN_PARALLEL_BYTES if _context().get_start_method() == "fork" else MIN_PARALLEL_BYTES_SPAWNED
    if len(sizes) < MIN_PARALLEL_FILES or sum(sizes) < least:
        return 1
    return max(1, min(available_cores(), len(sizes)))


class _Done:
    """Results in file order: parsed files, errors (kept or raised), and progress reported in order."""

    def __init__(self, rels: list[str], keep_going: bool, progress: Progress | None) -> None:
        self.rels = rels
        self.results: list[ParsedFile | FlashmarkError | None] = [None] * len(rels)
        self.keep_going = keep_going
        self.progress = progress
        self.reported = 0

    def file(self, i: int, result: ParsedFile | FlashmarkError) -> None:
        if isinstance(result, FlashmarkError) and result.path == self.rels[i]:
            result.in_content = True  # it names the note file by its path in the content folder
        if isinstance(result, FlashmarkError) and not self.keep_going:
            raise result
        self.results[i] = result
        while self.reported < len(self.rels) and self.results[self.reported] is not None:
            if self.progress is not None:
                self.progress(self.reported, len(self.rels), self.rels[self.reported])
            self.reported += 1


def parse_files(
    paths: list[Path],
    content_dir: Path,
    config: Config,
    cache_dir: Path | None = None,
    workers: int | None = None,
    *,
    keep_going: bool = False,
    progress: Progress | None = None,
    prune: bool = True,
    images: Mapping[str, Verified] | None = None,
) -> tuple[tuple[ParsedFile, ...], tuple[FlashmarkError, ...]]:
    """Parse every file, reusing cached results; return the parsed files and, with `keep_going`, the errors.

    Without `keep_going` the first file (in order) that cannot be read or parsed raises its error.
    `workers` None picks a pool size from the cores and the work; `progress(done, total, file)` is
    called once per file, in order. With `prune` (when `paths` are all the folder's files), the cache
    entries of other files are removed. `images`: images checked against their names before, by path (not read
    again while their figures hold).
    """
    cache = ParseCache.open(cache_dir, content_dir, config) if cache_dir is not None else None
    rels = [path.relative_to(content_dir).as_posix() for path in paths]
    done = _Done(rels, keep_going, progress)
    tasks: list[tuple[int, ParseTask]] = []
    sizes: list[int] = []
    with paused_gc():
        for i, (path, rel) in enumerate(zip(paths, rels)):
            task = ParseTask(path, rel, content_dir, config, cache, images)
            hit = None
            try:
                if cache is not None:
                    data = read_bytes(path, rel)
                    hit = cache.load(rel, content_hash(data))
                    size = len(data)
                else:
                    size = path.stat().st_size
            except (SourceError, OSError):  # reported in order when the file is parsed
                size = 0
            if hit is not None:
                done.file(i, hit)
            else:
                tasks.append((i, task))
                sizes.append(size)
        count = worker_count(sizes, workers)
        if count > 1:
            tasks = _parse_in_pool(tasks, done, count)
        for i, task in tasks:
            try:
                done.file(i, parse_task(task))
            except (SourceError, ParseError) as exc:
                done.file(i, exc)
    if cache is not None and prune:
        cache.prune(rels)
    files = tuple(r for r in done.results if isinstance(r, ParsedFile))
    errors = tuple(r for r in done.results if isinstance(r, FlashmarkError))
    assert len(files) + len(errors) == len(paths)
    return files, errors
