"""Parsing a whole content folder: cached files are loaded, the rest parsed, in worker processes when it pays."""

from __future__ import annotations

import gc
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path

from flashmark.cache import ParseCache, content_hash, decode, encode
from flashmark.config import Config
from flashmark.parse import parse_source
from flashmark.sources import read_bytes, read_source
from flashmark.types import ParsedFile

# Below this many bytes to parse, starting worker processes costs more than it saves. Parsing runs at
# about 2.7 MB/s per core; a forked worker starts in milliseconds, a spawned one (macOS, Windows, or a
# process with threads) re-imports flashmark in about 0.3 s. bench/crossover.py measures this.
MIN_PARALLEL_BYTES = 128 * 1024
MIN_PARALLEL_BYTES_SPAWNED = 4 * 1024 * 1024
MIN_PARALLEL_FILES = 4


@dataclass(frozen=True, slots=True)
class ParseTask:
    """One file to parse: everything a worker process needs, picklable."""

    path: Path
    rel: str
    content_dir: Path
    config: Config
    cache: ParseCache | None = None


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


def parse_task(task: ParseTask, data: bytes | None = None) -> ParsedFile:
    """Read and parse one file, and store the result in the cache."""
    if data is None:
        data = read_bytes(task.path, task.rel)
    parsed = parse_source(read_source(task.path, task.content_dir, data), task.config)
    if task.cache is not None:
        task.cache.store(task.rel, content_hash(data), parsed)
    return parsed


def _parse_in_worker(task: ParseTask) -> bytes:
    """Worker side: parse one file and hand it back encoded (cheaper to move between processes)."""
    with paused_gc():
        data = read_bytes(task.path, task.rel)
        parsed = parse_source(read_source(task.path, task.content_dir, data), task.config)
        blob = encode(parsed)
        if task.cache is not None:
            task.cache.store(task.rel, content_hash(data), parsed, blob)
    return blob


def _context() -> BaseContext:
    """fork where it is safe (no other threads), as it starts workers without importing flashmark again."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _parse_in_pool(tasks: list[tuple[int, ParseTask]], parsed: list[ParsedFile | None], count: int) -> list[tuple[int, ParseTask]]:
    """Parse `tasks` in `count` worker processes into `parsed`; return the tasks left if the pool broke down."""
    chunk = max(1, min(16, len(tasks) // (count * 8)))
    done = 0
    try:
        pool = ProcessPoolExecutor(count, mp_context=_context())
    except OSError:
        return tasks
    try:
        for (i, _), blob in zip(tasks, pool.map(_parse_in_worker, [task for _, task in tasks], chunksize=chunk)):
            parsed[i] = decode(blob)
            done += 1
    except (BrokenProcessPool, OSError):  # workers cannot start or died: parallelism is only an optimisation
        return tasks[done:]
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


def parse_files(
    paths: list[Path],
    content_dir: Path,
    config: Config,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> tuple[ParsedFile, ...]:
    """Parse every file in order, reusing cached results; `workers` None picks a pool size from the cores and the work."""
    cache = ParseCache.open(cache_dir, content_dir, config) if cache_dir is not None else None
    rels = [path.relative_to(content_dir).as_posix() for path in paths]
    parsed: list[ParsedFile | None] = [None] * len(paths)
    tasks: list[tuple[int, ParseTask]] = []
    sizes: list[int] = []
    with paused_gc():
        for i, (path, rel) in enumerate(zip(paths, rels)):
            task = ParseTask(path, rel, content_dir, config, cache)
            if cache is not None:
                data = read_bytes(path, rel)
                parsed[i] = cache.load(rel, content_hash(data))
                if parsed[i] is not None:
                    continue
                sizes.append(len(data))
            else:
                sizes.append(path.stat().st_size if path.exists() else 0)
            tasks.append((i, task))
        count = worker_count(sizes, workers)
        if count > 1:
            tasks = _parse_in_pool(tasks, parsed, count)
        for i, task in tasks:
            parsed[i] = parse_task(task)
    if cache is not None:
        cache.prune(rels)
    result = tuple(p for p in parsed if p is not None)
    assert len(result) == len(paths)
    return result
