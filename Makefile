# shopstream: see README.md. Every target is a thin wrapper over cargo or hack/.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help build test lint fmt crds env-up env-down demo bench-spark bench-serving bench-apply sanitize
.PHONY: helm-lint images kind-load tools kind-up strimzi deploy e2e-kind kind-down

help: ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## Build every binary (debug)
	$(CARGO) build --workspace --locked

test: ## Start the local Kubernetes API server + Kafka and run all tests against them
	hack/test.sh

sanitize: ## Operator Kafka tests under AddressSanitizer (nightly) and the processor's librdkafka round trip under valgrind
	hack/sanitize.sh

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

crds: ## Regenerate crds/ from the Rust types (and the Helm chart's copy)
	$(CARGO) run --quiet --locked -p operator --bin crdgen -- crds/analyticspipelines.yaml
	cp crds/analyticspipelines.yaml helm/shopstream-operator/crds/analyticspipelines.yaml

env-up: ## Start etcd, kube-apiserver, Kafka, Strimzi's CRDs and Redis on 127.0.0.1 (builds them once)
	hack/env-up.sh

env-down: ## Stop the local environment, the local demo stack, operator and runner (keeps the cache and logs)
	hack/env-down.sh

demo: ## examples/pipeline.yaml running end to end: kind + Strimzi if Docker and kind work, else the local stack (hack/demo.sh)
	hack/demo.sh

# --- Benchmarks (not part of `make test`; measure the whole machine, so they take the bench lock) ---

bench-spark: ## Benchmark: the original's Spark job vs the processor on one pre-loaded topic (docs/benchmarks.md)
	flock -o /tmp/shopstream-bench.lock hack/bench/spark-vs-processor.sh

bench-serving: ## Benchmark: serving draining a processor's output at 200,000 events/s into the local Redis (docs/benchmarks.md)
	flock -o /tmp/shopstream-bench.lock hack/bench/serving.sh

bench-apply: ## Benchmark: one new pipeline from kubectl apply to Running, direct mode, topics and pods included (docs/benchmarks.md)
	flock -o /tmp/shopstream-bench.lock hack/bench/apply.sh

# --- Packaging: Helm chart, images, kind + Strimzi (hack/kind/, needs Docker) ---

helm-lint: ## helm lint + helm template of the chart (helm built by hack/helm/build.sh)
	hack/helm/build.sh
	hack/helm/lint.sh

images: ## Build shopstream/{operator,processor,generator,serving}:<version> with Docker
	hack/kind/images.sh

kind-load: ## Load the images into the kind cluster
	hack/kind/load.sh

tools: ## Install kind and helm where missing (from Go modules)
	hack/kind/tools.sh

kind-up: ## Create the kind cluster from kind-config.yaml (Docker)
	hack/kind/up.sh

strimzi: ## Install the Strimzi operator (Helm) and examples/kafka.yaml, wait Ready
	hack/kind/strimzi.sh

deploy: ## helm install the operator chart into kind with the local images
	hack/kind/deploy.sh

e2e-kind: ## End-to-end on kind: pipeline Running, events/s > 0, lag bounded
	hack/kind/e2e.sh

kind-down: ## Delete the kind cluster
	hack/kind/down.sh
