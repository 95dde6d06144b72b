"""Benchmark flashmark builds on generated corpora and print the figures BENCHMARKS.md records.

Usage: python bench/run.py [--sizes 3000 30000 100000] [--repeat 3] [--profile] [--no-stock]

For each size, each measurement runs in a fresh Python process (so its peak memory is its own):
  cold    `build()` with no cache and no earlier output
  warm    `build()` again after one answer in one file was edited (the cold build's cache is kept)
  floor   genanki alone writing the same notes: genanki.Model, one genanki.Deck per deck name, one
          genanki.Note per note, Package.write_to_file; with the decks' JSON written once (stock
          genanki rewrites it once per deck, quadratic in the number of decks)
  stock   the same with stock genanki, quadratic deck writing included
Times cover the library call only, not interpreter start-up and imports. Peak memory is the
build process's maximum resident set size; the parse workers' largest is shown beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import generate  # noqa: E402

STAMP = 1_700_000_000


def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _decks_once_package(decks: list[Any]) -> Any:
    """Stock genanki, except that the deck and note-type JSON is written once instead of once per deck."""
    import genanki
    from genanki.apkg_col import APKG_COL
    from genanki.apkg_schema import APKG_SCHEMA

    class DecksOnce(genanki.Package):  # type: ignore[misc]
        def write_to_db(self, cursor: Any, timestamp: float, id_gen: Any) -> None:
            cursor.executescript(APKG_SCHEMA)
            cursor.executescript(APKG_COL)
            decks_json, models_json = cursor.execute("SELECT decks, models FROM col").fetchone()
            all_decks, models = json.loads(decks_json), json.loads(models_json)
            for deck in self.decks:
                all_decks[str(deck.deck_id)] = deck.to_json()
                for note in deck.notes:
                    models[str(note.model.model_id)] = note.model.to_json(timestamp, deck.deck_id)
            cursor.execute("UPDATE col SET decks = ?, models = ?", (json.dumps(all_decks), json.dumps(models)))
            for deck in self.decks:
                for note in deck.notes:  # genanki's own per-note writing: one execute per note and card
                    note.write_to_db(cursor, timestamp, deck.deck_id, id_gen)

    return DecksOnce(decks)


def _floor(mode: str, content: Path, out: Path) -> dict[str, float]:
    """Time genanki alone writing the notes a build of `content` makes."""
    import genanki

    from flashmark.anki.notetype import note_type
    from flashmark.build import CACHE_DIR, deck_name, load_corpus
    from flashmark.config import load_config
    from flashmark.identity import deck_id
    from flashmark.render import render_notes

    config = load_config(content)
    corpus = load_corpus(content, config, cache_dir=out / CACHE_DIR)  # the build's cache: quicker, same notes
    rendered = render_notes(corpus.merge.notes, deck_name(content, config))
    del corpus
    target = out / "floor.apkg"
    started = time.perf_counter()
    models = {kind: note_type(kind) for kind in {rn.notetype for rn in rendered}}
    decks: dict[str, genanki.Deck] = {}
    for rn in rendered:
        deck = decks.get(rn.deck)
        if deck is None:
            deck = decks[rn.deck] = genanki.Deck(deck_id(rn.deck), rn.deck)
        deck.add_note(genanki.Note(model=models[rn.notetype], fields=list(rn.fields), tags=list(rn.tags), guid=rn.guid))
    package = genanki.Package(list(decks.values())) if mode == "stock" else _decks_once_package(list(decks.values()))
    package.write_to_file(str(target), timestamp=STAMP)
    seconds = time.perf_counter() - started
    target.unlink()
    return {"seconds": seconds, "notes": len(rendered), "decks": len(decks)}


def _measure(mode: str, content: Path, out: Path, profile: Path | None) -> dict[str, float]:
    """Run one measurement in this process and return its figures."""
    if mode in ("floor", "stock"):
        return _floor(mode, content, out)
    from flashmark.build import build

    if mode == "cold" and out.exists():
        shutil.rmtree(out)
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    result = build(content, out)
    seconds = time.perf_counter() - started
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    return {
        "seconds": seconds,
        "questions": result.questions,
        "notes": len(result.notes),
        "files": result.files,
        "rss_mb": _maxrss_mb(resource.RUSAGE_SELF),
        "workers_rss_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
    }


def _child(mode: str, content: Path, out: Path, profile: Path | None = None) -> dict[str, float]:
    """Run one measurement in a fresh interpreter."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", mode, str(content), str(out)]
    if profile is not None:
        cmd += ["--profile-to", str(profile)]
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    return min(runs, key=lambda r: r["seconds"])


