# postguard: `make run` sets up and starts it; `make test` sets up and runs every test.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTHON ?= python3

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/postguard run

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) bench/checker
	$(PY) bench/quality

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
