"""Benchmark flashmark builds on generated corpora and print the figures BENCHMARKS.md records.

Usage: python bench/run.py [--sizes 3000 30000 100000] [--repeat 3] [--no-stock] [--no-peers] [--no-media]

For each size, each measurement runs in a fresh Python process (so its peak memory is its own):
  cold    `build()` with no output folder yet: no parse cache, no build state
  noop    `build()` again with nothing changed: "up to date", nothing written
  warm    `build()` after one answer in one file was edited: rebuilt from the last build's state
  full    the same edit built with `force=True`: the whole pipeline again (parse cache still used)
  floor   genanki alone writing the same notes: genanki.Model, one genanki.Deck per deck name, one
          genanki.Note per note, Package.write_to_file; with the decks' JSON written once (stock
          genanki rewrites it once per deck, quadratic in the number of decks): the strict floor
  stock   the same with stock genanki, quadratic deck writing included
  parser  markdown-it-py alone (CommonMark with tables) parsing and rendering every file, in as many
          worker processes as a build uses: the parser's own share of a cold build
Beside them, on the 3,000-question corpus, markdown-anki-decks (installed into its own venv in the work
folder) building the same files, and a deck of about 90 MB of images: cold, noop and warm, against
writing its package's bytes once.
Times cover the library call only, not interpreter start-up and imports (markdown-anki-decks: its
whole command). Peak memory is the build process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import generate, generate_media  # noqa: E402

STAMP = 1_700_000_000
SETTLE = 0.1  # seconds between an edit and the next build: the build stamp distrusts files changed just before


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


def _parse_one(path: str) -> int:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    return len(md.render(Path(path).read_text(encoding="utf-8")))


def _parser(content: Path) -> dict[str, float]:
    """markdown-it-py alone rendering every file, in as many processes as a cold build parses in."""
    from concurrent.futures import ProcessPoolExecutor

    from flashmark.parallel import _context, worker_count

    files = [str(p) for p in sorted(content.rglob("*.md"))]
    count = worker_count([os.path.getsize(f) for f in files], None)
    started = time.perf_counter()
    if count > 1:
        with ProcessPoolExecutor(count, mp_context=_context()) as pool:
            rendered = sum(pool.map(_parse_one, files, chunksize=max(1, len(files) // (count * 8))))
    else:
        rendered = sum(_parse_one(f) for f in files)
    return {"seconds": time.perf_counter() - started, "workers": count, "bytes": rendered}


def _write_once(content: Path, out: Path) -> dict[str, float]:
    """Writing the deck's bytes once (to a new file, no fsync): the floor for a deck of images."""
    deck = next(out.glob("*.apkg"))
    data = deck.read_bytes()
    target = out / "once.bin"
    started = time.perf_counter()
    target.write_bytes(data)
    seconds = time.perf_counter() - started
    target.unlink()
    return {"seconds": seconds, "bytes": len(data)}


def _measure(mode: str, content: Path, out: Path, profile: Path | None) -> dict[str, Any]:
    """Run one measurement in this process and return its figures."""
    if mode in ("floor", "stock"):
        return _floor(mode, content, out)
    if mode == "parser":
        return _parser(content)
    if mode == "once":
        return _write_once(content, out)
    from flashmark.build import build
    from flashmark.incremental import LazyNotes

    if mode == "cold" and out.exists():
        shutil.rmtree(out)
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    result = build(content, out, force=mode == "full")
    seconds = time.perf_counter() - started
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    how = "up to date" if result.unchanged is not None else "state" if isinstance(result.notes, LazyNotes) else "full"
    return {
        "seconds": seconds,
        "questions": result.questions,
        "notes": result.unchanged["notes"] if result.unchanged is not None else len(result.notes),
        "files": result.files,
        "rss_mb": _maxrss_mb(resource.RUSAGE_SELF),
        "workers_rss_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
        "how": how,
    }


