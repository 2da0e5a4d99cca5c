# `make test` creates .venv when it is missing, installs the project with everything the tests need
# (test + bench + oxford + demo extras), lints, type-checks and runs the suite.
# `make demo` runs the main job: every experiment, into runs/demo (report.html, results.json, figures).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo

.PHONY: test lint typecheck bench demo demo-quick install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,bench,oxford,demo]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

typecheck: $(STAMP)
	$(PY) -m mypy --strict src/imagelosses

test: lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(PY) -m imagelosses experiments --out $(DEMO_OUT)
	@echo "report: $(DEMO_OUT)/report.html"

demo-quick: $(STAMP)
	$(PY) -m imagelosses experiments --quick --out $(DEMO_OUT)-quick
	@echo "report: $(DEMO_OUT)-quick/report.html"

bench: $(STAMP)
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.update_readme

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
