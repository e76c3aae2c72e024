package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/system"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/hooks"
	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// killTimeout bounds how long a forced delete waits for a SIGKILLed init.
const killTimeout = 10 * time.Second

// DeleteOptions are what the caller of Delete decides.
type DeleteOptions struct {
	// Force kills a running or paused container first, and makes a
	// container that does not exist no error.
	Force bool
}

// Delete removes container id: its processes (a created container's init;
// with Force, a running or paused container's too), cgroups and state, then
// runs its poststop hooks and removes the bundle it owns. A stopped or
// created container needs no force. A half-created container (its create
// was killed) is removed as well, and so, with Force, is a container whose
// state cannot be read.
func (r *Runtime) Delete(ctx context.Context, id string, o DeleteOptions) error {
	return r.delete(ctx, ref{id: id}, o)
}

func (r *Runtime) delete(ctx context.Context, x ref, o DeleteOptions) error {
	id := x.id
	lock, err := r.lock(id)
	if errors.Is(err, libcontainer.ErrNotExist) && o.Force {
		return nil
	}
	if err != nil {
		return err
	}
	gone, err := r.deleteLocked(ctx, x, o.Force)
	if !gone {
		lock.Unlock()
		return err
	}
	return errors.Join(err, lock.Remove())
}

// DeleteExited deletes the container of p, a run's init that has exited,
// with what Create kept in memory rather than state read from disk again:
// the container, berth's record and the init's identity. If the container
// on disk is no longer the one p started (deleted, or made again under the
// same id), it is left to Delete.
func (r *Runtime) DeleteExited(ctx context.Context, p *Process) error {
	if p.c == nil {
		return r.Delete(ctx, p.ID, DeleteOptions{Force: true})
	}
	lock, err := r.lock(p.ID)
	if err != nil {
		return err
	}
	rcv, found, err := r.root.ReadRecovery(p.ID)
	if err != nil || !found || rcv.Pid != p.Pid {
		lock.Unlock()
		return r.Delete(ctx, p.ID, DeleteOptions{Force: true})
	}
	// Processes the init left in its cgroups keep them from being
	// removed. With a pid namespace of its own, the kernel killed them
	// with the init.
	if ns := p.c.Config().Namespaces; !ns.Contains(configs.NEWPID) {
		if err := killCgroups(ctx, cgroupPaths(p.c, rcv.CgroupPaths)); err != nil {
			lock.Unlock()
			return fmt.Errorf("delete %q: %w", p.ID, err)
		}
	}
	if err := r.destroyLocked(ctx, p.c, p.rec, nil); err != nil {
		lock.Unlock()
		return err
	}
	return lock.Remove()
}

// deleteLocked does Delete's work and reports whether the container is gone
// (so that its lock file goes too). Preconditions: the caller holds id's
// lock.
func (r *Runtime) deleteLocked(ctx context.Context, x ref, force bool) (gone bool, _ error) {
	id := x.id
	c, err := r.load(x)
	if err == nil && x.c != nil && !r.root.Exists(id) {
		err = errNotExist(id) // deleted behind the open container's back
	}
	if errors.Is(err, libcontainer.ErrNotExist) {
		if !r.root.Exists(id) {
			if force {
				return true, nil
			}
			return true, errNotExist(id)
		}
		// A directory without state.json: a create killed half-way.
		// Whatever it made is removed, force or not.
		return true, r.removeUnreadable(ctx, id)
	}
	if err != nil {
		if !force {
			return false, err
		}
		// libcontainer cannot read the state: find the container's
		// processes and cgroups from berth's own records instead.
		if err := r.removeUnreadable(ctx, id); err != nil {
			return false, err
		}
		return true, nil
	}
	ct, err := inspectLoaded(c)
	if err != nil {
		return false, err
	}
	op := opDelete
	if force {
		op = opDeleteForce
	}
	if err := check(op, id, ct.status); err != nil {
		return false, err
	}
	rec, recErr := r.root.ReadRecord(id)
	switch ct.status {
	case Created:
		// Destroy kills the waiting init.
	case Stopped:
		if force {
			// A state.json that lost its init pid says stopped while
			// the container's processes live on: kill what is left in
			// its cgroups, or Destroy could not remove them.
			if err := killCgroups(ctx, cgroupPaths(c, rec.CgroupPaths)); err != nil {
				return false, fmt.Errorf("delete %q: %w", id, err)
			}
		}
	default:
		if ct.staleFifo {
			if err := r.finishRelease(id); err != nil {
				return false, err
			}
		}
		if err := killAndWait(ctx, c); err != nil {
			return false, err
		}
	}
	if err := r.destroyLocked(ctx, c, rec, recErr); err != nil {
		return false, err
	}
	return true, nil
}

// destroyLocked removes a container whose processes are gone (or, when
// created, only its waiting init): cgroups and state; then it runs its
// poststop hooks and removes the bundle it owns. Preconditions: the caller
// holds the container's lock.
func (r *Runtime) destroyLocked(ctx context.Context, c *libcontainer.Container, rec state.Record, recErr error) error {
	var (
		st    *specs.State
		stErr error
	)
	if len(rec.Poststop) > 0 {
		st, stErr = c.OCIState() // while libcontainer still has it
	}
	if err := c.Destroy(); err != nil {
		return fmt.Errorf("delete %q: %w", c.ID(), err)
	}
	r.runPoststop(ctx, c.ID(), rec, recErr, st, stErr)
	return removeOwnedBundle(c.ID(), rec)
}

