# lakeport developer tasks. `make help` lists them all.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install serve worker test lint typecheck unit integration e2e bench lock clean

help: ## List every target
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install lakeport with dev tools (pinned by constraints.txt)

serve: $(STAMP) ## Run lakeport on the embedded default (data in ./lakeport-data)
	$(BIN)/lakeport serve

worker: $(STAMP) ## Run workers only, against LAKEPORT_DATABASE_URL
	$(BIN)/lakeport worker

lint: $(STAMP) ## ruff
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP) ## mypy (strict) on the package
	$(BIN)/mypy src

unit: $(STAMP) ## Unit tests only
	$(BIN)/pytest -q tests/unit

integration: $(STAMP) ## Integration tests (real PostgreSQL, moto S3 over HTTP)
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP) ## End-to-end tests (lakeport serve as a subprocess)
	$(BIN)/pytest -q tests/e2e

test: $(STAMP) ## Everything CI runs: ruff, mypy, the whole test suite
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/pytest -q -n 2 --dist loadfile

bench: $(STAMP) ## Benchmarks against peers (see bench/README.md)
	$(BIN)/python bench/convert.py

lock: ## Re-pin constraints.txt from the current .venv
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean: ## Remove the venv and caches (keeps ./lakeport-data)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
