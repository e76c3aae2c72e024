package testkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

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
