# The two commands of the README's quick start:
#   make up    installs what running needs (requirements.lock) and runs `orchestrate up lab.yml`
#              on the emulated lab
#   make test  installs that plus the developer tools (requirements-dev.lock: ruff, mypy,
#              ansible-lint, playwright; Debian's chromium, clang for fuzzing, nginx and wrk)
#              and runs the whole test suite (what CI runs)
#   make lock  regenerates both locks from pyproject.toml (after changing a dependency)
VENV := .venv
BIN := $(VENV)/bin
LAB ?= lab.yml

.PHONY: deps dev-deps lock up test lint pytest server-test bench

deps:
	./scripts/install-deps

dev-deps:
	./scripts/install-deps --dev

lock:
	./scripts/lock

up: deps
	$(BIN)/orchestrate up $(LAB)

test: dev-deps lint server-test pytest

PYTHON_SOURCES := orchestrator agents tests setup.py scripts/bench-agents server/bench

lint:
	$(BIN)/ruff check $(PYTHON_SOURCES)
	$(BIN)/ruff format --check $(PYTHON_SOURCES)
	$(BIN)/mypy
	cd playbooks && PATH=../$(BIN):$$PATH ../$(BIN)/ansible-lint

server-test:
	$(MAKE) -C server test

pytest:
	$(BIN)/pytest

bench: dev-deps
	$(MAKE) -C server bench
	$(BIN)/python scripts/bench-agents
