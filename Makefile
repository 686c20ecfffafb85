# Everyday commands. The venv is rebuilt only when pyproject.toml changes (stamp file .venv/.installed).
PYTHON ?= python3
VENV := .venv
PYTEST := $(VENV)/bin/python -m pytest -q -p no:cacheprovider
PYTEST_ARGS ?=

.PHONY: venv up test test-fast bench demo schemas clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip
	$(VENV)/bin/python -m pip install -e '.[local,test]'
	touch $@

up: venv
	$(VENV)/bin/baoxue up

test: venv
	$(PYTEST) $(PYTEST_ARGS)

test-fast: venv
	$(PYTEST) -m "not e2e and not slow" $(PYTEST_ARGS)

bench: venv
	$(VENV)/bin/baoxue bench

demo: venv
	$(VENV)/bin/baoxue demo

schemas: venv
	$(VENV)/bin/baoxue contracts export

# Local data only (the embedded PostgreSQL cluster and logs under ./var).
clean:
	rm -rf ./var
