package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/berth-oci/berth/runtime"
	"github.com/berth-oci/berth/shim/lite"
)

// Event topics, as containerd names them.
const (
	topicCreate       = "/tasks/create"
	topicStart        = "/tasks/start"
	topicExit         = "/tasks/exit"
	topicDelete       = "/tasks/delete"
	topicExecAdded    = "/tasks/exec-added"
	topicExecStarted  = "/tasks/exec-started"
	topicPaused       = "/tasks/paused"
	topicResumed      = "/tasks/resumed"
	topicCheckpointed = "/tasks/checkpointed"
	topicOOM          = "/tasks/oom"
)

// service is the task service of one shim daemon: the containers of one
// group (a pod) in one containerd namespace.
type service struct {
	ns     string
	pub    *publisher
	reaper *reaper
	// shutdown stops the daemon (Shutdown with no container left).
	shutdown func()

	mu         sync.Mutex
	containers map[string]*container
	runtimes   map[lite.Options]*runtime.Runtime // by root and cgroup driver
}

func newService(ns string, pub *publisher, r *reaper, shutdown func()) *service {
	return &service{
		ns:         ns,
		pub:        pub,
		reaper:     r,
		shutdown:   shutdown,
		containers: map[string]*container{},
		runtimes:   map[lite.Options]*runtime.Runtime{},
	}
}

// container is one task: berth's container and its processes.
type container struct {
	id, bundle string
	rt         *runtime.Runtime
	opts       *lite.Options
	rootfs     string // where the rootfs mounts are, "" when containerd mounted none
	// killAll: the container has no pid namespace of its own, so its
	// processes outlive its init; they are killed when the init exits,
	// as the runc shim does.
	killAll bool
	init    *process
	stopOOM context.CancelFunc

	mu           sync.Mutex
	open         *runtime.Container // once Create made it: its state is read once
	execs        map[string]*process
	runningExecs int
	initExit     *exitInfo // the init has exited; its TaskExit waits for the execs
	initExitSent bool
}

type exitInfo struct {
	status int
	at     time.Time
}

// process is a container's init or one of its execs.
type process struct {
	c    *container
	id   string // exec id; "" for the init
	sio  stdio
	spec *specs.Process // an exec's process, until it starts

	// pubMu orders the process's events: held while the process is
	// created or started until its create/start event is queued, and taken
	// before its exit event is queued.
	pubMu sync.Mutex

	mu         sync.Mutex
	pid        int
	state      taskStatus
	exitStatus int
	exitedAt   time.Time
	done       chan struct{} // closed when the process has exited
	io         *processIO
	rp         *runtime.Process
}

func newProcess(c *container, id string, sio stdio) *process {
	return &process{c: c, id: id, sio: sio, state: statusCreated, done: make(chan struct{})}
}

func (p *process) status() (taskStatus, int, int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, p.pid, p.exitStatus, p.exitedAt
}

// setExited records the exit; false if it was recorded before.
func (p *process) setExited(status int, at time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == statusStopped {
		return false
	}
	p.state, p.exitStatus, p.exitedAt = statusStopped, status, at
	close(p.done)
	return true
}

// runtimeFor returns the runtime of a state root and cgroup driver.
func (s *service) runtimeFor(o *lite.Options) (*runtime.Runtime, error) {
	key := lite.Options{Root: o.StateRoot(s.ns), SystemdCgroup: o.SystemdCgroup}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt := s.runtimes[key]; rt != nil {
		return rt, nil
	}
	rt, err := runtime.New(runtime.Options{Root: key.Root, SystemdCgroup: key.SystemdCgroup})
	if err != nil {
		return nil, err
	}
	s.runtimes[key] = rt
	return rt, nil
}

func (s *service) get(id string) (*container, error) {
	s.mu.Lock()
	c := s.containers[id]
	s.mu.Unlock()
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "container %s: not created in this shim", id)
	}
	return c, nil
}

// handle is the container in berth's runtime: the one Create opened, whose
// state is read once, or, before that, the one of that id, read from disk
// at every call.
func (c *container) handle() *runtime.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open != nil {
		return c.open
	}
	return c.rt.Container(c.id)
}

func (c *container) process(execID string) (*process, error) {
	if execID == "" {
		return c.init, nil
	}
	c.mu.Lock()
	p := c.execs[execID]
	c.mu.Unlock()
	if p == nil {
		return nil, status.Errorf(codes.NotFound, "exec %s of container %s does not exist", execID, c.id)
	}
	return p, nil
}

