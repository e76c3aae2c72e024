package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// podman is podman with a private root, runroot, tmpdir and config.
type podman struct {
	s    *suite
	args []string // global flags
}

func (p *podman) argv(args ...string) []string {
	return append(append([]string{}, p.args...), args...)
}

func (p *podman) run(args ...string) result {
	return p.s.run("podman", p.argv(args...)...)
}

func (p *podman) must(t *testing.T, args ...string) string {
	t.Helper()
	r := p.run(args...)
	if r.Code != 0 {
		t.Fatalf("podman failed:\n%s", r)
	}
	return r.Stdout
}

func (p *podman) inspect(t *testing.T, name, format string) string {
	t.Helper()
	return strings.TrimSpace(p.must(t, "inspect", "--format", format, name))
}

func (p *podman) pid(t *testing.T, name string) int {
	t.Helper()
	var pid int
	fmt.Sscan(p.inspect(t, name, "{{.State.Pid}}"), &pid)
	return pid
}

// TestPodman drives berth through podman and conmon.
func TestPodman(t *testing.T) {
	s := newSuite(t, "podman")
	needTool(t, "podman", "conmon")
	needImages(t)

	// containers.conf: the documented snippet with the path swapped, plus
	// the suite's own settings in tables the snippet does not have. The
	// VM's root may lack CAP_SYS_RESOURCE, so podman's rootful default
	// rlimits (nofile 1048576) cannot be set: ask for small ones.
	conf := testkit.Snippet(t, filepath.Join(repoRoot, "contrib/podman/containers.conf"),
		`berth = ["/usr/local/bin/berth"]`, fmt.Sprintf("berth = [%s]", testkit.TOMLString(s.shim)))
	conf += `
# ---- added by tests/e2e ----
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
`
	confPath := filepath.Join(s.dir, "containers.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(s.dir, "root")
	runroot := filepath.Join(s.dir, "runroot")
	storageConf := filepath.Join(s.dir, "storage.conf")
	if err := os.WriteFile(storageConf, []byte(fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %s\nrunroot = %s\n",
		testkit.TOMLString(root), testkit.TOMLString(runroot))), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "CONTAINERS_CONF="+confPath, "CONTAINERS_STORAGE_CONF="+storageConf)
	p := &podman{s: s, args: []string{
		"--root", root, "--runroot", runroot, "--tmpdir", filepath.Join(s.dir, "tmp"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--storage-driver", "overlay", "--runtime", "berth",
	}}
	// containers/storage keeps its overlay home bind-mounted (private) as
	// long as the store is in use; it is not a container's.
	s.allowedMounts = append(s.allowedMounts, filepath.Join(root, "overlay"))
	// podman passes no --root: the runtime keeps its state in its default
	// root, shared with others. No entry named after a container of the
	// suite may be left there.
	s.idRoots = append(s.idRoots, "/run/berth", "/run/runc")
	s.tidy(false, "/run/berth", "/run/runc")
	// podman load writes containers/image's blob info cache under
	// /var/lib/containers whatever --root says; with cgroupfs, podman keeps
	// conmon in <controller>/libpod_parent/conmon.
	s.tidy(true, "/var/lib/containers/cache")
	s.tidy(false, "/var/lib/containers")
	for _, h := range testkit.Hierarchies() {
		s.tidy(false, filepath.Join(h, "libpod_parent", "conmon"), filepath.Join(h, "libpod_parent"))
	}
	t.Cleanup(func() {
		p.run("rm", "--all", "--force", "--time", "0")
		p.run("rmi", "--all", "--force")
		p.run("system", "prune", "--all", "--force")
		if t.Failed() {
			dumpFile(t, "podman events", filepath.Join(s.dir, "tmp", "events", "events.log"), 8<<10)
		}
	})

	if r := p.run("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}"); r.Code != 0 {
		t.Fatalf("podman info:\n%s", r)
	} else if !strings.Contains(r.Stdout, s.shim) {
		t.Fatalf("podman does not use the shim as its runtime:\n%s", r)
	}
	if r := p.run("load", "-i", images.Docker); r.Code != 0 {
		t.Fatalf("podman load:\n%s", r)
	}
	if out := p.must(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, busyboxRef) {
		t.Fatalf("podman images does not list %s after load:\n%s", busyboxRef, out)
	}

	tok := testkit.RandomHex(3)
	name := func(n string) string { return "e2e-" + tok + "-" + n }
	runArgs := func(extra ...string) []string {
		return append([]string{"run", "--network", "none"}, extra...)
	}
	const loop = testkit.ReadyLoop

	t.Run("RunRm", func(t *testing.T) {
		r := p.run(runArgs("--rm", busyboxRef, "echo", "hello-from-podman")...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "hello-from-podman") {
			t.Fatalf("want the container's output:\n%s", r)
		}
	})

	t.Run("ExitCode", func(t *testing.T) {
		if r := p.run(runArgs("--rm", busyboxRef, "sh", "-c", "exit 3")...); r.Code != 3 {
			t.Fatalf("want exit code 3:\n%s", r)
		}
	})

	t.Run("RunMissingCommand", func(t *testing.T) {
		// podman maps the runtime's error message to the shell's codes:
		// 127 for a missing executable, 126 for one it cannot execute.
		if r := p.run(runArgs("--rm", busyboxRef, "/no/such/binary")...); r.Code != 127 {
			t.Errorf("run of a missing executable: want exit code 127:\n%s", r)
		}
		if r := p.run(runArgs("--rm", busyboxRef, "/etc/passwd")...); r.Code != 126 {
			t.Errorf("run of a non-executable file: want exit code 126:\n%s", r)
		}
	})

	t.Run("RunOptions", func(t *testing.T) {
		// A bind mount, a read-only rootfs, a user, a memory limit, env.
		data := filepath.Join(s.dir, "data")
		os.MkdirAll(data, 0o755)
		os.WriteFile(filepath.Join(data, "f"), []byte("bind-ok\n"), 0o644)
		script := "cat /data/f; id -u; echo $E2E_VAR; touch /x 2>/dev/null && echo rootfs-rw || echo rootfs-ro; " +
			"cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; true"
		r := p.run(runArgs("--rm", "-v", data+":/data:ro", "--read-only", "--user", "65534:65534",
			"--memory", "64m", "-e", "E2E_VAR=env-ok", busyboxRef, "sh", "-c", script)...)
		for _, want := range []string{"bind-ok", "65534", "env-ok", "rootfs-ro", "67108864"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("want %q in the output:\n%s", want, r)
			}
		}
	})

	t.Run("RunTTY", func(t *testing.T) {
		s := s.in(t)
		r := s.runPTY(60*time.Second, "# ", "tty; stty size; echo tty-$((6*7)); exit 5\r",
			"podman", p.argv(runArgs("-it", "--rm", busyboxRef, "sh")...)...)
		if r.Code != 5 || !strings.Contains(r.Stdout, "tty-42") || !strings.Contains(r.Stdout, "/dev/pts/") {
			t.Fatalf("want the tty, tty-42 and exit code 5:\n%s", r)
		}
		if !strings.Contains(r.Stdout, "24 80") {
			t.Errorf("want the terminal's size 24x80 inside:\n%s", r)
		}
	})

	main := name("detached")
	t.Run("RunDetached", func(t *testing.T) {
		p.must(t, runArgs("-d", "--name", main, busyboxRef, "sh", "-c", loop)...)
		if st := p.inspect(t, main, "{{.State.Status}}"); st != "running" {
			t.Fatalf("status %q, want running", st)
		}
		testkit.WaitReady(t, p.pid(t, main))
		if out := p.must(t, "ps", "--format", "{{.Names}}"); !strings.Contains(out, main) {
			t.Errorf("podman ps does not list %s:\n%s", main, out)
		}
	})
	if r := p.run("inspect", "--format", "{{.State.Status}}", main); strings.TrimSpace(r.Stdout) != "running" {
		t.Fatal("the detached container is not running; the remaining tests need it")
	}

	t.Run("Exec", func(t *testing.T) {
		r := p.run("exec", main, "sh", "-c", "echo exec-$((6*7)); exit 4")
		if r.Code != 4 || !strings.Contains(r.Stdout, "exec-42") {
			t.Fatalf("want exec-42 and exit code 4:\n%s", r)
		}
	})

	t.Run("ExecMissingCommand", func(t *testing.T) {
		if r := p.run("exec", main, "/no/such/binary"); r.Code != 127 {
			t.Errorf("exec of a missing executable: want exit code 127:\n%s", r)
		}
		if r := p.run("exec", main, "/etc/passwd"); r.Code != 126 {
			t.Errorf("exec of a non-executable file: want exit code 126:\n%s", r)
		}
	})

	t.Run("ExecTTY", func(t *testing.T) {
		s := s.in(t)
		r := s.runPTY(60*time.Second, "# ", "tty; echo ptyexec-$((6*7)); exit 6\r",
			"podman", p.argv("exec", "-it", main, "sh")...)
		if r.Code != 6 || !strings.Contains(r.Stdout, "ptyexec-42") || !strings.Contains(r.Stdout, "/dev/pts/") {
			t.Fatalf("want the tty, ptyexec-42 and exit code 6:\n%s", r)
		}
	})

	t.Run("ExecDetached", func(t *testing.T) {
		p.must(t, "exec", "-d", main, "sleep", "4545")
		pid, err := testkit.WaitPidOf("sleep 4545", 10*time.Second)
		if err != nil {
			t.Fatal("the detached exec process is not running")
		}
		if out := p.must(t, "exec", main, "ps"); !strings.Contains(out, "sleep 4545") {
			t.Errorf("ps in the container does not show the detached exec:\n%s", out)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	})

	t.Run("PauseUnpause", func(t *testing.T) {
		p.must(t, "pause", main)
		if st := p.inspect(t, main, "{{.State.Status}}"); st != "paused" {
			t.Errorf("status %q after pause, want paused", st)
		}
		if st := freezerState(p.inspect(t, main, "{{.Id}}")); st != "" && st != "FROZEN" {
			t.Errorf("freezer state %q after pause", st)
		}
		p.must(t, "unpause", main)
		if st := p.inspect(t, main, "{{.State.Status}}"); st != "running" {
			t.Errorf("status %q after unpause, want running", st)
		}
	})

	t.Run("Top", func(t *testing.T) {
		if out := p.must(t, "top", main); !strings.Contains(out, "sleep") && !strings.Contains(out, "sh -c") {
			t.Errorf("podman top does not show the container's processes:\n%s", out)
		}
	})

	t.Run("Update", func(t *testing.T) {
		p.must(t, "update", "--memory", "96m", main)
		out := p.must(t, "exec", main, "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; true")
		if !strings.Contains(out, fmt.Sprint(96<<20)) {
			t.Errorf("memory limit after podman update: %q, want %d", out, 96<<20)
		}
	})

	t.Run("Stats", func(t *testing.T) {
		out := p.must(t, "stats", "--no-stream", "--format", "json", main)
		var stats []map[string]any
		if err := json.Unmarshal([]byte(out), &stats); err != nil || len(stats) != 1 {
			t.Fatalf("podman stats: want one JSON entry (%v):\n%s", err, out)
		}
		if fmt.Sprint(stats[0]["name"]) != main {
			t.Errorf("podman stats names %v, want %s", stats[0]["name"], main)
		}
	})

	t.Run("Stop", func(t *testing.T) {
		r := p.run("stop", "--time", "20", main)
		if r.Code != 0 {
			t.Fatalf("podman stop:\n%s", r)
		}
		if code := p.inspect(t, main, "{{.State.ExitCode}}"); code != "7" {
			t.Errorf("exit code %s after stop, want the TERM trap's 7", code)
		}
		p.must(t, "rm", main)
	})

	t.Run("KillWait", func(t *testing.T) {
		n := name("kill")
		p.must(t, runArgs("-d", "--name", n, busyboxRef, "sh", "-c", loop)...)
		testkit.WaitReady(t, p.pid(t, n))
		p.must(t, "kill", "--signal", "TERM", n)
		if out := strings.TrimSpace(p.must(t, "wait", n)); out != "7" {
			t.Errorf("podman wait: %q, want 7", out)
		}
		p.must(t, "rm", n)
	})

	t.Run("RmForce", func(t *testing.T) {
		n := name("rmf")
		p.must(t, runArgs("-d", "--name", n, busyboxRef, "sleep", "4646")...)
		p.must(t, "rm", "--force", "--time", "1", n)
		if pid := testkit.PidOf("sleep 4646"); pid != 0 {
			t.Errorf("rm -f left the container's process %d", pid)
		}
		if r := p.run("inspect", n); r.Code == 0 {
			t.Errorf("the container still exists after rm -f")
		}
	})

	t.Run("CreateStartAttachLogs", func(t *testing.T) {
		n := name("created")
		p.must(t, "create", "--network", "none", "--name", n, busyboxRef, "sh", "-c", "echo created-$((6*7))")
		if out := p.must(t, "start", "--attach", n); !strings.Contains(out, "created-42") {
			t.Errorf("start -a: want created-42:\n%s", out)
		}
		if out := p.must(t, "logs", n); !strings.Contains(out, "created-42") {
			t.Errorf("logs: want created-42:\n%s", out)
		}
		p.must(t, "rm", n)
	})

	t.Run("NothingLeft", func(t *testing.T) {
		if out := p.must(t, "ps", "--all", "--quiet"); strings.TrimSpace(out) != "" {
			t.Errorf("containers left:\n%s", out)
		}
	})

	s.assertForms([]form{
		{cmd: "create", flags: []string{"--bundle", "--pid-file"}, globals: []string{"--log", "--log-format=json"}},
		{cmd: "create", flags: []string{"--bundle", "--pid-file", "--console-socket"}},
		{cmd: "start"},
		{cmd: "exec", flags: []string{"--process", "--detach", "--pid-file"}},
		{cmd: "exec", flags: []string{"--process", "--detach", "--pid-file", "--console-socket"}},
		{cmd: "kill", match: lastArgIs("15")},
		{cmd: "kill", match: lastArgIs("9")},
		{cmd: "delete", flags: []string{"--force"}},
		{cmd: "pause"},
		{cmd: "resume"},
		{cmd: "update", flags: []string{"--resources"}},
		{cmd: "", globals: []string{"--version"}},
	})
}
