"""Where a build's time goes: each stage of `build()` timed on its own, cold (no cache) then warm.

Usage: python bench/stages.py 100000 [--workdir DIR]

Runs the calls build() makes, one stage at a time, with the garbage collector paused as build()
pauses it, in one process; the figures add up to a little more than a build's own time.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate  # noqa: E402
from run import _edit_one_file  # noqa: E402

from flashmark.build import CACHE_DIR, deck_name  # noqa: E402
from flashmark.config import load_config  # noqa: E402
from flashmark.merge import merge  # noqa: E402
from flashmark.package import write_package  # noqa: E402
from flashmark.parallel import parse_files  # noqa: E402
from flashmark.render import render_notes  # noqa: E402
from flashmark.report import BuildResult, report_json  # noqa: E402
from flashmark.sources import find_files  # noqa: E402


def stages(content: Path, out: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = now - clock
        clock = now

    config = load_config(content)
    paths = find_files(content, config.exclude)
    lap("find files")
    parsed, _ = parse_files(paths, content, config, cache_dir=out / CACHE_DIR)
    lap("parse (cache + workers)")
    merged = merge([q for f in parsed for q in f.questions])
    lap("merge")
    root = deck_name(content, config)
    rendered = tuple(render_notes(merged.notes, root))
    lap("render")
    write_package(rendered, out / "deck.apkg")
    lap("package")
    result = BuildResult(
        deck=root, files=len(parsed), questions=sum(len(f.questions) + len(f.skipped) for f in parsed),
        notes=rendered, merge=merged, skipped=(), notices=(), output=out / "deck.apkg", report=out / "r.json", seconds=0.0,
    )
    (out / "r.json").write_text(report_json(result), encoding="utf-8")
    lap("report")
    times["total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=int)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flashmark-stages-"))
    content, out = workdir / "content", workdir / "out"
    try:
        generate(args.questions, content)
        shutil.rmtree(out, ignore_errors=True)
        gc.disable()
        cold = stages(content, out)
        _edit_one_file(content)
        warm = stages(content, out)
        print(f"{args.questions} questions: seconds per stage")
        print(f"{'stage':<24} {'cold':>7} {'warm':>7}")
        for name in cold:
            print(f"{name:<24} {cold[name]:>7.2f} {warm[name]:>7.2f}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
