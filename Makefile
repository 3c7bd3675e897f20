# The two commands a new user needs: `make run` (the local stack) and `make test` (every check).
# Both set themselves up on a fresh machine: venvs from pinned files, SAM CLI in its own venv.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PY312 := $(shell scripts/find-python.sh 3.12 2>/dev/null)
VENV := .venv
SAMVENV := .venv-sam
IACVENV := .venv-iac
PY := $(VENV)/bin/python
SAM := $(SAMVENV)/bin/sam
# sam build resolves `python3.12` from PATH for the runtime; put the one we found first.
SAM_ENV := PATH="$(dir $(PY312)):$$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help run test lint typecheck validate build iac pytest setup clean check-python register-c2b soak

help:
	@echo "make run   start the local stack (moto + Daraja simulator + HTTP API) on 127.0.0.1"
	@echo "make test  install everything and run every check (ruff, mypy, sam validate/cfn-lint, sam build, IaC scan, pytest)"
	@echo "make soak  the fault soak: $(SOAK_RECORDS) STK payments, payouts and C2B receipts under Daraja's faults (SOAK_RECORDS, SOAK_SEED)"
	@echo "make iac   the IaC scan alone: checkov on the SAM-transformed template (docs/decisions.md, 'IaC scan')"
	@echo "make register-c2b CONFIG_ENV=sandbox [SHORT_CODE=600997]  register a deployed stack's C2B URLs"

check-python:
	@test -n "$(PY312)" || scripts/find-python.sh 3.12

# This machine's pip configuration names local indexes that may be absent; drop that noise only.
PIP_QUIET := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }

$(VENV)/.stamp: requirements-dev.txt layers/mpesa/requirements.txt | check-python
	rm -rf $(VENV)
	$(PY312) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt $(PIP_QUIET)
	touch $@

$(SAMVENV)/.stamp: requirements-sam.txt | check-python
	rm -rf $(SAMVENV)
	$(PY312) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install -q -r requirements-sam.txt $(PIP_QUIET)
	touch $@

$(IACVENV)/.stamp: requirements-iac.txt | check-python
	rm -rf $(IACVENV)
	$(PY312) -m venv $(IACVENV)
	$(IACVENV)/bin/pip install -q -r requirements-iac.txt $(PIP_QUIET)
	touch $@

setup: $(VENV)/.stamp $(SAMVENV)/.stamp $(IACVENV)/.stamp

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.stamp
	$(VENV)/bin/mypy layers/mpesa/mpesa functions simulator local tests scripts $(wildcard benchmarks/*.py)

validate: $(SAMVENV)/.stamp
	$(SAM_ENV) $(SAM) validate --lint
	$(SAMVENV)/bin/cfn-lint template.yaml

build: $(SAMVENV)/.stamp
	$(SAM_ENV) $(SAM) build

# checkov on the template as CloudFormation will deploy it (SAM-transformed offline by .venv-sam's translator).
# Fails on a finding with no recorded decision, a suppression without a reason, or a stale suppression.
iac: $(SAMVENV)/.stamp $(IACVENV)/.stamp
	$(IACVENV)/bin/python scripts/iac_scan.py --sam-python $(SAMVENV)/bin/python --checkov $(IACVENV)/bin/checkov template.yaml

pytest: $(VENV)/.stamp
	$(VENV)/bin/pytest

test: setup lint typecheck validate build iac pytest

run: $(VENV)/.stamp
	@$(PY) -m local

# The fault soak (benchmarks/soak.py): starts its own local stack on free ports, drives the records under
# faults, checks them against the simulator's truth; exits non-zero on any violation. `make test` runs
# the short version (tests/soak/test_short_soak.py).
# SOAK_ARGS passes more options (python -m benchmarks.soak --help).
SOAK_RECORDS ?= 1000
SOAK_SEED ?= 16
SOAK_ARGS ?=
soak: $(VENV)/.stamp
	$(PY) -m benchmarks.soak --records $(SOAK_RECORDS) --seed $(SOAK_SEED) --report .local/soak.json $(SOAK_ARGS)

# Register a deployed stack's C2B URLs with Daraja (reads the stack outputs; IAM-signed call to the
# stack's POST /v1/c2b/register). CONFIG_ENV picks the samconfig.toml environment; SHORT_CODE is optional.
# Production registers once: see docs/operations.md ("C2B URLs") first.
CONFIG_ENV ?= default
register-c2b: $(VENV)/.stamp
	$(PY) scripts/register_c2b.py --config-env $(CONFIG_ENV) $(if $(SHORT_CODE),--short-code $(SHORT_CODE))

clean:
	rm -rf $(VENV) $(SAMVENV) $(IACVENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# --- local stack and browser test (docs/local-stack.md) -------------------------------------------
# `make run` reads LOCAL_API_PORT (3000), LOCAL_SIMULATOR_PORT (3001) and LOCAL_AWS_PORT (3002).
# The headless browser test uses Debian's chromium and chromium-driver; nothing is downloaded by Selenium.
CHROMIUM_BIN := /usr/bin/chromium
CHROMEDRIVER_BIN := /usr/bin/chromedriver

.PHONY: browser-deps
browser-deps:
	@if [ -x $(CHROMIUM_BIN) ] && [ -x $(CHROMEDRIVER_BIN) ]; then exit 0; fi; \
	sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	echo "Installing Debian's chromium and chromium-driver for the browser test..."; \
	$$sudo apt-get update -qq || echo "apt-get update failed; trying the install anyway"; \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver

pytest: browser-deps
