# clashcast — two commands on a fresh clone:
#   make forecast   set up the environment if needed, then run the whole pipeline (dvc repro)
#   make test       set up the environment if needed, then run the test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# pyenv reads .python-version (3.12); fall back to any python3.12 on PATH.
PYTHON312 ?= $(shell pyenv which python3.12 2>/dev/null || command -v python3.12 || echo python3.12)
STAMP := $(VENV)/.installed
# Compile caches live outside the repo and survive between runs (DESIGN §8: they decide re-run speed).
export NUMBA_CACHE_DIR ?= $(HOME)/.cache/clashcast/numba
# base_compiledir, not compiledir: PyTensor keeps its Numba cache (most of the time saved) there.
export PYTENSOR_FLAGS ?= base_compiledir=$(HOME)/.cache/clashcast/pytensor
export MPLBACKEND := Agg
# dvc.yaml calls `clashcast <stage>`: the venv's bin must come first on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONHASHSEED := 0

.PHONY: help env sysdeps forecast test test-slow lint bench clean-env

help:
	@echo "make forecast   set up (if needed) and run the whole pipeline -> reports/forecast.html, .pdf"
	@echo "make test       set up (if needed) and run the tests"
	@echo "make test-slow  the long end-to-end tests on the shipped data"
	@echo "make bench      run every benchmark and regenerate the README performance section"

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(MAKE) --no-print-directory sysdeps
	@v=$$($(PYTHON312) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	  case "$$v" in 3.1[2-9]) ;; *) echo "clashcast needs Python >= 3.12 (found '$$v' at $(PYTHON312)); install it with pyenv" >&2; exit 1;; esac
	test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet --require-virtualenv -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -c "import pymc, arviz; assert pymc.__version__.startswith('6.') and arviz.__version__.startswith('1.'), (pymc.__version__, arviz.__version__)"
	touch $(STAMP)

# System libraries: Pango for WeasyPrint (PDF), harfbuzz-subset for its font subsetting,
# poppler-utils for reading PDFs back (tests, pdftoppm). Installed only when missing.
sysdeps:
	@missing=""; \
	  for p in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils fonts-dejavu-core; do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	  done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing system packages:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	      || { echo "could not install:$$missing (see README, System libraries)" >&2; exit 1; }; \
	  fi

forecast: env
	$(VENV)/bin/dvc repro

test: env
	$(VENV)/bin/pytest

test-slow: env
	$(VENV)/bin/pytest -m slow

lint: env
	$(VENV)/bin/ruff check model clashcast_testing tests benchmarks
	$(VENV)/bin/ruff format --check model clashcast_testing tests benchmarks

bench: env
	$(PY) benchmarks/run_all.py

clean-env:
	rm -rf $(VENV)
