# tests/cgroup2/vm.sh: sourced by the scripts that run suites in the
# throw-away cgroup v2 VM (tests/cgroup2/run.sh, tests/shim/cgroup2.sh):
# `. tests/cgroup2/vm.sh DEFAULT_TIMEOUT`.
#
# Sets repo (the checkout) and vm (the VM runner: $CG2VM_SCRIPT, else
# ../shared/cg2vm/run-in-cgroup2-vm.sh beside the checkout, where CI lays a
# copy, else /work/shared/cg2vm/...) and exits 125 when there is none; puts
# Go on PATH and exports CG2VM_TIMEOUT (default: the argument).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
vm=${CG2VM_SCRIPT:-}
if [ -z "$vm" ]; then
	for cand in "$repo/../shared/cg2vm/run-in-cgroup2-vm.sh" /work/shared/cg2vm/run-in-cgroup2-vm.sh; do
		[ -e "$cand" ] && { vm=$cand; break; }
	done
fi
if [ -z "$vm" ] || [ ! -e "$vm" ]; then
	echo "$(basename "$0"): VM runner not found: no ../shared/cg2vm/run-in-cgroup2-vm.sh beside the checkout (set CG2VM_SCRIPT)" >&2
	exit 125
fi
export PATH=$PATH:/usr/local/go/bin
export CG2VM_TIMEOUT=${CG2VM_TIMEOUT:-$1}
