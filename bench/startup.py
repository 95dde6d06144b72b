"""Measure how long the flashmark command takes to start, against a bare `import click`.

Usage: python bench/startup.py [--repeat 10] [--imports 15] [--json]

Each command runs in a fresh interpreter (this one, so run it with the venv's python), once to warm the
file cache and write bytecode, then --repeat times. The table shows the best wall-clock time, the best CPU
time (user + system, from getrusage(RUSAGE_CHILDREN) before and after each run), and each as a multiple of
`python -c "import click"`, the least any click program pays. The target for `flashmark --help` and
`flashmark --version` is at most 2x that.

With --imports N, also lists the N heaviest imports that flashmark's own modules make while printing
`--help` (from `python -X importtime`), with the module that makes each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

PY = sys.executable
BASELINE = "import click"
TARGET = 2.0
COMMANDS: list[tuple[str, list[str]]] = [
    ("python -c pass", [PY, "-c", "pass"]),
    (BASELINE, [PY, "-c", "import click"]),
    ("flashmark --help", [PY, "-m", "flashmark", "--help"]),
    ("flashmark --version", [PY, "-m", "flashmark", "--version"]),
    ("flashmark build --help", [PY, "-m", "flashmark", "build", "--help"]),
]
HAS_TARGET = {"flashmark --help", "flashmark --version"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(cmd: list[str]) -> tuple[float, float]:
    """Run cmd to completion; return its wall-clock and CPU seconds."""
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')}")
    return wall, _children_cpu() - cpu


def measure(cmd: list[str], repeat: int) -> dict[str, float]:
    """Best wall-clock and best CPU time of `repeat` runs, after one warm-up run."""
    run_once(cmd)
    runs = [run_once(cmd) for _ in range(repeat)]
    return {"wall_ms": min(w for w, _ in runs) * 1000, "cpu_ms": min(c for _, c in runs) * 1000}


def parse_importtime(stderr: str) -> list[tuple[str, float, str | None]]:
    """(module, cumulative ms, importing module or None) for each line of `python -X importtime` output."""
    names: list[str] = []
    times: list[float] = []
    parents: list[str | None] = []
    pending: list[tuple[int, int]] = []  # (level, index) of imports whose importer comes later: output is post-order
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative, tree = line.split("|", 2)
        name = tree[1:].lstrip(" ")
        level = (len(tree) - 1 - len(name)) // 2
        while pending and pending[-1][0] > level:
            parents[pending.pop()[1]] = name
        pending.append((level, len(names)))
        names.append(name)
        times.append(int(cumulative) / 1000)
        parents.append(None)
    return list(zip(names, times, parents))


def heaviest_imports(count: int) -> list[tuple[str, float, str]]:
    """The `count` slowest imports that flashmark's modules make during `flashmark --help`."""
    proc = subprocess.run(
        [PY, "-X", "importtime", "-m", "flashmark", "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    entries = parse_importtime(proc.stderr.decode(errors="replace"))
    made = [(m, ms, by) for m, ms, by in entries if by is not None and by.split(".")[0] == "flashmark"]
    return sorted(made, key=lambda e: -e[1])[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="runs per command; the best is shown")
    parser.add_argument("--imports", type=int, default=0, metavar="N", help="also list the N heaviest imports")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    print(f"flashmark start-up: Python {sys.version.split()[0]}, best of {args.repeat}, load average {load:.2f}")
    figures = {label: measure(cmd, args.repeat) for label, cmd in COMMANDS}
    base = figures[BASELINE]
    header = f"{'command':<24} {'wall ms':>8} {'cpu ms':>8} {'wall/click':>10} {'cpu/click':>9}  target"
    print(header)
    print("-" * len(header))
    for label, row in figures.items():
        row["wall_ratio"] = row["wall_ms"] / base["wall_ms"]
        row["cpu_ratio"] = row["cpu_ms"] / base["cpu_ms"] if base["cpu_ms"] else float("nan")
        verdict = ""
        if label in HAS_TARGET:
            verdict = f"<= {TARGET:g}x: " + ("met" if row["wall_ratio"] <= TARGET else "missed")
        print(
            f"{label:<24} {row['wall_ms']:>8.1f} {row['cpu_ms']:>8.1f} "
            f"{row['wall_ratio']:>10.2f} {row['cpu_ratio']:>9.2f}  {verdict}".rstrip()
        )
    imports = heaviest_imports(args.imports) if args.imports else []
    if imports:
        print("\nheaviest imports made by flashmark's modules for --help (cumulative, -X importtime):")
        for module, ms, by in imports:
            print(f"  {ms:>7.1f} ms  {module:<40} from {by}")
    if args.json:
        data = {"figures": figures, "imports": [{"module": m, "ms": ms, "by": by} for m, ms, by in imports]}
        print(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
