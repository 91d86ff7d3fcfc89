# bitcoin-controller — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST := $(VENV)/bin/pytest
STAMP := $(VENV)/.installed
# scripts/local-cluster needs only the standard library: use the venv if it exists
CLUSTER_PY = $(if $(wildcard $(PY)),$(PY),$(PYTHON))

.PHONY: help venv test test-unit test-integration lint bench run down cluster-build cluster-up cluster-status clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv with the package and its test extra

lint: $(STAMP) ## ruff over the whole tree
	$(VENV)/bin/ruff check .

test-unit: $(STAMP) ## Unit tests (fake clientsets, no cluster)
	$(PYTEST) -k unit tests

test-integration: $(STAMP) cluster-build ## Integration tests on the local cluster (real API server, real btcd)
	$(PYTEST) -k integration test_integration

test: lint test-unit test-integration ## Everything: lint, unit tests, integration tests on the local cluster

bench: $(STAMP) cluster-build ## Run every benchmark in benchmarks/ (bench_controller.py starts a private cluster)
	@status=0; for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || status=1; done; exit $$status

cluster-build: ## Build the local cluster's components and helm from their Go modules (cached)
	scripts/build-local-cluster
	scripts/build-helm

cluster-up: cluster-build ## Start the local cluster (kubeconfig in .local-cluster/kubeconfig)
	$(CLUSTER_PY) scripts/local-cluster up

cluster-status: ## Which local cluster components run, and the API server URL
	@$(CLUSTER_PY) scripts/local-cluster status

run: $(STAMP) ## A working bitcoin network on a local cluster, in the foreground
	$(PY) scripts/run-demo

down: ## Stop the local cluster
	@$(CLUSTER_PY) scripts/local-cluster down

clean: down ## Remove the venv and local cluster state (Go caches are kept)
	rm -rf $(VENV) .local-cluster .pytest_cache .ruff_cache
