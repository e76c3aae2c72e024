package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readyLoop exits 7 on SIGTERM; it touches /tmp/.ready once its trap is set.
const readyLoop = "trap 'exit 7' TERM; touch /tmp/.ready; while :; do sleep 0.1; done"

func waitReady(t *testing.T, pid int) {
	t.Helper()
	if err := eventually(20*time.Second, func() error {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/tmp/.ready", pid))
		return err
	}); err != nil {
		t.Fatalf("container (pid %d) not ready: %v", pid, err)
	}
}

// TestCtr is the lifecycle through ctr: run in the foreground with its exit
// code, a terminal, detached run, exec (plain, tty, detached and killed),
// ps, pause/resume, metrics, kill (TERM, KILL, --all), create+start and
// delete, with every task and container gone at the end.
func TestCtr(t *testing.T) {
	forEachFlavor(t, func(t *testing.T, fl flavor) {
		s := newSuite(t, fl, "ctr", "")
		s.importImages(t)

		t.Run("RunExitCode", func(t *testing.T) {
			r := s.ctr(s.runArgs("--rm", busyboxRef, s.id("exit"), "sh", "-c", "echo out-$((40+2)); echo err-1 >&2; exit 3")...)
			if r.code != 3 || !strings.Contains(r.stdout, "out-42") || !strings.Contains(r.stderr, "err-1") {
				t.Fatalf("want exit 3, out-42 on stdout, err-1 on stderr:\n%s", r)
			}
		})

		t.Run("RunStdin", func(t *testing.T) {
			r := s.run(cmdTimeout, "hello-stdin\n", fl.bin+"/ctr", s.ctrArgs(s.runArgs("--rm", busyboxRef, s.id("stdin"), "sh", "-c", "read x; echo got-$x")...)...)
			if r.code != 0 || !strings.Contains(r.stdout, "got-hello-stdin") {
				t.Fatalf("want got-hello-stdin:\n%s", r)
			}
		})

		t.Run("LogURIs", func(t *testing.T) {
			// file:// appends both streams to a file; binary:// hands them
			// to a logging program (fds 3 and 4, fd 5 closed when ready).
			logFile := filepath.Join(s.dir, "file-uri.log")
			r := s.ctr(s.runArgs("--rm", "--log-uri", "file://"+logFile, busyboxRef, s.id("filelog"), "sh", "-c", "echo to-file; echo err-to-file >&2")...)
			data, _ := os.ReadFile(logFile)
			if r.code != 0 || !strings.Contains(string(data), "to-file") || !strings.Contains(string(data), "err-to-file") {
				t.Errorf("file:// log:\n%s\nlog: %q", r, data)
			}
			logger := filepath.Join(s.dir, "logger.sh")
			out := filepath.Join(s.dir, "binary-uri.log")
			script := "#!/bin/sh\nexec 5>&-\ncat <&3 >>\"$2\" &\ncat <&4 >>\"$2\" &\nwait\n"
			if err := os.WriteFile(logger, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			r = s.ctr(s.runArgs("--rm", "--log-uri", "binary://"+logger+"?out="+out, busyboxRef, s.id("binlog"), "sh", "-c", "echo to-binary; echo err-to-binary >&2")...)
			if err := eventually(10*time.Second, func() error {
				data, _ = os.ReadFile(out)
				if !strings.Contains(string(data), "to-binary") || !strings.Contains(string(data), "err-to-binary") {
					return fmt.Errorf("not yet")
				}
				return nil
			}); r.code != 0 || err != nil {
				t.Errorf("binary:// log:\n%s\nlog: %q", r, data)
			}
		})

		main := s.id("detached")
		t.Run("RunDetached", func(t *testing.T) {
			s.mustCtr(t, s.runArgs("-d", "--memory-limit", fmt.Sprint(64<<20), "--env", "SHIM_VAR=env-ok", busyboxRef, main, "sh", "-c", readyLoop)...)
			s.waitStatus(t, main, "RUNNING", 20*time.Second)
			waitReady(t, s.taskPid(main))
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
			out, err := berth("--root", s.root, "state", main)
			if err != nil || !strings.Contains(out, `"status": "running"`) {
				t.Errorf("berth --root %s state %s: %v\n%s", s.root, main, err, out)
			}
			for _, args := range [][]string{{"list", "-q"}, {"ps", "-f", "json", main}, {"events", "--stats", main}, {"exec", main, "echo", "from-berth"}} {
				out, err := berth(append([]string{"--root", s.root}, args...)...)
				if err != nil || (args[0] == "exec" && !strings.Contains(out, "from-berth")) || (args[0] == "list" && !strings.Contains(out, main)) {
					t.Errorf("berth --root %s %v: %v\n%s", s.root, args, err, out)
				}
			}
		})
		if s.tasks()[main] != "RUNNING" {
			t.Fatal("the detached container does not run")
		}

		t.Run("Exec", func(t *testing.T) {
			r := s.ctr("task", "exec", "--fifo-dir", s.dir+"/fifo", "--exec-id", "x1", main, "sh", "-c", "echo exec-$((6*7)) $SHIM_VAR; exit 4")
			if r.code != 4 || !strings.Contains(r.stdout, "exec-42 env-ok") {
				t.Fatalf("want exec-42 env-ok and exit 4:\n%s", r)
			}
			r = s.ctr("task", "exec", "--fifo-dir", s.dir+"/fifo", "--exec-id", "x2", "--cwd", "/tmp", "--user", "65534", main, "sh", "-c", "echo $(pwd) $(id -u)")
			if !strings.Contains(r.stdout, "/tmp 65534") {
				t.Errorf("want the exec's cwd and user:\n%s", r)
			}
		})

		t.Run("ExecDetachedKill", func(t *testing.T) {
			s.mustCtr(t, "task", "exec", "--fifo-dir", s.dir+"/fifo", "-d", "--exec-id", "x3", main, "sleep", "4242")
			var pid int
			if err := eventually(10*time.Second, func() error {
				if pid = pidOf("sleep 4242"); pid == 0 {
					return fmt.Errorf("no sleep 4242")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ps := s.mustCtr(t, "task", "ps", main)
			if !strings.Contains(ps, strconv.Itoa(pid)) || !strings.Contains(ps, "x3") {
				t.Errorf("ctr task ps does not list exec x3 (pid %d):\n%s", pid, ps)
			}
			s.mustCtr(t, "task", "kill", "--exec-id", "x3", "-s", "SIGKILL", main)
			if err := eventually(10*time.Second, func() error {
				if pidOf("sleep 4242") != 0 {
					return fmt.Errorf("still running")
				}
				return nil
			}); err != nil {
				t.Fatal("the exec survived SIGKILL")
			}
			if s.tasks()[main] != "RUNNING" {
				t.Error("killing the exec stopped the container")
			}
		})

		t.Run("PauseResume", func(t *testing.T) {
			s.mustCtr(t, "task", "pause", main)
			s.waitStatus(t, main, "PAUSED", 10*time.Second)
			s.mustCtr(t, "task", "resume", main)
			s.waitStatus(t, main, "RUNNING", 10*time.Second)
		})

		t.Run("Metrics", func(t *testing.T) {
			out := s.mustCtr(t, "task", "metrics", "--format", "json", main)
			if !strings.Contains(out, "usage") || !strings.Contains(strings.ToLower(out), "memory") {
				t.Fatalf("want memory metrics:\n%s", out)
			}
			// cgroup v1 (hybrid): the limit set by --memory-limit.
			if !strings.Contains(out, strconv.Itoa(64<<20)) {
				t.Errorf("metrics do not show the 64 MiB limit:\n%s", out)
			}
		})

		t.Run("KillTERM", func(t *testing.T) {
			s.mustCtr(t, "task", "kill", main)
			s.waitStatus(t, main, "STOPPED", 20*time.Second)
			r := s.ctr("task", "delete", main)
			if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "7") {
				t.Logf("task delete:\n%s", r)
			}
			s.mustCtr(t, "container", "delete", main)
		})

		t.Run("KillAll", func(t *testing.T) {
			id := s.id("killall")
			s.mustCtr(t, s.runArgs("-d", busyboxRef, id, "sh", "-c", "sleep 4343 & sleep 4343 & wait")...)
			s.waitStatus(t, id, "RUNNING", 20*time.Second)
			_ = eventually(5*time.Second, func() error {
				if pidOf("sleep 4343") == 0 {
					return fmt.Errorf("not yet")
				}
				return nil
			})
			s.mustCtr(t, "task", "kill", "--all", "-s", "SIGKILL", id)
			s.waitStatus(t, id, "STOPPED", 20*time.Second)
			if pid := pidOf("sleep 4343"); pid != 0 {
				t.Errorf("kill --all left pid %d", pid)
			}
			s.removeTask(t, id)
		})

		t.Run("CreateStart", func(t *testing.T) {
			id := s.id("created")
			s.mustCtr(t, "container", "create", "--runtime", "io.containerd.berth.v2", busyboxRef, id, "--", "sh", "-c", readyLoop)
			s.mustCtr(t, "task", "start", "--fifo-dir", s.dir+"/fifo", "-d", id)
			s.waitStatus(t, id, "RUNNING", 20*time.Second)
			r := s.ctr("task", "exec", "--fifo-dir", s.dir+"/fifo", "--exec-id", "c1", id, "echo", "in-created")
			if r.code != 0 || !strings.Contains(r.stdout, "in-created") {
				t.Errorf("exec:\n%s", r)
			}
			s.removeTask(t, id)
		})

		t.Run("TaskAPIVersion", func(t *testing.T) {
			// containerd 2.x logs the version it connects with; the shim
			// answers the bootstrap protocol with task API v3.
			if fl.version < 3 {
				t.Skip("containerd 1.6 speaks task API v2 and does not log it")
			}
			log, _ := os.ReadFile(s.log)
			if !strings.Contains(string(log), "protocol=ttrpc version=3") || strings.Contains(string(log), "protocol=ttrpc version=2") {
				t.Errorf("containerd %s did not connect with task API v3 only (see its log)", fl.name)
			}
		})

		t.Run("NothingLeft", func(t *testing.T) {
			if out := strings.TrimSpace(s.ctr("task", "ls", "-q").stdout); out != "" {
				t.Errorf("tasks left: %s", out)
			}
			if out := strings.TrimSpace(s.ctr("container", "ls", "-q").stdout); out != "" {
				t.Errorf("containers left: %s", out)
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

// pidOf returns the pid of a live process whose argv is exactly argv.
func pidOf(argv string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.TrimRight(strings.ReplaceAll(string(raw), "\x00", " "), " ") != argv {
			continue
		}
		if st, _ := os.ReadFile("/proc/" + e.Name() + "/stat"); strings.Contains(string(st), ") Z ") {
			continue
		}
		return pid
	}
	return 0
}

// berth runs bin/berth (beside the shim).
func berth(args ...string) (string, error) {
	out, err := execCommand(shimBin[:strings.LastIndex(shimBin, "/")]+"/berth", args...)
	return out, err
}
