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

// WorkDir makes a suite's work directory, /tmp/<prefix>XXXX (short: unix
// socket paths below it must stay under 108 bytes), unless the gate is
// closed already; a failure closes it. "": none.
func (g *Gate) WorkDir(prefix string) string {
	if g.Skip != "" || g.Fail != "" {
		return ""
	}
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		g.Fail = "making the work dir: " + err.Error()
	}
	return dir
}

// RemoveWorkDir removes a suite's work directory (none: "") at the end of
// its TestMain, mounts below it first, unless keep is set and it holds anything
// but the images (what failed tests kept for inspection). It says on
// stderr, naming the suite, that it kept it or why it could not remove it.
func RemoveWorkDir(suite, dir string, keep bool) {
	if dir == "" {
		return
	}
	kept := false
	if keep {
		ents, _ := os.ReadDir(dir) // unreadable: nothing kept
		for _, e := range ents {
			kept = kept || e.Name() != "images"
		}
	}
	if kept {
		fmt.Fprintln(os.Stderr, suite+": kept", dir)
	} else if err := errors.Join(UnmountUnder(dir), os.RemoveAll(dir)); err != nil {
		fmt.Fprintln(os.Stderr, suite+":", err)
	}
}

// Args are the arguments of process pid (none once it is gone).
func Args(pid int) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

// Pids lists the live processes, the test binary aside, whose arguments
// match.
func Pids(match func(argv []string) bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if argv := Args(pid); len(argv) > 0 && match(argv) && Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// PidOf is the pid of a live process whose arguments, joined by spaces,
// are argv, or 0.
func PidOf(argv string) int {
	if pids := Pids(func(a []string) bool { return strings.Join(a, " ") == argv }); len(pids) > 0 {
		return pids[0]
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
