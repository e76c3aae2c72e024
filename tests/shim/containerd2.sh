#!/bin/sh
# tests/shim/containerd2.sh: builds containerd CONTAINERD2_VERSION (default
# v2.4.2) from the Go module proxy into <repo>/.cache/containerd-<version>/bin
# (containerd, ctr, containerd-shim-runc-v2) and prints that directory. It
# builds once: a later call finds the binaries (checked with `go version -m`)
# and returns at once; a lock makes concurrent calls wait for one build.
# About 3.5 minutes of 2 cores. Outside the berth module, so that berth's
# go.mod is neither read nor changed.
set -eu

version=${CONTAINERD2_VERSION:-v2.4.2}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir="$repo/.cache/containerd-$version"
bin="$dir/bin"
export PATH="$PATH:/usr/local/go/bin"

built() {
	for b in containerd ctr containerd-shim-runc-v2; do
		[ -x "$bin/$b" ] || return 1
		go version -m "$bin/$b" 2>/dev/null | grep -q "mod[[:space:]]*github.com/containerd/containerd/v2[[:space:]]*$version" || return 1
	done
}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if ! built; then
	echo "containerd2: building containerd $version into $bin (about 3.5 minutes)" >&2
	rm -rf "$bin.tmp"
	mkdir -p "$bin.tmp"
	(cd / && GOFLAGS=-trimpath GOBIN="$bin.tmp" CGO_ENABLED=0 go install -tags "no_btrfs no_devmapper no_zfs" \
		"github.com/containerd/containerd/v2/cmd/containerd@$version" \
		"github.com/containerd/containerd/v2/cmd/ctr@$version" \
		"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$version") >&2
	rm -rf "$bin"
	mv "$bin.tmp" "$bin"
fi
echo "$bin"
