// Package runtime is berth's engine: the OCI lifecycle (create, start, run,
// exec, state, kill, delete, list, pause, resume, update, events,
// checkpoint) on runc's libcontainer, as a library. Two front ends call it:
// the berth command line, where each call is a separate process, and the
// containerd shim, which makes every call in one long-lived process. The
// per-container lock of package state serialises the calls that change a
// container, across processes and within one.
//
// Children: Create, Start, Exec, Delete, Checkpoint and the Create of a
// restore start child processes (the container's init or an exec'd
// process, hooks, CRIU) and wait for some of them (hooks, nsexec's
// bootstrap, CRIU). A caller that reaps children itself, a subreaper with
// wait4(-1) as the containerd shim is, must not reap while one of these
// calls runs, or that wait loses its child; it reaps the Process it got by
// its pid, and then calls Release.
//
// Which operation is allowed in which status is decided in one table
// (status.go). The package has no flags, prints nothing, never exits and
// never changes the process's working directory; it returns errors that
// wrap libcontainer's sentinels (ErrExist, ErrNotExist, ErrNotRunning,
// ...) so that both errors.Is and the callers' text matching (containerd,
// podman) keep working.
package runtime

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/moby/sys/userns"
	"github.com/opencontainers/runc/libcontainer"

	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// Options configure a Runtime.
type Options struct {
	// Root is the state directory. Made absolute; created 0700 by the
	// first create.
	Root string
	// SystemdCgroup selects the systemd cgroup driver.
	SystemdCgroup bool
	// Rootless is "true", "false" or "auto" (or empty, meaning auto):
	// whether cgroup permission errors are ignored.
	Rootless string
}

// Runtime performs lifecycle operations on the containers under one root.
// Its methods may be called concurrently.
type Runtime struct {
	root            state.Root
	systemd         bool
	rootlessCgroups bool
	// bounding is berth's capability bounding set, read once.
	bounding func() (uint64, error)
}

// New settles the rootless mode and the state root, which need not exist
// yet.
func New(o Options) (*Runtime, error) {
	rootless, err := rootlessCgroups(o.Rootless)
	if err != nil {
		return nil, err
	}
	root, err := state.Open(o.Root)
	if err != nil {
		return nil, err
	}
	return &Runtime{root: root, systemd: o.SystemdCgroup, rootlessCgroups: rootless, bounding: sync.OnceValues(linux.BoundingSet)}, nil
}

// Root is the state directory.
func (r *Runtime) Root() string { return r.root.Dir() }

// rootlessCgroups decides, as runc does, whether cgroup permission errors
// are to be ignored: always when asked, never when refused, and with "auto"
// when berth is not root or runs inside a user namespace.
func rootlessCgroups(mode string) (bool, error) {
	switch mode {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "", "auto":
		return os.Geteuid() != 0 || userns.RunningInUserNS(), nil
	}
	return false, fmt.Errorf("rootless: invalid value %q (want true, false or auto)", mode)
}

// loaded is a container loaded for one operation, with its effective
// status and, when the operation changes it, its lock.
type loaded struct {
	*libcontainer.Container
	status Status
	pid    int         // the init's pid, as the state records it
	lock   *state.Lock // nil for operations that do not take it
	// staleFifo: libcontainer says created, but the init was released.
	staleFifo bool
}

// unlock releases the lock, if the operation took it.
func (c *loaded) unlock() {
	if c.lock != nil {
		c.lock.Unlock()
	}
}

// ref names the container an operation acts on: by id, its state loaded
// from disk, or through an open Container, whose state was read once.
type ref struct {
	id string
	c  *libcontainer.Container // nil: load it
}

// open loads container x for op: under its lock when locked (the caller
// then unlocks), with its effective status, which op must allow.
func (r *Runtime) open(x ref, op operation, locked bool) (_ *loaded, err error) {
	id := x.id
	var lock *state.Lock
	if locked {
		if lock, err = r.lock(id); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				lock.Unlock()
			}
		}()
	}
	c, err := r.load(x)
	if err != nil {
		return nil, err
	}
	ct, err := inspectLoaded(c)
	if err != nil {
		return nil, err
	}
	ct.lock = lock
	if locked && ct.staleFifo {
		// A start was killed after it released the init and before
		// libcontainer removed exec.fifo: finish its work.
		if err := r.finishRelease(id); err != nil {
			return nil, err
		}
	}
	if err := check(op, id, ct.status); err != nil {
		return nil, err
	}
	return ct, nil
}

// inspectLoaded reads the effective status of a loaded container.
func inspectLoaded(c *libcontainer.Container) (*loaded, error) {
	s, err := c.Status()
	if err != nil {
		return nil, fmt.Errorf("status of %q: %w", c.ID(), err)
	}
	st, err := c.State()
	if err != nil {
		return nil, fmt.Errorf("state of %q: %w", c.ID(), err)
	}
	pid := st.InitProcessPid
	status := effectiveStatus(s, func() bool { return initReleased(pid) })
	return &loaded{Container: c, status: status, pid: pid, staleFifo: s == libcontainer.Created && status == Running}, nil
}

// load reads container x's libcontainer state, unless x is open already.
// Preconditions for operations that change the container: the caller holds
// its lock.
func (r *Runtime) load(x ref) (*libcontainer.Container, error) {
	id := x.id
	if err := linux.ValidateID(id); err != nil {
		return nil, err
	}
	if x.c != nil {
		return x.c, nil
	}
	c, err := func() (c *libcontainer.Container, err error) {
		// libcontainer.Load dereferences nil on a state.json such as
		// "null" or "{}": that is an unreadable state too, not a crash.
		defer func() {
			if p := recover(); p != nil {
				c, err = nil, fmt.Errorf("invalid state.json: %v", p)
			}
		}()
		return libcontainer.Load(r.root.Dir(), id)
	}()
	if errors.Is(err, libcontainer.ErrNotExist) {
		return nil, errNotExist(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load container %q (its state in %s is unreadable; `delete --force %s` removes it): %w",
			id, r.root.ContainerDir(id), id, err)
	}
	return c, nil
}

// lock takes the lock of container id after checking the id. Without a
// state root there is no such container.
func (r *Runtime) lock(id string) (*state.Lock, error) {
	if err := linux.ValidateID(id); err != nil {
		return nil, err
	}
	l, err := r.root.Lock(id)
	if errors.Is(err, os.ErrNotExist) && !r.root.Present() {
		return nil, errNotExist(id)
	}
	return l, err
}
