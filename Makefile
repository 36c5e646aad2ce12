# `make demo` and `make test` work on a fresh machine with Python 3.11: each creates
# .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo wire-demo test bench vectors states clean check-mosquitto

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/hotline exercise run examples/tutorial.toml --timeline
	$(BIN)/hotline exercise run examples/misrouted-call-2016.toml --timeline

wire-demo: $(VENV)/.installed
	@PATH="$(CURDIR)/$(BIN):$$PATH" sh examples/wire_demo.sh

test: $(VENV)/.installed-dev check-mosquitto
	$(BIN)/ruff check hotline tests benchmarks
	$(BIN)/ruff format --check hotline tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

check-mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "mosquitto is not installed: broker tests will fail."; \
	  echo "Install it with: apt-get install mosquitto"; exit 1; }

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/codec.py
	$(BIN)/python benchmarks/sim.py

vectors: $(VENV)/.installed
	$(BIN)/hotline vectors generate protocol/vectors

states: $(VENV)/.installed
	$(BIN)/hotline states -o protocol/states.md

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
