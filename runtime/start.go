package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/berth-oci/berth/hooks"
)

// Start starts the user process of a created container, then runs the
// poststart hooks once that process has been executed.
func (r *Runtime) Start(ctx context.Context, id string) error {
	lock, err := r.lock(id)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	c, err := r.load(id)
	if err != nil {
		return err
	}
	status, err := c.Status()
	if err != nil {
		return fmt.Errorf("status of %q: %w", id, err)
	}
	switch status {
	case libcontainer.Created:
	case libcontainer.Stopped:
		return fmt.Errorf("cannot start container %q: it has stopped (delete it and create it again)", id)
	default:
		return fmt.Errorf("cannot start container %q: it is already %s (only a created container can be started)", id, status)
	}
	if err := c.Exec(); err != nil {
		return fmt.Errorf("start %q: %w", id, err)
	}
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("state of %q: %w", id, err)
	}
	r.runPoststart(ctx, c, st.InitProcessPid)
	return nil
}

// runPoststart runs the container's poststart hooks after its init has
// executed the user process. Their failures are warnings (runtime spec:
// "the runtime MUST log a warning"), not errors of start.
func (r *Runtime) runPoststart(ctx context.Context, c *libcontainer.Container, pid int) {
	log := logrus.WithField("id", c.ID())
	rec, err := r.root.ReadRecord(c.ID())
	if err != nil {
		log.WithError(err).Warn("poststart hooks not run")
		return
	}
	if len(rec.Poststart) == 0 {
		return
	}
	waitExecuted(ctx, pid)
	st, err := c.OCIState()
	if err != nil {
		log.WithError(err).Warn("poststart hooks not run")
		return
	}
	// The hooks belong to the moment the process started running; a
	// process that has finished already does not make them "stopped" hooks.
	st.Status = specs.StateRunning
	st.Pid = pid
	if err := hooks.RunAll(ctx, "poststart", rec.Poststart, *st); err != nil {
		log.WithError(err).Warn("poststart hook failed")
	}
}

// waitExecuted waits until the container init pid has replaced berth's
// "init" with the user process (after the startContainer hooks), or exited.
// libcontainer returns from Exec once the init is released, a moment before
// it calls execve.
func waitExecuted(ctx context.Context, pid int) {
	initCmdline := []byte(os.Args[0] + "\x00init\x00")
	path := "/proc/" + strconv.Itoa(pid) + "/cmdline"
	delay := 100 * time.Microsecond
	for {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, initCmdline) {
			return // executed, or gone
		}
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
