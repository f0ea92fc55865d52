# vnemis: two commands. `make demo` sets up and runs the platform on embedded SQLite;
# `make test` runs the whole suite (SQLite, then PostgreSQL when one is reachable).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup assets browser lint format clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) assets

assets: $(STAMP)
	$(BIN)/python scripts/fetch_assets.py

browser:
	@bash scripts/install_chromium.sh

demo: setup
	$(BIN)/vnemis demo

test: setup browser
	@bash scripts/run_tests.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/generate.py --students 1000000
	$(BIN)/python bench/search.py

clean:
	rm -rf var .pytest_cache
