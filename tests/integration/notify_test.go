package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sdnotifyBinary builds the container program of the NOTIFY_SOCKET tests
// (testdata/sdnotify), statically; $BERTH_SDNOTIFY names a build of it
// where there is no Go toolchain (the cgroup v2 VM).
func sdnotifyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BERTH_SDNOTIFY"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "sdnotify")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/sdnotify")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/sdnotify: %v\n%s", err, b)
	}
	return out
}

type notifyMsg struct {
	text string
	fds  int
}

// notifyReceiver is the host side of NOTIFY_SOCKET, as systemd is: it
// collects the datagrams and closes the pipe ends BARRIER=1 hands over.
func notifyReceiver(t *testing.T) (string, <-chan notifyMsg) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "host-notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan notifyMsg, 16)
	go func() {
		buf, oob := make([]byte, 4096), make([]byte, 256)
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			m := notifyMsg{text: string(buf[:n])}
			if scms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, scm := range scms {
					fds, _ := unix.ParseUnixRights(&scm)
					for _, fd := range fds {
						unix.Close(fd) // the barrier's acknowledgement
						m.fds++
					}
				}
			}
			msgs <- m
		}
	}()
	return path, msgs
}

// TestNotifySocket: with NOTIFY_SOCKET set, the container gets a socket of
// its own, and berth passes its READY=1 on with MAINPID and a barrier; run
// --detach and start return only once the container is ready.
func TestNotifySocket(t *testing.T) {
	helper := sdnotifyBinary(t)
	const before = 400 * time.Millisecond
	for _, mode := range []string{"run-detach", "create-start", "run-foreground"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			host, msgs := notifyReceiver(t)
			after := "30s"
			if mode == "run-foreground" {
				after = "200ms"
			}
			b := e.newBundle("/sdnotify", before.String(), after)
			data, err := os.ReadFile(helper)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(b.Rootfs("sdnotify"), data, 0o755); err != nil {
				t.Fatal(err)
			}
			id := e.NewID()
			opts := execOpts{env: []string{"NOTIFY_SOCKET=" + host}}
			var r result
			switch mode {
			case "run-detach":
				r = e.exec(opts, "run", "--detach", "--bundle", b.Dir, id)
			case "create-start":
				if c := e.exec(opts, "create", "--bundle", b.Dir, id); c.Code != 0 {
					t.Fatalf("create: %s", c)
				}
				r = e.exec(opts, "start", id)
			case "run-foreground":
				r = e.exec(opts, "run", "--bundle", b.Dir, id)
			}
			if r.Code != 0 {
				t.Fatalf("%s: %s", mode, r)
			}
			if mode != "run-foreground" && r.Dur < before {
				t.Errorf("%s returned after %v, before the container was ready (it sends READY=1 after %v)", mode, r.Dur, before)
			}
			var got []notifyMsg
			for len(got) < 3 {
				select {
				case m := <-msgs:
					got = append(got, m)
				case <-time.After(5 * time.Second):
					t.Fatalf("NOTIFY_SOCKET got %+v, want READY=1, MAINPID and BARRIER=1", got)
				}
			}
			if got[0].text != "READY=1\n" {
				t.Errorf("first message %q, want READY=1 (the container's READY line alone)", got[0].text)
			}
			pid, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(got[1].text, "MAINPID="), "\n"))
			if err != nil || pid <= 0 {
				t.Errorf("second message %q, want MAINPID=<pid>", got[1].text)
			}
			if mode != "run-foreground" {
				if st := e.mustState(id); st.Pid != pid {
					t.Errorf("MAINPID=%d, want the container's init pid %d", pid, st.Pid)
				}
			}
			if got[2].text != "BARRIER=1" || got[2].fds != 1 {
				t.Errorf("third message %+v, want BARRIER=1 with one fd", got[2])
			}
			// What the container saw.
			if mode == "run-foreground" {
				if !strings.Contains(r.Stdout, "NOTIFY_SOCKET=/run/notify/notify.sock") {
					t.Errorf("container's NOTIFY_SOCKET: stdout %q", r.Stdout)
				}
				return
			}
			e.mustRun("delete", "--force", id)
		})
	}
}
