package runtime

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/state"
)

// launchOptions say how a process (a container's init, or an exec) is
// wired to its caller.
type launchOptions struct {
	PidFile       string
	ConsoleSocket string
	PidfdSocket   string
	PreserveFDs   int
	ListenFDs     []*os.File
	Detach        bool
	Stdio         Stdio
	IOOwner       *IOOwner
}

// launch starts p in container c through run (Container.Start or Restore
// for an init, Run for an exec), with its stdio, pidfd socket and pid
// file. On failure nothing of p is left running.
func launch(c *libcontainer.Container, p *libcontainer.Process, terminal bool, o launchOptions, run func(*libcontainer.Process) error) (_ *Process, retErr error) {
	if err := checkTerminal(terminal, o.Detach, o.ConsoleSocket); err != nil {
		return nil, err
	}
	p.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	if err := passFDs(p, o.ListenFDs, o.PreserveFDs); err != nil {
		return nil, err
	}
	proc := &Process{ID: c.ID(), p: p}
	sio, err := setupStdio(proc, c, terminal, o)
	if err != nil {
		return nil, err
	}
	defer sio.closeAfterStart()
	if o.PidfdSocket != "" {
		conn, sock, err := dialSocket(o.PidfdSocket)
		if err != nil {
			return nil, fmt.Errorf("pidfd socket: %w", err)
		}
		defer conn.Close()
		defer sock.Close()
		p.PidfdSocket = sock
	}
	if err := run(p); err != nil {
		sio.closeOnError()
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = p.Signal(unix.SIGKILL) // it may be gone already; the first error is what matters
			_, _ = p.Wait()
			sio.closeOnError()
		}
	}()
	if proc.Pid, err = p.Pid(); err != nil {
		return nil, err
	}
	if err := sio.receiveConsole(proc); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := state.WriteFileAtomic(o.PidFile, []byte(strconv.Itoa(proc.Pid)), 0o644); err != nil {
			return nil, fmt.Errorf("pid file: %w", err)
		}
	}
	return proc, nil
}

func checkTerminal(terminal, detach bool, consoleSocket string) error {
	if detach && terminal && consoleSocket == "" {
		return errors.New("cannot allocate a terminal without a console socket: the process has a terminal and berth detaches; " +
			"give a console socket to receive the pty master, or set process.terminal to false")
	}
	if (!detach || !terminal) && consoleSocket != "" {
		return errors.New("cannot use a console socket unless the process has a terminal and berth detaches: " +
			"a console socket needs process.terminal true (or a tty for exec) and a detached create, run or exec")
	}
	return nil
}

// passFDs hands socket-activation fds and --preserve-fds fds to the init.
func passFDs(p *libcontainer.Process, listen []*os.File, preserve int) error {
	if len(listen) > 0 {
		p.Env = append(p.Env, "LISTEN_FDS="+strconv.Itoa(len(listen)), "LISTEN_PID=1")
		p.ExtraFiles = append(p.ExtraFiles, listen...)
	}
	base := 3 + len(p.ExtraFiles)
	for fd := base; fd < base+preserve; fd++ {
		// An fd berth inherited has no close-on-exec flag; every fd Go or
		// berth opened itself has one. Refusing the latter keeps berth's
		// own files (cgroup files, sockets) out of the container.
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			return fmt.Errorf("preserve %d fds: fd %d was not passed to berth: %w", preserve, fd, err)
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return fmt.Errorf("preserve %d fds: fd %d was not passed to berth (it is berth's own)", preserve, fd)
		}
		p.ExtraFiles = append(p.ExtraFiles, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}
	return nil
}

// dialSocket connects to a unix socket and returns the connection and a
// file for it that can be passed to the init.
func dialSocket(path string) (net.Conn, *os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, nil, err
	}
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, f, nil
}

// stdio tracks the descriptors set up for one init until it has started.
type stdio struct {
	afterStart []io.Closer // our copies of what the init now holds
	onError    []io.Closer // what the caller would have used
	consoleRx  *os.File    // our end of the console socketpair (attached terminal)
}

func (s *stdio) closeAfterStart() {
	for _, c := range s.afterStart {
		c.Close()
	}
	s.afterStart = nil
}

func (s *stdio) closeOnError() {
	for _, c := range s.onError {
		c.Close()
	}
	s.onError = nil
}

// setupStdio wires the init's stdio: the pty (through the caller's console
// socket, or a socketpair of ours when attached), the caller's own files
// when detached, or pipes when attached without a terminal.
func setupStdio(proc *Process, c *libcontainer.Container, terminal bool, o launchOptions) (*stdio, error) {
	p := proc.p
	s := &stdio{}
	switch {
	case terminal && o.Detach:
		conn, sock, err := dialSocket(o.ConsoleSocket)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		s.afterStart = append(s.afterStart, conn, sock)
		p.ConsoleSocket = sock
	case terminal:
		rx, tx, err := utils.NewSockPair("console")
		if err != nil {
			return nil, fmt.Errorf("console socketpair: %w", err)
		}
		s.afterStart = append(s.afterStart, rx, tx)
		s.consoleRx = rx
		p.ConsoleSocket = tx
	case o.Detach:
		p.Stdin, p.Stdout, p.Stderr = o.Stdio.Stdin, o.Stdio.Stdout, o.Stdio.Stderr
	default:
		uid, gid, err := pipeOwner(c, o.IOOwner)
		if err != nil {
			return nil, err
		}
		pipes, err := p.InitializeIO(uid, gid)
		if err != nil {
			return nil, fmt.Errorf("stdio pipes: %w", err)
		}
		proc.Stdin, proc.Stdout, proc.Stderr = pipes.Stdin, pipes.Stdout, pipes.Stderr
		s.onError = append(s.onError, pipes.Stdin, pipes.Stdout, pipes.Stderr)
		for _, f := range []any{p.Stdin, p.Stdout, p.Stderr} {
			if cl, ok := f.(io.Closer); ok {
				s.afterStart = append(s.afterStart, cl)
			}
		}
	}
	return s, nil
}

// receiveConsole takes the pty master the init sent over our socketpair.
func (s *stdio) receiveConsole(proc *Process) error {
	if s.consoleRx == nil {
		return nil
	}
	master, err := utils.RecvFile(s.consoleRx)
	if err != nil {
		return fmt.Errorf("receive the container's pty: %w", err)
	}
	s.onError = append(s.onError, master)
	// The caller copies the output to a terminal of its own, which turns
	// "\n" into "\r\n" already: the pty must not do it too.
	if err := console.ClearONLCR(master.Fd()); err != nil {
		return fmt.Errorf("container pty: %w", err)
	}
	proc.Console = master
	return nil
}

// IOOwner owns the stdio pipes of an attached process without a terminal,
// on the host (containerd's IoUid and IoGid); by default the container's
// root does.
type IOOwner struct {
	UID, GID int
}

func pipeOwner(c *libcontainer.Container, o *IOOwner) (uid, gid int, err error) {
	if o != nil {
		return o.UID, o.GID, nil
	}
	cfg := c.Config()
	if uid, err = cfg.HostRootUID(); err != nil {
		return 0, 0, err
	}
	gid, err = cfg.HostRootGID()
	return uid, gid, err
}
