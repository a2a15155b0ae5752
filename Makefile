# One task runner: these targets are what CI runs (.ci/run calls `make test`).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-fast lint bench docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing dicomfs and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(PY) -m pip install --quiet -e '.[dev]' >> $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	touch $(STAMP)

## make demo: build the sample store in data/ (if needed), index it, search, retrieve and render.
demo: $(STAMP)
	$(PY) data/make_sample_store.py data/sample-store
	$(PY) data/demo.py data/sample-store

## make test: the docstring examples, then the whole suite (starts Orthanc and PostgreSQL itself
## when they are installed).
test: $(STAMP)
	$(PY) -m pytest -q --doctest-modules dicomfs
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not orthanc and not postgres"

lint: $(STAMP)
	$(VENV)/bin/ruff check dicomfs tests data
	$(VENV)/bin/mypy

## make bench: dicomfs against the reference (dicomweb-client's DICOMfileClient) in one run.
bench: $(STAMP)
	$(PY) tests/benchmarks/run.py --out docs/benchmarks.md

clean:
	rm -rf $(VENV) data/sample-store data/bench .pytest_cache .mypy_cache .ruff_cache
