#!/bin/bash
# Prepares runc v1.5.2's own integration suite (bats) to run here, offline:
#
#   $WORK/runc-v1.5.2/tests/integration   the suite, copied from the module cache
#   $WORK/runc-v1.5.2/tests/cmd/_bin      its helper programs (recvtty, ...) and the subreaper of run.sh
#   $WORK/images/busybox.tar               busybox rootfs from Debian's busybox-static
#   $WORK/images/debian.tar                Debian minbase rootfs from debootstrap
#
# and the reference runc v1.5.2 in $RUNC_REF_DIR. Nothing of runc's is copied
# into the repository: the suite lives in the Go module cache (fetched through
# the Go module proxy like any module) and is copied into $WORK, which is under
# the repo's gitignored .cache/.
#
# Usage: prepare.sh   (environment: RUNC_SUITE_WORK, RUNC_REF_DIR, GO)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
WORK=${RUNC_SUITE_WORK:-$repo/.cache/runc-suite}
# Shared with bench/ (bench -cache default): one runc v1.5.2 per machine.
RUNC_REF_DIR=${RUNC_REF_DIR:-/var/cache/berth-bench/bin}
GO=${GO:-go}
export PATH=$PATH:/usr/local/go/bin

RUNC_MODULE=github.com/opencontainers/runc
RUNC_VERSION=v1.5.2
SUITE=$WORK/runc-$RUNC_VERSION
# The helper programs runc's Makefile builds for its tests (TESTBINS there).
HELPERS=(recvtty sd-helper seccompagent fs-idmap pidfd-kill remap-rootfs key_label)
DEBIAN_SUITE=${RUNC_SUITE_DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${RUNC_SUITE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "runc-suite: $*" >&2; }

# go, outside of berth's module: these are runc's modules, not berth's
# dependencies (GOFLAGS cleared so a caller's -mod=vendor etc. cannot leak in).
rgo() { (cd / && GOFLAGS= CGO_ENABLED=1 "$GO" "$@"); }

mkdir -p "$WORK/images"

# Not while run.sh runs the suite from $SUITE (run.sh takes the same lock).
exec 9>/run/lock/berth-runc-suite.lock
if ! flock -n 9; then
	log "a run of the suite is in progress; waiting for it"
	flock 9
fi

# 1. runc v1.5.2, built with seccomp as bench/setup.go builds it.
have=$("$RUNC_REF_DIR/runc" --version 2>/dev/null | head -n1 || true)
if [ "$have" != "runc version ${RUNC_VERSION#v}" ]; then
	log "installing runc $RUNC_VERSION into $RUNC_REF_DIR (go install)"
	mkdir -p "$RUNC_REF_DIR"
	GOBIN=$RUNC_REF_DIR rgo install -tags seccomp "$RUNC_MODULE@$RUNC_VERSION"
fi

# 2. The suite, copied afresh every time: tests write into their directory
# (compiled test programs, downloaded images), so each run starts pristine.
moddir=$(rgo mod download -json "$RUNC_MODULE@$RUNC_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$moddir/tests/integration" ] || { log "no tests/integration in $moddir"; exit 1; }
# Some tests reach outside tests/integration: ../../go.mod (spec.bats),
# ../../tests/cmd/seccompagent/gen-seccomp-example-cfg.sh (seccomp-notify).
rm -rf "$SUITE"
mkdir -p "$SUITE"
cp -r "$moddir/tests" "$moddir/go.mod" "$SUITE/"
chmod -R u+w "$SUITE"
# The module zip keeps no mode bits; the suite executes its scripts.
find "$SUITE/tests" -name '*.sh' -exec chmod +x {} +

# 3. Helper programs, built in module mode from the same module version
# (module zips have no vendor directory; go install pkg@version resolves
# runc's own go.mod/go.sum through the proxy). seccompagent needs the
# seccomp tag, as in runc's Makefile.
pkgs=()
for h in "${HELPERS[@]}"; do pkgs+=("$RUNC_MODULE/tests/cmd/$h@$RUNC_VERSION"); done
GOBIN=$SUITE/tests/cmd/_bin rgo install -tags seccomp "${pkgs[@]}"

# The subreaper each bats file runs under (see reaper/main.go), from this
# repository.
(cd "$repo" && GOFLAGS= CGO_ENABLED=0 "$GO" build -o "$SUITE/tests/cmd/_bin/reaper" ./tests/runc-suite/reaper)

# 4. busybox image, as a tar of a rootfs like the upstream busybox image:
# one static busybox with a hard link per applet, a few accounts, no /proc
# and no /sys directories. Rebuilt when Debian's busybox changes.
busybox=/bin/busybox
bb_tar=$WORK/images/busybox.tar
if [ ! -s "$bb_tar" ] || [ "$busybox" -nt "$bb_tar" ]; then
	log "building busybox image from $busybox"
	file -L "$busybox" | grep -q 'statically linked' || { log "$busybox is not static (apt-get install busybox-static)"; exit 1; }
	r=$(mktemp -d "$WORK/images/busybox.XXXXXX")
	chmod 755 "$r" # mktemp's 0700 would become the rootfs' / in the tar
	mkdir -p "$r"/{bin,dev,etc,home,root,tmp,var,usr/bin,usr/sbin,sbin}
	chmod 1777 "$r/tmp"
	chmod 700 "$r/root"
	cp "$busybox" "$r/bin/busybox"
	for a in $("$busybox" --list); do
		[ -e "$r/bin/$a" ] || ln "$r/bin/busybox" "$r/bin/$a"
	done
	# nobody/nogroup: cgroup_delegation.bats expects unmapped ids shown as nobody.
	cat >"$r/etc/passwd" <<-'PASSWD'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		sys:x:3:3:sys:/dev:/bin/false
		nobody:x:65534:65534:nobody:/home:/bin/false
	PASSWD
	cat >"$r/etc/group" <<-'GROUP'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		sys:x:3:
		adm:x:4:
		tty:x:5:
		users:x:100:
		nogroup:x:65534:
	GROUP
	tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$bb_tar.tmp" .
	mv "$bb_tar.tmp" "$bb_tar"
	rm -rf "$r"
fi

# 5. Debian rootfs for the few files that use setup_debian (hooks_so, idmap,
# ioprio, scheduler, mounts_propagation*, mounts_recursive): debootstrap
# minbase from Debian's mirror, cached as a plain tar (tar detects the lack
# of compression; extraction per test is then the cheapest possible).
deb_tar=$WORK/images/debian.tar
# Only when a file to run needs it (RUNC_SUITE_FILES as run.sh reads it):
# the CLI subset does not, and debootstrap is the slowest step on a clean
# clone.
need_debian=1
if [ -n "${RUNC_SUITE_FILES:-}" ]; then
	need_debian=0
	for f in ${RUNC_SUITE_FILES//,/ }; do
		grep -q setup_debian "$SUITE/tests/integration/${f%.bats}.bats" 2>/dev/null && need_debian=1
	done
fi
if [ ! -s "$deb_tar" ] && [ $need_debian = 1 ]; then
	command -v debootstrap >/dev/null || { log "debootstrap missing (apt-get install debootstrap)"; exit 1; }
	log "debootstrap --variant=minbase $DEBIAN_SUITE (first time only; cached in $deb_tar)"
	start=$(date +%s)
	r=$(mktemp -d "$WORK/images/debian.XXXXXX")
	chmod 755 "$r"
	if ! debootstrap --variant=minbase "$DEBIAN_SUITE" "$r" "$DEBIAN_MIRROR" >"$WORK/images/debootstrap.log" 2>&1; then
		log "debootstrap failed, see $WORK/images/debootstrap.log"
		umount -R "$r/proc" "$r/sys" 2>/dev/null || true
		rm -rf "$r"
		exit 1
	fi
	# Like the upstream image: no package cache, no apt lists, no /proc or
	# /sys contents (they are mount points in containers).
	rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
	tar --numeric-owner -C "$r" --exclude './proc/*' --exclude './sys/*' --exclude './dev/*' -cf "$deb_tar.tmp" .
	mv "$deb_tar.tmp" "$deb_tar"
	rm -rf "$r"
	log "debian image built in $(($(date +%s) - start)) s"
fi

# 6. Put the images where get-images.sh looks first (it downloads only what
# is missing). The names end in .tar.xz because get-images.sh says so; GNU
# tar recognises an uncompressed archive by its content.
arch=$(rgo env GOARCH)
ln -f "$bb_tar" "$SUITE/tests/integration/testdata/busybox-$arch.tar.xz"
if [ -s "$deb_tar" ]; then
	ln -f "$deb_tar" "$SUITE/tests/integration/testdata/debian-$arch.tar.xz"
else
	# helpers.bash has get-images.sh fetch every missing image, for every
	# test: an empty archive stands in for the Debian one no file here uses
	# (a test that did would fail on an empty rootfs).
	tar -cf "$SUITE/tests/integration/testdata/debian-$arch.tar.xz" -T /dev/null
	log "Debian image not needed by RUNC_SUITE_FILES: an empty stand-in"
fi
# get-images.sh prints the variables helpers.bash evals; it must not fetch.
(cd / && PATH=$PATH "$SUITE/tests/integration/get-images.sh") >/dev/null

log "suite ready in $SUITE"
