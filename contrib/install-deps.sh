#!/bin/sh
# install-deps.sh PACKAGE...
#
# Installs the Debian packages that are not installed yet (apt-get update
# first, only when something is missing), and checks that a Go toolchain new
# enough for runc's libcontainer (1.25) is on PATH.
set -eu

missing=""
for pkg in "$@"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing Debian packages:$missing; run as root (or install them) first" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

if ! command -v go >/dev/null 2>&1; then
	echo "install-deps: no Go toolchain on PATH; berth needs Go >= 1.25 (e.g. under /usr/local/go)" >&2
	exit 1
fi
goversion=$(go env GOVERSION | sed 's/^go//')
major=${goversion%%.*}
minor=$(echo "$goversion" | cut -d. -f2)
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 25 ]; }; then
	echo "install-deps: Go $goversion is too old; berth needs Go >= 1.25" >&2
	exit 1
fi
