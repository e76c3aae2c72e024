package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/hooks"
	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// StartOptions are what the caller of Start decides.
type StartOptions struct {
	// NotifySocket is the caller's NOTIFY_SOCKET: for a container created
	// with one, Start returns once the container has reported READY (or
	// exited) and that was passed on.
	NotifySocket string
}

// Start starts the user process of a created container, then runs the
// poststart hooks once that process has been executed. Should a poststart
// hook fail, the container is stopped and removed, as the runtime spec's
// lifecycle says, and Start returns the hook's error.
func (r *Runtime) Start(ctx context.Context, id string, o StartOptions) error {
	return r.start(ctx, ref{id: id}, o)
}

func (r *Runtime) start(ctx context.Context, x ref, o StartOptions) error {
	c, err := r.open(x, opStart, true)
	if err != nil {
		return err
	}
	if err := r.startLocked(ctx, c, o); err != nil {
		if errors.Is(err, errContainerRemoved) {
			return errors.Join(err, c.lock.Remove())
		}
		c.unlock()
		return err
	}
	c.unlock()
	return nil
}

func (r *Runtime) startLocked(ctx context.Context, c *loaded, o StartOptions) error {
	id := c.ID()
	rec, err := r.root.ReadRecord(id)
	if err != nil {
		return fmt.Errorf("start %q: %w", id, err)
	}
	if rec.NoProcess {
		return fmt.Errorf("cannot start container %q: its config.json has no process (the runtime spec requires one for start); delete it and create it again with a process", id)
	}
	late, err := lateRlimits(id, rec)
	if err != nil {
		return err
	}
	var notify *net.UnixConn
	if o.NotifySocket != "" {
		if _, err := os.Stat(r.notifyDir(id)); err == nil {
			if notify, err = r.listenNotify(id); err != nil {
				return fmt.Errorf("start %q: %w", id, err)
			}
		}
	}
	if err := releaseWithLimits(c.pid, late, c.Exec); err != nil {
		if notify != nil {
			notify.Close()
		}
		return fmt.Errorf("start %q: %w", id, err)
	}
	if err := r.runPoststart(ctx, c.Container, c.pid, rec.Poststart); err != nil {
		if notify != nil {
			notify.Close()
		}
		return r.abortStarted(ctx, c.Container, rec, err)
	}
	if notify != nil {
		return forwardReady(ctx, notify, o.NotifySocket, c.pid, c.pid)
	}
	return nil
}

// errContainerRemoved marks an error after which the container is gone.
var errContainerRemoved = errors.New("the container was stopped and removed")

// abortStarted stops and removes a container whose start failed after its
// user process ran (a poststart hook failed): the runtime spec goes on with
// destroying the container and its poststop hooks. Preconditions: the
// caller holds the container's lock.
func (r *Runtime) abortStarted(ctx context.Context, c *libcontainer.Container, rec state.Record, cause error) error {
	if err := killAndWait(ctx, c); err != nil {
		return errors.Join(cause, err)
	}
	if err := r.destroyLocked(ctx, c, rec, nil); err != nil {
		return errors.Join(cause, err)
	}
	return fmt.Errorf("%w (%w)", cause, errContainerRemoved)
}

// lateRlimits are the limits create left in the record for start to apply.
func lateRlimits(id string, rec state.Record) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, rl := range rec.LateRlimits {
		typ, ok := linux.RlimitType(rl.Type)
		if !ok {
			return nil, fmt.Errorf("start %q: berth's record has an unknown rlimit %q", id, rl.Type)
		}
		out = append(out, configs.Rlimit{Type: typ, Hard: rl.Hard, Soft: rl.Soft})
	}
	return out, nil
}

// runPoststart runs the container's poststart hooks after its init has
// executed the user process, and returns the first failure.
func (r *Runtime) runPoststart(ctx context.Context, c *libcontainer.Container, pid int, poststart []specs.Hook) error {
	if len(poststart) == 0 {
		return nil
	}
	waitExecuted(ctx, pid)
	st, err := c.OCIState()
	if err != nil {
		return fmt.Errorf("poststart hooks of %q: %w", c.ID(), err)
	}
	// The hooks belong to the moment the process started running; a
	// process that has finished already does not make them "stopped" hooks.
	st.Status = specs.StateRunning
	st.Pid = pid
	return hooks.Run(ctx, "poststart", poststart, *st)
}

// waitExecuted waits until the container init pid has replaced berth's
// init with the user process (after the startContainer hooks), or exited.
// libcontainer returns from Exec once the init is released, a moment before
// it calls execve.
func waitExecuted(ctx context.Context, pid int) {
	delay := 100 * time.Microsecond
	for initWaiting(pid) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

// finishRelease removes the exec.fifo of a container whose start was killed
// after it released the init and before libcontainer removed the fifo.
func (r *Runtime) finishRelease(id string) error {
	if err := os.Remove(filepath.Join(r.root.ContainerDir(id), "exec.fifo")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove the stale exec.fifo of %q: %w", id, err)
	}
	return nil
}
