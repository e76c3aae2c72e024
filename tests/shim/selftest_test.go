package shim

import (
	"os"
	"testing"
	"time"
)

// TestSelfCleanupAfterFailure fails on purpose, with containerd stopped, a
// paused task and a running exec, to show that a failing suite still leaves
// the machine clean (check by hand afterwards: no shim, process, mount,
// cgroup, state or socket). It runs only with SHIM_FAILTEST=1.
func TestSelfCleanupAfterFailure(t *testing.T) {
	if os.Getenv("SHIM_FAILTEST") == "" {
		t.Skip("set SHIM_FAILTEST=1: this test fails on purpose")
	}
	forEachSuite(t, "fail", func(t *testing.T, s *suite) {
		a, b := s.id("a"), s.id("b")
		s.MustCtr(t, s.runArgs("-d", busyboxRef, a, "sleep", "3600")...)
		s.MustCtr(t, s.runArgs("-d", busyboxRef, b, "sh", "-c", "sleep 3600 & sleep 3600")...)
		s.WaitStatus(t, b, "RUNNING", 10*time.Second)
		s.MustCtr(t, "task", "pause", b)
		s.MustCtr(t, "task", "exec", "--fifo-dir", s.dir+"/fifo", "-d", "--exec-id", "x", a, "sleep", "3600")
		s.Stop()
		t.Fatal("deliberate failure with containerd stopped, a paused task and an exec running")
	})
}
