package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestArgvLog checks the shim's log format and the argv form matching, so
// that a form assertion cannot pass or fail for the wrong reason.
func TestArgvLog(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "argv.log")
	shim := filepath.Join(dir, "shim")
	if err := writeShim(shim, logPath, "/bin/true"); err != nil {
		t.Fatal(err)
	}
	args := []string{"--root", "/r o/x", "--log=/l", "--log-format", "json", "exec", "--process", "/p", "--detach", "--pid-file=/pid", "ctr-1"}
	if out, err := exec.Command(shim, args...).CombinedOutput(); err != nil {
		t.Fatalf("shim: %v\n%s", err, out)
	}
	s := &suite{t: t, world: &world{name: "selftest", shimLog: logPath}}
	calls := s.calls()
	if len(calls) != 1 {
		t.Fatalf("want 1 call, got %d", len(calls))
	}
	c := calls[0]
	if c.cmd != "exec" || strings.Join(c.globals, "|") != "--root|/r o/x|--log=/l|--log-format|json" {
		t.Fatalf("parsed %q globals %q", c.cmd, c.globals)
	}
	good := []form{
		{cmd: "exec", flags: []string{"--process", "--detach", "--pid-file"}, globals: []string{"--log", "--log-format=json", "--root=/r o/x"}},
		{cmd: "exec", flags: []string{"--pid-file=/pid"}, match: lastArgIs("ctr-1")},
	}
	bad := []form{
		{cmd: "exec", flags: []string{"--tty"}},
		{cmd: "exec", globals: []string{"--log-format=text"}},
		{cmd: "create"},
		{cmd: "exec", match: lastArgIs("ctr-2")},
	}
	for _, f := range good {
		if !f.matches(c) {
			t.Errorf("form %q does not match %q", f, c.line)
		}
	}
	for _, f := range bad {
		if f.matches(c) {
			t.Errorf("form %q matches %q", f, c.line)
		}
	}
	if got := c.shape(); got != "--root --log --log-format exec --process --detach --pid-file" {
		t.Errorf("shape %q", got)
	}
}

// TestLeakDetection checks that the leak checks see a process, a mount and
// a cgroup that a suite left behind.
func TestLeakDetection(t *testing.T) {
	setup.Gate.Check(t)
	dir := filepath.Join(workDir, "leakcheck")
	if err := os.MkdirAll(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cmd := exec.Command("sleep", "60")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// Start returns once the exec has begun; the kernel sets the new
	// program's arguments a moment later (/proc/PID/cmdline is empty until
	// then), and the check below wants to see them.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "cmdline")); len(b) > 0 {
			break
		}
	}
	suiteDir := testkit.Scope{Dir: dir, Inside: dir} // what every suite's scope has
	if procs := suiteDir.Find(); len(procs) != 1 || procs[0].Kind != "process" || !strings.Contains(procs[0].What, "sleep 60") {
		t.Errorf("processes of the suite dir: %q, want the sleep", procs)
	}

	if err := syscall.Mount("tmpfs", filepath.Join(dir, "m"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount: %v", err)
	}
	if ms, _ := testkit.MountsUnder(dir); len(ms) != 1 || ms[0].FSType != "tmpfs" {
		t.Errorf("mounts under the suite dir: %+v, want the tmpfs", ms)
	}
	if err := testkit.UnmountUnder(dir); err != nil {
		t.Error(err)
	}
	if ms, _ := testkit.MountsUnder(dir); len(ms) != 0 {
		t.Errorf("UnmountUnder left %+v", ms)
	}

	name := "berth-e2e-leakcheck-" + testkit.RandomHex(3)
	var made []string
	for _, h := range testkit.Hierarchies() {
		if err := os.Mkdir(filepath.Join(h, name), 0o755); err == nil {
			made = append(made, filepath.Join(h, name))
		}
	}
	defer func() {
		for i := 0; i < 20; i++ {
			left := 0
			for _, p := range made {
				if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
					left++
				}
			}
			if left == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if len(made) == 0 {
		t.Skip("cannot make a cgroup here")
	}
	if found := testkit.CgroupsNamed(name); len(found) != len(made) {
		t.Errorf("CgroupsNamed: %q, want %q", found, made)
	}
}
