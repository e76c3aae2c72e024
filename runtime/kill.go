package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// KillOptions are what the caller of Kill decides.
type KillOptions struct {
	// All sends the signal to every process of the container, and makes
	// a container that is not running no error (as containerd uses it).
	All bool
}

// Kill sends sig to the init of container id. Signal 0 checks that the
// init is alive without signalling it.
func (r *Runtime) Kill(ctx context.Context, id string, sig unix.Signal, o KillOptions) error {
	return r.kill(ref{id: id}, sig, o)
}

func (r *Runtime) kill(x ref, sig unix.Signal, o KillOptions) error {
	id := x.id
	lock, err := r.lock(id)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	c, err := r.load(x)
	if err != nil {
		return err
	}
	if o.All && sig != unix.SIGKILL {
		return signalAll(c, sig)
	}
	err = c.Signal(sig)
	if errors.Is(err, libcontainer.ErrNotRunning) {
		if o.All {
			return nil
		}
		return errNotRunning(id)
	}
	if err != nil {
		return fmt.Errorf("kill %q: %w", id, err)
	}
	return nil
}

// signalAll sends sig to every process in the container's cgroup. (SIGKILL
// goes through libcontainer, which kills the whole pid namespace or, when
// the namespace is shared, every process of the cgroup.)
func signalAll(c *libcontainer.Container, sig unix.Signal) error {
	pids, err := c.Processes()
	if err != nil {
		return fmt.Errorf("kill all of %q: list processes: %w", c.ID(), err)
	}
	var errs []error
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill all of %q: pid %d: %w", c.ID(), pid, err))
		}
	}
	return errors.Join(errs...)
}
