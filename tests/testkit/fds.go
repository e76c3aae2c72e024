package testkit

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Received is the first fd that came over an FDReceiver's socket.
type Received struct {
	File *os.File // non-blocking, so that reads can time out
	Msg  string   // the message that carried it
	Err  error
}

// FDReceiver is a unix socket that takes one fd passed over SCM_RIGHTS, as
// berth's --console-socket and --pidfd-socket callers do.
type FDReceiver struct {
	C <-chan Received // yields exactly once
	l *net.UnixListener
}

// ReceiveFD listens on a new unix socket at path (at most 108 bytes long)
// and delivers the first fd sent by the first connection within timeout.
func ReceiveFD(path string, timeout time.Duration) (*FDReceiver, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening for an fd: %w", err)
	}
	ch := make(chan Received, 1)
	go func() {
		defer l.Close()
		ch <- acceptFD(l, timeout)
	}()
	return &FDReceiver{C: ch, l: l}, nil
}

// Close stops listening (an fd already received stays open).
func (r *FDReceiver) Close() { r.l.Close() }

func acceptFD(l *net.UnixListener, timeout time.Duration) Received {
	_ = l.SetDeadline(time.Now().Add(timeout))
	conn, err := l.AcceptUnix()
	if err != nil {
		return Received{Err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return Received{Err: err}
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return Received{Err: err}
	}
	var fds []int
	for i := range msgs {
		if f, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, f...)
		}
	}
	if len(fds) == 0 {
		return Received{Err: fmt.Errorf("no fd received (data %q)", buf[:n])}
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	_ = unix.SetNonblock(fds[0], true) // pollable: read deadlines work
	return Received{File: os.NewFile(uintptr(fds[0]), string(buf[:n])), Msg: string(buf[:n])}
}

// ReadUntil reads f (non-blocking) until what it read contains want, f
// ends (EOF, or EIO of a pty whose other side closed) or timeout passes,
// and returns what it read.
func ReadUntil(f *os.File, want string, timeout time.Duration) string {
	_ = f.SetReadDeadline(time.Now().Add(timeout))
	var out []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(out), want) {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(out)
}

// OpenPTY opens a new pseudo-terminal: its master (non-blocking) and its
// slave. The caller closes both.
func OpenPTY() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	s, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	_ = unix.SetNonblock(m, true)
	return os.NewFile(uintptr(m), "ptmx"), os.NewFile(uintptr(s), name), nil
}