def _child(mode: str, content: Path, out: Path, profile: Path | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", mode, str(content), str(out)]
    if profile is not None:
        cmd += ["--profile-to", str(profile)]
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
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


def _peer_format(content: Path, dest: Path) -> None:
    """The corpus as markdown-anki-decks reads notes: a file is a deck titled by its `#` heading, each `##`
    heading a question with its answer below (the corpus's `###` topic and `####` questions, moved up)."""
    shutil.rmtree(dest, ignore_errors=True)
    for path in sorted(content.rglob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        moved = [
            "# " + ln[4:] if ln.startswith("### ") else "## " + ln[5:] if ln.startswith("#### ") else ln for ln in lines
        ]
        target = dest / path.relative_to(content)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(moved) + "\n", encoding="utf-8")


def _peer(workdir: Path, content: Path) -> dict[str, Any] | None:
    """markdown-anki-decks building the same questions (its whole command, start-up included), or None."""
    venv = workdir / "peer-venv"
    tool = venv / "bin" / "mdankideck"
    if not tool.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run(  # its typer 0.4 needs a click before 8.1: with a newer one each call only prints its version
                [str(venv / "bin" / "pip"), "install", "--quiet", "markdown-anki-decks", "click<8.1"],
                check=True,
                capture_output=True,
            )
        except subprocess.CalledProcessError as exc:
            print(f"markdown-anki-decks could not be installed: {exc.stderr[-300:]!r}")
            return None
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('markdown-anki-decks'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    out, source = workdir / "peer-out", workdir / "peer-content"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    _peer_format(content, source)
    started = time.perf_counter()
    proc = subprocess.run([str(tool), str(source), str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    startup_started = time.perf_counter()
    subprocess.run([str(tool), "--help"], capture_output=True)
    startup = time.perf_counter() - startup_started
    decks = list(out.rglob("*.apkg"))
    notes = 0
    for deck in decks:  # how many notes it made, read from each package's collection
        with zipfile.ZipFile(deck) as z, tempfile.TemporaryDirectory() as scratch:
            z.extract("collection.anki2", scratch)
            db = sqlite3.connect(Path(scratch) / "collection.anki2")
            notes += db.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
            db.close()
    return {
        "seconds": seconds, "startup_s": startup, "decks": len(decks), "notes": notes, "ok": proc.returncode == 0,
        "version": version,
    }  # fmt: skip


def _media(workdir: Path, repeat: int) -> dict[str, Any]:
    """A deck of about 90 MB of images: cold, nothing changed, one answer edited; and writing its bytes once."""
    content, out = workdir / "media", workdir / "media-out"
    generate_media(content)
    cold = _child("cold", content, out)
    time.sleep(SETTLE)
    noop = _best([_child("noop", content, out) for _ in range(repeat)])
    warms = []
    for _ in range(repeat):
        _edit_one_file(content)
        time.sleep(SETTLE)
        warms.append(_child("warm", content, out))
    once = _best([_child("once", content, out) for _ in range(max(3, repeat))])
    row = {
        "files": cold["files"],
        "notes": cold["notes"],
        "mb": once["bytes"] / 1e6,
        "cold_s": cold["seconds"],
        "noop_s": noop["seconds"],
        "noop_how": noop["how"],
        "warm_s": _best(warms)["seconds"],
        "warm_how": _best(warms)["how"],
        "once_s": once["seconds"],
    }
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(content, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000, 100000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is shown")
    parser.add_argument("--no-stock", action="store_true", help="skip stock genanki (90 s at 100,000 questions)")
    parser.add_argument("--no-peers", action="store_true", help="skip markdown-anki-decks (installed from PyPI)")
    parser.add_argument("--no-media", action="store_true", help="skip the deck of 90 MB of images")
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
    workdir.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"flashmark benchmark: {cores} cores available, Python {sys.version.split()[0]}, "
        f"best of {args.repeat}, load average {os.getloadavg()[0]:.2f}"
    )
    header = (
        f"{'questions':>9} {'files':>5} {'notes':>6} | {'cold s':>6} {'peak MB':>7} {'any MB':>6} {'wkr MB':>6} | "
        f"{'noop s':>6} {'warm s':>6} "
        f"{'full s':>6} | {'floor s':>7} {'stock s':>7} {'parser s':>8} | {'noop/fl':>7} {'warm/fl':>7} "
        f"{'cold/target':>11}"
    )
    print(header)
    print("-" * len(header))
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    try:
        for size in args.sizes:
            content = workdir / f"corpus-{size}"
            out = workdir / f"out-{size}"
            generate(size, content)
            colds, noops, warms, fulls = [], [], [], []
            for _ in range(args.repeat):
                colds.append(_child("cold", content, out))
                time.sleep(SETTLE)
                noops.append(_child("noop", content, out))
                _edit_one_file(content)
                time.sleep(SETTLE)
                warms.append(_child("warm", content, out))
                _edit_one_file(content)
                time.sleep(SETTLE)
                fulls.append(_child("full", content, out))
            cold, noop, warm, full = _best(colds), _best(noops), _best(warms), _best(fulls)
            floor = _best([_child("floor", content, out) for _ in range(args.repeat)])
            stock = None if args.no_stock else _child("stock", content, out)
            parsed = _best([_child("parser", content, out) for _ in range(args.repeat)])
            target = 1.3 * parsed["seconds"] + floor["seconds"]
            row = {
                "questions": cold["questions"],
                "files": cold["files"],
                "notes": cold["notes"],
                "cold_s": cold["seconds"],
                "peak_rss_mb": max(r["rss_mb"] for r in colds),
                "peak_rss_any_mb": max(r["rss_mb"] for r in colds + noops + warms + fulls),
                "worker_rss_mb": max(r["workers_rss_mb"] for r in colds),
                "noop_s": noop["seconds"],
                "noop_how": noop["how"],
                "warm_s": warm["seconds"],
                "warm_how": warm["how"],
                "full_s": full["seconds"],
                "floor_s": floor["seconds"],
                "stock_floor_s": stock["seconds"] if stock else None,
                "parser_s": parsed["seconds"],
                "parser_workers": parsed["workers"],
                "noop_over_floor": noop["seconds"] / floor["seconds"],
                "warm_over_floor": warm["seconds"] / floor["seconds"],
                "full_over_floor": full["seconds"] / floor["seconds"],
                "cold_target_s": target,
                "cold_over_target": cold["seconds"] / target,
            }
            rows.append(row)
            stock_s = f"{row['stock_floor_s']:>7.2f}" if stock else f"{'-':>7}"
            print(
                f"{row['questions']:>9.0f} {row['files']:>5.0f} {row['notes']:>6.0f} | {row['cold_s']:>6.2f} "
                f"{row['peak_rss_mb']:>7.0f} {row['peak_rss_any_mb']:>6.0f} {row['worker_rss_mb']:>6.0f} | "
                f"{row['noop_s']:>6.3f} {row['warm_s']:>6.2f} {row['full_s']:>6.2f} | "
                f"{row['floor_s']:>7.2f} {stock_s} {row['parser_s']:>8.2f} | {row['noop_over_floor']:>7.2f} "
                f"{row['warm_over_floor']:>7.2f} {row['cold_over_target']:>11.2f}"
                + (
                    ""
                    if noop["how"] == "up to date" and warm["how"] == "state"
                    else f"  ({noop['how']}, {warm['how']})"
                ),
                flush=True,
            )
            if args.profile:
                prof_cold, prof_warm = workdir / f"cold-{size}.prof", workdir / f"warm-{size}.prof"
                _child("cold", content, out, prof_cold)
                _edit_one_file(content)
                time.sleep(SETTLE)
                _child("warm", content, out, prof_warm)
                _print_profile(prof_cold, f"cold build, {size} questions")
                _print_profile(prof_warm, f"warm rebuild, {size} questions")
            if size == 3000 and not args.no_peers:
                peer = _peer(workdir, content)
                if peer is not None:
                    extra["markdown_anki_decks_3000"] = peer
                    print(
                        f"  markdown-anki-decks {peer['version']} on the same 3,000 questions: {peer['seconds']:.2f} s "
                        f"(its start-up alone: {peer['startup_s']:.2f} s; {peer['decks']} decks, {peer['notes']} notes; "
                        f"{'ok' if peer['ok'] else 'failed'}) against flashmark's cold {row['cold_s']:.2f} s",
                        flush=True,
                    )
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(content, ignore_errors=True)
        if not args.no_media:
            media = _media(workdir, args.repeat)
            extra["media"] = media
            print(
                f"images: {media['files']} files, {media['notes']} notes, {media['mb']:.0f} MB deck | cold "
                f"{media['cold_s']:.2f} s | noop {media['noop_s']:.3f} s ({media['noop_s'] / media['once_s']:.2f} x "
                f"writing it once) | one answer edited {media['warm_s']:.2f} s ({media['warm_s'] / media['once_s']:.2f} "
                f"x) | writing its {media['mb']:.0f} MB once {media['once_s']:.3f} s",
                flush=True,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps({"sizes": rows, **extra}, indent=2))


if __name__ == "__main__":
    main()
