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
	"github.com/opencontainers/runc/libcontainer/system"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/hooks"
	"github.com/berth-oci/berth/image/owned"
	"github.com/berth-oci/berth/state"
)

// killTimeout bounds how long delete --force waits for a SIGKILLed init.
const killTimeout = 10 * time.Second

// Delete removes container id: its processes (a created container's init;
// with force, a running or paused container's too), cgroups and state, then
// runs its poststop hooks. A stopped or created container needs no force. A
// half-created container (its create was killed) is removed as well. With
// force, a container that does not exist is not an error.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	lock, err := r.lock(id)
	if err != nil {
		return err
	}
	gone, err := r.deleteLocked(ctx, id, force)
	if !gone {
		lock.Unlock()
		return err
	}
	return errors.Join(err, lock.Remove())
}

// DeleteExited deletes the container of p, a foreground run's init that has
// exited, with the container the run holds rather than one loaded from disk
// again (about 3 % of a run's CPU). If the container on disk is no longer
// the one p started (deleted, or made again under the same id), it is left
// to Delete.
func (r *Runtime) DeleteExited(ctx context.Context, p *Process) error {
	if p.c == nil {
		return r.Delete(ctx, p.ID, true)
	}
	lock, err := r.lock(p.ID)
	if err != nil {
		return err
	}
	rec, err := r.root.ReadRecord(p.ID)
	if err != nil || rec.Pid != p.Pid {
		lock.Unlock()
		return r.Delete(ctx, p.ID, true)
	}
	// Processes the init left in its cgroups (no pid namespace) would keep
	// them from being removed.
	if err := killCgroups(ctx, cgroupPaths(p.c, rec)); err != nil {
		lock.Unlock()
		return fmt.Errorf("delete %q: %w", p.ID, err)
	}
	if err := r.destroyLocked(ctx, p.c, rec, nil); err != nil {
		lock.Unlock()
		return err
	}
	return lock.Remove()
}

// deleteLocked does Delete's work and reports whether the container is gone
// (so that its lock file goes too). Preconditions: the caller holds id's
// lock.
func (r *Runtime) deleteLocked(ctx context.Context, id string, force bool) (gone bool, _ error) {
	c, err := r.load(id)
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
		// processes and cgroups from berth's own record instead.
		if err := r.removeUnreadable(ctx, id); err != nil {
			return false, err
		}
		return true, nil
	}
	status, err := c.Status()
	if err != nil {
		return false, fmt.Errorf("status of %q: %w", id, err)
	}
	rec, recErr := r.root.ReadRecord(id)
	switch status {
	case libcontainer.Stopped:
		if force {
			// A state.json that lost its init pid says stopped while
			// the container's processes live on: kill what is left in
			// its cgroups, or Destroy could not remove them.
			if err := killCgroups(ctx, cgroupPaths(c, rec)); err != nil {
				return false, fmt.Errorf("delete --force %q: %w", id, err)
			}
		}
	case libcontainer.Created:
	default:
		if !force {
			return false, fmt.Errorf("cannot delete container %q that is %s: stop it first (berth kill), or use delete --force", id, status)
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
// created, only its waiting init): cgroups and state, then runs its poststop
// hooks. Preconditions: the caller holds the container's lock.
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
	return removeImageBundle(c.ID(), rec)
}

// removeImageBundle removes the bundle berth made for a container run from
// an image (run --image), once the container is gone.
func removeImageBundle(id string, rec state.Record) error {
	if err := owned.RemoveIfOwned(rec.ImageBundle); err != nil {
		return fmt.Errorf("container %q is deleted, but not its image bundle: %w", id, err)
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
// half-way): it kills the init recorded by berth (if it is still that
// process), every process left in the recorded cgroups, removes those
// cgroups and the state directory, then runs the poststop hooks.
// Preconditions: the caller holds id's lock.
func (r *Runtime) removeUnreadable(ctx context.Context, id string) error {
	rec, err := r.root.ReadRecord(id)
	if err != nil {
		return fmt.Errorf("delete --force %q: neither libcontainer's state nor berth's record is readable; "+
			"remove %s by hand: %w", id, r.root.ContainerDir(id), err)
	}
	log := logrus.WithField("id", id)
	if rec.Pid > 0 {
		if st, err := system.Stat(rec.Pid); err == nil && st.StartTime == rec.PidStart {
			if err := unix.Kill(rec.Pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("delete --force %q: kill init %d: %w", id, rec.Pid, err)
			}
		}
	}
	if err := killCgroups(ctx, rec.CgroupPaths); err != nil {
		return fmt.Errorf("delete --force %q: %w", id, err)
	}
	if err := cgroups.RemovePaths(rec.CgroupPaths); err != nil {
		return fmt.Errorf("delete --force %q: remove cgroups: %w", id, err)
	}
	if err := r.root.RemoveStale(id); err != nil {
		return err
	}
	log.Warn("deleted a container whose state was unreadable or incomplete")
	st := specs.State{Version: specs.Version, ID: id, Status: specs.StateStopped}
	r.runPoststop(ctx, id, rec, nil, &st, nil)
	return removeImageBundle(id, rec)
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
// berth's record know them.
func cgroupPaths(c *libcontainer.Container, rec state.Record) map[string]string {
	paths := maps.Clone(rec.CgroupPaths)
	if paths == nil {
		paths = map[string]string{}
	}
	if st, err := c.State(); err == nil {
		maps.Copy(paths, st.CgroupPaths)
	}
	return paths
}
