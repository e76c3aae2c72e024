// Package e2e runs berth under the real container engines that drive runc:
// containerd (through its runc v2 shim, with ctr and with the CRI plugin and
// crictl) and podman (through conmon).
//
// The engines are never handed berth itself: every suite hands them a small
// generated shell wrapper that appends its argv to a log and then execs berth,
// and every suite ends by asserting that each runc command-line form the
// engine is known to use was actually seen in that log. So a test that
// silently ran some other runtime fails.
//
// Each engine is private to the test run: its own config, root, state and
// socket under a temp dir, started and stopped by the suite, and each suite
// checks at its end that no process, mount, cgroup or state dir leaked.
//
// The images are built at test time from the host's static busybox; nothing
// is downloaded. tests/e2e/install-deps.sh installs the engines on Debian 12.
//
// Settings (environment):
//
//	BERTH_BINARY     runtime under test (default <repo>/bin/berth); any runc
//	                 works too, e.g. /usr/sbin/runc
//	CI=true          a missing engine or tool fails the suite instead of
//	                 skipping it
//	E2E_KEEP=1       keep the temp dirs of failed suites for inspection
//	CRICTL           path of crictl (default: PATH, then <repo>/.cache/tools)
package e2e
