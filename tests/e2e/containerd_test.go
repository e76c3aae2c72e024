package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// startContainerd starts the suite's containerd (Debian's, from PATH) with
// the documented snippet contrib/containerd/config.toml (BinaryName swapped
// for the logging shim, the runtime Root pointed into the suite dir) and
// the suite's own tables. Its teardown (what the tests left removed through
// it, the daemon stopped, its log on failure) is a cleanup.
func startContainerd(s *suite, ns string, cri bool, extraTables string) *testkit.Containerd {
	t := s.t
	t.Helper()
	snippet := testkit.Snippet(t, filepath.Join(repoRoot, "contrib/containerd/config.toml"),
		`BinaryName = "/usr/local/bin/berth"`,
		fmt.Sprintf("BinaryName = %s\n  Root = %s", testkit.TOMLString(s.shim), testkit.TOMLString(s.runtimeRoot())))
	d, err := testkit.NewContainerd(testkit.ContainerdOptions{
		Dir: s.dir, Version: 2, Namespace: ns, CRI: cri, Env: s.env,
		Generator: "tests/e2e from contrib/containerd/config.toml",
		Config:    snippet + "\n# ---- added by tests/e2e ----\n" + extraTables,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.addEmpty(d.TaskDir())
	// containerd 1.6's shims put their sockets in /run/containerd/s and ctr
	// its FIFOs in /run/containerd/fifo, whatever the daemon's state dir.
	s.tidy(false, "/run/containerd/s", "/run/containerd/fifo", "/run/containerd")
	t.Cleanup(func() {
		if err := d.Shutdown(); err != nil {
			t.Errorf("containerd: %v", err)
		}
		if t.Failed() {
			t.Logf("---- containerd log (%s) ----\n%s\n---- end ----", d.Log, d.LogTail(32<<10))
		}
	})
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// runtimeRoot is the runtime --root the suite configures (the shim adds the
// namespace below it).
func (s *suite) runtimeRoot() string { return filepath.Join(s.dir, "runtime-root") }

func (s *suite) addEmpty(dirs ...string) {
	s.mu.Lock()
	s.emptyDirs = append(s.emptyDirs, dirs...)
	s.mu.Unlock()
}

// removeTask kills task id (with killFlags), waits for it to stop, and
// deletes the task and the container.
func removeTask(t *testing.T, d *testkit.Containerd, id string, killFlags ...string) {
	t.Helper()
	d.MustCtr(t, append(append([]string{"task", "kill"}, killFlags...), id)...)
	d.WaitStatus(t, id, "STOPPED", 20*time.Second)
	d.MustCtr(t, "task", "delete", id)
	d.MustCtr(t, "container", "delete", id)
}

// importImages imports the busybox and pause images and checks that ctr
// lists them.
func importImages(t *testing.T, d *testkit.Containerd) {
	t.Helper()
	needImages(t)
	d.ImportImages(t, images.OCI, busyboxRef, pauseRef)
}

// TestContainerd drives berth through containerd's runc v2 shim with ctr.
func TestContainerd(t *testing.T) {
	s := newSuite(t, "containerd")
	needTool(t, "containerd", "ctr", "containerd-shim-runc-v2")
	needImages(t)
	// `ctr container create` has no --runc-binary flag: its containers run
	// the shim's default binary "runc" from containerd's PATH. Put a "runc"
	// that is the logging shim first on that PATH, so that those go to berth
	// too, with the shim's default root /run/containerd/runc/<ns>.
	pathDir := filepath.Join(s.dir, "path")
	if err := os.MkdirAll(pathDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(s.shim, filepath.Join(pathDir, "runc")); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "PATH="+pathDir+":"+os.Getenv("PATH"))
	const ns = "berth-e2e"
	defaultRoot := filepath.Join("/run/containerd/runc", ns)
	if ents, err := os.ReadDir(defaultRoot); err == nil && len(ents) > 0 {
		t.Fatalf("%s is not empty before the suite: %d entries (another run?)", defaultRoot, len(ents))
	}
	s.addEmpty(filepath.Join(s.runtimeRoot(), ns), defaultRoot)
	// The shim's default root and the namespace's parent cgroup are outside
	// the suite dir.
	s.tidy(false, defaultRoot, filepath.Dir(defaultRoot))
	for _, h := range testkit.Hierarchies() {
		s.tidy(false, filepath.Join(h, ns))
	}
	d := startContainerd(s, ns, false, "")
	importImages(t, d)

	tok := testkit.RandomHex(3)
	id := func(name string) string { return "e2e-" + tok + "-" + name }
	// runFlags select berth for `ctr run`.
	// ctr leaves the FIFOs of detached processes behind: keep them in the
	// suite dir rather than in /run/containerd/fifo.
	fifo := filepath.Join(s.dir, "fifo")
	runFlags := []string{"--runc-binary", s.shim, "--runc-root", s.runtimeRoot(), "--fifo-dir", fifo}
	ctrRun := func(extra ...string) []string {
		return append(append([]string{"run"}, runFlags...), extra...)
	}
	const loop = testkit.ReadyLoop

	t.Run("RunExitCode", func(t *testing.T) {
		r := d.Ctr(ctrRun("--rm", busyboxRef, id("exit"), "sh", "-c", "echo out-$((40+2)); exit 3")...)
		if r.Code != 3 {
			t.Fatalf("want exit code 3:\n%s", r)
		}
		if !strings.Contains(r.Stdout, "out-42") {
			t.Errorf("want out-42 on stdout:\n%s", r)
		}
	})

	t.Run("RunTTY", func(t *testing.T) {
		s := s.in(t)
		r := s.runPTY(60*time.Second, "# ", "tty; stty size; echo tty-$((6*7)); exit 5\r",
			"ctr", d.CtrArgs(ctrRun("-t", "--rm", busyboxRef, id("tty"), "sh")...)...)
		if r.Code != 5 {
			t.Fatalf("want exit code 5 from the interactive shell:\n%s", r)
		}
		for _, want := range []string{"tty-42", "/dev/pts/", "24 80"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("want %q (tty, terminal size, output) on the terminal:\n%s", want, r)
			}
		}
	})

	// A detached container that the exec, ps, pause and metrics tests share.
	main := id("detached")
	t.Run("RunDetached", func(t *testing.T) {
		d.MustCtr(t, ctrRun("-d", "--memory-limit", fmt.Sprint(64<<20), "--env", "E2E_VAR=env-ok", busyboxRef, main, "sh", "-c", loop)...)
		d.WaitStatus(t, main, "RUNNING", 20*time.Second)
		testkit.WaitReady(t, d.TaskPID(main))
	})
	if d.Tasks()[main] != "RUNNING" {
		t.Fatal("the detached container is not running; the remaining tests need it")
	}

	t.Run("Exec", func(t *testing.T) {
		r := d.Ctr("task", "exec", "--fifo-dir", fifo, "--exec-id", "x1", main, "sh", "-c", "echo exec-$((6*7)); exit 4")
		if r.Code != 4 || !strings.Contains(r.Stdout, "exec-42") {
			t.Fatalf("want exec-42 and exit code 4:\n%s", r)
		}
		// The exec process gets the container's env, and --cwd/--user.
		r = d.Ctr("task", "exec", "--fifo-dir", fifo, "--exec-id", "x1b", "--cwd", "/tmp", "--user", "65534", main,
			"sh", "-c", "echo $E2E_VAR $(pwd) $(id -u)")
		if !strings.Contains(r.Stdout, "env-ok /tmp 65534") {
			t.Errorf("want the container's env, the exec's cwd and user in its output:\n%s", r)
		}
		// ctr's default spec mounts no cgroupfs: read the limit outside.
		if limit, ok := testkit.MemoryLimit("/"+ns, main); !ok || limit != fmt.Sprint(64<<20) {
			t.Errorf("memory limit of the container's cgroup /%s/%s: %q (found: %v), want %d", ns, main, limit, ok, 64<<20)
		}
	})

	t.Run("ExecTTY", func(t *testing.T) {
		s := s.in(t)
		r := s.runPTY(60*time.Second, "# ", "tty; echo ptyexec-$((6*7)); exit 6\r",
			"ctr", d.CtrArgs("task", "exec", "--fifo-dir", fifo, "-t", "--exec-id", "x2", main, "sh")...)
		if r.Code != 6 || !strings.Contains(r.Stdout, "ptyexec-42") || !strings.Contains(r.Stdout, "/dev/pts/") {
			t.Fatalf("want the tty, ptyexec-42 and exit code 6:\n%s", r)
		}
	})

	t.Run("ExecDetachedKill", func(t *testing.T) {
		d.CheckExecDetachedKill(t, fifo, main, "x3", "4242")
	})

	t.Run("Ps", func(t *testing.T) {
		r := d.Ctr("task", "ps", main)
		if r.Code != 0 {
			t.Fatalf("ctr task ps:\n%s", r)
		}
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "PID") {
			t.Fatalf("want a PID table with the container's processes:\n%s", r)
		}
	})

	t.Run("PauseResume", func(t *testing.T) {
		d.MustCtr(t, "task", "pause", main)
		d.WaitStatus(t, main, "PAUSED", 10*time.Second)
		if st := freezerState(main); st != "" && st != "FROZEN" {
			t.Errorf("freezer state %q after pause", st)
		}
		d.MustCtr(t, "task", "resume", main)
		d.WaitStatus(t, main, "RUNNING", 10*time.Second)
		if st := freezerState(main); st != "" && st != "THAWED" {
			t.Errorf("freezer state %q after resume", st)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		r := d.Ctr("task", "metrics", main)
		if r.Code != 0 || !strings.Contains(r.Stdout, "memory") {
			t.Fatalf("want memory metrics:\n%s", r)
		}
	})

	// foreground runs a container with `ctr run --rm` in the background
	// and waits until its task runs.
	foreground := func(t *testing.T, kid string, cmd ...string) *testkit.Proc {
		t.Helper()
		fg := s.in(t).start(60*time.Second, "ctr", d.CtrArgs(ctrRun(append([]string{"--rm", busyboxRef, kid}, cmd...)...)...)...)
		d.WaitStatus(t, kid, "RUNNING", 20*time.Second)
		return fg
	}

	t.Run("KillTERM", func(t *testing.T) {
		kid := id("term")
		fg := foreground(t, kid, "sh", "-c", loop)
		testkit.WaitReady(t, d.TaskPID(kid))
		d.MustCtr(t, "task", "kill", kid)
		if r := fg.Wait(); r.Code != 7 {
			t.Fatalf("want the trap's exit code 7:\n%s", r)
		}
	})

	t.Run("KillKILL", func(t *testing.T) {
		kid := id("kill")
		fg := foreground(t, kid, "sh", "-c", loop)
		d.MustCtr(t, "task", "kill", "-s", "SIGKILL", kid)
		if r := fg.Wait(); r.Code != 137 {
			t.Fatalf("want exit code 137 (SIGKILL):\n%s", r)
		}
	})

	t.Run("KillAll", func(t *testing.T) {
		kid := id("killall")
		fg := foreground(t, kid, "sh", "-c", "sleep 4343 & sleep 4343 & wait")
		_, _ = testkit.WaitPidOf("sleep 4343", 5*time.Second) // kill --all then finds both
		d.MustCtr(t, "task", "kill", "--all", "-s", "SIGKILL", kid)
		if r := fg.Wait(); r.Code != 137 {
			t.Fatalf("want exit code 137 (SIGKILL):\n%s", r)
		}
		if pid := testkit.PidOf("sleep 4343"); pid != 0 {
			t.Errorf("kill --all left process %d", pid)
		}
	})

	t.Run("CreateStart", func(t *testing.T) {
		cid := id("created")
		d.CheckCreateStart(t, fifo, busyboxRef, cid)
		removeTask(t, d, cid, "-s", "SIGKILL")
	})

	t.Run("StopDetached", func(t *testing.T) {
		removeTask(t, d, main)
	})

	t.Run("NothingLeft", func(t *testing.T) {
		for _, left := range d.Leftovers(true) {
			t.Error(left)
		}
		for _, dir := range []string{filepath.Join(s.runtimeRoot(), ns), defaultRoot, d.TaskDir()} {
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("state left in %s: %v", dir, names)
			}
		}
	})

	// containerd 1.6's ctr has no `task update`; the CRI suite covers
	// `update --resources -`.
	s.assertForms([]form{
		{cmd: "create", flags: []string{"--bundle", "--pid-file"}, globals: []string{"--root", "--log", "--log-format=json"}},
		{cmd: "create", flags: []string{"--bundle", "--pid-file", "--console-socket"}},
		{cmd: "start"},
		{cmd: "exec", flags: []string{"--process", "--detach", "--pid-file"}},
		{cmd: "exec", flags: []string{"--process", "--detach", "--pid-file", "--console-socket"}},
		{cmd: "kill"},
		{cmd: "kill", flags: []string{"--all"}},
		{cmd: "delete"},
		{cmd: "ps", flags: []string{"--format=json"}},
		{cmd: "pause"},
		{cmd: "resume"},
		{cmd: "create", globals: []string{"--root=" + defaultRoot}, flags: []string{"--bundle"}},
		{cmd: "create", globals: []string{"--root=" + filepath.Join(s.runtimeRoot(), ns)}, flags: []string{"--bundle"}},
	})
}

// freezerState finds the v1 freezer cgroup named id and returns its state,
// or "" when there is none (cgroup v2: the tests rely on the engine's view).
func freezerState(id string) string {
	var st string
	filepath.WalkDir("/sys/fs/cgroup/freezer", func(p string, de os.DirEntry, err error) error {
		if err != nil || !de.IsDir() || st != "" {
			return nil
		}
		if strings.Count(p, "/") > 8 {
			return filepath.SkipDir
		}
		if filepath.Base(p) == id {
			b, _ := os.ReadFile(filepath.Join(p, "freezer.state"))
			st = strings.TrimSpace(string(b))
			return filepath.SkipDir
		}
		return nil
	})
	return st
}
