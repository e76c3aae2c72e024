package runtime

import (
	"context"
	"errors"
	"fmt"
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

	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// CreateOptions are what the caller of Create decides beside config.json.
// Relative paths are taken from the current directory.
type CreateOptions struct {
	// Bundle is the bundle directory holding config.json (default: the
	// current directory).
	Bundle string
	// OwnBundle hands the bundle directory to berth: it is unmounted and
	// removed when the container is deleted (run --image makes such
	// bundles). Should Create fail, the bundle stays the caller's.
	OwnBundle bool
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
	// PreserveFDs passes this many of the caller's fds, after stdio and
	// ListenFDs, on to the container.
	PreserveFDs int
	// ListenFDs are socket-activation fds (LISTEN_FDS) passed on as fds
	// 3.. with LISTEN_FDS and LISTEN_PID=1 set in the container.
	ListenFDs []*os.File
	// Detach leaves the container to run on its own with Stdio. Attached,
	// the returned Process carries the pty master or pipes to its stdio.
	Detach bool
	// Start also starts the user process (run).
	Start bool
	// Stdio is given to a detached container.
	Stdio Stdio
	// IOOwner owns the stdio pipes made for an attached container.
	IOOwner *IOOwner
	// Restore, when set, restores the container from a CRIU checkpoint
	// instead of starting a new init.
	Restore *CriuOptions
	// NotifySocket is the caller's NOTIFY_SOCKET: the container gets a
	// socket of its own whose READY=1 start (or run) passes on to it.
	NotifySocket string
}

// Create creates container id from its bundle and leaves its init waiting
// for Start, or, with o.Start, starts the user process too (run). It reads
// and checks config.json before it touches the host, and on any failure
// removes everything it made.
func (r *Runtime) Create(ctx context.Context, id string, o CreateOptions) (_ *Process, retErr error) {
	b, err := r.readBundle(id, &o)
	if err != nil {
		return nil, err
	}
	cr, err := r.beginCreate(id)
	if err != nil {
		return nil, err
	}
	defer func() { retErr = cr.end(retErr) }()
	if err := cr.newContainer(b, o); err != nil {
		return nil, err
	}
	proc, err := cr.startInit(b, o)
	if err != nil {
		return nil, err
	}
	if o.Start && o.Restore == nil && b.spec.Hooks != nil {
		if err := r.runPoststart(ctx, cr.c, proc.Pid, b.spec.Hooks.Poststart); err != nil {
			proc.closeIO()
			c := cr.c
			cr.c = nil // abortStarted removes it, poststop hooks and all
			return nil, r.abortStarted(ctx, c, proc.rec, err)
		}
	}
	return proc, nil
}

// bundle is a container's configuration, read and checked.
type bundle struct {
	dir      string
	spec     *specs.Spec
	terminal bool
}

// readBundle reads config.json and checks it, and the options, against
// this host. Nothing on the host changes yet.
func (r *Runtime) readBundle(id string, o *CreateOptions) (*bundle, error) {
	if err := linux.ValidateID(id); err != nil {
		return nil, err
	}
	if err := o.ResolvePaths(); err != nil {
		return nil, err
	}
	spec, err := linux.LoadSpec(o.Bundle, warnField)
	if err != nil {
		return nil, err
	}
	if err := linux.Validate(spec, linux.ValidateOptions{Bundle: o.Bundle, SystemdCgroup: r.systemd, NeedProcess: o.Start, Warn: warnField}); err != nil {
		return nil, err
	}
	b := &bundle{dir: o.Bundle, spec: spec, terminal: spec.Process != nil && spec.Process.Terminal}
	if err := checkTerminal(b.terminal, o.Detach, o.ConsoleSocket); err != nil {
		return nil, err
	}
	if spec.Process != nil {
		if err := r.dropUngrantable(spec.Process); err != nil {
			return nil, err
		}
	}
	warnNestedRoot(r.root.Dir())
	if r.systemd && !systemd.IsRunningSystemd() {
		return nil, errors.New("systemd cgroup driver: systemd is not running on this host (no /run/systemd/system); " +
			"use the cgroupfs driver")
	}
	return b, nil
}

// creation is one Create under way: what it has made so far, so that a
// failure undoes exactly that.
type creation struct {
	r      *Runtime
	id     string
	lock   *state.Lock
	c      *libcontainer.Container // once libcontainer made it
	notify *net.UnixConn           // run's notify socket, once listened on
}

// beginCreate takes id's lock, making the state root if need be, and
// checks that the id is free.
func (r *Runtime) beginCreate(id string) (*creation, error) {
	if err := r.root.Make(); err != nil {
		return nil, err
	}
	lock, err := r.lock(id)
	if err != nil {
		return nil, err
	}
	if r.root.Exists(id) {
		lock.Unlock()
		return nil, errExist(id)
	}
	return &creation{r: r, id: id, lock: lock}, nil
}

// end finishes a creation: on failure it removes what was made (the
// container, its notify socket, the lock file) and joins what went wrong
// doing so to err.
func (cr *creation) end(err error) error {
	if err == nil {
		cr.lock.Unlock()
		return nil
	}
	if cr.notify != nil {
		cr.notify.Close()
	}
	if cr.c != nil {
		if derr := cr.c.Destroy(); derr != nil {
			err = errors.Join(err, fmt.Errorf("clean up after failed create: %w", derr))
		}
	}
	if cr.r.root.Exists(cr.id) {
		cr.lock.Unlock()
		return err
	}
	return errors.Join(err, cr.lock.Remove())
}

// newContainer converts the configuration and has libcontainer make the
// container's state: nothing runs yet.
func (cr *creation) newContainer(b *bundle, o CreateOptions) error {
	r := cr.r
	if o.NotifySocket != "" {
		r.addNotifySocket(b.spec, cr.id)
	}
	cfg, err := linux.Convert(b.spec, linux.ConvertOptions{
		ID:              cr.id,
		Bundle:          b.dir,
		SystemdCgroup:   r.systemd,
		NoPivotRoot:     o.NoPivot,
		NoNewKeyring:    o.NoNewKeyring,
		RootlessEUID:    os.Geteuid() != 0,
		RootlessCgroups: r.rootlessCgroups,
	})
	if err != nil {
		return err
	}
	c, err := libcontainer.Create(r.root.Dir(), cr.id, cfg)
	if errors.Is(err, libcontainer.ErrExist) {
		return errExist(cr.id)
	}
	if err != nil {
		return fmt.Errorf("create container %q: %w", cr.id, err)
	}
	cr.c = c
	if o.NotifySocket != "" {
		if err := os.Mkdir(r.notifyDir(cr.id), 0o755); err != nil {
			return fmt.Errorf("notify socket: %w", err)
		}
		if o.Start {
			if cr.notify, err = r.listenNotify(cr.id); err != nil {
				return err
			}
		}
	}
	return nil
}

// startInit starts the container's init (and, for run, releases it into the
// user process, or restores it), with berth's record written before and
// the recovery record after.
func (cr *creation) startInit(b *bundle, o CreateOptions) (*Process, error) {
	c, spec := cr.c, b.spec
	p := linux.PlaceholderProcess() // no process: start will refuse
	if spec.Process != nil {
		var err error
		if p, err = linux.NewProcess(spec.Process); err != nil {
			return nil, err
		}
		p.Init = true
	}
	// Address-space limits go on when the init executes the container's
	// program (see linux.LateRlimits and releaseWithLimits).
	late := linux.LateRlimits(p)
	// Written before the init exists, so that a berth killed from here on
	// leaves a container whose cgroups delete can find.
	rec, err := cr.writeRecord(b, o, late)
	if err != nil {
		return nil, err
	}
	start := c.Start
	if o.Restore != nil {
		start = func(p *libcontainer.Process) error { return c.Restore(p, o.Restore) }
	}
	proc, err := launch(c, p, b.terminal, o.launchOptions(), start)
	if err != nil {
		return nil, fmt.Errorf("start init of %q: %w", cr.id, err)
	}
	proc.r, proc.c, proc.rec, proc.notify, proc.host = cr.r, c, rec, cr.notify, o.NotifySocket
	cr.notify = nil // the process has it now
	if o.Start && o.Restore == nil {
		// Released only now that its terminal, if any, is set up: its
		// first output already finds the line discipline it will keep.
		if err := releaseWithLimits(proc.Pid, late, c.Exec); err != nil {
			proc.closeIO()
			return nil, fmt.Errorf("start %q: %w", cr.id, err)
		}
	}
	if err := cr.writeRecovery(); err != nil {
		return nil, err
	}
	if err := setKernelTCP(c, spec); err != nil {
		return nil, err
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
		IOOwner:       o.IOOwner,
	}
}

// writeRecord stores berth's record of the container: its hooks, what the
// creator decided, and where its cgroups are, for a delete that cannot
// read libcontainer's state.
func (cr *creation) writeRecord(b *bundle, o CreateOptions, late []configs.Rlimit) (state.Record, error) {
	st, err := cr.c.State()
	if err != nil {
		return state.Record{}, fmt.Errorf("state of %q: %w", cr.id, err)
	}
	rec := state.Record{CgroupPaths: st.CgroupPaths, NoProcess: b.spec.Process == nil}
	if o.OwnBundle {
		rec.OwnedBundle = b.dir
	}
	if h := b.spec.Hooks; h != nil {
		rec.Poststart, rec.Poststop = h.Poststart, h.Poststop
	}
	for _, rl := range late {
		rec.LateRlimits = append(rec.LateRlimits, specs.POSIXRlimit{Type: linux.RlimitName(rl.Type), Hard: rl.Hard, Soft: rl.Soft})
	}
	return rec, cr.r.root.WriteRecord(cr.id, rec)
}

// writeRecovery stores the init and the cgroups apart from the other
// records, once the init runs.
func (cr *creation) writeRecovery() error {
	st, err := cr.c.State()
	if err != nil {
		return fmt.Errorf("state of %q: %w", cr.id, err)
	}
	return cr.r.root.WriteRecovery(cr.id, state.Recovery{
		Pid:         st.InitProcessPid,
		PidStart:    st.InitProcessStartTime,
		CgroupPaths: st.CgroupPaths,
	})
}

// ResolvePaths makes the options' relative paths absolute against the
// current directory (Create does it itself; a caller that changes
// directory before Create calls it first).
func (o *CreateOptions) ResolvePaths() error {
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

// warnField logs what config.json has that the runtime spec says to
// tolerate, with its field.
func warnField(w *linux.FieldError) {
	logrus.WithField("field", w.Field).Warn(w.Msg)
}

// dropUngrantable takes out of the process the capabilities that berth
// itself lacks (outside its bounding set): the runtime spec says not to
// fail for capabilities that cannot be granted, and libcontainer would.
func (r *Runtime) dropUngrantable(p *specs.Process) error {
	bounding, err := r.bounding()
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
			Warn("the state root is inside the berth binary's directory: every container start copies the binary; keep them in separate trees")
	}
}
