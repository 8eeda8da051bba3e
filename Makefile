# The two commands of the README's quick start:
#   make up    installs what is needed and runs `orchestrate up lab.yml` on the emulated lab
#   make test  installs what is needed and runs the whole test suite (what CI runs)
VENV := .venv
BIN := $(VENV)/bin
LAB ?= lab.yml

.PHONY: deps up test lint pytest server-test bench

deps:
	./scripts/install-deps

up: deps
	$(BIN)/orchestrate up $(LAB)

test: deps lint server-test pytest

PYTHON_SOURCES := orchestrator agents tests scripts/bench-agents server/bench

lint:
	$(BIN)/ruff check $(PYTHON_SOURCES)
	$(BIN)/ruff format --check $(PYTHON_SOURCES)
	$(BIN)/mypy
	cd playbooks && PATH=../$(BIN):$$PATH ../$(BIN)/ansible-lint

server-test:
	$(MAKE) -C server test

pytest:
	$(BIN)/pytest

bench: deps
	$(MAKE) -C server bench
	$(BIN)/python scripts/bench-agents
