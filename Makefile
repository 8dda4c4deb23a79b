# rmqconnect — build, test and run. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
PKG := github.com/rmqconnect/rmqconnect
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
RMQ := distribution/bin/rocketmq-local.sh
WORKER_CONF ?= distribution/conf/connect-standalone.yaml
FUZZTIME ?= 50000x
TEST_TIMEOUT ?= 40m

.DEFAULT_GOAL := build
.PHONY: help build test test-unit test-go test-go-run fuzz-smoke fuzz faults rest-fuzz run bench dist lint rocketmq-up rocketmq-down rocketmq-status clean jdbc-demo db-up db-down kafka-up kafka-down

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build bin/rmqconnect with the version stamped in
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/rmqconnect ./cmd/rmqconnect

test: test-go fuzz-smoke ## every test, real broker included, with -race; then each fuzz target briefly

# rocketmq-client-go v2.1.2 writes its client's `close` flag without synchronisation when a
# consumer shuts down (internal/client.go:555) while its rebalance goroutines read it
# (client.go:576), so the race detector fails any test that stops a consumer at the wrong
# moment; its pull consumer's PullFrom also writes a process-queue field its own rebalance
# goroutine reads (consumer/pull_consumer.go:437 vs consumer.go:387). Packages whose tests
# run consumers or readers against the broker in the test process (BROKER_PKGS) therefore
# run their broker tests without -race, and their broker-free tests with -race; every other
# package runs entirely with -race. (tests/e2e's workers are separate processes, built
# without -race for the same reason.)
# tests/faults (root, nftables, java, python3) starts a RocketMQ of its own on other ports and,
# without -faults.full, runs its short subset: one bounce, one broker restart, one partition and
# a bounded REST fuzz.
BROKER_PKGS := ./worker ./worker/rmqclient ./worker/registrylog ./tests/registry ./tests/e2e ./plugins/connectors/http/e2e ./plugins/connectors/replicator ./tests/faults ./tests/console
# One test broker (ports 19876/20911, its own data directory, so a development broker is left
# alone; RMQ_TEST_DATA_DIR, RMQ_TEST_NAMESRV_PORT and RMQ_TEST_BROKER_PORT move it, as they do for
# tests/rmqtest) serves the whole run. It is shared by tests/rmqtest's convention with every other
# make test and go test using it: each holds a shared lock on <data>.users while it does; whoever
# starts the broker writes <data>.started-by-tests (the name server's pid); the last one out takes
# the lock exclusively and stops the broker if that marker names the running name server, so a
# broker somebody else still uses, or one started by hand, is left running. A start that fails
# half-way (name server up, broker not) is cleaned up the same way. With RMQ_NAMESRV set, that
# cluster is used instead and nothing is started.
TEST_BROKER_DIR = $${RMQ_TEST_DATA_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/rmqconnect/test-broker}
TEST_NAMESRV_PORT = $${RMQ_TEST_NAMESRV_PORT:-19876}
TEST_BROKER_ENV = RMQ_DATA_DIR="$(TEST_BROKER_DIR)" RMQ_NAMESRV_PORT=$(TEST_NAMESRV_PORT) RMQ_BROKER_PORT=$${RMQ_TEST_BROKER_PORT:-20911}
test-go:
	@if [ -n "$$RMQ_NAMESRV" ]; then exec $(MAKE) --no-print-directory test-go-run; fi; \
	data="$(TEST_BROKER_DIR)"; users="$$data.users"; marker="$$data.started-by-tests"; \
	mkdir -p "$$(dirname "$$data")" && exec 8>>"$$users" && flock -s 8 || exit 1; \
	ns_pid() { cat "$$data/run/namesrv.pid" 2>/dev/null || true; }; \
	release() { \
	  flock -u 8; flock -xn 8 || return 0; \
	  [ -f "$$marker" ] && [ "$$(cat "$$marker")" = "$$(ns_pid)" ] || return 0; \
	  if env $(TEST_BROKER_ENV) $(RMQ) stop >/dev/null 8>&-; then rm -f "$$marker"; \
	  else echo "test-go: could not stop the test broker in $$data" >&2; fi; \
	}; \
	trap release EXIT; \
	if ! out=$$(set -o pipefail; env $(TEST_BROKER_ENV) RMQ_CLEAN_STORE=1 $(RMQ) start 2>&1 >/dev/null 8>&- | tee /dev/stderr); then \
	  ns_pid >"$$marker"; exit 1; \
	fi; \
	case "$$out" in *"already running"*) ;; *) ns_pid >"$$marker" ;; esac; \
	RMQ_NAMESRV=127.0.0.1:$(TEST_NAMESRV_PORT) $(MAKE) --no-print-directory test-go-run 8>&-

