// Package cgroup2 proves berth's resource control on a pure cgroup v2
// (unified) hierarchy. Its tests exec the berth binary named by
// $BERTH_BINARY (default: bin/berth at the repository root), create busybox
// containers with an explicit linux.cgroupsPath and check, from outside the
// container, the files of the container's cgroup under /sys/fs/cgroup, and
// from inside it the device rules, the cgroup namespace and OOM kills.
//
// The tests need root and /sys/fs/cgroup to be cgroup2 (statfs magic
// CGROUP2_SUPER_MAGIC); elsewhere, e.g. on a cgroup v1 or hybrid host, each
// test skips and says why. tests/cgroup2/run.sh builds everything on the
// host and runs this package and tests/integration in a throw-away cgroup v2
// VM:
//
//	tests/cgroup2/run.sh            # or: make test-cgroup2
package cgroup2
