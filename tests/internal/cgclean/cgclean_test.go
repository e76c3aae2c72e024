package cgclean

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestRemove puts a process into a nested cgroup and checks that Remove
// kills it and removes the whole tree.
func TestRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	base := "/sys/fs/cgroup/pids"
	if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
		base = "/sys/fs/cgroup" // cgroup v2
	}
	top := filepath.Join(base, fmt.Sprintf("cgclean-test-%d", os.Getpid()))
	sub := filepath.Join(top, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Skipf("cannot make a cgroup here: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(sub); _ = os.Remove(top) })
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("move the process into %s: %v", sub, err)
	}
	if errs := Remove([]string{top}, 2*time.Second); len(errs) != 0 {
		t.Errorf("Remove: %v", errs)
	}
	if _, err := os.Stat(top); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Remove", top)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Error("the process in the cgroup was not killed")
	}
}
