# `make deck` builds content/ into build/; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: deck test typecheck clean

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

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

typecheck: $(VENV)/.installed-dev
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) build/*.apkg build/*.json build/*.html build/.cache
