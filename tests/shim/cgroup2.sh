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

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
vm=${CG2VM_SCRIPT:-}
if [ -z "$vm" ]; then
	for cand in "$repo/../shared/cg2vm/run-in-cgroup2-vm.sh" /work/shared/cg2vm/run-in-cgroup2-vm.sh; do
		[ -e "$cand" ] && { vm=$cand; break; }
	done
fi
[ -n "$vm" ] && [ -e "$vm" ] || { echo "shim cgroup2: VM runner not found (set CG2VM_SCRIPT)" >&2; exit 125; }
export PATH=$PATH:/usr/local/go/bin
export CG2VM_TIMEOUT=${CG2VM_TIMEOUT:-1200}
run=${SHIM_CG2_RUN:-TestCtr|TestNode/containerd-[0-9.]+/OOM}

make -C "$repo" --no-print-directory build
c2=$("$repo/tests/shim/containerd2.sh")
out="$repo/.cache/shim-cg2"
rm -rf "$out"
mkdir -p "$out"
(cd "$repo" && go test -c -tags "seccomp urfave_cli_no_docs netgo osusergo" -o "$out/shim.test" ./tests/shim/)

# The test binary finds the repository from its working directory.
"$vm" "cd '$repo/tests/shim' && CI='${CI:-}' BERTH_SHIM='$repo/bin/containerd-shim-berth-v2' CONTAINERD2_BIN='$c2' \
	'$out/shim.test' -test.v -test.timeout 20m -test.run '$run' 2>&1 | grep -v '^        time='; exit \${PIPESTATUS[0]}" "$out"
