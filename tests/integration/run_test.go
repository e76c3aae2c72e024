package integration

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/tests/testkit"
)

func TestRunExitStatus(t *testing.T) {
	e := newEnv(t)
	r, id := e.runNew(nil, "sh", "-c", "exit 3")
	if r.Code != 3 {
		t.Errorf("run of `exit 3`: want exit code 3: %s", r)
	}
	e.mustFail([]string{"state", id}, "does not exist")
}

func TestRunKilledFromOutside(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	id := e.NewID()
	p := e.start(execOpts{}, "run", "-b", b.Dir, id)
	st := e.waitStatus(id, "running", 10*time.Second)
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill container pid %d: %v", st.Pid, err)
	}
	r := p.Wait()
	if r.Code != 137 {
		t.Errorf("run of a container killed by SIGKILL: want exit 137: %s", r)
	}
	e.mustFail([]string{"state", id}, "does not exist")
}

func TestRunStdio(t *testing.T) {
	e := newEnv(t)
	r, _ := e.runNew(nil, "sh", "-c", "echo to-stdout; echo to-stderr >&2")
	if r.Code != 0 {
		t.Fatalf("run failed: %s", r)
	}
	if r.Stdout != "to-stdout\n" {
		t.Errorf("run stdout = %q, want %q", r.Stdout, "to-stdout\n")
	}
	if !strings.Contains(r.Stderr, "to-stderr\n") || strings.Contains(r.Stdout, "to-stderr") {
		t.Errorf("container stderr did not reach run's stderr (only): %s", r)
	}
}

func TestRunStdin(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("cat")
	id := e.NewID()
	r := e.exec(execOpts{stdin: strings.NewReader("hi from stdin\n")}, "run", "--bundle", b.Dir, id)
	if r.Code != 0 || r.Stdout != "hi from stdin\n" {
		t.Errorf("echo ... | run cat: want exit 0 and stdout %q: %s", "hi from stdin\n", r)
	}
}

func TestRunSignalForwarding(t *testing.T) {
	for _, tc := range []struct {
		sig    syscall.Signal
		marker string
		code   int
	}{
		{syscall.SIGTERM, "marker-TERM", 3},
		{syscall.SIGUSR1, "marker-USR1", 4},
		{syscall.SIGHUP, "marker-HUP", 5},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sh", "-c", `trap "echo marker-TERM; exit 3" TERM; trap "echo marker-USR1; exit 4" USR1; trap "echo marker-HUP; exit 5" HUP; touch /tmp/ready; while :; do sleep 0.1; done`)
			id := e.NewID()
			p := e.start(execOpts{}, "run", "--bundle", b.Dir, id)
			waitFile(t, b.Rootfs("tmp/ready"), "", 10*time.Second)
			if err := p.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			r := p.Wait()
			if r.Code != tc.code || !strings.Contains(r.Stdout, tc.marker) {
				t.Errorf("after %v to the run process: want exit %d and %q on stdout: %s", tc.sig, tc.code, tc.marker, r)
			}
			e.mustFail([]string{"state", id}, "does not exist")
		})
	}
}

func TestRunKeep(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "exit 2")
	id := e.NewID()
	r := e.run("run", "--keep", "--bundle", b.Dir, id)
	if r.Code != 2 {
		t.Errorf("run --keep of `exit 2`: want exit 2: %s", r)
	}
	st := e.mustState(id)
	if st.Status != "stopped" || st.Pid != 0 {
		t.Errorf("state after run --keep: %+v, want stopped with pid 0", st)
	}
	e.mustRun("delete", id)
	e.mustFail([]string{"state", id}, "does not exist")
}

func TestRunDetach(t *testing.T) {
	for _, flag := range []string{"-d", "--detach"} {
		t.Run(flag, func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sleep", "1000")
			id := e.NewID()
			r := e.exec(execOpts{timeout: 10 * time.Second}, "run", flag, "--bundle", b.Dir, id)
			if r.Code != 0 {
				t.Fatalf("run %s failed: %s", flag, r)
			}
			if r.Dur > 5*time.Second {
				t.Errorf("run %s took %v, want it to return at once", flag, r.Dur)
			}
			st := e.mustState(id)
			if st.Status != "running" || !testkit.Alive(st.Pid) {
				t.Errorf("state after run %s: %+v, want running", flag, st)
			}
		})
	}
}

func TestRunFlagsAccepted(t *testing.T) {
	for _, flags := range [][]string{
		{"--no-subreaper"},
		{"--no-pivot"},
		{"--no-new-keyring"},
		{"--no-pivot", "--no-new-keyring", "--no-subreaper"},
	} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sh", "-c", "echo ran; exit 6")
			id := e.NewID()
			r := e.run(append(append([]string{"run"}, flags...), "--bundle", b.Dir, id)...)
			if r.Code != 6 || r.Stdout != "ran\n" {
				t.Errorf("run %v: want exit 6 and stdout \"ran\\n\": %s", flags, r)
			}
			e.mustFail([]string{"state", id}, "does not exist")
		})
	}
}

