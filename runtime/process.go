package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/state"
)

// Stdio is a caller's standard streams, handed to a detached process.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Process is a process berth started in a container (its init, from Create,
// or another one, from Exec), for callers that keep track of it. When the
// caller stays attached, exactly one of Console and the pipes is set; a
// detached process has neither.
type Process struct {
	ID  string // the container's id
	Pid int
	// Console is the pty master when the process has a terminal.
	Console *os.File
	// Stdin, Stdout and Stderr are pipes to the process's stdio when
	// attached without a terminal.
	Stdin          io.WriteCloser
	Stdout, Stderr io.ReadCloser

	p *libcontainer.Process
	// The container and berth's record of it, for DeleteExited (inits
	// only).
	r   *Runtime
	c   *libcontainer.Container
	rec state.Record
	// notify is the container's notify socket, listened on by run; host
	// the caller's NOTIFY_SOCKET.
	notify *net.UnixConn
	host   string
}

// closeIO closes the caller's ends of the process's stdio, for a process
// the caller never got.
func (p *Process) closeIO() {
	var files []io.Closer
	if p.Console != nil {
		files = append(files, p.Console)
	}
	if p.Stdout != nil {
		files = append(files, p.Stdin, p.Stdout, p.Stderr)
	}
	if p.notify != nil {
		files = append(files, p.notify)
	}
	for _, f := range files {
		f.Close()
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.p.Signal(sig) }

// Wait waits for the process to exit and returns its exit status, 128+n
// when a signal n killed it. Only the process's parent can wait for it:
// the caller of Create or Exec, unless another reaper (a subreaper reaping
// every child) collects it first.
func (p *Process) Wait() (int, error) {
	ps, err := p.p.Wait()
	if ps == nil {
		return -1, fmt.Errorf("wait for process %d of %s: %w", p.Pid, p.ID, err)
	}
	ws, ok := ps.Sys().(syscall.WaitStatus) // os gives syscall's type, not x/sys's
	if !ok {
		return ps.ExitCode(), nil
	}
	return utils.ExitStatus(unix.WaitStatus(ws)), nil
}

// Release frees what libcontainer holds for the process after it exited.
// The caller may already have reaped the pid itself (a subreaper reaps every
// child), so the wait error is reported only if it is not ECHILD.
func (p *Process) Release() error {
	_, err := p.p.Wait()
	if err != nil && !errors.Is(err, unix.ECHILD) {
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) {
			return nil // a non-zero exit is the process's business
		}
		return fmt.Errorf("wait for %s: %w", p.ID, err)
	}
	return nil
}

// ForwardReady waits for a container created with a notify socket to report
// READY (or to exit) and passes it on with MAINPID=mainPid. Without a
// notify socket it returns at once.
func (p *Process) ForwardReady(ctx context.Context, mainPid int) error {
	if p.notify == nil {
		return nil
	}
	return forwardReady(ctx, p.notify, p.host, p.Pid, mainPid)
}
