# Everyday commands. The venv is rebuilt only when pyproject.toml changes (stamp file .venv/.installed).
PYTHON ?= python3
VENV := .venv
PYTEST := $(VENV)/bin/python -m pytest -q -p no:cacheprovider
PYTEST_ARGS ?=

.PHONY: venv up test test-simulation test-fast fuzz bench demo schemas clean browser-deps web-assets deploy-validators deploy-check

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip
	$(VENV)/bin/python -m pip install -e '.[local,test]'
	touch $@

up: venv
	$(VENV)/bin/baoxue up

test: venv browser-deps deploy-validators
	$(PYTEST) -m "not simulation" $(PYTEST_ARGS)

# Whole-term simulations (baoxue simulate, with and without the fault campaign) on their own stacks.
test-simulation: venv
	$(PYTEST) -m simulation $(PYTEST_ARGS)

test-fast: venv
	$(PYTEST) -m "not e2e and not slow" $(PYTEST_ARGS)

# Bad-input campaign: schemathesis against every service's OpenAPI document, fresh random cases, many per operation.
FUZZ_EXAMPLES ?= 100
fuzz: venv
	BAOXUE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) BAOXUE_FUZZ_RANDOM=1 BAOXUE_FUZZ_STRICT=1 $(PYTEST) -m fuzz --timeout 3600 $(PYTEST_ARGS)

# One table of the headline figures (quick size); `make bench BENCH_ARGS=--full` for 1,000,000 students.
BENCH_ARGS ?=
bench: venv
	$(VENV)/bin/baoxue bench $(BENCH_ARGS)

# `make up` in the background, the walk-through against it, the dashboard address; Ctrl-C stops the stack.
demo: venv
	$(MAKE) web-assets || echo "(charts unavailable: npm could not install the web assets)"
	$(VENV)/bin/python -m devstack.demo_stack

schemas: venv
	$(VENV)/bin/baoxue contracts export

# Local data only (the embedded PostgreSQL cluster and logs under ./var).
clean:
	rm -rf ./var

# Reporting web assets (echarts from npm, never committed), the Debian Chromium for browser tests and a CJK font
# for readable screenshots (optional: its failure does not stop the tests); each only when missing.
WEB := services/reporting/web
web-assets: $(WEB)/node_modules/.package-lock.json

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund

browser-deps: web-assets
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)
	-fc-list 2>/dev/null | grep -qi 'noto.*cjk' || apt-get install -y fonts-noto-cjk || (apt-get update && apt-get install -y fonts-noto-cjk)

# Offline schemas of deploy/k8s (Kubernetes, Strimzi, CloudNativePG, prometheus-operator, KEDA validators from npm,
# never committed) for tests/deploy; deploy-check regenerates nothing, it only says whether deploy/k8s is current.
VALIDATORS := deploy/validate
deploy-validators: $(VALIDATORS)/node_modules/.package-lock.json

$(VALIDATORS)/node_modules/.package-lock.json: $(VALIDATORS)/package-lock.json
	cd $(VALIDATORS) && npm ci --no-audit --no-fund

deploy-check: venv deploy-validators
	$(VENV)/bin/python -m devstack.k8s --check
	$(PYTEST) tests/deploy $(PYTEST_ARGS)
