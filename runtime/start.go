package runtime

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/hooks"
	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// Start starts the user process of a created container, then runs the
// poststart hooks once that process has been executed. With notifySocket
// (the caller's NOTIFY_SOCKET) and a container created with one, it
// returns once the container has reported READY (or exited) and that was
// passed on.
func (r *Runtime) Start(ctx context.Context, id, notifySocket string) error {
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
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("state of %q: %w", id, err)
	}
	if status == libcontainer.Created && initReleased(st.InitProcessPid) {
		// A start killed after the init read exec.fifo and before the
		// fifo was removed: the user process runs. Finish the removal.
		if err := os.Remove(filepath.Join(r.root.ContainerDir(id), "exec.fifo")); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("start %q: remove the stale exec.fifo: %w", id, err)
		}
		status = libcontainer.Running
	}
	switch status {
	case libcontainer.Created:
	case libcontainer.Stopped:
		return fmt.Errorf("cannot start container %q: it has stopped (delete it and create it again)", id)
	default:
		return fmt.Errorf("cannot start container %q: it is already %s (only a created container can be started)", id, status)
	}
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
	if notifySocket != "" {
		if _, err := os.Stat(r.notifyDir(id)); err == nil {
			if notify, err = r.listenNotify(id); err != nil {
				return fmt.Errorf("start %q: %w", id, err)
			}
		}
	}
	if err := releaseWithLimits(st.InitProcessPid, late, c.Exec); err != nil {
		if notify != nil {
			notify.Close()
		}
		return fmt.Errorf("start %q: %w", id, err)
	}
	r.runPoststart(ctx, c, st.InitProcessPid, rec.Poststart)
	if notify != nil {
		return forwardReady(ctx, notify, notifySocket, st.InitProcessPid, st.InitProcessPid)
	}
	return nil
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
// executed the user process. Their failures are warnings (runtime spec:
// "the runtime MUST log a warning"), not errors of start.
func (r *Runtime) runPoststart(ctx context.Context, c *libcontainer.Container, pid int, poststart []specs.Hook) {
	if len(poststart) == 0 {
		return
	}
	log := logrus.WithField("id", c.ID())
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
	if err := hooks.RunAll(ctx, "poststart", poststart, *st); err != nil {
		log.WithError(err).Warn("poststart hook failed")
	}
}

// initReleased reports whether the init pid of a container libcontainer
// calls created (its exec.fifo exists) has in fact started the user process:
// it no longer waits, yet is alive.
func initReleased(pid int) bool {
	return pid > 0 && !initWaiting(pid) && unix.Kill(pid, 0) == nil
}

// initComm is the name nsexec gives the container's init (prctl
// PR_SET_NAME); execve of the user process replaces it.
const initComm = "runc:[2:INIT]"

// initWaiting reports whether pid is still berth's init, waiting for start
// or setting up, rather than the user process it becomes.
func initWaiting(pid int) bool {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return err == nil && strings.TrimSpace(string(comm)) == initComm
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
