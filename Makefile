# Two commands matter: `make run` (the whole governor locally) and `make test` (the whole suite).
# Each installs what it needs: a .venv from requirements-dev.txt and Azurite from package.json.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install browser test run demo lint format bench soak midnight clean

install: $(PIP_STAMP) $(NODE_STAMP)

$(PIP_STAMP): requirements.txt requirements-dev.txt clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# The dashboard's browser test drives Debian's Chromium: install it when missing and apt-get can
# (as root). Otherwise that one test skips and says why; nothing else depends on it.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium could not be installed: the dashboard browser test will skip"; \
	else echo "chromium is missing and cannot be installed here: the dashboard browser test will skip"; fi

# pytest exits 5 when it collects nothing; make treats any non-zero exit as a failure.
# The suite waits on Azurite, the emulator and child processes more than it computes, so it runs
# in TEST_WORKERS processes (pytest-xdist; one more than the cores: on 2 cores, 3 workers took
# 3m09s, 2 took 5m02s and 4 took 3m39s, 2026-12-06), a test file per worker at a time,
# in collection order (tests/conftest.py puts the folders of long files first), not xdist's
# most-tests-first order, which left the one-test demo file to run alone at the end.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")
test: install browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

run: install
	$(PY) -m governor run $(RUN_ARGS)

demo: install
	$(PY) -m governor demo

# The import contracts come from docs/architecture.md's "Rooms and rules" table (tools/import_contracts.py).
# Imports stay at the top of each module unless a `# lazy: <reason>` says why not (tools/lazy_imports.py).
# Spectral (npm; tools/spectral.yaml: spectral:oas) lints the OpenAPI document, offline; a warning fails.
lint: $(PIP_STAMP) $(NODE_STAMP)
	$(PY) -m ruff check --no-cache .
	$(PY) -m ruff format --no-cache --check .
	$(PY) -m mypy
	$(PY) tools/import_contracts.py
	$(PY) tools/lazy_imports.py
	@doc=$$(mktemp --suffix=.json) && trap 'rm -f "$$doc"' EXIT && \
	  $(PY) tools/openapi_json.py --out "$$doc" && \
	  echo "spectral lint openapi.json" && \
	  node_modules/.bin/spectral lint --ruleset tools/spectral.yaml --fail-severity warn "$$doc"

format: $(PIP_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) -m bench

soak: install
	$(PY) -m pytest -m slow tests/reliability $(PYTEST_ARGS)

# The whole suite once per point, its wall clock starting 90 s before a UTC midnight (an ordinary
# day, a month's end, a leap day's eve, a leap February's end, the year's end): about 5 minutes a point here.
MIDNIGHT_POINTS ?= day,month,leap,leap-month,year
midnight: install browser
	$(PY) tools/midnight.py --points $(MIDNIGHT_POINTS) -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .data .pytest_cache .ruff_cache .mypy_cache
