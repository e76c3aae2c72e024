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
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/image/owned"
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
	// Restore, when set, restores the container from a CRIU checkpoint
	// (runc's restore) instead of starting a new init.
	Restore *CriuOptions
	// NotifySocket is the caller's NOTIFY_SOCKET: the container gets a
	// socket of its own whose READY=1 start (or run) passes on to it.
	NotifySocket string
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
	c *libcontainer.Container // the container, for DeleteExited
	// notify is the container's notify socket, listened on by run; host
	// the caller's NOTIFY_SOCKET.
	notify *net.UnixConn
	host   string
}

// ForwardReady waits for the container run with a NOTIFY_SOCKET to report
// READY (or to exit) and passes it on with MAINPID=mainPid. Without a
// notify socket it returns at once.
func (p *Process) ForwardReady(ctx context.Context, mainPid int) error {
	if p.notify == nil {
		return nil
	}
	return forwardReady(ctx, p.notify, p.host, p.Pid, mainPid)
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
	if err := linux.Validate(spec, linux.ValidateOptions{Bundle: o.Bundle, SystemdCgroup: r.systemd, NeedProcess: o.Start}); err != nil {
		return nil, err
	}
	terminal := spec.Process != nil && spec.Process.Terminal
	if err := checkTerminal(terminal, o.Detach, o.ConsoleSocket); err != nil {
		return nil, err
	}
	if spec.Process != nil {
		if err := dropUngrantable(spec.Process); err != nil {
			return nil, err
		}
	}
	warnNestedRoot(r.root.Dir())
	if r.systemd && !systemd.IsRunningSystemd() {
		return nil, errors.New("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); " +
			"leave out --systemd-cgroup to use the cgroupfs driver")
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
	if o.NotifySocket != "" {
		r.addNotifySocket(spec, id)
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
	var notify *net.UnixConn
	if o.NotifySocket != "" {
		if err := os.Mkdir(r.notifyDir(id), 0o755); err != nil {
			return nil, fmt.Errorf("notify socket: %w", err)
		}
		if o.Start {
			if notify, err = r.listenNotify(id); err != nil {
				return nil, err
			}
			defer func() {
				if retErr != nil {
					notify.Close()
				}
			}()
		}
	}
	p := linux.PlaceholderProcess() // no process: start will refuse
	if spec.Process != nil {
		if p, err = linux.NewProcess(spec.Process); err != nil {
			return nil, err
		}
		p.Init = true
	}
	// Address-space limits go on when the init executes the container's
	// program (see linux.LateRlimits and releaseWithLimits).
	late := linux.LateRlimits(p)
	// Recorded before the init exists, so that a berth killed from here
	// on leaves a container that delete can find the cgroups of.
	if err := r.writeRecord(c, spec, late); err != nil {
		return nil, err
	}
	run := func(p *libcontainer.Process) error {
		if err := c.Start(p); err != nil {
			return err
		}
		if !o.Start {
			return nil // start applies them (berth's record carries them)
		}
		pid, err := p.Pid()
		if err != nil {
			return err
		}
		return releaseWithLimits(pid, late, c.Exec)
	}
	if o.Restore != nil {
		run = func(p *libcontainer.Process) error { return c.Restore(p, o.Restore) }
	}
	proc, err := launch(c, p, terminal, o.launchOptions(), run)
	if err != nil {
		return nil, fmt.Errorf("start init of %q: %w", id, err)
	}
	proc.c, proc.notify, proc.host = c, notify, o.NotifySocket
	if err := r.writeRecord(c, spec, late); err != nil {
		return nil, err
	}
	if err := setKernelTCP(c, spec); err != nil {
		return nil, err
	}
	if o.Start && o.Restore == nil && spec.Hooks != nil {
		r.runPoststart(ctx, c, proc.Pid, spec.Hooks.Poststart)
	}
	return proc, nil
}

func (o CreateOptions) launchOptions() launchOptions {
	return launchOptions{
		PidFile:       o.PidFile,
		ConsoleSocket: o.ConsoleSocket,
		PidfdSocket:   o.PidfdSocket,
		PreserveFDs:   o.PreserveFDs,
		ListenFDs:     o.ListenFDs,
		Detach:        o.Detach,
		Stdio:         o.Stdio,
	}
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

// dropUngrantable takes out of the process the capabilities that berth
// itself lacks (outside its bounding set): the runtime spec says not to
// fail for capabilities that cannot be granted, and libcontainer would.
func dropUngrantable(p *specs.Process) error {
	bounding, err := linux.BoundingSet()
	if err != nil {
		return fmt.Errorf("read berth's capability bounding set: %w", err)
	}
	if dropped := linux.DropUngrantable(p, bounding); len(dropped) > 0 {
		logrus.WithField("capabilities", dropped).Warn("berth does not hold these capabilities and cannot grant them to the container")
	}
	return nil
}

// setKernelTCP applies linux.resources.memory.kernelTCP, which libcontainer
// no longer sets, on cgroup v1 (cgroup v2 has no such limit). The init is
// still waiting for start.
func setKernelTCP(c *libcontainer.Container, spec *specs.Spec) error {
	if spec.Linux == nil || spec.Linux.Resources == nil || spec.Linux.Resources.Memory == nil {
		return nil
	}
	limit := spec.Linux.Resources.Memory.KernelTCP //nolint:staticcheck // deprecated in the spec, still honoured on v1
	if limit == nil || cgroups.IsCgroup2UnifiedMode() {
		return nil
	}
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("state of %q: %w", c.ID(), err)
	}
	dir, ok := st.CgroupPaths["memory"]
	if !ok {
		return nil
	}
	if err := cgroups.WriteFile(dir, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(*limit, 10)); err != nil {
		return fmt.Errorf("linux.resources.memory.kernelTCP: %w", err)
	}
	return nil
}

// writeRecord stores berth's record of a container: its hooks, where its
// init (once started) and cgroups are, for a delete that cannot read
// libcontainer's state, and the bundle to remove with it (run --image).
func (r *Runtime) writeRecord(c *libcontainer.Container, spec *specs.Spec, late []configs.Rlimit) error {
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("state of %q: %w", c.ID(), err)
	}
	rec := state.Record{
		CgroupPaths: st.CgroupPaths,
		NoProcess:   spec.Process == nil,
		ImageBundle: spec.Annotations[owned.AnnotationBundle],
	}
	if st.InitProcessPid > 0 {
		rec.Pid, rec.PidStart = st.InitProcessPid, st.InitProcessStartTime
	}
	if h := spec.Hooks; h != nil {
		rec.Poststart, rec.Poststop = h.Poststart, h.Poststop
	}
	for _, rl := range late {
		rec.LateRlimits = append(rec.LateRlimits, specs.POSIXRlimit{Type: linux.RlimitName(rl.Type), Hard: rl.Hard, Soft: rl.Soft})
	}
	return r.root.WriteRecord(c.ID(), rec)
}

// warnNestedRoot warns when the state root lies inside the directory of the
// berth binary: libcontainer's overlayfs seal of the binary for "berth init"
// then fails and it copies the whole binary into memory for every container
// (about +10 ms of CPU each, measured).
func warnNestedRoot(root string) {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if dir := filepath.Dir(exe); root == dir || strings.HasPrefix(root, dir+"/") {
		logrus.WithFields(logrus.Fields{"root": root, "binary": exe}).
			Warn("--root is inside the berth binary's directory: every container start copies the binary; keep them in separate trees")
	}
}