// removeOwnedBundle removes the bundle handed to berth with the container
// (CreateOptions.OwnBundle), once the container is gone.
func removeOwnedBundle(id string, rec state.Record) error {
	if rec.OwnedBundle == "" {
		return nil
	}
	if err := linux.RemoveBundle(rec.OwnedBundle); err != nil {
		return fmt.Errorf("container %q is deleted, but not its bundle: %w", id, err)
	}
	return nil
}

// runPoststop runs the poststop hooks of a deleted container. Their failures
// are warnings, as the runtime spec says; the container is gone either way.
func (r *Runtime) runPoststop(ctx context.Context, id string, rec state.Record, recErr error, st *specs.State, stErr error) {
	if len(rec.Poststop) == 0 && recErr == nil {
		return
	}
	log := logrus.WithField("id", id)
	if err := errors.Join(recErr, stErr); err != nil {
		log.WithError(err).Warn("poststop hooks not run")
		return
	}
	st.Status = specs.StateStopped
	st.Pid = 0
	if err := hooks.RunAll(ctx, "poststop", rec.Poststop, *st); err != nil {
		log.WithError(err).Warn("poststop hook failed")
	}
}

// killAndWait SIGKILLs the container and waits until its init is gone,
// watching a pidfd rather than polling on a timer.
func killAndWait(ctx context.Context, c *libcontainer.Container) error {
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("state of %q: %w", c.ID(), err)
	}
	pid := st.InitProcessPid
	// Open the pidfd before the signal so that it refers to our init even
	// if the pid were reused right after its death.
	pidfd, pidfdErr := unix.PidfdOpen(pid, 0)
	if pidfdErr == nil {
		defer unix.Close(pidfd)
	}
	if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return fmt.Errorf("kill %q: %w", c.ID(), err)
	}
	deadline := time.Now().Add(killTimeout)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s, err := c.Status()
		if err != nil {
			return fmt.Errorf("status of %q: %w", c.ID(), err)
		}
		if s == libcontainer.Stopped {
			return nil
		}
		if pidfdErr == nil {
			fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
			_, _ = unix.Poll(fds, 100) // wakes on exit; Status decides
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return fmt.Errorf("container %q: init pid %d still running %s after SIGKILL", c.ID(), pid, killTimeout)
}

// removeUnreadable removes a container whose libcontainer state cannot be
// read (a truncated or garbled state.json, or none: a create killed
// half-way), from berth's record and its recovery record, whichever can be
// read: it kills the init (if it is still that process) and every process
// left in the container's cgroups, removes those cgroups and the state
// directory, then runs the poststop hooks and removes the bundle it owns,
// when the record that names them is readable. Preconditions: the caller
// holds id's lock.
func (r *Runtime) removeUnreadable(ctx context.Context, id string) error {
	rec, recErr := r.root.ReadRecord(id)
	rcv, found, rcvErr := r.root.ReadRecovery(id)
	if recErr != nil && !found {
		return fmt.Errorf("delete %q: neither libcontainer's state nor berth's records are readable; "+
			"remove %s by hand: %w", id, r.root.ContainerDir(id), errors.Join(recErr, rcvErr))
	}
	log := logrus.WithField("id", id)
	if rcvErr != nil {
		log.WithError(rcvErr).Warn("recovery record unreadable; going by berth's record")
	}
	if rcv.Pid > 0 {
		if st, err := system.Stat(rcv.Pid); err == nil && st.StartTime == rcv.PidStart {
			if err := unix.Kill(rcv.Pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("delete %q: kill init %d: %w", id, rcv.Pid, err)
			}
		}
	}
	paths := maps.Clone(rec.CgroupPaths)
	if paths == nil {
		paths = map[string]string{}
	}
	maps.Copy(paths, rcv.CgroupPaths)
	if err := killCgroups(ctx, paths); err != nil {
		return fmt.Errorf("delete %q: %w", id, err)
	}
	if err := cgroups.RemovePaths(paths); err != nil {
		return fmt.Errorf("delete %q: remove cgroups: %w", id, err)
	}
	if err := r.root.RemoveStale(id); err != nil {
		return err
	}
	log.Warn("deleted a container whose state was unreadable or incomplete")
	st := specs.State{Version: specs.Version, ID: id, Status: specs.StateStopped}
	r.runPoststop(ctx, id, rec, recErr, &st, nil)
	if recErr != nil {
		return nil
	}
	return removeOwnedBundle(id, rec)
}

// killCgroups SIGKILLs every process in the cgroups until they are empty.
func killCgroups(ctx context.Context, paths map[string]string) error {
	deadline := time.Now().Add(killTimeout)
	for {
		left := 0
		for _, dir := range paths {
			pids, err := cgroups.GetAllPids(dir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("list processes of %s: %w", dir, err)
			}
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL) // ESRCH: gone already, which is the point
			}
			left += len(pids)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d process(es) still in the container's cgroups after SIGKILL", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cgroupPaths are the container's cgroups as libcontainer's state and
// berth's records know them.
func cgroupPaths(c *libcontainer.Container, recorded map[string]string) map[string]string {
	paths := maps.Clone(recorded)
	if paths == nil {
		paths = map[string]string{}
	}
	if st, err := c.State(); err == nil {
		maps.Copy(paths, st.CgroupPaths)
	}
	return paths
}
