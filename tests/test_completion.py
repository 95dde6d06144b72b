"""Shell completion as README.md sets it up: the installed `flashmark` prints click's script for each shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FLASHMARK = Path(sys.executable).parent / "flashmark"


def _flashmark(**env: str) -> str:
    proc = subprocess.run(
        [FLASHMARK], env={**os.environ, **env}, capture_output=True, text=True, check=True, timeout=60
    )
    return proc.stdout


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "-F _flashmark_completion flashmark"),
        ("zsh", "#compdef flashmark"),
        ("fish", "--command flashmark"),
    ],
)
def test_completion_script_for_each_shell(shell: str, marker: str) -> None:
    script = _flashmark(_FLASHMARK_COMPLETE=f"{shell}_source")
    assert "_flashmark_completion" in script
    assert marker in script


def test_bash_script_loads_and_registers_the_completion(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    script = tmp_path / "flashmark-complete.bash"
    script.write_text(_flashmark(_FLASHMARK_COMPLETE="bash_source"), encoding="utf-8")
    proc = subprocess.run([bash, "-c", f'. "{script}" && complete -p flashmark'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "_flashmark_completion" in proc.stdout


def test_completes_commands_and_options() -> None:
    commands = _flashmark(_FLASHMARK_COMPLETE="bash_complete", COMP_WORDS="flashmark bu", COMP_CWORD="1")
    assert commands.split() == ["plain,build"]
    options = _flashmark(_FLASHMARK_COMPLETE="bash_complete", COMP_WORDS="flashmark check --st", COMP_CWORD="2")
    assert options.split() == ["plain,--strict"]
