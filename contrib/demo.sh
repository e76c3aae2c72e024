#!/bin/sh
# demo.sh BERTH
#
# Makes a busybox bundle in a temporary directory and runs one container with
# berth that prints its hostname, its view of the pid namespace and its
# cgroup; then removes everything it made.
set -eu

berth=$(realpath "${1:?usage: demo.sh path/to/berth}")
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

here=$(dirname "$0")
BERTH=$berth "$here/mkbundle.sh" "$work/bundle" sh -c '
echo "hostname:   $(hostname)"
echo "processes:"; ps
echo "cgroup:";    cat /proc/self/cgroup'

echo "berth: $("$berth" --version | head -n 1)"
echo "running a busybox container (bundle $work/bundle)"
"$berth" --root "$work/state" run --bundle "$work/bundle" "demo-$$"
echo "container exited and was deleted: $(ls "$work/state" | wc -l) entries left under its --root"