# Every package that fails gets one more run (tests/retry-failed.sh prints each retry and why):
# on a loaded 2-core host a multi-process test can miss a deadline, and one such miss should not
# hide the rest of the run; a test that fails twice fails the run.
test-go-run:
	GO=$(GO) tests/retry-failed.sh -race -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v -x -F $(foreach p,$(BROKER_PKGS),-e $(PKG)/$(patsubst ./%,%,$(p))))
	GO=$(GO) tests/retry-failed.sh -race -short -count=1 $(BROKER_PKGS)
	GO=$(GO) tests/retry-failed.sh -count=1 -timeout $(TEST_TIMEOUT) $(BROKER_PKGS)

test-unit: ## unit tests only (no broker): -short skips the broker tests
	$(GO) test -short -count=1 ./...

# Each fuzz target runs for FUZZTIME with its seed corpus from testdata/fuzz.
fuzz-smoke:
	@set -e; grep -rH --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func / /' | sort -u | \
	while read -r file t; do \
	  pkg=$$(dirname $$file); \
	  echo "fuzz $$t in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

fuzz: ## longer fuzzing campaign (FUZZTIME=5m make fuzz), then a longer REST fuzz (make rest-fuzz)
	$(MAKE) fuzz-smoke FUZZTIME=$(if $(filter 50000x,$(FUZZTIME)),5m,$(FUZZTIME))
	$(MAKE) rest-fuzz

REST_FUZZ_EXAMPLES ?= 400
rest-fuzz: ## schemathesis against a worker's OpenAPI document, REST_FUZZ_EXAMPLES cases per operation (root, python3)
	$(GO) test -count=1 -v -run '^TestRESTFuzz$$' -timeout 90m ./tests/faults -faults.fuzz=$(REST_FUZZ_EXAMPLES)

FAULTS_TIMEOUT ?= 120m
faults: ## the whole fault suite (tests/faults; root, nftables, java, python3), then RELIABILITY.md
	$(GO) test -count=1 -v -timeout $(FAULTS_TIMEOUT) ./tests/faults -faults.full -faults.report=$(CURDIR)/RELIABILITY.md

DEMO_DIR ?= $(or $(XDG_STATE_HOME),$(HOME)/.local/state)/rmqconnect/demo
run: build rocketmq-up ## local RocketMQ + a worker running the demo file -> topic -> file pipeline (Ctrl-C stops the worker)
	@distribution/bin/demo-setup.sh "$(DEMO_DIR)"
	RMQ_NAMESRV=$${RMQ_NAMESRV:-127.0.0.1:$${RMQ_NAMESRV_PORT:-9876}} RMQCONNECT_STOREPATHROOTDIR="$(DEMO_DIR)/store" \
	  RMQCONNECT_FILECONNECTORALLOWEDDIRS="$(DEMO_DIR)" \
	  $(BIN)/rmqconnect standalone -c $(WORKER_CONF) "$(DEMO_DIR)/file-source.properties" "$(DEMO_DIR)/file-sink.properties"

