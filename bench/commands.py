"""The read-only commands next to a warm build, and how fast the preview page opens, on one generated corpus.

Usage: python bench/commands.py [--questions 30000] [--repeat 3]

Builds the corpus once cold, then times (best of --repeat, each in a fresh process) a warm build,
`check`, `list` and `preview` sharing its parse cache, and opens the preview page in headless
Chromium (the browser the tests use), timing until the first cards are drawn and a search is
answered. Targets: check and list at most 1.5× a warm build; the page open in under 2 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import generate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))


def timed(*args: str, repeat: int) -> float:
    """The best wall time of `flashmark ARGS` over `repeat` fresh processes."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "flashmark", *args], check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def page_open(page_file: Path) -> tuple[float, float] | None:
    """Seconds until the preview page shows its first cards, and until a search is answered (None: no browser)."""
    from playwright.sync_api import sync_playwright

    from ensure_browser import find_chromium

    chromium = find_chromium()
    if chromium is None:
        return None
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        best = (float("inf"), float("inf"))
        for _ in range(2):
            started = time.perf_counter()
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_selector(".pv-note")
            opened = time.perf_counter()
            total = page.inner_text("#pv-shown")
            page.fill("#pv-search", "残差")
            page.wait_for_function(f"document.getElementById('pv-shown').textContent !== '{total}'")
            best = min(best, (opened - started, time.perf_counter() - opened))
        browser.close()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flashmark-bench-") as tmp:
        content, out = Path(tmp) / "notes", Path(tmp) / "out"
        generate(args.questions, content)
        cold = timed("build", str(content), "-o", str(out), "-q", repeat=1)
        warm = timed("build", str(content), "-o", str(out), "-q", repeat=args.repeat)
        rows = [("build (cold)", cold), ("build (warm)", warm)]
        for name in ("check", "list", "tags"):
            rows.append((name, timed(name, str(content), "-o", str(out), repeat=args.repeat)))
        page_file = out / "preview.html"
        rows.append(
            ("preview (write the page)", timed("preview", str(content), "-o", str(page_file), repeat=args.repeat))
        )
        print(
            f"{args.questions:,} questions, best of {args.repeat}; the page is {page_file.stat().st_size / 1e6:.0f} MB"
        )
        print(f"{'command':28s} {'seconds':>8s} {'× warm build':>13s}")
        for name, seconds in rows:
            target = "  (target ≤ 1.5×)" if name in ("check", "list") else ""
            print(f"{name:28s} {seconds:8.2f} {seconds / warm:12.2f}×{target}")
        opened = page_open(page_file)
        if opened is None:
            print("preview page in Chromium: no browser found (make browser)")
        else:
            print(
                f"preview page in Chromium: first cards after {opened[0]:.2f} s (target < 2 s), a search {opened[1]:.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
