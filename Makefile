# The two commands of the README's quick start:
#   make up    installs what is needed and runs `orchestrate up lab.yml` on the emulated lab
#   make test  installs what is needed and runs the whole test suite (what CI runs)
VENV := .venv
BIN := $(VENV)/bin
LAB ?= lab.yml

.PHONY: deps up test lint pytest server-test

deps:
	./scripts/install-deps

up: deps
	$(BIN)/orchestrate up $(LAB)

test: deps lint server-test pytest

lint:
	$(BIN)/ruff check orchestrator agents tests
	$(BIN)/ruff format --check orchestrator agents tests
	$(BIN)/mypy
	cd playbooks && ../$(BIN)/ansible-lint

server-test:
	$(MAKE) -C server test

pytest:
	$(BIN)/pytest
