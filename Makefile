# `make demo` and `make test` work on a fresh machine with Python 3.11: each creates
# .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make demo` installs the package as a user does (`pip install .`): hatch_build.py
# compiles the hot modules (pyproject.toml lists them) with mypyc when a C compiler is
# found. `make test` installs it editable, which is always pure Python, and also runs the
# suite against a compiled copy of the tree (build/compiled, used only when asked with
# PYTHONPATH, so a stale build never shadows edited sources). The benchmarks run on a
# wheel installed in a virtualenv of their own (build/bench), as a user has it.
COMPILED := build/compiled
BENCH := build/bench
SOURCES := $(shell find hotline -name '*.py' -o -name '*.toml')

.PHONY: demo wire-demo test test-slow compile bench vectors states docs clean check-mosquitto

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml hatch_build.py $(SOURCES) | $(BIN)/python
	@echo "== installing hotline as a user does: the hot modules are compiled with mypyc"
	@echo "== when a C compiler is found (about a minute), pure Python otherwise"
	rm -f $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet .
	$(BIN)/hotline --version
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	rm -f $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/hotline exercise run examples/tutorial.toml --timeline
	$(BIN)/hotline exercise run examples/misrouted-call-2016.toml --timeline

wire-demo: $(VENV)/.installed
	@PATH="$(CURDIR)/$(BIN):$$PATH" sh examples/wire_demo.sh

$(COMPILED)/.built: $(VENV)/.installed-dev $(SOURCES) pyproject.toml hatch_build.py
	@echo "== compiling the hot modules with mypyc into $(COMPILED) for the suite's"
	@echo "== compiled run (about a minute; the log is $(COMPILED)/mypyc.log)"
	$(BIN)/python hatch_build.py $(COMPILED)
	touch $@

compile: $(COMPILED)/.built

test: $(VENV)/.installed-dev check-mosquitto $(COMPILED)/.built
	$(BIN)/ruff check hotline tests benchmarks examples hatch_build.py
	$(BIN)/ruff format --check hotline tests benchmarks examples hatch_build.py
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

$(BENCH)/.installed: pyproject.toml hatch_build.py $(SOURCES)
	@echo "== installing hotline into $(BENCH) as a user does (compiled where it can be)"
	rm -rf $(BENCH) && $(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH)/bin/python -m pip install --quiet '.[dev]'
	$(BENCH)/bin/hotline --version
	touch $@

bench: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/ed25519.py
	$(BENCH)/bin/python benchmarks/codec.py
	$(BENCH)/bin/python benchmarks/sim.py
	$(BENCH)/bin/python benchmarks/sweep.py
	$(BENCH)/bin/python benchmarks/live.py
	$(BENCH)/bin/python benchmarks/proxy.py

vectors: $(VENV)/.installed-dev
	$(BIN)/hotline vectors generate protocol/vectors

states: $(VENV)/.installed-dev
	$(BIN)/hotline states -o protocol/states.md

docs: $(VENV)/.installed-dev states
	$(BIN)/hotline schema scenario --markdown > docs/scenarios.md

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache .hypothesis
