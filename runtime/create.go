package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// CreateOptions are the flags of create and run.
type CreateOptions struct {
	// Bundle is the bundle directory holding config.json (default: the
	// current directory).
	Bundle string
	// PidFile, when set, receives the init pid, written atomically before
	// Create returns.
	PidFile string
	// ConsoleSocket is a unix socket that receives the pty master when
	// process.terminal is true and the container is detached.
	ConsoleSocket string
	// PidfdSocket is a unix socket that receives a pidfd of the init.
	PidfdSocket string
	// NoPivot uses MS_MOVE and chroot instead of pivot_root.
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool
	// PreserveFDs passes this many fds, after stdio and ListenFDs, on to
	// the container.
	PreserveFDs int
	// ListenFDs are socket-activation fds (LISTEN_FDS) passed on as fds
	// 3.. with LISTEN_FDS and LISTEN_PID=1 set in the container.
	ListenFDs []*os.File
	// Detach leaves the container to run on its own: the caller's stdio
	// (Stdio) is handed to it. create always detaches.
	Detach bool
	// Start also starts the user process (run).
	Start bool
	// Stdio is the caller's stdin, stdout and stderr.
	Stdio Stdio
}

// Stdio is a caller's standard streams.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Process is a container's init started by Create, for callers that stay
// attached (run in the foreground). Exactly one of Console and the pipes is
// set when attached; none when detached.
type Process struct {
	ID  string
	Pid int
	// Console is the pty master when process.terminal is true.
	Console *os.File
	// Stdin, Stdout and Stderr are pipes to the container's stdio when
	// attached without a terminal.
	Stdin          io.WriteCloser
	Stdout, Stderr io.ReadCloser

	p *libcontainer.Process
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.p.Signal(sig) }

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

// Create creates container id from its bundle and leaves its init waiting
// for Start, or, with o.Start, starts the user process too (run). It
// validates config.json before touching the host, and on any failure
// removes everything it made. It changes the current directory to the
// bundle (libcontainer takes the bundle path from there).
func (r *Runtime) Create(ctx context.Context, id string, o CreateOptions) (_ *Process, retErr error) {
	if err := linux.ValidateID(id); err != nil {
		return nil, err
	}
	if err := absPaths(&o); err != nil {
		return nil, err
	}
	spec, err := linux.LoadSpec(o.Bundle)
	if err != nil {
		return nil, err
	}
	if err := linux.Validate(spec, linux.ValidateOptions{Bundle: o.Bundle, SystemdCgroup: r.systemd}); err != nil {
		return nil, err
	}
	if err := checkTerminal(spec.Process.Terminal, o.Detach, o.ConsoleSocket); err != nil {
		return nil, err
	}

	lock, err := r.lock(id)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil && !r.root.Exists(id) {
			// Nothing was made: the lock file goes too.
			if err := lock.Remove(); err != nil {
				retErr = errors.Join(retErr, err)
			}
			return
		}
		lock.Unlock()
	}()
	if r.root.Exists(id) {
		return nil, errExist(id)
	}

	if err := os.Chdir(o.Bundle); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	cfg, err := linux.Convert(spec, linux.ConvertOptions{
		ID:              id,
		SystemdCgroup:   r.systemd,
		NoPivotRoot:     o.NoPivot,
		NoNewKeyring:    o.NoNewKeyring,
		RootlessEUID:    os.Geteuid() != 0,
		RootlessCgroups: r.rootlessCgroups,
	})
	if err != nil {
		return nil, err
	}
	c, err := libcontainer.Create(r.root.Dir(), id, cfg)
	if errors.Is(err, libcontainer.ErrExist) {
		return nil, errExist(id)
	}
	if err != nil {
		return nil, fmt.Errorf("create container %q: %w", id, err)
	}
	defer func() {
		if retErr != nil {
			if err := c.Destroy(); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("clean up after failed create: %w", err))
			}
		}
	}()
	if h := spec.Hooks; h != nil {
		if err := r.root.WriteRecord(id, state.Record{Poststart: h.Poststart, Poststop: h.Poststop}); err != nil {
			return nil, err
		}
	}

	p, err := linux.NewProcess(spec.Process)
	if err != nil {
		return nil, err
	}
	p.Init = true
	p.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	if err := passFDs(p, o.ListenFDs, o.PreserveFDs); err != nil {
		return nil, err
	}
	proc := &Process{ID: id, p: p}
	sio, err := setupStdio(proc, c, spec.Process.Terminal, o)
	if err != nil {
		return nil, err
	}
	defer sio.closeAfterStart()
	if o.PidfdSocket != "" {
		conn, sock, err := dialSocket(o.PidfdSocket)
		if err != nil {
			return nil, fmt.Errorf("--pidfd-socket: %w", err)
		}
		defer conn.Close()
		defer sock.Close()
		p.PidfdSocket = sock
	}

	if o.Start {
		err = c.Run(p)
	} else {
		err = c.Start(p)
	}
	if err != nil {
		sio.closeOnError()
		return nil, fmt.Errorf("start init of %q: %w", id, err)
	}
	// From here on the init runs: a failure must kill it before the
	// deferred Destroy removes its state.
	defer func() {
		if retErr != nil {
			_ = p.Signal(unix.SIGKILL) // it may be gone already; Destroy reports what matters
			_, _ = p.Wait()
			sio.closeOnError()
		}
	}()
	if proc.Pid, err = p.Pid(); err != nil {
		return nil, fmt.Errorf("init pid of %q: %w", id, err)
	}
	if err := sio.receiveConsole(proc); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := state.WriteFileAtomic(o.PidFile, []byte(strconv.Itoa(proc.Pid)), 0o644); err != nil {
			return nil, fmt.Errorf("--pid-file: %w", err)
		}
	}
	if o.Start {
		r.runPoststart(ctx, c, proc.Pid)
	}
	return proc, nil
}

// absPaths resolves the caller's relative paths against the directory berth
// was started in, before Create changes into the bundle.
func absPaths(o *CreateOptions) error {
	if o.Bundle == "" {
		o.Bundle = "."
	}
	for _, p := range []*string{&o.Bundle, &o.PidFile, &o.ConsoleSocket, &o.PidfdSocket} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

func checkTerminal(terminal, detach bool, consoleSocket string) error {
	if detach && terminal && consoleSocket == "" {
		return errors.New("process.terminal is true but berth detaches and no --console-socket was given: " +
			"pass --console-socket to receive the pty master, or set process.terminal to false")
	}
	if (!detach || !terminal) && consoleSocket != "" {
		return errors.New("--console-socket needs process.terminal true and a detached container (create, or run --detach)")
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
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("--preserve-fds %d: fd %d is not open: %w", preserve, fd, err)
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
func setupStdio(proc *Process, c *libcontainer.Container, terminal bool, o CreateOptions) (*stdio, error) {
	p := proc.p
	s := &stdio{}
	switch {
	case terminal && o.Detach:
		conn, sock, err := dialSocket(o.ConsoleSocket)
		if err != nil {
			return nil, fmt.Errorf("--console-socket: %w", err)
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
		cfg := c.Config()
		uid, err := cfg.HostRootUID()
		if err != nil {
			return nil, err
		}
		gid, err := cfg.HostRootGID()
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
	proc.Console = master
	s.onError = append(s.onError, master)
	return nil
}
