package shim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestNode is what a node lives through: containerd restarted under
// running tasks, a container killed from outside, an OOM kill, an exec of
// a binary that does not exist, a storm of concurrent execs (probes), and a
// terminal resized.
func TestNode(t *testing.T) {
	forEachSuite(t, "node", func(t *testing.T, s *suite) {
		fifo := filepath.Join(s.dir, "fifo")

		main := s.id("main")
		s.MustCtr(t, s.runArgs("-d", busyboxRef, main, "sh", "-c", testkit.ReadyLoop)...)
		s.WaitStatus(t, main, "RUNNING", 20*time.Second)
		testkit.WaitReady(t, s.TaskPID(main))

		t.Run("ExecMissingBinary", func(t *testing.T) {
			r := s.Ctr("task", "exec", "--fifo-dir", fifo, "--exec-id", "missing", main, "/no/such/binary")
			if r.Code == 0 || !strings.Contains(r.Stderr, "/no/such/binary") || !strings.Contains(r.Stderr, "no such file or directory") {
				t.Fatalf("want a clear error naming the missing binary:\n%s", r)
			}
			t.Logf("the error: %s", strings.TrimSpace(r.Stderr))
			if st := s.Tasks()[main]; st != "RUNNING" {
				t.Fatalf("the container is %s after the failed exec", st)
			}
			r = s.Ctr("task", "exec", "--fifo-dir", fifo, "--exec-id", "after", main, "echo", "still-fine")
			if !r.OK() || !strings.Contains(r.Stdout, "still-fine") {
				t.Fatalf("exec after the failed one:\n%s", r)
			}
		})

		t.Run("ExecStorm", func(t *testing.T) {
			const n = 50
			errs := make(chan error, n)
			start := time.Now()
			testkit.Together(n, func(i int) {
				c := s.CtrCmd("task", "exec", "--fifo-dir", fifo, "--exec-id", fmt.Sprintf("storm%d", i), main, "sh", "-c", fmt.Sprintf("echo probe-%d; exit %d", i, i%3))
				c.Timeout = 2 * testkit.CmdTimeout
				if r := testkit.Run(c); r.Code != i%3 || !strings.Contains(r.Stdout, fmt.Sprintf("probe-%d", i)) {
					errs <- fmt.Errorf("exec %d:\n%s", i, r)
				}
			})
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			t.Logf("%d concurrent execs in %v", n, time.Since(start).Round(time.Millisecond))
			if st := s.Tasks()[main]; st != "RUNNING" {
				t.Errorf("the container is %s after the storm", st)
			}
		})

		t.Run("PtyResize", func(t *testing.T) {
			term, err := testkit.NewTerminal(24, 80)
			if err != nil {
				t.Skipf("no pty: %v", err)
			}
			defer term.Close()
			if err := term.Start(s.CtrCmd("task", "exec", "--fifo-dir", fifo, "-t", "--exec-id", "tty", main, "sh")); err != nil {
				t.Fatal(err)
			}
			expect := func(what string) {
				t.Helper()
				if err := term.Expect(what, 20*time.Second); err != nil {
					t.Fatalf("want %q on the terminal, got:\n%s", what, term.Output())
				}
			}
			expect("# ")
			_ = term.Type("stty size; echo sz-$((1+1))\r") // a shell that is gone fails expect
			expect("24 80")
			expect("sz-2")
			// The terminal grows: ctr gets SIGWINCH and calls ResizePty.
			if err := term.Resize(40, 100); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			_ = term.Type("stty size; echo sz-$((2+1))\r")
			expect("sz-3")
			expect("40 100")
			_ = term.Type("exit 6\r")
			if r := term.Wait(); r.Code != 6 {
				t.Fatalf("want exit 6 from the terminal's shell: %s", r)
			}
		})

		t.Run("RestartContainerd", func(t *testing.T) {
			victim := s.id("victim")
			s.MustCtr(t, s.runArgs("-d", busyboxRef, victim, "sh", "-c", testkit.ReadyLoop)...)
			s.WaitStatus(t, victim, "RUNNING", 20*time.Second)
			victimPid := s.TaskPID(victim)
			pid := s.TaskPID(main)
			shims := s.shimProcs()
			s.Stop()
			if err := syscall.Kill(pid, 0); err != nil {
				t.Fatalf("the container's init died with containerd: %v", err)
			}
			for _, p := range shims {
				if err := syscall.Kill(p, 0); err != nil {
					t.Fatalf("shim %d died with containerd: %v", p, err)
				}
			}
			// An exit while containerd is away: the shim keeps its event
			// until containerd is back.
			_ = syscall.Kill(victimPid, syscall.SIGKILL)
			time.Sleep(300 * time.Millisecond)
			s.startDaemon(t)
			// containerd 1.6 shows it stopped; 2.x finds a task without
			// processes on reload and deletes it itself (as it does with
			// the runc shim's), publishing its exit.
			var st string
			if err := eventually(20*time.Second, func() error {
				if st = s.Tasks()[victim]; st != "STOPPED" && st != "" {
					return fmt.Errorf("victim %s", st)
				}
				return nil
			}); err != nil {
				t.Fatalf("the task killed while containerd was away is %q after the restart", st)
			}
			if st == "STOPPED" {
				s.MustCtr(t, "task", "delete", victim)
			}
			s.MustCtr(t, "container", "delete", victim)
			if _, err := os.Stat(filepath.Join(s.root, victim)); err == nil {
				t.Errorf("berth's state of %s is left after its deletion", victim)
			}
			if st := s.Tasks()[main]; st != "RUNNING" {
				t.Fatalf("after the restart the task is %q, want RUNNING", st)
			}
			r := s.Ctr("task", "exec", "--fifo-dir", fifo, "--exec-id", "restarted", main, "echo", "after-restart")
			if !r.OK() || !strings.Contains(r.Stdout, "after-restart") {
				t.Fatalf("exec after the restart:\n%s", r)
			}
			s.MustCtr(t, "task", "kill", main)
			s.WaitStatus(t, main, "STOPPED", 20*time.Second)
			s.MustCtr(t, "task", "delete", main)
			s.MustCtr(t, "container", "delete", main)
		})

		t.Run("KilledFromOutside", func(t *testing.T) {
			for _, how := range []string{"kill -9", "berth kill"} {
				id := s.id("outside")
				s.MustCtr(t, s.runArgs("-d", busyboxRef, id, "sh", "-c", testkit.ReadyLoop)...)
				s.WaitStatus(t, id, "RUNNING", 20*time.Second)
				pid := s.TaskPID(id)
				testkit.WaitReady(t, pid)
				if how == "kill -9" {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				} else if r := berth("--root", s.root, "kill", id, "KILL"); !r.OK() {
					t.Fatalf("berth kill: %s", r)
				}
				s.WaitStatus(t, id, "STOPPED", 20*time.Second)
				r := s.Ctr("task", "delete", id)
				if !r.OK() || !strings.Contains(r.Stdout+r.Stderr, "137") {
					t.Logf("%s: task delete:\n%s", how, r)
				}
				if !r.OK() {
					t.Fatalf("%s: task delete:\n%s", how, r)
				}
				s.MustCtr(t, "container", "delete", id)
			}
		})

		t.Run("ShimSocketPrivate", func(t *testing.T) {
			id := s.id("sock")
			s.MustCtr(t, s.runArgs("-d", busyboxRef, id, "sh", "-c", testkit.ReadyLoop)...)
			defer s.removeTask(t, id)
			addr, err := os.ReadFile(filepath.Join(s.TaskDir(), id, "address"))
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(strings.TrimPrefix(string(addr), "unix://"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != 0 {
				t.Errorf("shim socket %s: mode %v uid %d, want 0600 root", addr, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid)
			}
		})

		t.Run("ShimKilled", func(t *testing.T) {
			// A shim that dies (OOM-killed, say): containerd runs the
			// shim's delete action, which removes the container.
			id := s.id("orphan")
			s.MustCtr(t, s.runArgs("-d", busyboxRef, id, "sh", "-c", testkit.ReadyLoop)...)
			s.WaitStatus(t, id, "RUNNING", 20*time.Second)
			pid := s.TaskPID(id)
			before := map[int]bool{}
			for _, p := range s.shimProcs() {
				before[p] = true
			}
			var shim int
			for _, p := range s.shimProcs() {
				if slices.Contains(testkit.Args(p), id) {
					shim = p
				}
			}
			if shim == 0 {
				t.Fatal("no shim process for the container")
			}
			_ = syscall.Kill(shim, syscall.SIGKILL)
			if err := eventually(20*time.Second, func() error {
				if st := s.Tasks()[id]; st != "" && st != "STOPPED" {
					return fmt.Errorf("task %s", st)
				}
				if syscall.Kill(pid, 0) == nil {
					return fmt.Errorf("init %d still alive", pid)
				}
				if _, err := os.Stat(filepath.Join(s.root, id)); err == nil {
					return fmt.Errorf("berth state of %s still there", id)
				}
				return nil
			}); err != nil {
				t.Fatalf("after its shim was killed: %v", err)
			}
			s.Ctr("task", "delete", id)
			s.MustCtr(t, "container", "delete", id)
		})

		t.Run("Checkpoint", func(t *testing.T) {
			id := s.id("ckpt")
			s.MustCtr(t, s.runArgs("-d", busyboxRef, id, "sleep", "3600")...)
			defer s.removeTask(t, id)
			s.WaitStatus(t, id, "RUNNING", 20*time.Second)
			path := filepath.Join(s.dir, "ckpt-"+id)
			r := s.Ctr("task", "checkpoint", "--image-path", path, id)
			t.Logf("checkpoint:\n%s", r)
			if !r.OK() {
				// Where CRIU cannot work (`criu check` fails, as on
				// kernels whose vDSO it does not know), the error must
				// say what CRIU said, and the container runs on.
				if out, err := exec.Command("criu", "check").CombinedOutput(); err != nil {
					if !strings.Contains(r.Stderr, "CRIU: Error (criu/") {
						t.Errorf("the checkpoint error does not quote CRIU's own error:\n%s", r)
					}
					if st := s.Tasks()[id]; st != "RUNNING" {
						t.Errorf("after the failed checkpoint the task is %s", st)
					}
					t.Skipf("CRIU cannot checkpoint here (criu check: %v: %s)", err, strings.TrimSpace(string(out)))
				}
				t.Fatalf("checkpoint with CRIU failed")
			}
			if ents, _ := os.ReadDir(path); len(ents) == 0 {
				t.Errorf("no CRIU images in %s", path)
			}
			if st := s.Tasks()[id]; st != "RUNNING" {
				t.Errorf("after a checkpoint (leave running) the task is %s", st)
			}
		})

		t.Run("OOM", func(t *testing.T) {
			c := s.CtrCmd("events")
			c.Timeout = 2 * testkit.CmdTimeout
			events, err := testkit.Start(c)
			if err != nil {
				t.Fatal(err)
			}
			defer events.Kill()
			time.Sleep(300 * time.Millisecond) // subscribed
			id := s.id("oom")
			r := s.Ctr(s.runArgs("--rm", "--memory-limit", fmt.Sprint(16<<20), busyboxRef, id, "sh", "-c", "x=0123456789; while :; do x=$x$x; done")...)
			if r.Code != 137 {
				t.Errorf("want the OOM-killed container's exit code 137:\n%s", r)
			}
			err = testkit.PollEvery(20*time.Second, 100*time.Millisecond, func() error {
				for _, l := range strings.Split(events.StdoutSoFar(), "\n") {
					if strings.Contains(l, "/tasks/oom") && strings.Contains(l, id) {
						return nil
					}
				}
				if events.Exited() {
					return errors.New("ctr events ended without an OOM event")
				}
				return errors.New("no /tasks/oom event for the container within 20 s")
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	})
}
