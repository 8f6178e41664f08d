# ippmd: `make` installs into .venv and builds the package; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: all install data codebook benchmark site test test-all test-fast lint typecheck bench clean

all: data codebook benchmark site

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

data: $(STAMP)  # the code's release: schemas/package.yaml's version, whatever data/ held before
	$(BIN)/ippmd build --release

codebook: data
	$(BIN)/ippmd codebook

benchmark: data
	$(BIN)/ippmd benchmark --focus KHM --out reports/KHM

site: data  # the offline codebook site (open reports/site/index.html)
	$(BIN)/ippmd site --out reports/site

test: $(STAMP)  # ruff, mypy and every test but those marked slow, on both cores (under 3 minutes)
	$(BIN)/ruff check .
	$(BIN)/python .ci/typecheck.py
	$(BIN)/pytest -q -n 2 -m "not slow"

test-all: $(STAMP)  # what CI runs (.ci/run): the same with the slow tests too
	$(BIN)/ruff check .
	$(BIN)/python .ci/typecheck.py
	$(BIN)/pytest -q -n 2

test-fast: $(STAMP)  # the subset without package builds, GX runs or the frictionless CLI
	$(BIN)/pytest -q -m "not slow"

typecheck: $(STAMP)  # mypy over the ippmd namespace (laid out as links: .ci/typecheck.py), tests/ and bench/
	$(BIN)/python .ci/typecheck.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/bench_build.py
	$(BIN)/python bench/bench_validate.py
	$(BIN)/python bench/bench_expectations.py
	$(BIN)/python bench/bench_models.py
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/bench_sources.py
	$(BIN)/python bench/bench_tabulate.py

clean:
	rm -rf $(VENV) build dist data reports .pytest_cache .ruff_cache .mypy_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