// ---- create and start ----

func (s *service) Create(ctx context.Context, r *taskRequest) (_ []byte, retErr error) {
	if r.Checkpoint != "" {
		return nil, status.Errorf(codes.Unimplemented, "create %s: restoring a checkpoint is not supported by the berth shim yet", r.ID)
	}
	opts, err := lite.ParseOptions(r.Options)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	rt, err := s.runtimeFor(opts)
	if err != nil {
		return nil, toStatus(err)
	}
	c := &container{id: r.ID, bundle: r.Bundle, rt: rt, opts: opts, execs: map[string]*process{}}
	c.init = newProcess(c, "", stdio{r.Stdin, r.Stdout, r.Stderr, r.Terminal})
	s.mu.Lock()
	if s.containers[c.id] != nil {
		s.mu.Unlock()
		return nil, status.Errorf(codes.AlreadyExists, "container %s already exists in this shim", c.id)
	}
	s.containers[c.id] = c // reserved; removed again on failure
	s.mu.Unlock()
	defer func() {
		if retErr != nil {
			s.mu.Lock()
			delete(s.containers, c.id)
			s.mu.Unlock()
		}
	}()

	if !filepath.IsAbs(c.bundle) {
		return nil, status.Errorf(codes.InvalidArgument, "bundle %q is not an absolute path", c.bundle)
	}
	if c.killAll, err = sharesPidNamespace(c.bundle); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := lite.WriteOptions(c.bundle, opts); err != nil {
		return nil, toStatus(err)
	}
	if len(r.Rootfs) > 0 {
		c.rootfs = filepath.Join(c.bundle, "rootfs")
		if err := os.Mkdir(c.rootfs, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, toStatus(err)
		}
		if err := mountRootfs(r.Rootfs, c.rootfs); err != nil {
			return nil, toStatus(err)
		}
		defer func() {
			if retErr != nil {
				lite.UnmountAll(c.rootfs)
			}
		}()
	}
	pio, err := openIO(ctx, c.init.sio, s.ns, c.id)
	if err != nil {
		return nil, toStatus(err)
	}
	defer func() {
		if retErr != nil {
			pio.close()
		}
	}()

	p := c.init
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	leave := s.reaper.enter()
	if err := pio.startLogBinary(); err != nil {
		leave()
		return nil, toStatus(err)
	}
	rp, err := rt.Create(ctx, c.id, runtime.CreateOptions{
		Bundle:       c.bundle,
		NoPivot:      opts.NoPivotRoot,
		NoNewKeyring: opts.NoNewKeyring,
		// Not detached: the runtime makes the stdio pipes (owned by the
		// container's root, or IoUid/IoGid) or receives the pty master,
		// and hands them back; the shim copies between them and
		// containerd's streams.
		Detach:  false,
		IOOwner: ioOwner(opts),
	})
	if err == nil {
		s.reaper.register(rp.Pid, func(st int, at time.Time) { go s.initExited(c, st, at) })
	}
	leave()
	if err != nil {
		return nil, toStatus(err)
	}
	p.mu.Lock()
	p.pid, p.rp, p.io = rp.Pid, rp, pio
	p.mu.Unlock()
	c.mu.Lock()
	c.open = rp.Container()
	c.mu.Unlock()
	pio.attach(rp)
	s.watchOOM(c)
	s.pub.publish(topicCreate, evCreate(c.id, c.bundle, r.Rootfs, c.init.sio, r.Checkpoint, rp.Pid))
	return pidResponse(rp.Pid), nil
}

// ioOwner is who owns the stdio pipes: IoUid/IoGid when the options name
// them, the container's root otherwise.
func ioOwner(o *lite.Options) *runtime.IOOwner {
	if o.IoUID == 0 && o.IoGID == 0 {
		return nil
	}
	return &runtime.IOOwner{UID: int(o.IoUID), GID: int(o.IoGID)}
}

