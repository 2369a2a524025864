# Two entry points for a fresh machine: `make demo` and `make test`. Both build .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/veille demo

# The checks run first: a lint or type error fails CI like a failing test does.
test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bot handlers tests benchmarks
	$(BIN)/mypy bot handlers

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
