// Package runtime is berth's lifecycle API: create, start, run, state, kill,
// delete and list, built on runc's libcontainer. Each call is made by a
// separate berth process; the per-container lock in package state serialises
// the calls that change a container.
//
// The package has no flags, prints nothing and never exits; it returns
// errors that wrap libcontainer's sentinels (ErrExist, ErrNotExist,
// ErrNotRunning, ...) so that both errors.Is and the callers' text matching
// (containerd, podman) keep working.
package runtime

import (
	"errors"
	"fmt"
	"os"

	"github.com/moby/sys/userns"
	"github.com/opencontainers/runc/libcontainer"

	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// Options configure a Runtime; they mirror berth's global flags.
type Options struct {
	// Root is the state directory (--root). Made absolute, created 0700.
	Root string
	// SystemdCgroup selects the systemd cgroup driver (--systemd-cgroup).
	SystemdCgroup bool
	// Rootless is "true", "false" or "auto" (or empty, meaning auto): whether
	// cgroup permission errors are ignored (--rootless).
	Rootless string
}

// Runtime performs lifecycle operations on the containers under one root.
type Runtime struct {
	root            state.Root
	systemd         bool
	rootlessCgroups bool
}

// New opens the state root and settles the rootless mode.
func New(o Options) (*Runtime, error) {
	rootless, err := rootlessCgroups(o.Rootless)
	if err != nil {
		return nil, err
	}
	root, err := state.Open(o.Root)
	if err != nil {
		return nil, err
	}
	return &Runtime{root: root, systemd: o.SystemdCgroup, rootlessCgroups: rootless}, nil
}

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
	return false, fmt.Errorf("--rootless: invalid value %q (want true, false or auto)", mode)
}

// idError is an error about one container id that reads naturally
// ("container "x" does not exist") and still wraps libcontainer's sentinel.
type idError struct {
	id     string
	format string // with one %q for the id
	err    error
}

func (e *idError) Error() string { return fmt.Sprintf(e.format, e.id) }
func (e *idError) Unwrap() error { return e.err }

func errNotExist(id string) error {
	return &idError{id: id, format: "container %q does not exist", err: libcontainer.ErrNotExist}
}

func errExist(id string) error {
	return &idError{id: id, format: "container %q already exists (delete it first, or choose another id)", err: libcontainer.ErrExist}
}

func errNotRunning(id string) error {
	return &idError{id: id, format: "container not running: %q", err: libcontainer.ErrNotRunning}
}

// load opens container id for an operation. Preconditions for operations
// that change the container: the caller holds id's lock.
func (r *Runtime) load(id string) (*libcontainer.Container, error) {
	if err := linux.ValidateID(id); err != nil {
		return nil, err
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
		return nil, fmt.Errorf("load container %q (its state in %s is unreadable; `berth delete --force %s` removes it): %w",
			id, r.root.ContainerDir(id), id, err)
	}
	return c, nil
}

// lock takes the lock of container id after checking the id.
func (r *Runtime) lock(id string) (*state.Lock, error) {
	if err := linux.ValidateID(id); err != nil {
		return nil, err
	}
	return r.root.Lock(id)
}
