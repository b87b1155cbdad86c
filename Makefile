# The two commands of the README:
#   make demo   set up (Debian packages + .venv) and run the simulated demo end to end
#   make test   set up (with the test-only packages) and run the whole test suite (what CI runs)
# For the developer loop:
#   make test-unit   the unit tier only (no simulations, training, workflow, SLURM or browser): < 60 s
#   make test-all    every tier, SLURM and Chromium included (the same tests as `make test`)
#   make lint        snakemake --lint, snakefmt, ruff (lint + format) and mypy; CI runs it too
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 2
# Put the venv's tools (snakemake, genorisk) first on PATH for the workflow and its tests.
RUN := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
UNIT := not integration and not slow and not slurm and not browser

.PHONY: setup setup-test demo test test-unit test-all lint clean

setup: $(VENV)/.installed
	@envs/install-system.sh envs/apt-runtime.txt

setup-test: setup
	@envs/install-system.sh envs/apt-runtime.txt envs/apt-test.txt

# Pinned install: requirements.lock is the full resolved set, so installs agree over time.
$(VENV)/.installed: requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

demo: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/snakemake --cores $(CORES) --configfile config/demo.yaml

test: test-all

test-all: setup-test
	$(RUN) $(VENV)/bin/pytest

test-unit: setup
	$(RUN) $(VENV)/bin/pytest -q -m "$(UNIT)"

# snakemake --lint parses the workflow with the demo config: the default one names input
# files (data/...) that a fresh checkout does not have.
lint: setup
	$(VENV)/bin/snakemake --lint --configfile config/demo.yaml
	$(VENV)/bin/snakefmt --check $(wildcard Snakefile) workflow
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf results resources/demo .snakemake
