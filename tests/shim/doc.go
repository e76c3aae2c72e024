// Package shim tests berth's native containerd shim
// (containerd-shim-berth-v2 and its daemon berth-shim, runtime type
// io.containerd.berth.v2) under real containerd daemons: Debian's
// containerd 1.6 (task API v2) and containerd 2.4.2 built from the Go module
// proxy by tests/shim/containerd2.sh into <repo>/.cache (task API v3,
// bootstrap protocol), with ctr and with the CRI plugin through crictl.
//
// Each suite runs a private containerd (its own root, state, sockets and
// namespace under a temp dir; tests/testkit's Containerd, which tests/e2e
// uses too) and checks at its end, failed or not, with tests/testkit's leak
// checker, that no shim, container process, mount, cgroup, berth or
// containerd task state or shim socket is left; whatever is left is
// removed.
//
// Settings (environment):
//
//	BERTH_SHIM         the shim under test (default <repo>/bin/containerd-shim-berth-v2;
//	                   its daemon berth-shim is beside it)
//	CONTAINERD2_BIN    directory with containerd 2.x's containerd and ctr
//	                   (default: built by tests/shim/containerd2.sh)
//	CI=true            a missing tool fails instead of skipping
//	CRICTL             crictl (default: PATH, then <repo>/.cache/tools/crictl)
//	SHIM_KEEP=1        keep the temp dirs of failed suites
package shim
