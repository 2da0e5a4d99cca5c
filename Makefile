# `make test` creates .venv when it is missing, installs the project with everything the tests need
# (test + bench + oxford extras), lints, and runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,bench,oxford,demo]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

test: lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/update_readme.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
