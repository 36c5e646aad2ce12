# `make demo` and `make test` work on a fresh machine with Python 3.11: each creates
# .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The hot modules, compiled with mypyc (C extensions from the typed sources) into a
# separate tree: used only when asked (PYTHONPATH=build/compiled), so a stale build can
# never shadow edited sources. hotline runs the same, pure or compiled.
COMPILED := build/compiled
SOURCES := $(shell find hotline -name '*.py' -o -name '*.toml')
HOT_MODULES := $(filter-out hotline/core/__init__.py,$(wildcard hotline/core/*.py)) \
	hotline/sim/kernel.py hotline/sim/exercise.py hotline/sim/responders.py \
	hotline/sim/distributions.py hotline/sim/durations.py hotline/sim/timeline.py \
	hotline/geo/agreed.py hotline/geo/frame.py

.PHONY: demo wire-demo test test-slow compile bench vectors states docs clean check-mosquitto

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

$(COMPILED)/.built: $(VENV)/.installed-dev $(SOURCES) pyproject.toml
	rm -rf $(COMPILED) && mkdir -p $(COMPILED)
	tar --exclude=__pycache__ -cf - hotline | tar -xf - -C $(COMPILED)
	cd $(COMPILED) && $(CURDIR)/$(BIN)/mypyc --config-file $(CURDIR)/pyproject.toml $(HOT_MODULES) > mypyc.log 2>&1 \
	  || { tail -30 mypyc.log; exit 1; }
	touch $@

compile: $(COMPILED)/.built

test: $(VENV)/.installed-dev check-mosquitto $(COMPILED)/.built
	$(BIN)/ruff check hotline tests benchmarks examples
	$(BIN)/ruff format --check hotline tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -q
	@echo "== the suite against the mypyc-compiled build: everything but the broker tests,"
	@echo "== which the pure run covers, and the command line's error paths (none of it"
	@echo "== compiled), then the conformance cases on a real mosquitto"
	HOTLINE_EXPECT_COMPILED=1 PYTHONPATH=$(COMPILED) $(BIN)/python -m pytest -q -p no:cacheprovider -m "not broker and not slow" --ignore=tests/test_cli_contract.py
	HOTLINE_EXPECT_COMPILED=1 PYTHONPATH=$(COMPILED) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_conformance.py -k "mqtt"

# The soak and whole-profile cases (marked slow): CI runs them after make test.
test-slow: $(VENV)/.installed-dev check-mosquitto
	$(BIN)/python -m pytest -q -m slow

check-mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "mosquitto is not installed: broker tests will fail."; \
	  echo "Install it with: apt-get install mosquitto"; exit 1; }

bench: $(VENV)/.installed-dev $(COMPILED)/.built
	PYTHONPATH=$(COMPILED) $(BIN)/python benchmarks/codec.py
	PYTHONPATH=$(COMPILED) $(BIN)/python benchmarks/sim.py
	PYTHONPATH=$(COMPILED) $(BIN)/python benchmarks/sweep.py
	PYTHONPATH=$(COMPILED) $(BIN)/python benchmarks/live.py
	PYTHONPATH=$(COMPILED) $(BIN)/python benchmarks/proxy.py

vectors: $(VENV)/.installed
	$(BIN)/hotline vectors generate protocol/vectors

states: $(VENV)/.installed
	$(BIN)/hotline states -o protocol/states.md

docs: $(VENV)/.installed states
	$(BIN)/hotline schema scenario --markdown > docs/scenarios.md

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache .hypothesis
