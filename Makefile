# ragchaos: every step installs what it needs into .venv; nothing is assumed installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: the Monday-morning scenario, naive versus reference, then the report's path
demo: $(STAMP)
	$(VENV)/bin/ragchaos demo

## make test: the whole test suite (starts its own servers on loopback)
test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

## make lint: ruff over the tree, mypy over the package (configured in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## make bench: every benchmark, quick settings (a few minutes); make bench FULL=1: the settings
## BENCHMARKS.md quotes (hours: the 10-minute soak, 20 whole gates of the ci scenario). Prints
## where each figure went.
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(if $(filter 1 yes true,$(FULL)),--full)

clean:
	rm -rf $(VENV) runs .pytest_cache
