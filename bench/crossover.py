"""Measure where parsing in worker processes starts to pay: serial vs pool parse times by corpus size.

Usage: python bench/crossover.py [--sizes 30 100 300 1000 3000]

Prints, per size, the bytes to parse and the best of 5 runs with 1 worker and with one per core;
flashmark.parallel.MIN_PARALLEL_BYTES is set from this.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate
from flashmark.config import Config
from flashmark.parallel import available_cores, parse_files
from flashmark.sources import find_files


def best(paths: list[Path], content: Path, workers: int, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        parse_files(paths, content, Config(), workers=workers)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 300, 1000, 3000])
    args = parser.parse_args()
    cores = available_cores()
    print(f"{'questions':>9} {'files':>5} {'KB':>7} {'1 worker s':>10} {f'{cores} workers s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            content = Path(tmp) / f"c{size}"
            generate(size, content)
            paths = find_files(content)
            kb = sum(p.stat().st_size for p in paths) / 1024
            serial, pooled = best(paths, content, 1), best(paths, content, cores)
            print(f"{size:>9} {len(paths):>5} {kb:>7.0f} {serial:>10.3f} {pooled:>11.3f}")


if __name__ == "__main__":
    main()
