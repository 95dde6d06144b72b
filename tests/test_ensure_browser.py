"""tools/ensure_browser.py: finding a Chromium, installing Debian's when allowed, and saying what to install otherwise.

None of these needs a real browser: fake executables stand in for it, a fake apt-get for the installer,
and FLASHMARK_BROWSER_LOCATIONS hides this machine's own browser.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ensure_browser
from ensure_browser import find_chromium

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "ensure_browser.py"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fakes are shell scripts")

# Records its arguments (and DEBIAN_FRONTEND) and, on `install`, puts a fake chromium beside itself.
FAKE_APT_GET = """#!/bin/sh
here=${0%/*}  # no dirname: PATH holds only this folder
echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> "$here/apt-get.log"
if [ "$1" = install ]; then
  printf '#!/bin/sh\\nexit 0\\n' > "$here/chromium"
  /bin/chmod +x "$here/chromium"
fi
"""
# Passwordless sudo: drops -n and runs the rest (with a PATH on which `env` and `true` exist).
FAKE_SUDO = """#!/bin/sh
[ "$1" = -n ] && shift
PATH="$PATH:/usr/bin:/bin" exec "$@"
"""


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def bare(tmp_path: Path) -> dict[str, str]:
    """An environment with no browser anywhere: only an empty bin/ on PATH, an empty HOME and caches."""
    for name in ("bin", "home", "playwright"):
        (tmp_path / name).mkdir()
    return {
        "PATH": str(tmp_path / "bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "home" / ".cache"),
        "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "playwright"),
        "FLASHMARK_CHROMIUM": "",
        "FLASHMARK_BROWSER_LOCATIONS": "",  # hide the usual places (Debian's chromium among them)
    }


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def output_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return (result.stdout + result.stderr).splitlines()


def test_bare_environment_has_no_browser(bare: dict[str, str]) -> None:
    assert find_chromium(bare) is None


def test_installs_debians_chromium_with_apt_get(bare: dict[str, str]) -> None:
    bin_dir = Path(bare["PATH"])
    executable(bin_dir / "apt-get", FAKE_APT_GET)
    executable(bin_dir / "sudo", FAKE_SUDO)  # used only when the tests do not run as root
    result = run_script(bare)
    assert result.returncode == 0, result.stdout + result.stderr
    log = (bin_dir / "apt-get.log").read_text().splitlines()
    assert log == ["DEBIAN_FRONTEND=noninteractive update", "DEBIAN_FRONTEND=noninteractive install -y chromium"]
    assert output_lines(result)[-1] == f"browser tests: {bin_dir / 'chromium'}"


def test_installs_through_passwordless_sudo_when_not_root(
    bare: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = Path(bare["PATH"])
    executable(bin_dir / "apt-get", FAKE_APT_GET)
    executable(bin_dir / "sudo", FAKE_SUDO)
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert ensure_browser.main(bare) == 0
    assert (bin_dir / "apt-get.log").read_text().splitlines()[
        -1
    ] == "DEBIAN_FRONTEND=noninteractive install -y chromium"
    assert capsys.readouterr().out.splitlines()[-1] == f"browser tests: {bin_dir / 'chromium'}"


def test_without_apt_get_says_what_to_install_and_succeeds(bare: dict[str, str]) -> None:
    result = run_script(bare)
    assert result.returncode == 0
    assert result.stderr == ""
    [line] = output_lines(result)
    assert "apt-get install chromium" in line and "FLASHMARK_CHROMIUM" in line
    assert line.endswith("the browser tests will be skipped")


def test_without_apt_get_fails_under_ci(bare: dict[str, str]) -> None:
    result = run_script({**bare, "CI": "true"})
    assert result.returncode == 1
    [line] = output_lines(result)
    assert line.startswith("error: no Chromium or Chrome found") and "apt-get install chromium" in line


def test_a_failed_install_is_one_line_and_not_fatal_outside_ci(bare: dict[str, str]) -> None:
    executable(Path(bare["PATH"]) / "apt-get", "#!/bin/sh\nexit 100\n")
    result = run_script(bare)
    assert result.returncode == 0
    assert output_lines(result)[-1].startswith("note: installing chromium with apt-get gave no usable browser")
    assert run_script({**bare, "CI": "true"}).returncode == 1


def test_a_found_browser_is_one_line_and_nothing_is_installed(bare: dict[str, str], tmp_path: Path) -> None:
    chrome = executable(tmp_path / "opt" / "chrome")
    executable(Path(bare["PATH"]) / "apt-get", FAKE_APT_GET)
    result = run_script({**bare, "FLASHMARK_CHROMIUM": str(chrome), "CI": "true"})
    assert result.returncode == 0
    assert output_lines(result) == [f"browser tests: {chrome}"]
    assert not (Path(bare["PATH"]) / "apt-get.log").exists()


def test_flashmark_chromium_comes_first(bare: dict[str, str], tmp_path: Path) -> None:
    on_path = executable(Path(bare["PATH"]) / "chromium")
    chosen = executable(tmp_path / "elsewhere" / "my-chrome")
    assert find_chromium(bare) == on_path
    assert find_chromium({**bare, "FLASHMARK_CHROMIUM": str(chosen)}) == chosen


def test_a_wrong_flashmark_chromium_is_named_not_passed_over(bare: dict[str, str], tmp_path: Path) -> None:
    executable(Path(bare["PATH"]) / "chromium")
    env = {**bare, "FLASHMARK_CHROMIUM": str(tmp_path / "nowhere" / "chrome")}
    assert find_chromium(env) is None
    assert ensure_browser.missing_browser(env).startswith(f"FLASHMARK_CHROMIUM={tmp_path / 'nowhere' / 'chrome'} ")
    result = run_script({**env, "CI": "true"})
    assert result.returncode == 1 and len(output_lines(result)) == 1


def test_search_order_path_then_usual_locations_then_playwright(bare: dict[str, str], tmp_path: Path) -> None:
    downloaded = executable(Path(bare["PLAYWRIGHT_BROWSERS_PATH"]) / "chromium-1200" / "chrome-linux64" / "chrome")
    assert find_chromium(bare) == downloaded
    usual = executable(tmp_path / "usr" / "bin" / "chromium")
    env = {**bare, "FLASHMARK_BROWSER_LOCATIONS": os.pathsep.join([str(tmp_path / "missing"), str(usual)])}
    assert find_chromium(env) == usual
    on_path = executable(Path(bare["PATH"]) / "google-chrome")
    assert find_chromium(env) == on_path


def test_finds_playwrights_downloads_in_its_default_caches(bare: dict[str, str]) -> None:
    env = {key: value for key, value in bare.items() if key != "PLAYWRIGHT_BROWSERS_PATH"}
    app = "Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing"
    macos = executable(Path(bare["HOME"], "Library/Caches/ms-playwright/chromium-1300/chrome-mac-arm64", app))
    assert find_chromium(env) == macos
    linux = Path(bare["XDG_CACHE_HOME"]) / "ms-playwright"
    executable(linux / "chromium-1100" / "chrome-linux64" / "chrome")
    newest = executable(linux / "chromium-1200" / "chrome-linux64" / "chrome")
    assert find_chromium(env) == newest
