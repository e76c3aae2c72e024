package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestCtr is the lifecycle through ctr: run in the foreground with its exit
// code, a terminal, detached run, exec (plain, tty, detached and killed),
// ps, pause/resume, metrics, kill (TERM, KILL, --all), create+start and
// delete, with every task and container gone at the end.
func TestCtr(t *testing.T) {
	forEachSuite(t, "ctr", func(t *testing.T, s *suite) {
		t.Run("RunExitCode", func(t *testing.T) {
			r := s.Ctr(s.runArgs("--rm", busyboxRef, s.id("exit"), "sh", "-c", "echo out-$((40+2)); echo err-1 >&2; exit 3")...)
			if r.Code != 3 || !strings.Contains(r.Stdout, "out-42") || !strings.Contains(r.Stderr, "err-1") {
				t.Fatalf("want exit 3, out-42 on stdout, err-1 on stderr:\n%s", r)
			}
		})

		t.Run("RunStdin", func(t *testing.T) {
			c := s.CtrCmd(s.runArgs("--rm", busyboxRef, s.id("stdin"), "sh", "-c", "read x; echo got-$x")...)
			c.Stdin = strings.NewReader("hello-stdin\n")
			if r := testkit.Run(c); !r.OK() || !strings.Contains(r.Stdout, "got-hello-stdin") {
				t.Fatalf("want got-hello-stdin:\n%s", r)
			}
		})

		t.Run("LogURIs", func(t *testing.T) {
			// file:// appends both streams to a file; binary:// hands them
			// to a logging program (fds 3 and 4, fd 5 closed when ready).
			logFile := filepath.Join(s.dir, "file-uri.log")
			r := s.Ctr(s.runArgs("--rm", "--log-uri", "file://"+logFile, busyboxRef, s.id("filelog"), "sh", "-c", "echo to-file; echo err-to-file >&2")...)
			data, _ := os.ReadFile(logFile)
			if !r.OK() || !strings.Contains(string(data), "to-file") || !strings.Contains(string(data), "err-to-file") {
				t.Errorf("file:// log:\n%s\nlog: %q", r, data)
			}
			logger := filepath.Join(s.dir, "logger.sh")
			out := filepath.Join(s.dir, "binary-uri.log")
			script := "#!/bin/sh\nexec 5>&-\ncat <&3 >>\"$2\" &\ncat <&4 >>\"$2\" &\nwait\n"
			if err := os.WriteFile(logger, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			r = s.Ctr(s.runArgs("--rm", "--log-uri", "binary://"+logger+"?out="+out, busyboxRef, s.id("binlog"), "sh", "-c", "echo to-binary; echo err-to-binary >&2")...)
			if err := eventually(10*time.Second, func() error {
				data, _ = os.ReadFile(out)
				if !strings.Contains(string(data), "to-binary") || !strings.Contains(string(data), "err-to-binary") {
					return fmt.Errorf("not yet")
				}
				return nil
			}); !r.OK() || err != nil {
				t.Errorf("binary:// log:\n%s\nlog: %q", r, data)
			}
		})

		main := s.id("detached")
		t.Run("RunDetached", func(t *testing.T) {
			s.MustCtr(t, s.runArgs("-d", "--memory-limit", fmt.Sprint(64<<20), "--env", "SHIM_VAR=env-ok", busyboxRef, main, "sh", "-c", testkit.ReadyLoop)...)
			s.WaitStatus(t, main, "RUNNING", 20*time.Second)
			testkit.WaitReady(t, s.TaskPID(main))
			for _, pid := range s.shimProcs() {
				if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
					for _, l := range strings.Split(string(st), "\n") {
						if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "Threads:") {
							t.Logf("shim %d %s", pid, strings.Join(strings.Fields(l), " "))
						}
					}
				}
			}
			// berth's own commands see the container under the shim's root.
			if r := berth("--root", s.root, "state", main); !r.OK() || !strings.Contains(r.Stdout, `"status": "running"`) {
				t.Errorf("berth state: %s", r)
			}
			for _, args := range [][]string{{"list", "-q"}, {"ps", "-f", "json", main}, {"events", "--stats", main}, {"exec", main, "echo", "from-berth"}} {
				r := berth(append([]string{"--root", s.root}, args...)...)
				if !r.OK() || (args[0] == "exec" && !strings.Contains(r.Output(), "from-berth")) || (args[0] == "list" && !strings.Contains(r.Output(), main)) {
					t.Errorf("berth %v: %s", args, r)
				}
			}
		})
		if s.Tasks()[main] != "RUNNING" {
			t.Fatal("the detached container does not run")
		}

		t.Run("Exec", func(t *testing.T) {
			r := s.Ctr("task", "exec", "--fifo-dir", s.dir+"/fifo", "--exec-id", "x1", main, "sh", "-c", "echo exec-$((6*7)) $SHIM_VAR; exit 4")
			if r.Code != 4 || !strings.Contains(r.Stdout, "exec-42 env-ok") {
				t.Fatalf("want exec-42 env-ok and exit 4:\n%s", r)
			}
			r = s.Ctr("task", "exec", "--fifo-dir", s.dir+"/fifo", "--exec-id", "x2", "--cwd", "/tmp", "--user", "65534", main, "sh", "-c", "echo $(pwd) $(id -u)")
			if !strings.Contains(r.Stdout, "/tmp 65534") {
				t.Errorf("want the exec's cwd and user:\n%s", r)
			}
		})

		t.Run("ExecDetachedKill", func(t *testing.T) {
			s.CheckExecDetachedKill(t, s.dir+"/fifo", main, "x3", "4242")
		})

		t.Run("PauseResume", func(t *testing.T) {
			s.MustCtr(t, "task", "pause", main)
			s.WaitStatus(t, main, "PAUSED", 10*time.Second)
			s.MustCtr(t, "task", "resume", main)
			s.WaitStatus(t, main, "RUNNING", 10*time.Second)
		})

		t.Run("Metrics", func(t *testing.T) {
			out := s.MustCtr(t, "task", "metrics", "--format", "json", main).Stdout
			if !strings.Contains(out, "usage") || !strings.Contains(strings.ToLower(out), "memory") {
				t.Fatalf("want memory metrics:\n%s", out)
			}
			// cgroup v1 (hybrid): the limit set by --memory-limit.
			if !strings.Contains(out, fmt.Sprint(64<<20)) {
				t.Errorf("metrics do not show the 64 MiB limit:\n%s", out)
			}
		})

		t.Run("KillTERM", func(t *testing.T) {
			s.MustCtr(t, "task", "kill", main)
			s.WaitStatus(t, main, "STOPPED", 20*time.Second)
			r := s.Ctr("task", "delete", main)
			if !r.OK() || !strings.Contains(r.Stdout+r.Stderr, "7") {
				t.Logf("task delete:\n%s", r)
			}
			s.MustCtr(t, "container", "delete", main)
		})

		t.Run("KillAll", func(t *testing.T) {
			id := s.id("killall")
			s.MustCtr(t, s.runArgs("-d", busyboxRef, id, "sh", "-c", "sleep 4343 & sleep 4343 & wait")...)
			s.WaitStatus(t, id, "RUNNING", 20*time.Second)
			_, _ = testkit.WaitPidOf("sleep 4343", 5*time.Second) // kill --all then finds both
			s.MustCtr(t, "task", "kill", "--all", "-s", "SIGKILL", id)
			s.WaitStatus(t, id, "STOPPED", 20*time.Second)
			if pid := testkit.PidOf("sleep 4343"); pid != 0 {
				t.Errorf("kill --all left pid %d", pid)
			}
			s.removeTask(t, id)
		})

		t.Run("CreateStart", func(t *testing.T) {
			id := s.id("created")
			s.CheckCreateStart(t, s.dir+"/fifo", busyboxRef, id, "--runtime", "io.containerd.berth.v2")
			s.removeTask(t, id)
		})

		t.Run("TaskAPIVersion", func(t *testing.T) {
			// containerd 2.x logs the version it connects with; the shim
			// answers the bootstrap protocol with task API v3.
			if s.fl.version < 3 {
				t.Skip("containerd 1.6 speaks task API v2 and does not log it")
			}
			log, _ := os.ReadFile(s.Log)
			if !strings.Contains(string(log), "protocol=ttrpc version=3") || strings.Contains(string(log), "protocol=ttrpc version=2") {
				t.Errorf("containerd %s did not connect with task API v3 only (see its log)", s.fl.name)
			}
		})

		t.Run("NothingLeft", func(t *testing.T) {
			for _, left := range s.Leftovers(false) {
				t.Error(left)
			}
			if err := eventually(10*time.Second, func() error {
				if pids := s.shimProcs(); len(pids) > 0 {
					return fmt.Errorf("shims still running: %v", pids)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	})
}
