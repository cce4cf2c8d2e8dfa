# Podium's front door. `make help` lists the targets; CI runs `make lint` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install system node lint test test-unit up down status run bench k8s clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) system node ## virtualenv with Podium and its dev tools; redis-server and chromium if missing; Trophy's Node SDK

system: ## Debian's redis-server, prometheus (promtool), chromium and chromium-driver when missing (Java and Maven must be there)
	@command -v redis-server >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    echo "installing redis-server with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null; \
	  else echo "redis-server is missing: install it with your package manager (e.g. brew install redis)"; exit 1; fi; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver with apt-get (the live page's browser test)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null; \
	  else echo "chromium or chromedriver is missing: install them with your package manager"; exit 1; fi; }
	@command -v promtool >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    echo "installing prometheus (promtool checks deploy/prometheus/alerts.yaml) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null; \
	  else echo "promtool is missing: install Prometheus with your package manager (e.g. brew install prometheus)"; exit 1; fi; }
	@command -v java >/dev/null || { echo "java is missing: install a Java 17+ runtime (apt-get install -y openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "mvn is missing: install Maven (apt-get install -y maven)"; exit 1; }

NODE_STAMP := tests/node/node_modules/.installed
$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "node and npm are missing: install Node.js 18 or later (apt-get install -y nodejs npm);"; \
	  echo "tests/integration/gateway/test_node_sdk.py runs Trophy's Node SDK with them"; exit 1; }
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

node: $(NODE_STAMP) ## Trophy's Node SDK for its test (npm ci in tests/node, the version package-lock.json pins)

lint: $(STAMP) ## ruff, mypy and the import contracts (layers, pure core; pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy schemas processors ingest deploy tests
	$(BIN)/lint-imports

test: install ## all tests: unit, component and integration against a real Kafka and Redis
	$(BIN)/python -m pytest tests -q -p no:cacheprovider --durations=30

test-unit: $(STAMP) ## the tests that need no services: unit (pure) and component (fakes), seconds
	$(BIN)/python -m pytest tests/unit tests/component -q

up: $(STAMP) system ## start the local Kafka broker and Redis (ports in deploy/settings.py)
	$(BIN)/podium up

down: ## stop everything `make up` / `make run` started
	@test -x $(BIN)/podium && $(BIN)/podium down || true

status: ## what of the local stack is running
	$(BIN)/podium status

run: $(STAMP) system ## run Podium: broker, Redis and the demo
	$(BIN)/podium run

bench: $(STAMP) system ## benchmarks: figures and ratios measured side by side
	@command -v wrk >/dev/null && command -v hey >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    echo "installing wrk and hey (HTTP load generators) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk hey) >/dev/null; \
	  else echo "wrk or hey is missing: the gateway benchmark skips their runs"; fi; }
	$(BIN)/python -m tests.bench

OVERLAY ?= production
k8s: $(STAMP) ## print the Kubernetes manifests (OVERLAY=production, the default, or small)
	@$(BIN)/python -m deploy.kustomize deploy/k8s/overlays/$(OVERLAY)

clean: down ## remove the virtualenv and the run folder (jar cache, data, logs)
	rm -rf $(VENV) .podium
