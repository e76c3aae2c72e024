#!/bin/sh
# bench/profile.sh [BERTH] [N]
#
# Where berth's CPU time goes, per container: samples N foreground runs of
# /bin/true (default 100) with perf (software clock: this VM has no hardware
# counters), and writes to $OUT (default /tmp/berth-profile):
#   inittrace.txt  package initialisation (GODEBUG=inittrace=1), which every
#                  berth process pays, the container's "berth init" included
#   processes.txt  CPU by process: the runtime, the container init
#                  ("runc:[2:INIT]"), nsexec's helper stages, per run
#   runtime.txt    heaviest functions of the runtime process, inclusive
#   init.txt       the same for the container init
#   kernel.txt     kernel symbols, self time
#   strace.txt     syscall counts of 10 runs (strace -c -f)
#   faults.txt     page faults and peak RSS of one state and one run (GNU time)
# Percentages in the perf reports are of all samples; N runs took
# (samples / 10000) seconds of CPU.
#
# Run as root from the repository after `make bench-quick` (it needs the
# bundle the benchmark writes, and makes it itself otherwise).
#
# Like the benchmark it runs in a private mount namespace with
# /sys/fs/cgroup/unified hidden and the state root on a tmpfs. It copies the
# binary to a directory of its own: the container init runs from an overlayfs
# whose lower layer is the binary's directory, and perf finds the init's
# symbols through --symfs pointing there.
set -eu

berth=${1:-bin/berth}
n=${2:-100}
out=${OUT:-/tmp/berth-profile}
bundle=/var/tmp/berth-bench/bundle-0
root=/run/berth-profile

if [ "${BERTH_PROFILE_INNER:-}" = "" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "profile.sh: run as root" >&2
		exit 1
	fi
	for tool in perf strace unshare /usr/bin/time; do
		command -v "$tool" >/dev/null || {
			echo "profile.sh: needs $tool (Debian: linux-perf, strace, util-linux, time)" >&2
			exit 1
		}
	done
	[ -f "$bundle/config.json" ] || go run ./bench -setup-only
	mkdir -p "$out/bin" "$root"
	cp "$berth" "$out/bin/berth"
	status=0
	BERTH_PROFILE_INNER=1 OUT="$out" unshare -m --propagation private "$0" "$out/bin/berth" "$n" || status=$?
	rmdir "$root" 2>/dev/null || true
	echo "profile.sh: results in $out"
	exit $status
fi

# Inside the private mount namespace from here on.
if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
	mount -t tmpfs -o mode=755 none /sys/fs/cgroup/unified
fi
mount -t tmpfs -o mode=700 tmpfs "$root"
cleanup() {
	for id in $("$berth" --root "$root" list -q 2>/dev/null); do
		"$berth" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	done
	umount -l "$root" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# runs BERTH ROOT BUNDLE PREFIX N: N foreground runs of the bundle.
loop='i=0; while [ $i -lt $5 ]; do "$1" --root "$2" run -b "$3" "$4-$i" </dev/null >/dev/null 2>&1 || echo "run failed" >&2; i=$((i + 1)); done'

{
	echo "== package initialisation of one berth process (GODEBUG=inittrace=1 berth state), slowest first"
	GODEBUG=inittrace=1 "$berth" --root "$root" state none 2>&1 | grep '^init ' |
		awk '{print; ms += $5; bytes += $8} END {printf "TOTAL %.2f ms clock, %d bytes, %d packages\n", ms, bytes, NR}' |
		sort -k5 -rn
} >"$out/inittrace.txt"

sh -c "$loop" loop "$berth" "$root" "$bundle" warm 3 # page cache
perf record -q -e cpu-clock -F 10000 -g -o "$out/run.data" -- sh -c "$loop" loop "$berth" "$root" "$bundle" p "$n" 2>/dev/null
report() {
	perf report -i "$out/run.data" -q "$@" 2>/dev/null
}
# The init's binary shows as "/berth" (the root of the sealing overlayfs).
initreport() {
	report --symfs "$(dirname "$berth")" --kallsyms /proc/kallsyms "$@"
}
echo "N=$n runs; 10000 samples = 1 s of CPU" >"$out/processes.txt"
report --no-children --sort comm -g none >>"$out/processes.txt"
report --children --comm berth --sort sym -g none --percent-limit 0.5 >"$out/runtime.txt"
initreport --children --comm 'runc:[2:INIT]' --sort sym -g none --percent-limit 0.5 >"$out/init.txt"
report --no-children --sort comm,sym -g none --percent-limit 0.3 | grep '\[k\]' >"$out/kernel.txt" || true

strace -f -c -o "$out/strace.txt" sh -c "$loop" loop "$berth" "$root" "$bundle" s 10

{
	echo "GNU time: %M peak RSS KiB, %R minor faults, %U user s, %S system s"
	/usr/bin/time -f "state: %M KiB, %R faults, %U+%S s" "$berth" --root "$root" state none 2>&1 | tail -1
	/usr/bin/time -f "run:   %M KiB, %R faults, %U+%S s" "$berth" --root "$root" run -b "$bundle" t-1 </dev/null 2>&1 >/dev/null | tail -1
} >"$out/faults.txt"
