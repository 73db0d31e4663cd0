# shopstream: see README.md. Every target is a thin wrapper over cargo or hack/.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help build test lint fmt crds env-up env-down demo

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## Build every binary (debug)
	$(CARGO) build --workspace --locked

test: ## Start the local Kubernetes API server + Kafka and run all tests against them
	hack/test.sh

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

crds: ## Regenerate crds/ from the Rust types
	$(CARGO) run --quiet --locked -p operator --bin crdgen -- crds/analyticspipelines.yaml

env-up: ## Start etcd, kube-apiserver, Kafka and Strimzi's CRDs on 127.0.0.1 (builds them once)
	hack/env-up.sh

env-down: ## Stop the local environment (keeps the cache and logs)
	hack/env-down.sh

demo: ## Bring up the environment, install the CRD and apply examples/pipeline.yaml
	hack/demo.sh
