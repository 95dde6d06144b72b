#!/usr/bin/env python3
"""Fetch the MathJax that Anki's reviewer runs, with Anki's own configuration, for the security tests.

Anki typesets card math with MathJax in its reviewer. The `anki` package the tests use is Anki's
backend only; the reviewer's web files ship in Anki's `aqt` wheel. This downloads the `aqt` wheel of
the same version as the installed `anki` (without its dependencies: nothing is installed) and unpacks
`_aqt/data/web/js/mathjax.js` (Anki's MathJax settings) and `_aqt/data/web/js/vendor/mathjax/` into
`ANKI_MATHJAX_DIR` (default `.venv/anki-mathjax/<version>/`), once per version.

Without a network it prints one line and exits 0, so the MathJax tests are skipped, except under
CI=true, where that is an error (exit 1). Standard library and pip only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

ENV_DIR = "ANKI_MATHJAX_DIR"
PREFIX = "_aqt/data/web/js/"
WANTED = ("mathjax.js", "vendor/mathjax/")


def target_dir(version: str) -> Path:
    """Where the files for Anki `version` are kept."""
    base = os.environ.get(ENV_DIR)
    return Path(base) if base else Path(sys.prefix) / "anki-mathjax" / version


def is_complete(folder: Path) -> bool:
    return (folder / "mathjax.js").is_file() and (folder / "vendor" / "mathjax" / "tex-chtml-full.js").is_file()


def unpack(wheel: Path, folder: Path) -> None:
    """Copy Anki's MathJax settings and MathJax itself out of the aqt wheel."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            rest = name.removeprefix(PREFIX)
            if rest == name or not rest.startswith(WANTED) or name.endswith("/"):
                continue
            dest = folder / rest
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(archive.read(name))


def main() -> int:
    try:
        version = metadata.version("anki")
    except metadata.PackageNotFoundError:
        print("fetch_anki_mathjax: the anki package is not installed; run make test", file=sys.stderr)
        return 1
    folder = target_dir(version)
    if is_complete(folder):
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", f"aqt=={version}", "-d", tmp]
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("aqt-*.whl"))
        if result.returncode != 0 or not wheels:
            why = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
            message = (
                f"cannot download Anki's reviewer files (aqt=={version}: {why}); the MathJax tests will be skipped"
            )
            if os.environ.get("CI", "").lower() == "true":
                print(f"error: {message.replace('will be skipped', 'cannot run')}", file=sys.stderr)
                return 1
            print(message, file=sys.stderr)
            return 0
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        unpack(wheels[0], partial)
        shutil.rmtree(folder, ignore_errors=True)
        partial.replace(folder)
    print(f"Anki {version}'s MathJax is in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