func TestRunTerminal(t *testing.T) {
	e := newEnv(t)
	// The runtime may size the container's pty just after the process starts
	// (runc does), so poll inside the container, with a deadline, until the
	// size is set.
	b := e.newBundle("sh", "-c", `tty; i=0; while [ $i -lt 100 ]; do s=$(stty size 2>/dev/null); case "$s" in ""|"0 0") ;; *) break;; esac; sleep 0.05; i=$((i+1)); done; echo "size=$s"; exit 7`)
	b.Edit(func(s *specs.Spec) { s.Process.Terminal = true })
	id := e.NewID()

	master, slave := openPty(t)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.cmd(execOpts{}, "run", "--bundle", b.Dir, id).Command(ctx)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	out := testkit.ReadUntil(master, "size=", 20*time.Second)
	// Drain the rest so the runtime never blocks on a full pty buffer.
	out += testkit.ReadUntil(master, "\x00never\x00", 5*time.Second)
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code <= 0 {
		t.Fatalf("run under a pty: %v; output %q", err, out)
	}
	if !strings.Contains(out, "/dev/pts/0") {
		t.Errorf("tty inside the container: output %q does not contain /dev/pts/0", out)
	}
	if !strings.Contains(out, "size=33 101") {
		t.Errorf("stty size inside the container: output %q does not contain the host pty size \"33 101\"", out)
	}
	if code != 7 {
		t.Errorf("run under a pty exited %d, want 7; output %q", code, out)
	}
}

func TestPreserveFds(t *testing.T) {
	e := newEnv(t)
	dir := e.mkdir("fds")
	e.writeFile(dir+"/three", "content-of-three\n", 0o644)
	e.writeFile(dir+"/four", "content-of-four\n", 0o644)
	open := func() []*os.File {
		var fs []*os.File
		for _, n := range []string{"three", "four"} {
			f, err := os.Open(dir + "/" + n)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			fs = append(fs, f)
		}
		return fs
	}
	script := `for f in 3 4 5; do [ -e /proc/$$/fd/$f ] && echo has$f; done; cat <&3 2>/dev/null; cat <&4 2>/dev/null; true`
	b := e.newBundle("sh", "-c", script)

	// With --preserve-fds 2: fds 3 and 4 are there (and nothing above).
	id := e.NewID()
	r := e.exec(execOpts{extraFiles: open()}, "run", "--preserve-fds", "2", "--bundle", b.Dir, id)
	want := "has3\nhas4\ncontent-of-three\ncontent-of-four\n"
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("run --preserve-fds 2: want exit 0 and stdout %q: %s", want, r)
	}

	// Without the flag the extra fds are not passed.
	id = e.NewID()
	r = e.exec(execOpts{extraFiles: open()}, "run", "--bundle", b.Dir, id)
	if r.Code != 0 || r.Stdout != "" {
		t.Errorf("run without --preserve-fds: want exit 0 and no fds 3, 4 (empty stdout): %s", r)
	}

	// More fds than were passed: refused (fd 5 is not the caller's to give).
	id = e.NewID()
	r = e.exec(execOpts{extraFiles: open()}, "run", "--preserve-fds", "3", "--bundle", b.Dir, id)
	if r.Code == 0 {
		t.Errorf("run --preserve-fds 3 with only fds 3 and 4 open: want a failure: %s", r)
	}
}

func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "tty; [ -t 0 ] && echo isatty; sleep 1000")
	b.Edit(func(s *specs.Spec) { s.Process.Terminal = true })
	id := e.NewID()
	sock, ch := e.listenFd()
	e.create(b, id, "--console-socket", sock)
	master := recvWithin(t, ch, 5*time.Second)
	if fi, err := master.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("received fd is not a character device (pty master): %v %v", fi, err)
	}
	e.mustRun("start", id)
	out := testkit.ReadUntil(master, "isatty", 10*time.Second)
	if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "isatty") {
		t.Errorf("read %q off the console master, want /dev/pts/0 and isatty", out)
	}
	if st := e.mustState(id); st.Status != "running" {
		t.Errorf("status %q, want running", st.Status)
	}
}

func TestConsoleSocketErrors(t *testing.T) {
	t.Run("terminal without socket", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBundle("sleep", "1000")
		b.Edit(func(s *specs.Spec) { s.Process.Terminal = true })
		id := e.NewID()
		e.mustFail([]string{"create", "--bundle", b.Dir, id}, "console socket")
	})
	t.Run("socket without terminal", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBundle("sleep", "1000")
		id := e.NewID()
		sock, _ := e.listenFd()
		e.mustFail([]string{"create", "--bundle", b.Dir, "--console-socket", sock, id})
	})
}

func TestPidfdSocket(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	id := e.NewID()
	sock, ch := e.listenFd()
	e.create(b, id, "--pidfd-socket", sock)
	f := recvWithin(t, ch, 5*time.Second)
	st := e.mustState(id)
	info, err := os.ReadFile("/proc/self/fdinfo/" + itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	pidLine := ""
	for _, l := range strings.Split(string(info), "\n") {
		if strings.HasPrefix(l, "Pid:") {
			pidLine = strings.TrimSpace(strings.TrimPrefix(l, "Pid:"))
		}
	}
	if pidLine != itoa(st.Pid) {
		t.Errorf("received fd's fdinfo Pid: %q, want the container pid %d; fdinfo:\n%s", pidLine, st.Pid, info)
	}
}
