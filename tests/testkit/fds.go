package testkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// Terminal runs a command on a new pseudo-terminal as its controlling
// terminal, as a user at a terminal would: what the terminal shows is
// collected, and the test types into it and resizes it.
type Terminal struct {
	master *os.File
	slave  *os.File
	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    lockedBuffer
	read   chan struct{} // closed when reading the master ended
	done   chan struct{} // closed when the command ended
	res    Result
}

// lockedBuffer collects a terminal's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// NewTerminal opens a pseudo-terminal of rows x cols. An error means the
// machine has no pty to give (a test skips then).
func NewTerminal(rows, cols uint16) (*Terminal, error) {
	m, s, err := OpenPTY()
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("setting the terminal's size: %w", err)
	}
	return &Terminal{master: m, slave: s}, nil
}

// Start starts c (its Env, Dir and Timeout; TERM=xterm is added) in a
// session of its own with the terminal as its stdin, stdout, stderr and
// controlling terminal. A timeout kills the session's process group.
func (t *Terminal) Start(c Cmd) error {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := c.Command(ctx)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(append([]string{}, cmd.Env...), "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = t.slave, t.slave, t.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	t.res.Args = append([]string{filepath.Base(cmd.Path)}, cmd.Args[1:]...)
	started := time.Now()
	err := cmd.Start()
	t.slave.Close() // the command has it now: the master reads EIO once it ends
	if err != nil {
		cancel()
		t.master.Close()
		return fmt.Errorf("starting %s: %w", c.Path, err)
	}
	t.cmd, t.cancel = cmd, cancel
	t.read, t.done = make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = io.Copy(&t.out, t.master) // ends with EIO when the last slave fd closes
		close(t.read)
	}()
	go func() {
		err := cmd.Wait()
		t.res.Dur = time.Since(started)
		t.res.Code, t.res.Err = cmd.ProcessState.ExitCode(), err
		if ctx.Err() != nil {
			t.res.Code, t.res.TimedOut = -1, true
			t.res.Err = fmt.Errorf("timed out after %v", timeout)
		}
		close(t.done)
	}()
	return nil
}

// Output is what the terminal has shown so far.
func (t *Terminal) Output() string { return t.out.String() }

// Expect waits until the terminal has shown want, at most timeout.
func (t *Terminal) Expect(want string, timeout time.Duration) error {
	return PollEvery(timeout, 50*time.Millisecond, func() error {
		if !strings.Contains(t.out.String(), want) {
			return fmt.Errorf("no %q on the terminal", want)
		}
		return nil
	})
}

// Type writes s to the terminal, as typed keys ("\r" for Enter).
func (t *Terminal) Type(s string) error {
	_, err := t.master.WriteString(s)
	return err
}

// Resize gives the terminal a new size and sends the command SIGWINCH, as
// a terminal emulator does.
func (t *Terminal) Resize(rows, cols uint16) error {
	if err := unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		return err
	}
	return t.cmd.Process.Signal(unix.SIGWINCH)
}

// Wait waits for the command to end and returns what it did, with all the
// terminal showed as its Stdout; it closes the terminal.
func (t *Terminal) Wait() Result {
	<-t.done
	select {
	case <-t.read:
	case <-time.After(2 * time.Second): // a process the command left holds the terminal
	}
	t.cancel()
	t.master.Close()
	t.res.Stdout = t.out.String()
	return t.res
}

// Close kills the command, if it runs, and closes the terminal.
func (t *Terminal) Close() {
	if t.cmd == nil {
		t.master.Close()
		t.slave.Close()
		return
	}
	select {
	case <-t.done:
	default:
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL) // its session's group
	}
	t.Wait()
}
