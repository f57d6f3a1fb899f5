# polycode_lite: `make run` reproduces the notebook sequence, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -m "not slow"

.PHONY: install run run-fast test test-all test-browser test-browser-all lab student instructor browser-deps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]' > $(VENV)/pip-install.log 2>&1 \
	  || (grep -v "is ignored" $(VENV)/pip-install.log; exit 1)
	$(PY) -c "import polycode_lite, torch, torchvision, papermill" 
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/polycode-lite reproduce --out build

run-fast: install
	$(VENV)/bin/polycode-lite reproduce --fast --out build

## Chromium for the JupyterLab browser test: installed when missing and apt-get is allowed.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser test will be skipped"; \
	  else echo "chromium missing and apt-get not permitted: the browser test will be skipped"; fi; \
	fi

test: install browser-deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: install browser-deps
	$(PY) -m pytest

## the real-browser tests: JupyterLab (00, 03 and the fastest of 05-07) and the offline pages
test-browser: install browser-deps
	$(PY) -m pytest -m "browser and not slow" tests/test_browser.py tests/test_offline_html.py

## all of them: every notebook 00-07 in JupyterLab, the course's notebook 03 offline (long)
test-browser-all: install browser-deps
	$(PY) -m pytest -m browser tests/test_browser.py tests/test_offline_html.py

## Student handout (solutions removed) and instructor key (all solutions shown)
student: install
	$(VENV)/bin/polycode-lite student-notebooks --out build/student

instructor: install
	$(VENV)/bin/polycode-lite student-notebooks --mode instructor --out build/instructor

lab: install
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --notebook-dir=notebooks

clean:
	rm -rf build .pytest_cache
