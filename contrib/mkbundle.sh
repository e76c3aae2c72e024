#!/bin/sh
# mkbundle.sh DIR [ARGS...]
#
# Makes an OCI bundle in DIR: a busybox root filesystem in DIR/rootfs, built
# from the host's statically linked busybox (Debian: busybox-static), and a
# config.json written by `berth spec` (or runc spec if BERTH is not set),
# with process.terminal false and, when ARGS are given, process.args = ARGS.
#
# Environment:
#   BERTH    the berth binary used for `spec` (default: berth on PATH)
#   BUSYBOX  the static busybox to copy (default: /bin/busybox)
# Needs jq.
set -eu

dir=${1:?usage: mkbundle.sh DIR [ARGS...]}
shift
berth=${BERTH:-berth}
busybox=${BUSYBOX:-/bin/busybox}

if ! file_out=$(LC_ALL=C readelf -d "$busybox" 2>&1) || printf '%s' "$file_out" | grep -q NEEDED; then
	echo "mkbundle.sh: $busybox is missing or not statically linked; install busybox-static" >&2
	exit 1
fi

mkdir -p "$dir/rootfs"
cd "$dir/rootfs"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root run var/tmp
chmod 1777 tmp var/tmp
cp "$busybox" bin/busybox
for applet in $(bin/busybox --list-full); do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$(dirname "$applet")"
	ln -sf /bin/busybox "$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\nnobody:x:65534:\n' > etc/group
cd ..

rm -f config.json
"$berth" spec
# Scripted use: no terminal. Optional ARGS replace the default sh.
if [ $# -gt 0 ]; then
	jq --args '.process.terminal = false | .process.args = $ARGS.positional' -- "$@" \
		< config.json > config.json.new
else
	jq '.process.terminal = false' < config.json > config.json.new
fi
mv config.json.new config.json
