# medsight: the two commands a fresh machine needs are `make run` and `make test`.
# Both create .venv when it is missing and install into it once; the stamp file makes
# a second call skip the install until pyproject.toml changes.

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck contracts unit bench clean help

help:
	@echo "make run     set up, then run medsight on its embedded defaults"
	@echo "make test    set up, then lint, type-check, check layering and run the whole suite"
	@echo "make bench   set up (with the bench extra), then measure and write BENCHMARKS.md"

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python >= 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

# Until medsight has its service, its main job is describing the DICOM samples that
# pip installs with pydicom.
run: $(STAMP)
	$(VENV)/bin/medsight info "$$($(PY) -c 'import pathlib, pydicom.data as d; print(pathlib.Path(d.get_testdata_file("CT_small.dcm")).parent)')"

LINTED := $(wildcard src tests benchmarks tools)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(VENV)/bin/mypy src

contracts: $(STAMP)
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest

test: lint typecheck contracts unit

bench: $(STAMP)
	$(PY) -m benchmarks.run --out BENCHMARKS.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