def _edit_one_file(content: Path) -> Path:
    """Change one answer in one file in the middle of the corpus, as a user would."""
    files = sorted(content.rglob("*.md"))
    target = files[len(files) // 2]
    text = target.read_text(encoding="utf-8")
    marker = "**答案：** "
    at = text.index(marker) + len(marker)
    target.write_text(text[:at] + f"（修订 {time.time_ns()}）" + text[at:], encoding="utf-8")
    return target


def _print_profile(path: Path, title: str, lines: int = 30) -> None:
    import pstats

    print(f"\n--- profile: {title} (cProfile; times inflated by profiling) ---")
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000, 100000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is shown")
    parser.add_argument("--no-stock", action="store_true", help="skip stock genanki (90 s at 100,000 questions)")
    parser.add_argument(
        "--workdir", type=Path, help="where corpora and outputs go (default: a temp folder, removed after)"
    )
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one cold and one warm build")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--measure", nargs=3, metavar=("MODE", "CONTENT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        mode, content, out = args.measure
        print(json.dumps(_measure(mode, Path(content), Path(out), args.profile_to)))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flashmark-bench-"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"flashmark benchmark: {cores} cores available, Python {sys.version.split()[0]}, "
        f"best of {args.repeat}, load average {os.getloadavg()[0]:.2f}"
    )
    header = (
        f"{'questions':>9} {'files':>5} {'notes':>6} | {'cold s':>6} {'q/s':>6} {'peak MB':>7} {'wkr MB':>6} | "
        f"{'warm s':>6} | {'floor s':>7} {'stock s':>7} | {'cold/floor':>10} {'warm/floor':>10} {'warm/stock':>10}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    try:
        for size in args.sizes:
            content = workdir / f"corpus-{size}"
            out = workdir / f"out-{size}"
            generate(size, content)
            colds, warms = [], []
            for _ in range(args.repeat):
                colds.append(_child("cold", content, out))
                _edit_one_file(content)
                warms.append(_child("warm", content, out))
            cold, warm = _best(colds), _best(warms)
            floor = _best([_child("floor", content, out) for _ in range(args.repeat)])
            stock = None if args.no_stock else _child("stock", content, out)
            row = {
                "questions": cold["questions"],
                "files": cold["files"],
                "notes": cold["notes"],
                "cold_s": cold["seconds"],
                "questions_per_s": cold["questions"] / cold["seconds"],
                "peak_rss_mb": max(r["rss_mb"] for r in colds + warms),
                "worker_rss_mb": max(r["workers_rss_mb"] for r in colds),
                "warm_s": warm["seconds"],
                "floor_s": floor["seconds"],
                "stock_floor_s": stock["seconds"] if stock else None,
                "cold_over_floor": cold["seconds"] / floor["seconds"],
                "warm_over_floor": warm["seconds"] / floor["seconds"],
                "warm_over_stock": warm["seconds"] / stock["seconds"] if stock else None,
            }
            rows.append(row)
            stock_s = f"{row['stock_floor_s']:>7.2f}" if stock else f"{'-':>7}"
            stock_ratio = f"{row['warm_over_stock']:>10.2f}" if stock else f"{'-':>10}"
            print(
                f"{row['questions']:>9.0f} {row['files']:>5.0f} {row['notes']:>6.0f} | {row['cold_s']:>6.2f} "
                f"{row['questions_per_s']:>6.0f} {row['peak_rss_mb']:>7.0f} {row['worker_rss_mb']:>6.0f} | "
                f"{row['warm_s']:>6.2f} | {row['floor_s']:>7.2f} {stock_s} | "
                f"{row['cold_over_floor']:>10.2f} {row['warm_over_floor']:>10.2f} {stock_ratio}",
                flush=True,
            )
            if args.profile:
                prof_cold, prof_warm = workdir / f"cold-{size}.prof", workdir / f"warm-{size}.prof"
                _child("cold", content, out, prof_cold)
                _edit_one_file(content)
                _child("warm", content, out, prof_warm)
                _print_profile(prof_cold, f"cold build, {size} questions")
                _print_profile(prof_warm, f"warm rebuild, {size} questions")
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(content, ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
