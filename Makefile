# k8s-secret-enum: Fluent Bit output plugin detecting Kubernetes secret enumeration.
#
#   make          build the plugin (.so), the replay command and the test tools into build/
#   make run      run the main job: Fluent Bit with fluent-bit.conf and a local alert receiver
#                 (falls back to replaying a bundled sample audit log when no fluent-bit is found)
#   make test     every test: unit (with -race), C-host end-to-end, real Fluent Bit (test/flb), short fuzzing
#   make bench    benchmarks and the whole-plugin measurement (see BENCHMARKS.md)
#   make fuzz     longer fuzzing (FUZZTIME per target)
#   make verify   the engine against the independent model at length (test/model): VERIFY_CONFIGS random
#                 configurations of VERIFY_HOURS of event time, then FuzzModel for VERIFY_FUZZTIME

GO        ?= go
BUILD     ?= build
export CGO_ENABLED := 1

SO        := $(BUILD)/out_k8s_secret_enum.so
CLI       := $(BUILD)/k8s-secret-enum
HOST      := $(BUILD)/flbhost
RECEIVER  := $(BUILD)/alert-receiver
AUDITGEN  := $(BUILD)/auditgen

FUZZTIME       ?= 60s
CI_FUZZTIME    ?= 8s
RUN_LISTEN     ?= 127.0.0.1:8088
# Fluent Bit for `make run` and test/flb: $FLUENT_BIT (one path, or several
# separated by spaces: the tests run each, `make run` the last), else
# fluent-bit on PATH or in /opt/fluent-bit, else every build .ci/run cached
# in $(FLB_CACHE), oldest version first.
FLB_CACHE      ?= $(HOME)/.cache/k8s-secret-enum
FLUENT_BIT     ?= $(or $(shell command -v fluent-bit 2>/dev/null),$(wildcard /opt/fluent-bit/bin/fluent-bit),$(shell ls -d $(FLB_CACHE)/fluent-bit-*/bin/fluent-bit 2>/dev/null | sort -V))
SAMPLE         := test/testdata/sample-audit.log.gz

# Pure Go packages run under the race detector; the cgo plugin is exercised
# through the C host instead (a -race build of the .so cannot be loaded).
# test/model's differential tests run a short pass here (see its flags).
UNIT_PKGS := ./detect/... ./plugin/config ./plugin/deliver ./plugin/metrics ./plugin/record ./plugin/statefile \
             ./plugin/logging ./plugin/format ./test/chunk ./test/receiver/... ./test/model ./test/destcheck
FUZZ_TARGETS := ./detect/audit:FuzzParseJSON ./detect/audit:FuzzEventList ./detect/audit:FuzzParseTime ./plugin/record:FuzzDecode ./plugin/record:FuzzEquivalence ./plugin/config:FuzzParse ./test/model:FuzzModel ./detect/audit:FuzzParseTimes ./test/model:FuzzPrefilter

VERIFY_CONFIGS  ?= 2000
VERIFY_HOURS    ?= 1
VERIFY_FUZZTIME ?= 10m

.PHONY: all build run test unit e2e flb fuzz fuzz-ci verify bench clean

all: build

build:
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -buildmode=c-shared -o $(SO) ./plugin
	$(GO) build -trimpath -o $(CLI) ./plugin/cmd/k8s-secret-enum
	$(GO) build -trimpath -o $(RECEIVER) ./test/receiver/cmd/alert-receiver
	$(GO) build -trimpath -o $(AUDITGEN) ./test/gen/cmd/auditgen
	gcc -O2 -Wall -Wextra -std=c11 -o $(HOST) test/host/flbhost.c -ldl -lpthread

# exec: make passes SIGTERM to its child, which must be the script itself.
run: build
	@FLUENT_BIT="$(FLUENT_BIT)" RUN_LISTEN="$(RUN_LISTEN)" BUILD="$(BUILD)" SAMPLE="$(SAMPLE)" exec sh test/run-local.sh

test: build unit e2e flb fuzz-ci deploy-test interop

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 $(UNIT_PKGS)
	$(GO) test -short -count=1 ./test/gen/...

e2e: build
	FLBHOST=$(abspath $(HOST)) K8S_SECRET_ENUM_SO=$(abspath $(SO)) K8S_SECRET_ENUM_CLI=$(abspath $(CLI)) \
		$(GO) test -count=1 -timeout 15m ./test/host ./test/e2e

# Real Fluent Bit processes (skipped without one unless REQUIRE_FLUENT_BIT=1).
flb: build
	FLUENT_BIT="$(FLUENT_BIT)" K8S_SECRET_ENUM_SO=$(abspath $(SO)) \
		$(GO) test -count=1 -timeout 20m ./test/flb

fuzz-ci:
	@GO="$(GO)" sh test/fuzz.sh $(CI_FUZZTIME) $(FUZZ_TARGETS)

fuzz:
	@GO="$(GO)" sh test/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

# Zero differences between engine and model: in order, out of order (within reorder_delay or
# allowed_lateness) and under caps; then the fuzz target.
verify:
	$(GO) test -count=1 -timeout 0 -v -run '^(TestDifferential|TestDifferentialOutOfOrder|TestCaps)$$' ./test/model \
		-model.configs=$(VERIFY_CONFIGS) -model.hours=$(VERIFY_HOURS)
	$(GO) test -run='^$$' -fuzz='^FuzzModel$$' -fuzztime=$(VERIFY_FUZZTIME) ./test/model

bench: build
	FLBHOST=$(abspath $(HOST)) K8S_SECRET_ENUM_SO=$(abspath $(SO)) \
		sh test/bench/run.sh

clean:
	rm -rf $(BUILD)

# Deployment (deploy/): the official fluent-bit chart rendered with our values by helm (built once from
# its Go module into HELM_CACHE, outside the checkout) and the plain manifests, decoded strictly into the
# Kubernetes types, their mounts checked against the Fluent Bit configuration, which then runs in the real
# Fluent Bit (FLUENT_BIT; skipped without one unless REQUIRE_FLUENT_BIT=1); the .so cross-built for
# linux/arm64 (skipped without aarch64-linux-gnu-gcc unless REQUIRE_ARM64=1). test/deploy is its own
# module so that k8s.io/api stays out of the plugin's go.mod.
HELM_VERSION := v3.21.4
HELM_CACHE   ?= $(HOME)/.cache/k8s-secret-enum/helm-$(HELM_VERSION)
HELM         := $(HELM_CACHE)/helm

.PHONY: deploy-test

$(HELM):
	GOBIN=$(HELM_CACHE) GOWORK=off GOFLAGS= CGO_ENABLED=0 $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

deploy-test: build $(HELM)
	cd test/deploy && $(GO) vet ./... && \
		HELM=$(HELM) FLUENT_BIT="$(FLUENT_BIT)" K8S_SECRET_ENUM_SO=$(abspath $(SO)) \
		$(GO) test -count=1 -timeout 20m ./...

# Interoperability (test/interop): what the plugin sends, checked with the destinations' own code:
# Alertmanager's API v2 models and its API handler in process, fed by the .so in the C host. Its own
# module so that Alertmanager's dependencies stay out of the plugin's go.mod.
.PHONY: interop

interop: build
	cd test/interop && $(GO) vet ./... && \
		FLBHOST=$(abspath $(HOST)) K8S_SECRET_ENUM_SO=$(abspath $(SO)) $(GO) test -count=1 -timeout 10m ./...
