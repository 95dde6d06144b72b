"""Pathological notes: inputs under 5 MB that used to take minutes or gigabytes, built one by one.

Each case is a small content folder shaped to hit one slow path (link brackets, tables, raw HTML,
front matter aliases, a lexer that backtracks, deep folders, huge images…). `python bench/pathological.py`
builds each in a fresh process, prints its wall time, peak memory and outcome, and the worst case
against the target (no input under 5 MB over 5 s or 1 GB). tests/test_bad_input.py builds the same
cases at a smaller scale.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TARGET_SECONDS = 5.0
TARGET_MB = 1024.0
FULL = 5_000_000  # bytes: the size the target speaks of


@dataclass(frozen=True)
class Case:
    """One pathological input: files to write (relative path → text or bytes), and what a build should say."""

    name: str
    make: Callable[[int], dict[str, str | bytes]]  # bytes of input wanted → files
    expect: str  # "error", "warning" or "ok": how the build ends
    says: str  # a piece of the error or warning it prints
    settings: str = ""  # flashmark.toml
    extra: Callable[[Path, int], None] | None = field(default=None)  # anything else to set up


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit.encode()))


def _deep_folders(root: Path, size: int) -> None:
    """~1,000 nested folders (a path longer than the system allows in one go), a note at the bottom."""
    fd = os.open(root, os.O_RDONLY)
    for _ in range(min(1000, max(40, size // 5000))):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    note = os.open("deep.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(note, b"# Q\n\nA\n")
    os.close(note)
    os.close(fd)


def _huge_image(root: Path, size: int) -> None:
    with open(root / "huge.png", "wb") as f:  # sparse: costs no disk, reads as zeros
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(max(size * 10, 25 * 1024 * 1024))


def _notes(body: str) -> dict[str, str | bytes]:
    return {"a.md": "# Q\n\n" + body}


MARKS = "marks (* _ ` < [ $"
ALIASES = (
    "---\na: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]\n---\n# Q\n\nA\n"
)
BACKTRACK = "```c\na" + " " * 30_000 + "!\n```\n\n"

CASES = [
    Case("brackets", lambda n: _notes(_repeat("[", n)), "error", MARKS),
    Case("image-openers", lambda n: _notes(_repeat("![", n)), "error", MARKS),
    Case("brackets-one-paragraph", lambda n: _notes(_repeat("[", min(n, 100_000))), "error", "in one paragraph"),
    Case("bracket-paragraphs", lambda n: _notes(_repeat("[x]\n\n", min(n, 5 * 60_000))), "error", "in one file"),
    Case("lines", lambda n: _notes(_repeat("a\n", n)), "error", "lines, more than"),
    Case(
        "table-rows",
        lambda n: _notes("| a | b |\n|---|---|\n" + _repeat("|1|2|\n", min(n, 6 * 30_000))),
        "error",
        "table rows",
    ),
    Case("missing-image", lambda n: _notes(_repeat("![x](nope.png)\n\n", min(n, 16 * 40_000))), "warning", "not found"),
    Case("nested-html", lambda n: _notes(_repeat("<div>", n)), "error", "raw HTML tags", "allow_html = true\n"),
    Case("yaml-aliases", lambda n: {"a.md": ALIASES}, "error", "anchors or aliases"),
    Case(
        "yaml-large", lambda n: {"a.md": "---\nx: '" + _repeat("x", n) + "'\n---\n# Q\n\nA\n"}, "error", "larger than"
    ),
    Case("lexer-backtracking", lambda n: _notes(BACKTRACK * max(1, min(n // 30_000, 8))), "warning", "without colours"),
    Case("links", lambda n: _notes(_repeat("[a](b)\n\n", min(n, 8 * 45_000))), "ok", ""),
    Case("emphasis", lambda n: _notes(_repeat("*a _b ", n)), "error", MARKS),
    Case("backticks", lambda n: _notes(_repeat("`a ``b ", n)), "error", MARKS),
    Case("angle-brackets", lambda n: _notes(_repeat("<a ", n)), "error", MARKS),
    Case(
        "nested-lists",
        lambda n: _notes("".join("  " * i + "- a\n" for i in range(min(3000, n // 3000 + 10)))),
        "ok",
        "",
    ),
    Case("nested-quotes", lambda n: _notes(">" * min(n, 100_000) + " a\n"), "ok", ""),
    Case("heading-spaces", lambda n: {"a.md": "# a" + " " * n + "b\n\n答案。\n"}, "ok", ""),
    Case("dollars", lambda n: _notes(_repeat("$$a\n\n", min(n, 5 * 40_000))), "ok", ""),
    Case("parens", lambda n: _notes(_repeat("\\(a", n)), "error", MARKS),
    Case("unclosed-folds", lambda n: _notes(_repeat("<details><summary>a</summary>\n", min(n, 30 * 90_000))), "ok", ""),
    Case("nested-folds", lambda n: _notes(_repeat("<details>\n", min(n, 10 * 90_000)) + "</details>\n"), "ok", ""),
    Case("unclosed-comments", lambda n: _notes(_repeat("%%a\n", min(n, 4 * 90_000))), "ok", ""),
    Case("highlights", lambda n: _notes(_repeat("==a ", n)), "error", MARKS),
    Case("wikilinks", lambda n: _notes(_repeat("[[a|b]] ", n)), "error", MARKS),
    Case("callouts", lambda n: _notes(_repeat("> [!note] a\n\n", min(n, 13 * 45_000))), "ok", ""),
    Case("footnotes", lambda n: _notes(_repeat("a[^1] ", n) + "\n\n[^1]: b\n"), "error", MARKS),
    Case("deep-folders", lambda n: {"a.md": "# Q\n\nA\n"}, "warning", "nested more than", extra=_deep_folders),
    Case("huge-image", lambda n: _notes("![big](huge.png)\n"), "warning", "over the 20 MB limit", extra=_huge_image),
]


def write_case(case: Case, folder: Path, size: int) -> Path:
    """The content folder of `case` at about `size` bytes of input."""
    folder.mkdir(parents=True)
    for rel, text in case.make(size).items():
        path = folder / rel
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    if case.settings:
        (folder / "flashmark.toml").write_text(case.settings, encoding="utf-8")
    if case.extra is not None:
        case.extra(folder, size)
    return folder


def input_bytes(folder: Path) -> int:
    """What the case gives flashmark to read at its top level: Markdown and settings (not the sparse image)."""
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file() and p.suffix in (".md", ".toml"))


# Runs `flashmark build` in this child and writes its own peak memory (KB) to stderr's last line.
_CHILD = """
import resource, sys
from flashmark.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(f"peak-kb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def build_case(folder: Path, out: Path, timeout: float) -> tuple[float, float, int, str]:
    """Build in a fresh process: wall seconds, its peak MB, exit status and what it printed."""
    command = [sys.executable, "-c", _CHILD, "build", str(folder), "-o", str(out), "--no-lock"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    lines = done.stderr.rstrip("\n").split("\n")
    peak = int(lines[-1].split()[1]) / 1024 if lines and lines[-1].startswith("peak-kb ") else float("nan")
    return seconds, peak, done.returncode, done.stdout + "\n".join(lines[:-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=FULL, help="bytes of input per case (default 5,000,000)")
    parser.add_argument("--only", nargs="*", help="run only these cases")
    args = parser.parse_args()
    rows = []
    tmp = tempfile.mkdtemp(prefix="flashmark-patho-")
    try:
        for case in CASES:
            if args.only and case.name not in args.only:
                continue
            folder = write_case(case, Path(tmp) / case.name, args.size)
            seconds, peak, code, output = build_case(folder, Path(tmp) / f"{case.name}-out", 600)
            outcome = "error" if code else ("warning" if "warning:" in output else "ok")
            first = next((line for line in output.splitlines() if "rror" in line or "warning:" in line), "")
            rows.append((case.name, input_bytes(folder) / 1e6, seconds, peak, outcome, first[:70]))
            print(
                f"{case.name:20s} {rows[-1][1]:6.2f} MB {seconds:7.2f} s {peak:8.0f} MB  {outcome:7s} {rows[-1][5]}",
                flush=True,
            )
    finally:
        subprocess.run(["rm", "-rf", tmp], check=False)  # shutil.rmtree recurses, and one case is 1,000 folders deep
    slowest = max(rows, key=lambda r: r[2])
    largest = max(rows, key=lambda r: r[3])
    print(f"\nworst time:   {slowest[0]} {slowest[2]:.2f} s (target {TARGET_SECONDS:g} s)")
    print(f"worst memory: {largest[0]} {largest[3]:.0f} MB (target {TARGET_MB:g} MB); on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