jdbc-demo: build rocketmq-up ## local RocketMQ, PostgreSQL and MariaDB + a worker moving a PostgreSQL table -> topic -> MariaDB table
	@distribution/bin/db-local.sh demo "$(DEMO_DIR)/jdbc"
	RMQ_NAMESRV=$${RMQ_NAMESRV:-127.0.0.1:$${RMQ_NAMESRV_PORT:-9876}} RMQCONNECT_STOREPATHROOTDIR="$(DEMO_DIR)/jdbc/store" \
	  $(BIN)/rmqconnect standalone -c $(WORKER_CONF) "$(DEMO_DIR)/jdbc/jdbc-source.properties" "$(DEMO_DIR)/jdbc/jdbc-sink.properties"

db-up: ## start the local PostgreSQL 15 and MariaDB for trying the jdbc connectors (distribution/bin/db-local.sh)
	distribution/bin/db-local.sh start

db-down: ## stop them
	distribution/bin/db-local.sh stop

kafka-up: ## start a local Kafka broker (KRaft) on 127.0.0.1:29092 for trying the kafka connectors (distribution/bin/kafka-local.sh)
	distribution/bin/kafka-local.sh start

kafka-down: ## stop it
	distribution/bin/kafka-local.sh stop

BENCH_OUT ?= $(BIN)/bench
# BENCH_PREV_DESC names the run runtime.prev.txt holds when it is not the previous make bench (say, another commit's).
BENCH_PREV_DESC ?=
bench: ## runtime figures against a local RocketMQ (own bench broker), micro-benchmarks, then BENCHMARKS.md
	@mkdir -p $(BENCH_OUT)
	@if [ -s $(BENCH_OUT)/runtime.txt ]; then cp $(BENCH_OUT)/runtime.txt $(BENCH_OUT)/runtime.prev.txt; fi
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -count=1 -timeout 15m ./tests/bench/ | tee $(BENCH_OUT)/runtime.txt
	set -o pipefail; $(GO) test -p 1 -run '^$$' -bench . -benchmem -benchtime 300ms -count=1 -timeout 15m \
	  $$(grep -rl --include='*_test.go' '^func Benchmark' . | xargs -n1 dirname | sort -u | grep -v '^./tests/') | tee $(BENCH_OUT)/micro.txt
	$(GO) run ./tests/bench/cmd/benchreport -o BENCHMARKS.md -previous $(BENCH_OUT)/runtime.prev.txt -previous-desc "$(BENCH_PREV_DESC)" $(BENCH_OUT)/runtime.txt $(BENCH_OUT)/micro.txt

dist: build ## tarball of the binary and distribution/ in dist/
	@mkdir -p dist/rmqconnect-$(VERSION)
	cp -r $(BIN)/rmqconnect distribution/bin distribution/conf distribution/rocketmq README.md dist/rmqconnect-$(VERSION)/
	tar -C dist -czf dist/rmqconnect-$(VERSION).tar.gz rmqconnect-$(VERSION)
	@rm -rf dist/rmqconnect-$(VERSION)
	@echo dist/rmqconnect-$(VERSION).tar.gz

STATICCHECK := $(BIN)/staticcheck
$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(abspath $(BIN)) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: $(STATICCHECK) ## gofmt check, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# the runtime vets for other systems too; tests/ drives Unix servers, signals and locks
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet $$($(GO) list ./... | grep -v /tests/)
	$(STATICCHECK) ./...

rocketmq-up: ## start the local RocketMQ name server and broker (downloads them the first time)
	@if [ -n "$$RMQ_NAMESRV" ]; then echo "using RMQ_NAMESRV=$$RMQ_NAMESRV"; else $(RMQ) start >/dev/null; fi

rocketmq-down: ## stop the local RocketMQ
	$(RMQ) stop

rocketmq-status:
	$(RMQ) status

clean:
	rm -rf $(BIN) dist
