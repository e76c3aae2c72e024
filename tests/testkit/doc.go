// Package testkit holds the tools that berth's test suites (tests/...) and
// its benchmark (bench/) share: running berth and other commands, making
// and editing busybox bundles, finding and removing what a test left on the
// host (state dirs, cgroups, mounts, processes), parsing mountinfo, the
// private docker-registry with its token server, and for the suites that
// drive container engines (tests/e2e, tests/shim): a private containerd
// with ctr and crictl and the checks both make through them, the CRI
// config, the busybox images they import, and a terminal to run a client
// on.
//
// The suites keep their own worlds (a black-box CLI suite, a crash and race
// suite, a cgroup v2 VM suite, an image suite with registries, container
// engines as clients); they only share these tools. The package holds no
// mutable state of its own: what a suite needs across its tests (the berth
// binary, a base bundle, an id counter) lives in the suite.
//
// What bench/, which has no testing.T, uses returns errors; only the
// helpers of tests alone (Gate, Bundle) take a testing.TB.
//
// It lives outside tests/internal so that bench/ can import it too.
package testkit
