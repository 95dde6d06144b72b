"""Where a build's time goes: each stage of `build()` timed on its own, cold (no cache) then warm.

Usage: python bench/stages.py 100000 [--workdir DIR]

Runs the calls build() makes, one stage at a time, with the garbage collector paused as build()
pauses it, cold and warm each in a fresh process; the figures add up to a little more than a build's own time. Beside
each stage's seconds: by how much it raised the process's peak resident memory (MB).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate
from flashmark.anki.package import write_package
from flashmark.build import CACHE_DIR, deck_name
from flashmark.config import load_config
from flashmark.lock import LOCK_FILE, assign_identities, read_lock, write_lock
from flashmark.merge import merge
from flashmark.parallel import parse_files
from flashmark.render import render_notes
from flashmark.report import BuildResult, write_report_json
from flashmark.sources import find_files
from run import _edit_one_file


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stages(content: Path, out: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per stage, and how much each stage raised the peak resident memory (MB)."""
    times: dict[str, float] = {}
    grew: dict[str, float] = {}
    peak = _peak_mb()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock, peak
        now = time.perf_counter()
        times[name] = now - clock
        grew[name] = _peak_mb() - peak
        peak = _peak_mb()
        clock = time.perf_counter()

    config = load_config(content)
    paths = find_files(content, config.exclude)
    lap("find files")
    parsed, _ = parse_files(paths, content, config, cache_dir=out / CACHE_DIR)
    lap("parse (cache + workers)")
    merged = merge([q for f in parsed for q in f.questions])
    lap("merge")
    root = deck_name(content, config)
    rendered = render_notes(merged.notes, root)
    lap("render")
    previous = read_lock(content / LOCK_FILE)
    lap("lock: read")
    identified = assign_identities(rendered, previous, None, time.time())
    del rendered
    lap("lock: identities")
    write_package(identified.notes, out / "deck.apkg", notetype_mods=identified.notetype_mods)
    lap("package")
    write_lock(content / LOCK_FILE, identified.lock)
    lap("lock: write")
    result = BuildResult(
        deck=root,
        files=len(parsed),
        questions=sum(len(f.questions) + len(f.skipped) for f in parsed),
        notes=identified.notes,
        merge=merged,
        skipped=(),
        notices=(),
        output=out / "deck.apkg",
        report=out / "r.json",
        seconds=0.0,
    )
    write_report_json(result, out / "r.json")
    lap("report")
    times["total"] = sum(times.values())
    grew["total"] = _peak_mb()
    return times, grew


def _phase(content: Path, out: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Run the stages in a fresh interpreter, so the peak memory is this build's own."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "0", "--phase", str(content), str(out)]
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    times, grew = json.loads(proc.stdout.strip().splitlines()[-1])
    return times, grew


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=int)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--phase", nargs=2, type=Path, metavar=("CONTENT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        gc.disable()
        print(json.dumps(stages(*args.phase)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flashmark-stages-"))
    content, out = workdir / "content", workdir / "out"
    try:
        generate(args.questions, content)
        shutil.rmtree(out, ignore_errors=True)
        (content / LOCK_FILE).unlink(missing_ok=True)
        cold = _phase(content, out)
        _edit_one_file(content)
        warm = _phase(content, out)
        print(f"{args.questions} questions: seconds per stage, and MB it added to the peak (total: the peak)")
        print(f"{'stage':<24} {'cold s':>7} {'warm s':>7} {'cold MB':>8} {'warm MB':>8}")
        for name in cold[0]:
            print(f"{name:<24} {cold[0][name]:>7.2f} {warm[0][name]:>7.2f} {cold[1][name]:>8.0f} {warm[1][name]:>8.0f}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
