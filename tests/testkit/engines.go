package testkit

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tools of the suites that run container engines (tests/e2e,
// tests/shim): what they need from the machine, their work directory,
// and the processes of their containers seen from the host.

// CI reports whether the tests run under CI=true, where a missing tool
// is a failure, not a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing reports a tool the machine lacks: t skips, or under CI=true
// (where CI installs every tool) fails.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal("CI=true: " + msg)
	}
	t.Skip(msg)
}

// AddSystemPath puts the usual sbin and bin directories on the test
// binary's PATH, even in a minimal CI environment: engines look up their
// shims, conmon and runtimes there.
func AddSystemPath() {
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !strings.Contains(":"+os.Getenv("PATH")+":", ":"+d+":") {
			os.Setenv("PATH", os.Getenv("PATH")+":"+d)
		}
	}
}

// RemoveWorkDir removes a suite's work directory, mounts below it first,
// unless keep is set and it holds anything but the images (what a failed
// suite kept for inspection): then it is kept and kept is true.
func RemoveWorkDir(dir string, keep bool) (kept bool, err error) {
	if keep {
		ents, _ := os.ReadDir(dir) // unreadable: nothing kept
		for _, e := range ents {
			kept = kept || e.Name() != "images"
		}
	}
	if kept {
		return true, nil
	}
	return false, errors.Join(UnmountUnder(dir), os.RemoveAll(dir))
}

// PidOf is the pid of a live process whose arguments, joined by spaces,
// are argv, or 0.
func PidOf(argv string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && commandLine(pid) == argv && Alive(pid) {
			return pid
		}
	}
	return 0
}

// WaitPidOf waits at most timeout until a process runs argv (see PidOf)
// and returns its pid.
func WaitPidOf(argv string, timeout time.Duration) (int, error) {
	var pid int
	err := PollEvery(timeout, 100*time.Millisecond, func() error {
		if pid = PidOf(argv); pid == 0 {
			return fmt.Errorf("no process %q", argv)
		}
		return nil
	})
	return pid, err
}

// WaitNoPidOf waits at most timeout until no process runs argv.
func WaitNoPidOf(argv string, timeout time.Duration) error {
	return PollEvery(timeout, 100*time.Millisecond, func() error {
		if pid := PidOf(argv); pid != 0 {
			return fmt.Errorf("process %d %q still runs", pid, argv)
		}
		return nil
	})
}
