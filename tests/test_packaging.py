"""`pip install .` ships the templates and CSS the note type is built from."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_templates_and_entry_point(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "src", checkout / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, checkout / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(checkout)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("flashmark-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        templates = {n.rsplit("/", 1)[-1] for n in names if n.startswith("flashmark/templates/")}
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert {"front.html", "back.html", "style.css"} <= templates
    assert "flashmark = flashmark.cli:main" in entry_points
