#!/usr/bin/env python3
"""Find a Chromium for the browser tests, and install Debian's when there is none (`make browser`).

The preview page and the card layout are tested in a real, headless Chromium driven by Playwright.
`find_chromium` looks, in order, at:

1. `FLASHMARK_CHROMIUM`, a path to a Chromium or Chrome executable (when set, nothing else is tried);
2. the commands `chromium`, `chromium-browser`, `google-chrome`, … on PATH;
3. the usual install locations on Linux, macOS and Windows;
4. the browsers Playwright downloaded (`playwright install chromium`), in its cache folder or in
   `PLAYWRIGHT_BROWSERS_PATH`.

Run as a script, it prints the browser it found; if there is none and Debian's apt-get can be run
(as root or with passwordless sudo), it installs the `chromium` package; otherwise it prints one line
saying what to install and exits 0, so the browser tests are skipped, except under CI=true, where a
missing browser is an error (exit 1).

Test hook: `FLASHMARK_BROWSER_LOCATIONS`, when set, replaces the list of usual install locations
(paths separated by os.pathsep; empty for none), so the tests can hide the machine's own browser.
Standard library only: it runs before the test dependencies are known to work.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ENV_PATH = "FLASHMARK_CHROMIUM"
ENV_LOCATIONS = "FLASHMARK_BROWSER_LOCATIONS"

COMMANDS = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "microsoft-edge",
    "microsoft-edge-stable",
    "msedge",
)

# Windows locations are relative to these environment variables.
_WINDOWS_ROOTS = ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")
_WINDOWS_APPS = (
    ("Google", "Chrome", "Application", "chrome.exe"),
    ("Chromium", "Application", "chrome.exe"),
    ("Microsoft", "Edge", "Application", "msedge.exe"),
)
LOCATIONS = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/opt/google/chrome/chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
)

# Executables inside Playwright's browser folders (chromium-<revision>/…), newest layouts first:
# Chrome for Testing builds, then the older Chromium builds, then the headless shell.
_PLAYWRIGHT_BUILDS = (
    ("chromium-*", "chrome-linux64/chrome"),
    ("chromium-*", "chrome-linux-arm64/chrome"),
    ("chromium-*", "chrome-linux/chrome"),
    ("chromium-*", "chrome-mac-arm64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing"),
    ("chromium-*", "chrome-mac-x64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing"),
    ("chromium-*", "chrome-mac/Chromium.app/Contents/MacOS/Chromium"),
    ("chromium-*", "chrome-win64/chrome.exe"),
    ("chromium-*", "chrome-win/chrome.exe"),
    ("chromium_headless_shell-*", "chrome-headless-shell-*/chrome-headless-shell"),
    ("chromium_headless_shell-*", "chrome-headless-shell-*/chrome-headless-shell.exe"),
    ("chromium_headless_shell-*", "chrome-linux/headless_shell"),
    ("chromium_headless_shell-*", "chrome-mac/headless_shell"),
    ("chromium_headless_shell-*", "chrome-win/headless_shell.exe"),
)

WHAT_TO_INSTALL = (
    "install one (Debian: apt-get install chromium; macOS: brew install --cask chromium;"
    " anywhere: .venv/bin/python -m playwright install chromium) or set FLASHMARK_CHROMIUM=/path/to/chrome"
)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def usual_locations(environ: Mapping[str, str]) -> list[Path]:
    """Where Chromium, Chrome and Edge are installed by default (or the test hook's list)."""
    if ENV_LOCATIONS in environ:
        return [Path(p) for p in environ[ENV_LOCATIONS].split(os.pathsep) if p]
    paths = [Path(p) for p in LOCATIONS]
    for root in _WINDOWS_ROOTS:
        if environ.get(root):
            paths += [Path(environ[root], *app) for app in _WINDOWS_APPS]
    return paths


def playwright_folders(environ: Mapping[str, str]) -> list[Path]:
    """The folders `playwright install` downloads browsers into, as Playwright itself decides."""
    chosen = environ.get("PLAYWRIGHT_BROWSERS_PATH", "")
    if chosen == "0":  # inside the installed playwright package
        return _package_browser_folders()
    if chosen:
        return [Path(chosen).expanduser()]
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    folders = [
        Path(environ.get("XDG_CACHE_HOME") or home / ".cache") / "ms-playwright",
        home / "Library" / "Caches" / "ms-playwright",
    ]
    if environ.get("LOCALAPPDATA"):
        folders.append(Path(environ["LOCALAPPDATA"]) / "ms-playwright")
    return folders


def _package_browser_folders() -> list[Path]:
    """`.local-browsers` inside each importable playwright package (PLAYWRIGHT_BROWSERS_PATH=0)."""
    found = []
    for entry in sys.path:
        folder = Path(entry or ".") / "playwright" / "driver" / "package" / ".local-browsers"
        if folder.is_dir():
            found.append(folder)
    return found


def _revision(path: Path, folder: Path) -> int:
    match = re.search(r"-(\d+)$", path.relative_to(folder).parts[0])
    return int(match.group(1)) if match else -1


def playwright_browsers(environ: Mapping[str, str]) -> Iterator[Path]:
    """Chromium builds Playwright downloaded, newest revision first within each layout."""
    for folder in playwright_folders(environ):
        if not folder.is_dir():
            continue
        for build, executable in _PLAYWRIGHT_BUILDS:
            yield from sorted(folder.glob(f"{build}/{executable}"), key=lambda p: -_revision(p, folder))


def candidates(environ: Mapping[str, str]) -> Iterator[Path]:
    """Every place a browser may be, in the order they are tried (FLASHMARK_CHROMIUM aside)."""
    search_path = environ.get("PATH", "")
    for name in COMMANDS:
        found = shutil.which(name, path=search_path)
        if found:
            yield Path(found)
    yield from usual_locations(environ)
    yield from playwright_browsers(environ)


def find_chromium(environ: Mapping[str, str] | None = None) -> Path | None:
    """The Chromium-family browser to test with, or None; FLASHMARK_CHROMIUM wins when it is set."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(ENV_PATH, "")
    if chosen:
        path = Path(chosen).expanduser()
        return path if _is_executable(path) else None
    return next((path for path in candidates(environ) if _is_executable(path)), None)


def missing_browser(environ: Mapping[str, str] | None = None) -> str:
    """One line saying why there is no browser and what to do about it."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(ENV_PATH, "")
    if chosen:
        return f"{ENV_PATH}={chosen} is not an executable file; point it at Chromium or Chrome, or unset it"
    return f"no Chromium or Chrome found: {WHAT_TO_INSTALL}"


def _apt_command(environ: Mapping[str, str]) -> list[str] | None:
    """How to run apt-get as root here ([apt-get] or [sudo -n apt-get]), or None if we cannot."""
    search_path = environ.get("PATH", "")
    apt_get = shutil.which("apt-get", path=search_path)
    if apt_get is None:
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return [apt_get]
    sudo = shutil.which("sudo", path=search_path)
    if sudo is None:
        return None
    probe = subprocess.run([sudo, "-n", "true"], capture_output=True, check=False, env=dict(environ))
    return [sudo, "-n", apt_get] if probe.returncode == 0 else None


def install_with_apt(apt: list[str], environ: Mapping[str, str]) -> bool:
    """Install Debian's chromium package non-interactively; True if apt-get succeeded."""
    env = {**environ, "DEBIAN_FRONTEND": "noninteractive"}
    # sudo may drop DEBIAN_FRONTEND from the environment, so pass it on the command line as well.
    prefix = [*apt[:-1], "env", "DEBIAN_FRONTEND=noninteractive", apt[-1]] if len(apt) > 1 else apt
    for args in (["update"], ["install", "-y", "chromium"]):
        if subprocess.run([*prefix, *args], env=env, check=False).returncode != 0:
            return False
    return True


def main(environ: Mapping[str, str] | None = None) -> int:
    """Make sure the browser tests have a browser; exit status 1 only when CI needs one and has none."""
    environ = os.environ if environ is None else environ
    in_ci = environ.get("CI", "").lower() == "true"
    found = find_chromium(environ)
    if found is not None:
        print(f"browser tests: {found}")
        return 0
    apt = None if environ.get(ENV_PATH) else _apt_command(environ)
    if apt is not None:
        print("browser tests: no Chromium found; installing Debian's chromium package with apt-get", flush=True)
        if install_with_apt(apt, environ):
            found = find_chromium(environ)
            if found is not None:
                print(f"browser tests: {found}")
                return 0
        return _report(f"installing chromium with apt-get gave no usable browser: {WHAT_TO_INSTALL}", in_ci)
    return _report(missing_browser(environ), in_ci)


def _report(problem: str, in_ci: bool) -> int:
    """One line about the missing browser: an error under CI, else a note that the browser tests will skip."""
    if in_ci:
        print(f"error: {problem} (CI=true: the browser tests must run)", file=sys.stderr)
        return 1
    print(f"note: {problem}; the browser tests will be skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
