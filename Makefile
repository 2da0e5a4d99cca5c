# `make test` creates .venv when it is missing, installs the project with everything the tests need
# (test + bench + oxford + demo extras), lints, type-checks and runs the suite.
# `make demo` runs the main job: every experiment, into runs/demo (report.html, results.json, figures).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo

.PHONY: test test-threads lint typecheck bench demo demo-quick install system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,bench,oxford,demo]"
	touch $(STAMP)

install: $(STAMP)

# System packages the tests need: Debian's chromium for the report's real-browser test. As root with apt it is
# installed when missing; otherwise the target stops with the one command to run.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "installing Debian's chromium (the browser test needs it)"; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	         (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || exit 1; \
	    else \
	        echo "make test needs a headless chromium: run 'sudo apt-get install -y chromium' (Debian/Ubuntu), then make test again" >&2; \
	        exit 1; \
	    fi; \
	fi

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

typecheck: $(STAMP)
	$(PY) -m mypy --strict src/imagelosses

test: system-deps lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider
	$(MAKE) --no-print-directory test-threads

# The tests that train or optimise must not depend on the thread count: run them again at 1 and at 2 threads.
test-threads: $(STAMP)
	IMAGELOSSES_TEST_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -m training
	IMAGELOSSES_TEST_THREADS=2 $(PY) -m pytest -q -p no:cacheprovider -m training

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