// sharesPidNamespace reads from the bundle's config.json whether the
// container lacks a pid namespace of its own (none, or one joined by path).
func sharesPidNamespace(bundle string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return false, err
	}
	var spec struct {
		Linux *struct {
			Namespaces []specs.LinuxNamespace `json:"namespaces"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return false, fmt.Errorf("config.json: %w", err)
	}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.PIDNamespace && ns.Path == "" {
				return false, nil
			}
		}
	}
	return true, nil
}

// watchOOM publishes TaskOOM for every OOM kill in the container's cgroup,
// from container creation until it is deleted.
func (s *service) watchOOM(c *container) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopOOM = cancel
	go func() {
		ooms, err := c.handle().NotifyOOM(ctx)
		if err != nil {
			if ctx.Err() == nil {
				logrus.WithError(err).WithField("id", c.id).Warn("OOM events of the container are not watched")
			}
			return
		}
		for range ooms {
			s.pub.publish(topicOOM, evOOM(c.id))
		}
	}()
}

func (s *service) Start(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if r.ExecID != "" {
		return s.startExec(ctx, c, r.ExecID)
	}
	p := c.init
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	leave := s.reaper.enter()
	err = c.handle().Start(ctx, runtime.StartOptions{})
	leave()
	if err != nil {
		return nil, toStatus(err)
	}
	p.mu.Lock()
	if p.state == statusCreated {
		p.state = statusRunning
	}
	pid := p.pid
	p.mu.Unlock()
	s.pub.publish(topicStart, evStart(c.id, pid))
	return pidResponse(pid), nil
}

func (s *service) Exec(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	spec := new(specs.Process)
	if r.Spec == nil {
		return nil, status.Errorf(codes.InvalidArgument, "exec %s: no process spec", r.ExecID)
	}
	if err := json.Unmarshal(r.Spec.Value, spec); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "exec %s: process spec: %v", r.ExecID, err)
	}
	p := newProcess(c, r.ExecID, stdio{r.Stdin, r.Stdout, r.Stderr, r.Terminal})
	p.spec = spec
	c.mu.Lock()
	if c.execs[p.id] != nil {
		c.mu.Unlock()
		return nil, status.Errorf(codes.AlreadyExists, "exec %s of container %s already exists", p.id, c.id)
	}
	c.execs[p.id] = p
	c.mu.Unlock()
	s.pub.publish(topicExecAdded, evExecAdded(c.id, p.id))
	return nil, nil
}

func (s *service) startExec(ctx context.Context, c *container, execID string) (_ []byte, retErr error) {
	p, err := c.process(execID)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	st, spec := p.state, p.spec
	p.spec = nil
	p.mu.Unlock()
	if st != statusCreated || spec == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "exec %s of container %s has been started already", execID, c.id)
	}
	c.mu.Lock()
	if c.initExit != nil {
		c.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "container %s init process is not running", c.id)
	}
	c.runningExecs++
	c.mu.Unlock()
	started := false
	defer func() {
		if !started {
			// The exec never ran: it is stopped (Wait returns 255, as
			// runc's exec does for a process it could not start), and no
			// longer holds back the init's exit event.
			p.setExited(255, time.Now())
			s.execGone(c)
		}
	}()

	pio, err := openIO(ctx, p.sio, s.ns, c.id)
	if err != nil {
		return nil, toStatus(err)
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	leave := s.reaper.enter()
	err = pio.startLogBinary()
	var rp *runtime.Process
	if err == nil {
		rp, err = c.handle().Exec(ctx, runtime.ExecOptions{Process: spec, IOOwner: ioOwner(c.opts)})
	}
	if err == nil {
		s.reaper.register(rp.Pid, func(st int, at time.Time) { go s.execExited(c, p, st, at) })
	}
	leave()
	if err != nil {
		pio.close()
		return nil, status.Errorf(codeOf(err), "exec %s in container %s: %v", execID, c.id, err)
	}
	started = true
	p.mu.Lock()
	p.pid, p.rp, p.io, p.state = rp.Pid, rp, pio, statusRunning
	p.mu.Unlock()
	pio.attach(rp)
	s.pub.publish(topicExecStarted, evExecStarted(c.id, execID, rp.Pid))
	return pidResponse(rp.Pid), nil
}

// ---- exits ----

// initExited handles the exit of a container's init (from the reaper).
// Its TaskExit is the container's last exit event: without a pid namespace
// of its own the container's other processes are killed first, and the
// event waits until every running exec's exit was published.
func (s *service) initExited(c *container, st int, at time.Time) {
	if c.killAll {
		leave := s.reaper.enter()
		if err := c.handle().Kill(context.Background(), unix.SIGKILL, runtime.KillOptions{All: true}); err != nil && !errors.Is(err, libcontainer.ErrNotExist) {
			logrus.WithError(err).WithField("id", c.id).Warn("kill the processes the init left")
		}
		leave()
	}
	c.mu.Lock()
	c.initExit = &exitInfo{st, at}
	c.mu.Unlock()
	s.maybeSendInitExit(c)
}

// maybeSendInitExit publishes the init's exit once it has exited and no exec
// runs any more.
func (s *service) maybeSendInitExit(c *container) {
	c.mu.Lock()
	e := c.initExit
	if e == nil || c.runningExecs > 0 || c.initExitSent {
		c.mu.Unlock()
		return
	}
	c.initExitSent = true
	c.mu.Unlock()
	p := c.init
	p.pubMu.Lock() // after its create or start event
	defer p.pubMu.Unlock()
	if !p.setExited(e.status, e.at) {
		return
	}
	s.sendExit(c, p, e.status, e.at)
	if p.rp != nil {
		if err := p.rp.Release(); err != nil {
			logrus.WithError(err).WithField("id", c.id).Debug("release the init")
		}
	}
}

func (s *service) execExited(c *container, p *process, st int, at time.Time) {
	p.pubMu.Lock() // after its exec-started event
	if p.setExited(st, at) {
		s.sendExit(c, p, st, at)
	}
	p.pubMu.Unlock()
	if p.rp != nil {
		_ = p.rp.Release() // it is reaped; this frees what libcontainer holds
	}
	s.execGone(c)
}

// execGone counts a running exec less and lets a waiting init exit go.
func (s *service) execGone(c *container) {
	c.mu.Lock()
	c.runningExecs--
	c.mu.Unlock()
	s.maybeSendInitExit(c)
}

func (s *service) sendExit(c *container, p *process, st int, at time.Time) {
	id := p.id
	if id == "" {
		id = c.id
	}
	_, pid, _, _ := p.status()
	s.pub.publish(topicExit, evExit(c.id, id, pid, st, at))
}

// ---- delete ----

func (s *service) Delete(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if r.ExecID != "" {
		return s.deleteExec(c, r.ExecID)
	}
	p := c.init
	st, _, _, _ := p.status()
	switch st {
	case statusCreated:
		// Never started: the runtime kills its waiting init.
	case statusStopped:
	default:
		if rs, err := c.handle().State(ctx); err == nil && rs.Status != string(specs.StateStopped) {
			return nil, status.Errorf(codes.FailedPrecondition, "cannot delete container %s: its init is %s", c.id, rs.Status)
		}
	}
	leave := s.reaper.enter()
	err = c.handle().Delete(ctx, runtime.DeleteOptions{Force: st == statusCreated})
	leave()
	if err != nil && !errors.Is(err, libcontainer.ErrNotExist) {
		return nil, toStatus(err)
	}
	// The init is gone now (or was): wait for its exit to be handled.
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		logrus.WithField("id", c.id).Warn("delete: the init's exit was not seen")
		p.setExited(128+int(unix.SIGKILL), time.Now())
	}
	// Its exit event is queued before the delete event (the exit handler
	// holds pubMu from setExited until it has queued TaskExit).
	p.pubMu.Lock()
	p.pubMu.Unlock() //nolint:staticcheck // a barrier, not a critical section
	if p.io != nil {
		p.io.wait(2 * time.Second)
		p.io.close()
	}
	if c.stopOOM != nil {
		c.stopOOM()
	}
	if c.rootfs != "" {
		lite.UnmountAll(c.rootfs)
	}
	c.mu.Lock()
	for _, e := range c.execs {
		if e.io != nil {
			e.io.close()
		}
	}
	c.mu.Unlock()
	s.mu.Lock()
	delete(s.containers, c.id)
	s.mu.Unlock()
	_, pid, exit, at := p.status()
	s.pub.publish(topicDelete, evDelete(c.id, pid, exit, at))
	return lite.ExitResponse(pid, exit, at), nil
}

func (s *service) deleteExec(c *container, execID string) ([]byte, error) {
	p, err := c.process(execID)
	if err != nil {
		return nil, err
	}
	st, pid, exit, at := p.status()
	if st == statusRunning {
		return nil, status.Errorf(codes.FailedPrecondition, "cannot delete exec %s of container %s: it is running", execID, c.id)
	}
	c.mu.Lock()
	delete(c.execs, execID)
	c.mu.Unlock()
	if p.io != nil {
		p.io.wait(2 * time.Second)
		p.io.close()
	}
	return lite.ExitResponse(pid, exit, at), nil
}

// ---- the other calls ----

func (s *service) State(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	p, err := c.process(r.ExecID)
	if err != nil {
		return nil, err
	}
	st, pid, exit, at := p.status()
	if p.id == "" && st != statusStopped {
		// Paused or not (also by `berth pause` from outside): the
		// container's status, read anew.
		if rs, err := c.handle().State(ctx); err == nil {
			switch rs.Status {
			case "paused":
				st = statusPaused
			case "pausing":
				st = statusPausing
			case string(specs.StateRunning):
				st = statusRunning
			}
		}
	}
	resp := &stateResponse{
		ID: r.ExecID, Bundle: c.bundle, Pid: pid, Status: st,
		Stdin: p.sio.stdin, Stdout: p.sio.stdout, Stderr: p.sio.stderr, Terminal: p.sio.terminal,
		ExitStatus: exit, ExecID: r.ExecID,
	}
	if resp.ID == "" {
		resp.ID = c.id
	}
	if st == statusStopped {
		resp.ExitedAt = at
	}
	return resp.encode(), nil
}

func (s *service) Pids(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	pids, err := c.handle().Processes(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	execOf := map[int]string{}
	c.mu.Lock()
	for id, e := range c.execs {
		if st, pid, _, _ := e.status(); st == statusRunning {
			execOf[pid] = id
		}
	}
	c.mu.Unlock()
	infos := make([]processInfo, 0, len(pids))
	for _, pid := range pids {
		info := processInfo{Pid: pid}
		if id, ok := execOf[pid]; ok {
			info.Info = processDetails(id)
		}
		infos = append(infos, info)
	}
	return pidsResponse(infos), nil
}

func (s *service) Pause(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if err := c.handle().Pause(ctx); err != nil {
		return nil, toStatus(err)
	}
	s.pub.publish(topicPaused, evPaused(c.id))
	return nil, nil
}

func (s *service) Resume(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if err := c.handle().Resume(ctx); err != nil {
		return nil, toStatus(err)
	}
	s.pub.publish(topicResumed, evResumed(c.id))
	return nil, nil
}

func (s *service) Kill(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	p, err := c.process(r.ExecID)
	if err != nil {
		return nil, err
	}
	sig := unix.Signal(r.Signal)
	st, _, _, _ := p.status()
	if p.id != "" {
		if st != statusRunning || p.rp == nil {
			return nil, status.Errorf(codes.NotFound, "exec %s of container %s: process already finished", p.id, c.id)
		}
		if err := p.rp.Signal(sig); err != nil {
			return nil, status.Errorf(codes.NotFound, "exec %s of container %s: %v", p.id, c.id, err)
		}
		return nil, nil
	}
	if st == statusStopped && !r.All {
		return nil, status.Errorf(codes.NotFound, "container %s: process already finished", c.id)
	}
	if err := c.handle().Kill(ctx, sig, runtime.KillOptions{All: r.All}); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) || errors.Is(err, unix.ESRCH) {
			return nil, status.Errorf(codes.NotFound, "container %s: process already finished", c.id)
		}
		return nil, toStatus(err)
	}
	return nil, nil
}

func (s *service) ResizePty(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	p, err := c.process(r.ExecID)
	if err != nil {
		return nil, err
	}
	if p.io == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "process %s of container %s has not started", r.ExecID, c.id)
	}
	if err := p.io.resize(r.Width, r.Height); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "resize the pty of %s: %v", c.id, err)
	}
	return nil, nil
}

func (s *service) CloseIO(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	p, err := c.process(r.ExecID)
	if err != nil {
		return nil, err
	}
	if r.CloseStdin && p.io != nil {
		p.io.closeStdin()
	}
	return nil, nil
}

func (s *service) Checkpoint(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	o := &runtime.CriuOptions{ImagesDirectory: r.Path, WorkDirectory: c.opts.CriuWorkPath, LeaveRunning: true}
	if a := r.Options; a != nil && a.TypeURL != "" {
		if lite.TypeName(a.TypeURL) != "containerd.runc.v1.CheckpointOptions" {
			return nil, status.Errorf(codes.InvalidArgument, "checkpoint options of type %q", a.TypeURL)
		}
		co, err := decodeCheckpointOptions(a.Value)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "checkpoint options: %v", err)
		}
		o.LeaveRunning = !co.Exit
		o.TcpEstablished = co.OpenTCP
		o.ExternalUnixConnections = co.ExternalUnixSockets
		o.ShellJob = co.Terminal
		o.FileLocks = co.FileLocks
		for _, ns := range co.EmptyNamespaces {
			if ns == "network" {
				o.EmptyNs |= unix.CLONE_NEWNET
			}
		}
		if co.WorkPath != "" {
			o.WorkDirectory = co.WorkPath
		}
		if co.ImagePath != "" {
			o.ImagesDirectory = co.ImagePath
		}
		o.ManageCgroupsMode = co.CgroupsMode
	}
	if o.ImagesDirectory == "" {
		return nil, status.Errorf(codes.InvalidArgument, "checkpoint %s: no image path", c.id)
	}
	if c.init.sio.terminal && !o.ShellJob {
		return nil, status.Errorf(codes.FailedPrecondition, "checkpoint %s: CRIU cannot checkpoint a container with a terminal unless it is a shell job (checkpoint option Terminal)", c.id)
	}
	leave := s.reaper.enter()
	err = c.handle().Checkpoint(ctx, o)
	leave()
	if err != nil {
		// CRIU's reason is in its log, not in the error libcontainer
		// returns ("criu failed: type DUMP errno 0").
		dir := o.WorkDirectory
		if dir == "" {
			dir = o.ImagesDirectory
		}
		if why := criuError(filepath.Join(dir, "dump.log")); why != "" {
			err = fmt.Errorf("%w; CRIU: %s", err, why)
		}
		return nil, status.Errorf(codeOf(err), "checkpoint %s with CRIU: %v", c.id, err)
	}
	s.pub.publish(topicCheckpointed, evCheckpointed(c.id, o.ImagesDirectory))
	return nil, nil
}

func (s *service) Update(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if a := r.Resources; a == nil || !strings.HasSuffix(a.TypeURL, "/LinuxResources") {
		return nil, status.Errorf(codes.InvalidArgument, "update %s: resources must be runtime-spec LinuxResources", c.id)
	}
	res := new(specs.LinuxResources)
	if err := json.Unmarshal(r.Resources.Value, res); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "update %s: %v", c.id, err)
	}
	if err := c.handle().Update(ctx, res); err != nil {
		return nil, toStatus(err)
	}
	return nil, nil
}

func (s *service) Wait(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	p, err := c.process(r.ExecID)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, toStatus(ctx.Err())
	}
	_, _, exit, at := p.status()
	return waitResponse(exit, at), nil
}

func (s *service) Stats(ctx context.Context, r *taskRequest) ([]byte, error) {
	c, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	st, err := c.handle().Stats(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	a, err := metrics(st, cgroups.IsCgroup2UnifiedMode())
	if err != nil {
		return nil, toStatus(err)
	}
	return statsResponse(a), nil
}

func (s *service) Connect(ctx context.Context, r *taskRequest) ([]byte, error) {
	pid := 0
	if c, err := s.get(r.ID); err == nil {
		_, pid, _, _ = c.init.status()
	}
	return connectResponse(os.Getpid(), pid), nil
}

func (s *service) Shutdown(ctx context.Context, r *taskRequest) ([]byte, error) {
	s.mu.Lock()
	n := len(s.containers)
	s.mu.Unlock()
	if n == 0 {
		s.shutdown()
	}
	return nil, nil
}

// criuError is the last error line of a CRIU log.
func criuError(log string) string {
	data, err := os.ReadFile(log)
	if err != nil {
		return ""
	}
	last := ""
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, "Error ("); i >= 0 {
			last = strings.TrimSpace(line[i:])
		}
	}
	return last
}

// ---- errors ----

// toStatus maps a runtime error to the gRPC status containerd turns back
// into its errdefs (NotFound, AlreadyExists, FailedPrecondition, ...).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codeOf(err), err.Error())
}

func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, libcontainer.ErrNotExist), errors.Is(err, libcontainer.ErrNotRunning):
		return codes.NotFound
	case errors.Is(err, libcontainer.ErrExist):
		return codes.AlreadyExists
	case errors.Is(err, libcontainer.ErrPaused), errors.Is(err, libcontainer.ErrRunning):
		return codes.FailedPrecondition
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}
