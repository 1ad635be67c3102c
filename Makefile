# clearhouse: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench bench-core fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/clearhouse demo

lint: $(STAMP)
	$(BIN)/ruff check clearhouse tests benchmarks
	$(BIN)/ruff format --check clearhouse tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench-core: $(STAMP)
	$(BIN)/clearhouse bench core --orders 1000000 --seed 7 --json

bench: bench-core
	$(BIN)/python benchmarks/sorted_book.py --orders 1000000 --seed 7

# Long property-based run of the core's stateful test (the suite runs a short one).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q tests/core/test_stateful.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
