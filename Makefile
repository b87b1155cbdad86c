# The two commands of the README:
#   make demo   set up (Debian packages + .venv) and run the simulated demo end to end
#   make test   set up (with the test-only packages) and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 2

.PHONY: setup setup-test demo test lint bench clean

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
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/snakemake --cores $(CORES)

test: setup-test
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules

clean:
	rm -rf results resources/demo .snakemake
