# argocd-k8s-federate — every entry point a user or CI needs.
#   make demo    generate the example's tree and build both sides with kustomize
#   make test    every test: unit, golden, oracles, integration on real API servers, manifests drift
#   make bench   the plugin's start-up against the shell script and the floor, token-request's
#                exec on a real API server; the generator at scale; audit and import of 1,000 Secrets
#   make lint    go vet and staticcheck
#   make fuzz    every fuzz target for FUZZTIME (default 60s) each
#   make e2e     kind clusters, ArgoCD in one deploying into the others, one adopted (installs and starts Docker)
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

include scripts/versions.env

GO      ?= go
PKG     := github.com/argocd-k8s-federate/argocd-k8s-federate
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CACHE   ?= $(or $(ARGOCD_K8S_FEDERATE_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/argocd-k8s-federate)
TOOLS   := $(CACHE)/tools

# Static, reproducible builds; the plugin build is exactly what the image
# ships and what the cluster Secrets run.
export CGO_ENABLED := 0
LDFLAGS := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
GOBUILD := $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: build
build: bin/argocd-k8s-federate bin/argocd-k8s-federate-plugin ## build the CLI and the plugin (with its token-request half)

.PHONY: bin/argocd-k8s-federate bin/argocd-k8s-federate-plugin bin/argocd-k8s-federate-token-request
bin/argocd-k8s-federate:
	$(GOBUILD) -o $@ ./cmd/argocd-k8s-federate
# The plugin and, beside it, the binary its token-request command execs.
bin/argocd-k8s-federate-plugin: bin/argocd-k8s-federate-token-request
	$(GOBUILD) -o $@ ./cmd/argocd-k8s-federate-plugin
bin/argocd-k8s-federate-token-request:
	$(GOBUILD) -o $@ ./cmd/argocd-k8s-federate-token-request

.PHONY: test
test: test-unit test-integration check-manifests ## run every test

.PHONY: test-unit
test-unit: ## unit, golden and oracle tests (ArgoCD v2 and v3, kustomize, API server validation, client-go exec)
	$(GO) test -skip '^TestIntegration' ./...
	cd e2e && $(GO) test ./oracle/...
	cd e2e/argocdv3 && $(GO) test ./...

.PHONY: test-integration
test-integration: ## the federation on real kube-apiserver and etcd processes, Ory Hydra, and the pinned kubectl (built once, cached)
	scripts/build-kubernetes.sh kube-apiserver kube-controller-manager kubectl >/dev/null
	scripts/build-etcd.sh >/dev/null
	scripts/build-hydra.sh >/dev/null
	@start=$$(date +%s); \
	$(GO) test -count=1 -run '^TestIntegration' ./... && \
	(cd e2e && $(GO) test -count=1 ./integration/...) && \
	echo "integration tests: $$(( $$(date +%s) - start ))s wall time"

.PHONY: e2e
e2e: ## end to end: ArgoCD in kind cluster "up" deploys into "down" through the federated identity (Docker, offline images)
	scripts/e2e.sh

.PHONY: manifests
manifests: bin/argocd-k8s-federate ## regenerate manifests/ from examples/federation.yaml
	bin/argocd-k8s-federate generate -f examples/federation.yaml -o manifests

.PHONY: check-manifests
check-manifests: bin/argocd-k8s-federate ## fail when manifests/ is not what examples/federation.yaml yields
	bin/argocd-k8s-federate generate -f examples/federation.yaml -o manifests --check

.PHONY: bench
bench: bin/argocd-k8s-federate-plugin ## benchmarks: plugin start-up, token-request on a real API server, generator at 1,000 downstreams, audit and import of 1,000 cluster Secrets
	scripts/build-kubernetes.sh kube-apiserver >/dev/null
	scripts/build-etcd.sh >/dev/null
	$(GO) run ./hack/bench -plugin bin/argocd-k8s-federate-plugin
	$(GO) test -run '^$$' -bench . -benchtime 3x -benchmem ./internal/generate ./internal/adopt

# Fuzzing: every Fuzz target of the module, FUZZTIME each; findings are
# written to the package's testdata/fuzz and fail the run.
FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 60s)
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "fuzz: $$target ($$pkg) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
		done; \
	done

.PHONY: demo
demo: bin/argocd-k8s-federate $(TOOLS)/kustomize-$(KUSTOMIZE_VERSION) ## generate the example and kustomize-build both sides
	KUSTOMIZE=$(TOOLS)/kustomize-$(KUSTOMIZE_VERSION) scripts/demo.sh

.PHONY: lint
lint: $(TOOLS)/staticcheck-$(STATICCHECK_VERSION) ## go vet, staticcheck, gofmt
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck-$(STATICCHECK_VERSION) ./...
	cd e2e && $(GO) vet ./... && $(TOOLS)/staticcheck-$(STATICCHECK_VERSION) ./...
	cd e2e/argocdv3 && $(GO) vet -tags e2e ./... && $(TOOLS)/staticcheck-$(STATICCHECK_VERSION) -tags e2e ./...

.PHONY: image
image: bin/argocd-k8s-federate-plugin ## the plugin image (FROM scratch; offline, classic builder)
	DOCKER_BUILDKIT=0 docker build -t argocd-k8s-federate-plugin:$(VERSION) .

# The CLI image carries the building machine's CA bundle (Debian: ca-certificates).
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
.PHONY: image-cli
image-cli: bin/argocd-k8s-federate ## the CLI image, for the CLI in a pod (FROM scratch, with a CA bundle)
	@test -s $(CA_BUNDLE) || { echo "image-cli: no CA bundle at $(CA_BUNDLE): install ca-certificates or set CA_BUNDLE=FILE" >&2; exit 1; }
	cp $(CA_BUNDLE) bin/ca-certificates.crt
	DOCKER_BUILDKIT=0 docker build -f cli.Dockerfile -t argocd-k8s-federate:$(VERSION) .

# Tools are installed from the module proxy into the cache, keyed by version.
$(TOOLS)/staticcheck-$(STATICCHECK_VERSION):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/.staticcheck-$(STATICCHECK_VERSION) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/.staticcheck-$(STATICCHECK_VERSION)/staticcheck $@
$(TOOLS)/kustomize-$(KUSTOMIZE_VERSION):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/.kustomize-$(KUSTOMIZE_VERSION) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(TOOLS)/.kustomize-$(KUSTOMIZE_VERSION)/kustomize $@

.PHONY: clean
clean:
	rm -rf bin out

.PHONY: help
help:
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'
