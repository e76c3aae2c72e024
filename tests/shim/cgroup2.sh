#!/bin/bash
# tests/shim/cgroup2.sh: the shim on a pure cgroup v2 hierarchy. Compiles
# tests/shim on this host and runs its ctr lifecycle (v2 metrics, freezer,
# kill --all) and OOM-event tests on containerd 1.6 and 2.4.2 inside one
# throw-away cgroup v2 VM (../shared/cg2vm, as tests/cgroup2/run.sh does).
# The VM sees this host's / (read-only, under a tmpfs), so containerd, the
# shim, crictl and busybox are the host's. About 3 minutes (the VM emulates
# its CPU).
#
# Environment: CG2VM_TIMEOUT (default 1200), CG2VM_SCRIPT (the VM runner),
# SHIM_CG2_RUN (the -test.run pattern).
set -euo pipefail

# repo, vm (the VM runner, or exit 125), PATH and CG2VM_TIMEOUT.
. "$(dirname "${BASH_SOURCE[0]}")/../cgroup2/vm.sh" 1200
run=${SHIM_CG2_RUN:-TestCtr|TestNode/containerd-[0-9.]+/OOM}

make -C "$repo" --no-print-directory build
c2=$("$repo/tests/shim/containerd2.sh")
out="$repo/.cache/shim-cg2"
rm -rf "$out"
mkdir -p "$out"
(cd "$repo" && go test -c -tags "seccomp urfave_cli_no_docs netgo osusergo" -o "$out/shim.test" ./tests/shim/)

# The VM sees the host's / but mounts its own tmpfs on /tmp, so a checkout
# under /tmp is not there: the suite runs in a copy of what it uses of the
# repository (the binaries, contrib/containerd, containerd 2.x), inside the
# shared directory. The test binary finds that tree from its working
# directory.
tree=$out/tree
mkdir -p "$tree/bin" "$tree/contrib" "$tree/tests/shim"
cp "$repo/bin/berth" "$repo/bin/containerd-shim-berth-v2" "$repo/bin/berth-shim" "$tree/bin/"
cp -r "$repo/contrib/containerd" "$tree/contrib/"
cp -al "$c2" "$out/containerd2" 2>/dev/null || cp -a "$c2" "$out/containerd2"
[ -x "$repo/.cache/tools/crictl" ] && { mkdir -p "$tree/.cache/tools"; cp "$repo/.cache/tools/crictl" "$tree/.cache/tools/"; }

"$vm" "cd '$tree/tests/shim' && CI='${CI:-}' BERTH_SHIM='$tree/bin/containerd-shim-berth-v2' CONTAINERD2_BIN='$out/containerd2' \
	'$out/shim.test' -test.v -test.timeout 20m -test.run '$run' 2>&1 | grep -v '^        time='; exit \${PIPESTATUS[0]}" "$out"
