# Two entry points (README): `make demo` runs the pipeline end to end on the embedded dataset,
# `make test` runs the test suite. Both create .venv with Python 3.10 (Lava's only supported version) first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# python3.10 on PATH if it runs, else a pyenv-installed 3.10 (pyenv's shim on PATH may refuse without a local version).
PYTHON310 ?= $(shell for p in python3.10 $(HOME)/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
	  $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { command -v $$p || echo $$p; } && break; done)
DEMO_OUT ?= runs/demo

.PHONY: venv demo test lint clean

$(BIN)/tmkt-train: pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "error: python3.10 not found. tmkt needs CPython 3.10 (lava-nc 0.10 / lava-dl 0.6 do not import on 3.11+)." >&2; \
	  echo "       Install it (e.g. 'pyenv install 3.10', or your distribution's python3.10) or pass PYTHON310=/path/to/python3.10." >&2; \
	  exit 1; fi
	$(PYTHON310) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/tmkt-train

demo: venv
	$(BIN)/python examples/quickstart.py --out $(DEMO_OUT)

test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
