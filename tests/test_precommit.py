"""The flashmark-check hook in .pre-commit-hooks.yaml, run by pre-commit itself in a notes repository.

The notes repository's hook is a `repo: local` copy of the manifest's whose entry is this environment's
`flashmark`, so pre-commit installs nothing and the test runs offline.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
FLASHMARK = Path(sys.executable).parent / "flashmark"
GOOD = "# 激活函数\n\n## 什么是 ReLU？\n\nmax(0, x)，计算简单且缓解梯度消失。\n"


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["flashmark-check"]
    hook: dict[str, Any] = hooks[0]
    return hook


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=_env(repo))


def _env(repo: Path) -> dict[str, str]:
    """Leave the user's git configuration and pre-commit's cache out of it."""
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
    }


def test_manifest_is_valid_and_runs_flashmark_check_once_on_the_whole_folder() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", MANIFEST], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hook = _hook()
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == ("flashmark check", "python", False)
    assert "--strict" not in hook.get("args", [])


@pytest.mark.parametrize(
    ("path", "checked"),
    [
        ("notes/dl/cnn.md", True),
        ("notes/old.markdown", True),
        ("notes/flashmark.toml", True),
        ("pyproject.toml", True),
        ("notes/flashmark.lock", True),
        ("flashmark.lock", True),
        ("notes/images/chart.png", False),
        ("notes/todo.txt", False),
        ("notes/md", False),
    ],
)
def test_hook_runs_when_notes_or_their_settings_change(path: str, checked: bool) -> None:
    assert bool(re.search(_hook()["files"], path)) is checked


@pytest.fixture
def notes_repo(tmp_path: Path) -> Path:
    """A git repository with notes/ and a .pre-commit-config.yaml holding the manifest's hook, run locally."""
    assert FLASHMARK.is_file()
    repo = tmp_path / "notes-repo"
    (repo / "notes").mkdir(parents=True)
    (repo / "notes" / "activation.md").write_text(GOOD, encoding="utf-8")
    (repo / "notes" / "todo.txt").write_text("more questions\n", encoding="utf-8")
    hook = _hook()
    local = {
        **hook,
        "entry": shlex.quote(str(FLASHMARK)) + hook["entry"].removeprefix("flashmark"),
        "language": "system",
        "args": [*hook.get("args", []), "notes/"],
    }
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    _git(repo, "init", "-q")
    return repo


def _pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    _git(repo, "add", "-A")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--color", "never", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=_env(repo),
    )


def test_good_notes_pass(notes_repo: Path) -> None:
    proc = _pre_commit(notes_repo, "--all-files")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^flashmark check\.+Passed$", proc.stdout, re.M), proc.stdout


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"---\n: [\n---\n" + GOOD.encode(), "broken.md:2: error: front matter is not valid YAML"),
        (b"# Caf\xe9s\n\n## Why?\n\nBecause.\n", "broken.md:1: error: not valid UTF-8"),
    ],
    ids=["front-matter", "latin-1"],
)
def test_broken_notes_fail_naming_file_and_line(notes_repo: Path, data: bytes, error: str) -> None:
    (notes_repo / "notes" / "broken.md").write_bytes(data)
    proc = _pre_commit(notes_repo, "--all-files")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^flashmark check\.+Failed$", proc.stdout, re.M), proc.stdout
    assert error in proc.stdout


def test_hook_runs_only_for_notes_settings_and_lock(notes_repo: Path) -> None:
    (notes_repo / "notes" / "broken.md").write_text("---\n: [\n---\n", encoding="utf-8")
    (notes_repo / "notes" / "flashmark.lock").write_text("", encoding="utf-8")
    skipped = _pre_commit(notes_repo, "--files", "notes/todo.txt")
    assert skipped.returncode == 0 and "Skipped" in skipped.stdout, skipped.stdout
    for changed in ("notes/activation.md", "notes/flashmark.lock"):
        ran = _pre_commit(notes_repo, "--files", changed)
        assert ran.returncode == 1 and "broken.md:2: error:" in ran.stdout, ran.stdout
