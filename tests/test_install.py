"""A clean copy of the repository builds and installs with hatchling, and leaves its deck folder build/ alone.

Everything runs offline: the builds use the hatchling installed with the test extra (no build isolation) and
install no dependencies.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = {"front.html", "back.html", "style.css", "preview.js", "preview.css"}
OFFLINE = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files git knows about (tracked, and new ones it does not ignore) as they are now, as a fresh checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    dest = tmp_path / "checkout"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of the checkout
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    assert (dest / "build" / ".gitkeep").is_file()
    return dest


def _run(*cmd: str | Path, cwd: Path) -> None:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=OFFLINE, capture_output=True, text=True)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"


def _check_wheel(wheel: Path, checkout: Path) -> None:
    """The wheel holds the whole package: every module, the card templates and styles, py.typed, the command."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    package = {n for n in names if not n.startswith("flashmark-")}
    assert {f"flashmark/templates/{name}" for name in TEMPLATES} | {"flashmark/py.typed"} <= package
    assert {"flashmark/markdown/parser.py", "flashmark/anki/package.py", "flashmark/cli.py"} <= package
    assert package == {f"flashmark/{name}" for name in _files(checkout / "src" / "flashmark")}
    assert "flashmark = flashmark.__main__:run" in entry_points


def _check_untouched(checkout: Path, before: set[str]) -> None:
    assert sorted(p.name for p in (checkout / "build").iterdir()) == [".gitkeep"]
    assert _files(checkout) == before  # no dist/, *.egg-info or anything else left in the tree


def test_pip_wheel_from_a_clean_checkout(checkout: Path, tmp_path: Path) -> None:
    """What `pip install .` builds."""
    before = _files(checkout)
    out = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", out, checkout, cwd=tmp_path)
    _check_wheel(next(out.glob("flashmark-*.whl")), checkout)
    _check_untouched(checkout, before)


def test_python_m_build_makes_an_sdist_that_builds_the_same_wheel(checkout: Path, tmp_path: Path) -> None:
    """`python -m build` builds the sdist, then the wheel from the unpacked sdist."""
    before = _files(checkout)
    out = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, checkout, cwd=tmp_path)
    _check_wheel(next(out.glob("flashmark-*.whl")), checkout)
    with tarfile.open(next(out.glob("flashmark-*.tar.gz"))) as tf:
        sdist = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "PKG-INFO", "tests/conftest.py", "bench/corpus.py"} <= sdist
    assert {f"src/flashmark/{name}" for name in _files(checkout / "src" / "flashmark")} <= sdist
    assert not any(name.startswith(("build/", ".ci/", ".venv/")) for name in sdist)
    _check_untouched(checkout, before)


def test_editable_install_runs_from_the_checkout(checkout: Path, tmp_path: Path) -> None:
    """`pip install -e .` into a fresh environment: the command runs the checkout's code and templates."""
    before = _files(checkout)
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # This environment's packages (pip, hatchling, click…) without their .pth files, so the editable
    # flashmark of the repository under test is not importable there.
    Path(purelib, "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    _run(python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", checkout, cwd=tmp_path)

    (checkout / "src" / "flashmark" / "templates" / "front.html").write_text("edited front", encoding="utf-8")
    where = subprocess.run(
        [
            python,
            "-c",
            "import flashmark; from importlib.resources import files; "
            "print(flashmark.__file__); print(files('flashmark').joinpath('templates/front.html').read_text())",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert where == [str(checkout / "src" / "flashmark" / "__init__.py"), "edited front"]
    version = subprocess.run([env / "bin" / "flashmark", "--version"], check=True, capture_output=True, text=True)
    assert version.stdout.strip() == "flashmark, version 0.1.0"
    _check_untouched(checkout, before)


def test_make_clean_removes_what_builds_leave_and_keeps_tracked_files(checkout: Path) -> None:
    tracked = _files(checkout)
    leftovers = [
        "build/lib/flashmark/cli.py",
        "build/bdist.linux-x86_64/wheel/flashmark/cli.py",
        "build/content.apkg",
        "build/content.report.json",
        "build/preview.html",
        "build/.cache/3f/3f9a.json",
        "build/.content.apkg.tmp",
        "dist/flashmark-0.1.0.tar.gz",
        "src/flashmark.egg-info/PKG-INFO",
        "flashmark.egg-info/PKG-INFO",
        ".venv/bin/python",
    ]
    for name in leftovers:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text("generated", encoding="utf-8")
    proc = subprocess.run(["make", "clean"], cwd=checkout, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _files(checkout) == tracked
    assert sorted(p.name for p in (checkout / "build").iterdir()) == [".gitkeep"]
    assert not (checkout / "dist").exists() and not (checkout / "src" / "flashmark.egg-info").exists()
