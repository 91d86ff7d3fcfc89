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
# kubectl, helm and the cluster's binaries as built here come first
export PATH := $(CURDIR)/.local-cluster/bin:$(PATH)
HOST_TEST := test_integration/test_real_node_host_integration.py

.PHONY: help venv test test-unit test-integration lint bench run down cluster-build cluster-up cluster-status clean images

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

# cluster-build first: the Helm chart's unit tests need the built helm
test-unit: $(STAMP) cluster-build ## Unit tests (fake clientsets, no cluster)
	$(PYTEST) -k unit tests

# 1. a real node's up/down leaves the host as it found it (needs the machine's real-node slot,
#    so it runs alone); 2. every integration test on the default backend (the real node where
#    it can run: the controller in-cluster from its chart); 3. the same on the kwok backend,
#    which machines without root or containerd use.
test-integration: $(STAMP) cluster-build ## Integration tests on the local cluster (real API server, real btcd)
	$(PYTEST) -k integration $(HOST_TEST)
	$(PYTEST) -k integration test_integration --ignore=$(HOST_TEST)
	@if [ "$$($(CLUSTER_PY) scripts/local-cluster backend)" = node ]; then \
	  echo "== the same suite on the kwok backend"; \
	  LOCAL_CLUSTER_BACKEND=kwok LOCAL_CLUSTER_BASE=$(CURDIR)/.local-cluster/kwok \
	    $(PYTEST) -k integration test_integration --ignore=$(HOST_TEST); fi

test: lint test-unit test-integration ## Everything: lint, unit tests, integration tests on both node backends

bench: $(STAMP) cluster-build ## Run every benchmark in benchmarks/ (bench_controller.py starts a private cluster)
	@status=0; for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || status=1; done; exit $$status

cluster-build: ## Build the local cluster's components and helm from their Go modules (cached)
	scripts/build-local-cluster
	scripts/build-helm

images: cluster-build ## Build the controller, btcd and pause images without Docker (OCI archives, cached)
	scripts/build-images

cluster-up: cluster-build ## Start the local cluster (kubeconfig in .local-cluster/kubeconfig)
	$(CLUSTER_PY) scripts/local-cluster up

cluster-status: ## Which local cluster components run, and the API server URL
	@$(CLUSTER_PY) scripts/local-cluster status

run: $(STAMP) cluster-build ## A working bitcoin network on a local cluster (controller installed by Helm)
	$(PY) scripts/run-demo

down: ## Stop the local cluster
	@$(CLUSTER_PY) scripts/local-cluster down

clean: down ## Remove the venv and local cluster state (Go caches are kept)
	rm -rf $(VENV) .local-cluster .pytest_cache .ruff_cache
