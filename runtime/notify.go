package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// sd_notify proxying, as runc does it: when berth runs with NOTIFY_SOCKET
// set (systemd's Type=notify, podman --sdnotify=container), the container
// gets a socket of berth's own at /run/notify/notify.sock (a read-only
// bind mount of <root>/<id>/notify) and NOTIFY_SOCKET pointing at it;
// start (or run) listens there, and once the container sends READY=1,
// passes it on to the host's socket with MAINPID and waits for the
// receiver's BARRIER acknowledgement.

const (
	notifyDirInContainer = "/run/notify"
	notifySocketName     = "notify.sock"
	// barrierTimeout bounds the wait for the receiver to acknowledge.
	barrierTimeout = 30 * time.Second
)

// notifyDir is where the container's notify socket lives on the host.
func (r *Runtime) notifyDir(id string) string {
	return filepath.Join(r.root.ContainerDir(id), "notify")
}

// addNotifySocket gives the container the notify socket: the mount of its
// directory and NOTIFY_SOCKET in the process's environment.
func (r *Runtime) addNotifySocket(spec *specs.Spec, id string) {
	spec.Mounts = append(spec.Mounts, specs.Mount{
		Destination: notifyDirInContainer,
		Source:      r.notifyDir(id),
		Type:        "bind",
		Options:     []string{"bind", "nosuid", "noexec", "nodev", "ro"},
	})
	if spec.Process != nil {
		spec.Process.Env = append(spec.Process.Env, "NOTIFY_SOCKET="+filepath.Join(notifyDirInContainer, notifySocketName))
	}
}

// listenNotify binds the container's notify socket, writable by every
// user of the container.
func (r *Runtime) listenNotify(id string) (*net.UnixConn, error) {
	path := filepath.Join(r.notifyDir(id), notifySocketName)
	_ = os.Remove(path) // a socket left by an earlier start that died
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return conn, nil
}

// forwardReady waits until the container reports READY on conn (or pid1,
// its init, is gone), then tells the host's socket: the READY line,
// MAINPID=mainPid, and a BARRIER it waits for.
func forwardReady(ctx context.Context, conn *net.UnixConn, host string, pid1, mainPid int) error {
	defer conn.Close()
	ready := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			for _, line := range bytes.Split(buf[:n], []byte{'\n'}) {
				if bytes.HasPrefix(line, []byte("READY=")) {
					ready <- append([]byte(nil), line...)
					return
				}
			}
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if unix.Kill(pid1, 0) != nil {
				return nil // exited before it was ready: nothing to tell
			}
		case line := <-ready:
			return notifyHost(host, line, mainPid)
		}
	}
}

// notifyHost sends the READY line and MAINPID to the host's notify socket
// and waits for its BARRIER acknowledgement (sd_notify_barrier: the
// receiver closes the pipe end it got).
func notifyHost(host string, ready []byte, mainPid int) error {
	client, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: host, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET %s: %w", host, err)
	}
	defer client.Close()
	for _, msg := range [][]byte{append(ready, '\n'), []byte("MAINPID=" + strconv.Itoa(mainPid) + "\n")} {
		if _, err := client.Write(msg); err != nil {
			return fmt.Errorf("NOTIFY_SOCKET %s: %w", host, err)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	// net refuses WriteMsgUnix on a connected datagram socket: sendmsg(2)
	// on its descriptor.
	raw, err := client.SyscallConn()
	if err != nil {
		pw.Close()
		return err
	}
	if werr := raw.Write(func(fd uintptr) bool {
		err = unix.Sendmsg(int(fd), []byte("BARRIER=1"), unix.UnixRights(int(pw.Fd())), nil, 0)
		return !errors.Is(err, unix.EAGAIN)
	}); werr != nil {
		err = werr
	}
	pw.Close()
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET %s: barrier: %w", host, err)
	}
	if err := pr.SetReadDeadline(time.Now().Add(barrierTimeout)); err != nil {
		return err
	}
	var b [1]byte
	n, err := pr.Read(b[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		logrus.WithField("socket", host).Warn("NOTIFY_SOCKET: no acknowledgement of BARRIER=1 after 30 s; going on")
		return nil
	case err != nil:
		return fmt.Errorf("NOTIFY_SOCKET %s: barrier: %w", host, err)
	}
	return fmt.Errorf("NOTIFY_SOCKET %s: barrier: the receiver wrote to the pipe instead of closing it", host)
}
