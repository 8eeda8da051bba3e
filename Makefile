# The two commands of the README's quick start:
#   make up    installs what running needs (requirements.lock) and runs `orchestrate up lab.yml`
#              on the emulated lab
#   make test  installs that plus the developer tools (requirements-dev.lock: ruff, mypy,
#              ansible-lint, playwright; Debian's chromium, clang for fuzzing, nginx and wrk)
#              and runs the whole test suite (what CI runs)
#   make check the fast tier, after each change: lint and every test that starts no lab and no
#              real server or agent (tests/unit, tests/agents but live/), in about a minute
#   make lock  regenerates both locks from pyproject.toml (after changing a dependency)
VENV := .venv
BIN := $(VENV)/bin
LAB ?= lab.yml

.PHONY: deps dev-deps lock up test check lint fast slow lab pytest server-test bench

deps:
	./scripts/install-deps

dev-deps:
	./scripts/install-deps --dev

lock:
	./scripts/lock

up: deps
	$(BIN)/orchestrate up $(LAB)

# What CI runs, stage by stage, each timed (scripts/stage), with the times summed up at the end
# whether or not a stage failed; a failed stage ends the run.
test:
	@rm -f .stages
	@scripts/stage install ./scripts/install-deps --dev \
	  && scripts/stage lint $(MAKE) -s lint \
	  && scripts/stage c-tests $(MAKE) -s server-test \
	  && scripts/stage fast $(MAKE) -s fast \
	  && scripts/stage slow $(MAKE) -s slow \
	  && scripts/stage lab $(MAKE) -s lab; \
	  rc=$$?; scripts/stage --summary; exit $$rc

check: dev-deps lint fast

PYTHON_SOURCES := orchestrator agents tests setup.py scripts/bench-agents scripts/bench-linkem server/bench \
                  tbload/bench

lint:
	$(BIN)/ruff check $(PYTHON_SOURCES)
	$(BIN)/ruff format --check $(PYTHON_SOURCES)
	$(BIN)/mypy
	cd playbooks && PATH=../$(BIN):$$PATH ../$(BIN)/ansible-lint

server-test:
	$(MAKE) -C server test
	$(MAKE) -C tbload test
	$(MAKE) -C linkem test

# The tiers come from the folders (tests/conftest.py): slow = real servers and agents, lab =
# real emulated labs; `pytest` runs them all at once. The fast and slow tiers run on every CPU
# (pytest-xdist); the lab tier one test at a time, as its sweeps measure the machine.
fast:
	$(BIN)/pytest -n auto -m "not slow and not lab"

slow:
	$(BIN)/pytest -n auto -m "slow and not lab"

lab:
	$(BIN)/pytest -m lab

pytest:
	$(BIN)/pytest

bench: dev-deps
	$(MAKE) -C server bench
	$(BIN)/python scripts/bench-agents
