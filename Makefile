# `make deck` builds content/ into build/; `make test` runs the whole suite; `make bench` measures
# build speed on generated corpora (see BENCHMARKS.md); `make bench-startup` the command's start-up time.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: deck test lint typecheck browser anki-mathjax bench bench-startup bench-commands bench-pathological clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the package metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

deck: $(VENV)/.installed
	$(BIN)/flashmark build content -o build

test: lint typecheck browser anki-mathjax
	$(BIN)/python -m pytest

# The preview page and the card layout are tested in headless Chromium: find one, or install Debian's
# chromium with apt-get when we may; elsewhere it says what to install (FLASHMARK_CHROMIUM picks one).
browser: $(VENV)/.installed-dev
	$(BIN)/python tools/ensure_browser.py

# Card math is checked for script with the MathJax Anki's reviewer runs, configured as Anki does: taken from
# the aqt wheel of the installed anki's version (downloaded once, nothing installed).
anki-mathjax: $(VENV)/.installed-dev
	$(BIN)/python tools/fetch_anki_mathjax.py

# ruff's lint rules and formatting (configured in pyproject.toml); `ruff format src tests bench tools` fixes the latter.
lint: $(VENV)/.installed-dev
	$(BIN)/python -m ruff check src tests bench tools
	$(BIN)/python -m ruff format --check src tests bench tools

typecheck: $(VENV)/.installed-dev
	$(BIN)/python -m mypy

# Override the sizes with e.g. `make bench BENCH_ARGS="--sizes 3000 --repeat 3"`.
BENCH_ARGS ?=
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# How long `flashmark --help`, `--version` and `build --help` take to start against `import click` alone
# (target: at most 2x). E.g. `make bench-startup STARTUP_ARGS="--repeat 20 --imports 15"`.
STARTUP_ARGS ?=
bench-startup: $(VENV)/.installed
	$(BIN)/python bench/startup.py $(STARTUP_ARGS)

# check, list, tags and preview beside a warm build on 30,000 questions, and the preview page opening in Chromium.
bench-commands: $(VENV)/.installed-dev
	$(BIN)/python bench/commands.py

# Inputs under 5 MB that used to take minutes or gigabytes, each built in a fresh process (target: 5 s, 1 GB).
bench-pathological: $(VENV)/.installed
	$(BIN)/python bench/pathological.py

# Removes the venv and everything generated: whatever is in the deck folder build/ but its tracked .gitkeep
# (decks, reports, the preview page, the parse cache build/.cache, and the build/lib and build/bdist.* that
# setuptools-based installs used to leave there), dist/ and *.egg-info.
clean:
	rm -rf $(VENV) dist *.egg-info src/*.egg-info
	find build -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
