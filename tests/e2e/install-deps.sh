#!/bin/sh
# tests/e2e/install-deps.sh: installs what `go test ./tests/e2e/` needs on
# Debian 12, idempotently (only what is missing). Run as root; CI runs it
# before the tests.
#
#   Debian: containerd (with ctr and containerd-shim-runc-v2), podman,
#           conmon, crun, uidmap, slirp4netns, fuse-overlayfs, jq,
#           busybox-static (the images are built from /bin/busybox)
#   Go:     crictl (sigs.k8s.io/cri-tools) into <repo>/.cache/tools, where
#           the CRI suite looks for it (or set CRICTL=/path/to/crictl)
set -eu

CRICTL_VERSION=${CRICTL_VERSION:-v1.37.0}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tools="$repo/.cache/tools"
export PATH="$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin"

# docker-registry: the private registries of tests/image (make test-image).
# The tests start private daemons of their own; a system containerd or
# podman service that the packages may start is not used.
sh "$repo/contrib/install-deps.sh" containerd podman conmon crun uidmap slirp4netns fuse-overlayfs jq busybox-static docker-registry

# Debian's docker-registry package enables a service listening on :5000 on
# every interface; the tests start their own on 127.0.0.1 and leave no
# registry reachable from outside, so the system one is turned off where
# systemd runs it.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
fi

have_crictl() {
	for c in "${CRICTL:-}" "$tools/crictl" "$(command -v crictl 2>/dev/null || true)"; do
		[ -n "$c" ] && [ -x "$c" ] || continue
		# Any crictl on PATH will do; ours must be the pinned version
		# (`go install` leaves `crictl --version` "unknown": ask go).
		if [ "$c" != "$tools/crictl" ] || go version -m "$c" 2>/dev/null | grep -q "sigs.k8s.io/cri-tools[[:space:]]*$CRICTL_VERSION"; then
			echo "e2e install-deps: crictl: $c"
			return 0
		fi
	done
	return 1
}
if ! have_crictl; then
	if ! command -v go >/dev/null 2>&1; then
		echo "e2e install-deps: no Go toolchain on PATH to build crictl" >&2
		exit 1
	fi
	echo "e2e install-deps: building crictl $CRICTL_VERSION into $tools"
	mkdir -p "$tools"
	# Outside the berth module, so that its go.mod is neither used nor changed.
	(cd / && GOFLAGS= GOBIN="$tools" go install "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION")
	go version -m "$tools/crictl" | grep "mod[[:space:]]*sigs.k8s.io/cri-tools"
fi
