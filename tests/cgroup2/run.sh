#!/bin/bash
# tests/cgroup2/run.sh: prove berth on a pure cgroup v2 hierarchy.
#
# Builds berth and the test binaries of tests/cgroup2, tests/integration and
# package runtime (its state/list equivalence test runs real containers) on
# this host, then boots ONE throw-away cgroup v2 VM
# (/work/shared/cg2vm/run-in-cgroup2-vm.sh) that runs the three suites with
# -test.v. Exits 0 only if all pass; otherwise with the first failing
# suite's status (124: the VM timed out, 125: the VM failed to boot).
#
# Environment:
#   CG2VM_TIMEOUT   seconds before the VM is killed (default 900)
#   CG2VM_SCRIPT    the VM runner (default ../shared/cg2vm/run-in-cgroup2-vm.sh
#                   beside the checkout, else /work/shared/cg2vm/...)
#   CG2_OUT         where the binaries go; must be on the host's disk, shared
#                   with the VM (default <repo>/.cache/cg2)
#   CG2_TEST_ARGS   extra flags for every test binary, e.g. "-test.run TestOOM"
#   GO              the go command (default go)
set -euo pipefail

# repo, vm (the VM runner, or exit 125), PATH and CG2VM_TIMEOUT.
. "$(dirname "${BASH_SOURCE[0]}")/vm.sh" 900
out=${CG2_OUT:-$repo/.cache/cg2}
GO=${GO:-go}

start=$(date +%s)
log() { echo "cg2: $*" >&2; }

log "building berth"
make -C "$repo" --no-print-directory build

# The binaries live in a directory of their own, shared with the VM. The
# tests keep their --root state dirs in the VM's /tmp, a sibling tree: a
# runtime binary in a directory above its state dirs would make
# libcontainer's exe sealing fall back to a slow memfd copy.
log "compiling the test binaries into $out"
rm -rf "$out"
mkdir -p "$out"
(cd "$repo" &&
	"$GO" test -c -tags seccomp -o "$out/cgroup2.test" ./tests/cgroup2/ &&
	"$GO" test -c -tags seccomp -o "$out/integration.test" ./tests/integration/ &&
	"$GO" test -c -tags seccomp -o "$out/runtime.test" ./runtime/)
cp "$repo/bin/berth" "$out/berth"
# The integration suite's NOTIFY_SOCKET test runs a small static program in
# its containers; there is no Go toolchain in the VM to build it.
(cd "$repo/tests/integration" && CGO_ENABLED=0 "$GO" build -o "$out/sdnotify" ./testdata/sdnotify)

# The guest sees the host's / read-only but gets a tmpfs of its own on /tmp,
# so a checkout under /tmp is not there: the suites run in a copy of the
# few repository files they use, inside the shared directory.
tree=$out/tree
mkdir -p "$tree/tests/cgroup2" "$tree/tests/integration" "$tree/runtime" "$tree/contrib/completions"
cp "$repo/contrib/completions/berth.bash" "$tree/contrib/completions/"

# The guest command. Each suite runs in its package dir of that copy (the
# integration suite finds contrib/completions/berth.bash from there;
# runtime's tests need only BERTH_BINARY and the host's /bin/busybox).
q() { printf '%q' "$1"; }
extra=${CG2_TEST_ARGS:-}
guest="set -u
echo \"cg2: kernel \$(uname -r), \$(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup, controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)\"
status=0
for suite in cgroup2 integration runtime; do
  echo \"cg2: === suite \$suite\"
  t0=\$(date +%s)
  dir=$(q "$tree")/tests/\$suite
  [ \$suite != runtime ] || dir=$(q "$tree")/runtime
  ( cd \"\$dir\" && $(q "$out")/\$suite.test -test.v -test.timeout 12m $extra )
  rc=\$?
  echo \"cg2: === suite \$suite: exit \$rc after \$((\$(date +%s) - t0))s\"
  [ \$status -ne 0 ] || status=\$rc
done
exit \$status"

log "booting the cgroup v2 VM (timeout ${CG2VM_TIMEOUT}s)"
rc=0
BERTH_BINARY=$out/berth BERTH_SDNOTIFY=$out/sdnotify CG2VM_PASSENV="BERTH_BINARY BERTH_SDNOTIFY${CG2VM_PASSENV:+ $CG2VM_PASSENV}" \
	bash "$vm" "$guest" "$out" || rc=$?

case $rc in
	0) log "PASS: every suite passed on cgroup v2 ($(($(date +%s) - start))s in all)" ;;
	124) log "FAIL: the VM timed out after ${CG2VM_TIMEOUT}s" ;;
	125) log "FAIL: the VM did not boot or report a status" ;;
	*) log "FAIL: exit $rc ($(($(date +%s) - start))s in all)" ;;
esac
exit $rc
