# berth: build, test, demo and install.
#
#   make demo      install build dependencies, build, run a busybox container
#   make test      install test dependencies, build, run unit and integration tests
#   make build     build bin/berth (and bin/berth-image, bin/containerd-shim-berth-v2, bin/berth-shim)
#   make install   install them to $(PREFIX)/bin (PREFIX=/usr/local)

PREFIX  ?= /usr/local
GO      ?= go
VERSION ?= $(shell cat VERSION 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
# urfave_cli_no_docs drops urfave/cli's man-page generator (and its markdown
# parser), whose package init would run in every berth and every "berth init".
# berth is linked statically (libseccomp and libc included, pure-Go user and
# network lookups): no dynamic loader work in every berth and "berth init".
TAGS    := seccomp urfave_cli_no_docs netgo osusergo
# bin/berth is the runtime; the image commands (pull, images, rmi, gc,
# bundle) are bin/berth-image, a program of their own that bin/berth hands
# them on to. Their registry client and decompressors would otherwise cost
# every berth command and every container init about 0.5 ms and 3 MB (see
# BENCHMARKS.md).
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -extldflags -static
# Integration tests run real containers and take a few minutes at most.
TEST_TIMEOUT ?= 20m

# Go is installed under /usr/local/go on our machines; find it there too.
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 1

# Debian packages: the build needs gcc and libseccomp; the tests need a static
# busybox for the container rootfs and jq for the bundle maker.
BUILD_DEPS := gcc libc6-dev libseccomp-dev pkg-config jq busybox-static
TEST_DEPS  := $(BUILD_DEPS)

.PHONY: all build deps test-deps test test-shim test-shim-cgroup2 shim-inittrace test-runc-suite test-cgroup2 fuzz robustness bench bench-quick bench-containerd bench-profile unit integration e2e test-image conformance conformance-check demo install clean

all: build

build:
	$(GO) build -tags "$(TAGS)" -trimpath -ldflags "$(LDFLAGS)" -o bin/berth ./cmd/berth
	$(GO) build -tags "$(TAGS)" -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-image ./cmd/berth-image
	$(GO) build -tags "$(TAGS)" -trimpath -ldflags "$(LDFLAGS)" -o bin/containerd-shim-berth-v2 ./cmd/containerd-shim-berth-v2
	$(GO) build -tags "$(TAGS)" -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-shim ./cmd/berth-shim

# Installs only what is missing, so it is quick when nothing is.
deps:
	@contrib/install-deps.sh $(BUILD_DEPS)

# The end-to-end suites also need containerd, podman (conmon) and crictl.
test-deps:
	@contrib/install-deps.sh $(TEST_DEPS)
	@tests/e2e/install-deps.sh

test: test-deps build
	$(GO) vet -tags "$(TAGS)" ./...
	# containerd 2.4.2 for tests/shim, built once per clone before the
	# suites run (about 3.5 minutes of both cores the first time).
	tests/shim/containerd2.sh >/dev/null
	$(GO) test -tags "$(TAGS)" -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s
	tests/conformance/conformance.sh check
	CG2VM_TIMEOUT=$(CG2VM_TIMEOUT) tests/cgroup2/run.sh
	tests/shim/cgroup2.sh
	$(MAKE) --no-print-directory test-runc-suite
	$(MAKE) --no-print-directory bench-quick

# Go fuzz targets for everything berth parses from its callers: config.json,
# process.json, state files, signals, ids, sizes, --cgroup values.
FUZZTIME ?= 10s
FUZZ_TARGETS := linux:FuzzLoadAndValidate linux:FuzzValidateProcess linux:FuzzValidateID \
	cmd/berth:FuzzParseSignal cmd/berth:FuzzSubCgroups cmd/berth:FuzzParseBytes \
	runtime:FuzzExecProcessFile runtime:FuzzLoadState state:FuzzReadRecord \
	shim:FuzzDecodeRequest shim/lite:FuzzStartInput
fuzz:
	GO=$(GO) TAGS="$(TAGS)" tests/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

# Crashes, races, corrupt state, escapes, limits, rootless (also in `test`).
robustness: build
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 10m -v ./tests/robustness/

# Pure cgroup v2: tests/cgroup2 and tests/integration inside a throw-away
# cgroup v2 VM (../shared/cg2vm; it installs qemu on first use).
CG2VM_TIMEOUT ?= 900
test-cgroup2: deps
	CG2VM_TIMEOUT=$(CG2VM_TIMEOUT) tests/cgroup2/run.sh

unit:
	$(GO) test -tags "$(TAGS)" -count=1 ./linux/ ./state/ ./hooks/ ./runtime/ ./image/... ./cmd/... ./shim/

integration: build
	$(GO) test -tags "$(TAGS)" -count=1 -timeout $(TEST_TIMEOUT) -v ./tests/integration/

e2e: test-deps build
	$(GO) test -tags "$(TAGS)" -count=1 -timeout $(TEST_TIMEOUT) -v ./tests/e2e/

# The native containerd shim (bin/containerd-shim-berth-v2 and its daemon
# bin/berth-shim) under Debian's containerd 1.6 and containerd 2.4.2, with
# ctr and crictl. containerd 2.4.2 is built once from the Go module proxy
# into .cache/ (about 3.5 minutes; the tests run tests/shim/containerd2.sh
# themselves when it is missing, so `make test` builds it at most once per
# clone).
test-shim: test-deps build
	tests/shim/containerd2.sh >/dev/null
	$(GO) test -tags "$(TAGS)" -count=1 -timeout $(TEST_TIMEOUT) -v ./tests/shim/

# The shim's ctr lifecycle and OOM tests on pure cgroup v2, in the
# throw-away VM of tests/cgroup2 (also in `test`; about 3 minutes).
test-shim-cgroup2: test-deps
	CG2VM_TIMEOUT=$(CG2VM_TIMEOUT) tests/shim/cgroup2.sh

# The package init functions that run in every container init and exec the
# shim starts (the shim daemon, bin/berth-shim, is libcontainer's "init").
shim-inittrace: build
	@GODEBUG=inittrace=1 bin/berth-shim init 2>&1 | grep '^init' || true

# pull, images, rmi, gc, bundle and run --image against two private
# registries on 127.0.0.1 (Debian's docker-registry, one with token auth)
# that the tests start, with images they build and push themselves.
test-image: build
	BERTH_BINARY=$(CURDIR)/bin/berth $(GO) test -count=1 -v ./tests/image/

# runc v1.5.2's own integration suite (bats, from the Go module cache) against
# bin/berth, compared with what runc 1.5.2 itself does on this machine
# (tests/runc-suite/README.md). RUNTIME=/path runs another runtime
# (RUNTIME=reference: runc v1.5.2); RUNC_SUITE_FILES="exec kill ..." a subset.
RUNC_SUITE_DEPS := $(BUILD_DEPS) bats gawk debootstrap criu iproute2 procps bsdutils util-linux
test-runc-suite: build
	@contrib/install-deps.sh $(RUNC_SUITE_DEPS)
	RUNC_SUITE_FILES="$(RUNC_SUITE_FILES)" tests/runc-suite/prepare.sh
	RUNTIME="$(or $(RUNTIME),$(CURDIR)/bin/berth)" RUNC_SUITE_FILES="$(RUNC_SUITE_FILES)" tests/runc-suite/run.sh

# The OCI runtime-tools validation suite against berth, runc and crun;
# writes docs/conformance.md. conformance-check fails when a program that
# passed in tests/conformance/baseline.txt fails now.
conformance: deps build
	tests/conformance/conformance.sh all

conformance-check: deps build
	tests/conformance/conformance.sh check

# Benchmarks (as root): berth against runc 1.5.2, Debian's runc and crun,
# interleaved A/B in both orders, and berth's containerd shim against the
# runc v2 shim (bench/containerd.go); results in BENCHMARKS.md and
# bench/results. bench-quick (part of `make test`) runs a few pairs of each.
bench: deps build
	$(GO) run ./bench

bench-quick: deps build
	$(GO) run ./bench -quick

# Only the containerd scenarios (issue #14, about 5 minutes): berth's shim
# against the runc v2 shim with runc 1.5.2, crun and berth, under a private
# containerd 1.6; rewrites their own section of BENCHMARKS.md.
bench-containerd: deps build
	$(GO) run ./bench -scenarios containerd

bench-profile: build
	bench/profile.sh bin/berth

demo: deps build
	@contrib/demo.sh bin/berth

install: build
	install -D -m 0755 bin/berth $(DESTDIR)$(PREFIX)/bin/berth
	install -D -m 0755 bin/berth-image $(DESTDIR)$(PREFIX)/bin/berth-image
	install -D -m 0755 bin/containerd-shim-berth-v2 $(DESTDIR)$(PREFIX)/bin/containerd-shim-berth-v2
	install -D -m 0755 bin/berth-shim $(DESTDIR)$(PREFIX)/bin/berth-shim

clean:
	rm -rf bin
