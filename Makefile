# The two commands of the README: `make serve` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WHEELHOUSE ?= $(HOME)/.cache/tenantgate/wheels

.PHONY: install serve test lint bench clean

$(VENV)/.installed: pyproject.toml scripts/install.sh
	WHEELHOUSE="$(WHEELHOUSE)" PYTHON="$(PYTHON)" VENV="$(VENV)" scripts/install.sh
	touch $@

install: $(VENV)/.installed

serve: install
	$(BIN)/tenantgate serve

lint: install
	$(BIN)/ruff check src tests bench docs
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist
