package runtime

import (
	"context"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
)

// CriuOptions are CRIU's settings for checkpoint and restore, as runc's
// flags give them.
type CriuOptions = libcontainer.CriuOpts

// Checkpoint dumps the running (or paused) container id with CRIU into
// o.ImagesDirectory. Unless o.LeaveRunning or o.PreDump, the container is
// gone afterwards and is deleted, as runc does.
func (r *Runtime) Checkpoint(ctx context.Context, id string, o *CriuOptions) error {
	lock, err := r.lock(id)
	if err != nil {
		return err
	}
	c, err := r.load(id)
	if err != nil {
		lock.Unlock()
		return err
	}
	status, err := c.Status()
	if err != nil {
		lock.Unlock()
		return fmt.Errorf("status of %q: %w", id, err)
	}
	if status == libcontainer.Created || status == libcontainer.Stopped {
		lock.Unlock()
		return fmt.Errorf("cannot checkpoint container %q: it is %s (only a running or paused container can be checkpointed)", id, status)
	}
	if err := os.MkdirAll(o.ImagesDirectory, 0o700); err != nil {
		lock.Unlock()
		return fmt.Errorf("checkpoint %q: --image-path: %w", id, err)
	}
	if err := c.Checkpoint(o); err != nil {
		lock.Unlock()
		return fmt.Errorf("checkpoint %q: %w", id, err)
	}
	if o.LeaveRunning || o.PreDump {
		lock.Unlock()
		return nil
	}
	rec, recErr := r.root.ReadRecord(id)
	if err := r.destroyLocked(ctx, c, rec, recErr); err != nil {
		lock.Unlock()
		return err
	}
	return lock.Remove()
}
