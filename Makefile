# postguard: `make run` sets up and starts it; `make test` sets up and runs every test.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3
# Installs come from hash-pinned locks (`make lock` writes them from pyproject.toml):
# requirements.lock = what the services need; requirements-dev.lock = that, the same pins,
# plus the test/lint tools (pytest, playwright, ruff, mypy, ...). The venv keeps the pip it
# was created with: the locks install with any pip >= 23.2, no resolving involved.
LOCKS  := requirements.lock requirements-dev.lock
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCKS) 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: install run test lint bench clean lock

$(STAMP): pyproject.toml $(LOCKS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements.lock -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/postguard run

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy checker enforce proxy_addon extension postguard store console server train agent

test: install lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) bench/checker
	$(PY) bench/quality

# `make lock` re-resolves the locks after a change to pyproject.toml, keeping every pin that
# still fits; `make lock UPGRADE=1` moves everything to the newest versions that resolve.
# requirements-train.lock (the `train` extra: torch etc.) is locked on the run-time pins too;
# its torch is the CPU build that lies in this machine's /opt/wheels.
LOCK_VENV   := build/lock-venv
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile -q \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	--no-emit-trusted-host -c tools/lock/constraints.txt $(if $(UPGRADE),--upgrade)

$(LOCK_VENV)/.ok: tools/lock/pip-tools.lock
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --require-hashes -r tools/lock/pip-tools.lock
	touch $@

lock: $(LOCK_VENV)/.ok
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev -c requirements.lock -o requirements-dev.lock pyproject.toml
	$(PIP_COMPILE) --extra train -c requirements.lock -o requirements-train.lock pyproject.toml

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
