# ocisuite: engine, builder, transport.
GO        ?= go
BUILDTAGS ?= exclude_graphdriver_btrfs
PREFIX    ?= /usr/local
MODULES   := config shared engine builder transport test
BINARIES  := engine builder transport
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/ocisuite/suite/shared/cli.Version=$(VERSION)
GOBUILD   := $(GO) build -tags "$(BUILDTAGS)" -ldflags "$(LDFLAGS)"
# The e2e suite runs the binaries in bin/.
export SUITE_BIN_DIR := $(CURDIR)/bin

.PHONY: all build install deps deps-test test test-unit test-e2e bench corpus-compare lint docs tidy clean

all: build

build: $(addprefix bin/,$(BINARIES)) bin/engine-full

bin/%: FORCE
	$(GOBUILD) -o $@ ./$*/cmd/$*

# bin/engine is the thin engine: the container commands scripts run most,
# without containers/image's copy code, CRIU or buildkit linked in; it
# hands every other command to bin/engine-full, the whole engine. It is
# linked statically: a run starts it twice (the command, and conmon's exit
# command), each time without loading libc first. Its user lookups load
# the NSS modules of the glibc it was linked with (ld's warning about that
# is silenced): build it on the system it runs on, as make install does.
THIN_LDFLAGS := $(LDFLAGS) -linkmode external -extldflags "-static -Wl,--no-warnings"
bin/engine: FORCE
	$(GO) build -tags "$(BUILDTAGS) thin" -ldflags '$(THIN_LDFLAGS)' -o $@ ./engine/cmd/engine

bin/engine-full: FORCE
	$(GOBUILD) -o $@ ./engine/cmd/engine

FORCE:

# Runtime dependencies (Debian 12 packages), then the binaries.
install: deps build
	install -m 0755 $(addprefix bin/,$(BINARIES)) bin/engine-full $(DESTDIR)$(PREFIX)/bin/

deps:
	hack/install-deps runtime

deps-test:
	hack/install-deps test

# Unit tests of every module, then the end-to-end tests through bin/*.
test: deps-test build test-unit test-e2e

test-unit:
	@set -e; for m in config shared engine builder transport; do \
		echo "== unit tests: $$m"; \
		(cd $$m && $(GO) test -tags "$(BUILDTAGS)" -count=1 ./...); \
	done

test-e2e:
	cd test && $(GO) test -tags "$(BUILDTAGS)" -count=1 -timeout 25m ./...

bench: deps-test bin/transport bin/engine bin/engine-full bin/builder
	cd test && $(GO) run -tags "$(BUILDTAGS)" ./bench $(BENCHFLAGS)

# Builds every Containerfile of the builder's e2e corpus with bin/builder
# and with buildah (when installed) and reports where they differ.
corpus-compare: bin/builder bin/engine
	cd test && OCISUITE_COMPARE_BUILDAH=1 $(GO) test -tags "$(BUILDTAGS)" -count=1 -timeout 30m -v -run 'TestBuilderCorpusVsBuildah' ./e2e/

lint:
	hack/lint

docs: build
	for b in $(BINARIES); do bin/$$b generate-docs docs; done

tidy:
	hack/tidy

clean:
	rm -rf bin
