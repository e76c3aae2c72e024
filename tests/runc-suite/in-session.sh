#!/bin/bash
# Runs one bats file for run.sh. script(1) starts it as the leader of a new
# session whose controlling terminal is a pty: the suite's foreground
# `runc run` of a terminal: true container opens /dev/tty, as it can under
# runc's own CI (docker run -t). Its pid is the session id, by which run.sh
# later finds (and kills) every process the file left behind.
#
# Environment (set by run.sh): RS_REAPER, RS_SIDFILE, RS_CGROUPS (cgroup directories to
# join, one per hierarchy), RS_BATS_FILE, RS_RAW, RS_FILTER (a bats --filter,
# to resume a file after a hung test; empty: the whole file).
set -eu

echo $$ >"$RS_SIDFILE"
# Join the file's own cgroups, so that containers with a relative (default)
# cgroup path are created below them and anything left over is found there.
for cg in $RS_CGROUPS; do
	echo $$ >"$cg/cgroup.procs"
done
# -F cat is bats' raw stream: TAP plus "begin N name" before each test, which
# tells which test was running when a file is killed; -T adds durations.
filter=()
[ -n "${RS_FILTER:-}" ] && filter=(--filter "$RS_FILTER")
# bats runs under the suite's subreaper (reaper/main.go), which reaps the
# containers' orphaned inits at once, as a host's systemd does; this
# machine's pid 1 reaps them late.
exec "$RS_REAPER" bats -T -F cat "${filter[@]}" "$RS_BATS_FILE" >"$RS_RAW" 2>&1
