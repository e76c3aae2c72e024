package runtime

import (
	"context"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
)

// CriuOptions are CRIU's settings for checkpoint and restore.
type CriuOptions = libcontainer.CriuOpts

// Checkpoint dumps the running (or paused) container id with CRIU into
// o.ImagesDirectory. Unless o.LeaveRunning or o.PreDump, the container is
// gone afterwards and is deleted, as runc does.
func (r *Runtime) Checkpoint(ctx context.Context, id string, o *CriuOptions) error {
	return r.checkpoint(ctx, ref{id: id}, o)
}

func (r *Runtime) checkpoint(ctx context.Context, x ref, o *CriuOptions) error {
	id := x.id
	c, err := r.open(x, opCheckpoint, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.ImagesDirectory, 0o700); err != nil {
		c.unlock()
		return fmt.Errorf("checkpoint %q: images directory: %w", id, err)
	}
	if err := c.Checkpoint(o); err != nil {
		c.unlock()
		return fmt.Errorf("checkpoint %q: %w", id, err)
	}
	if o.LeaveRunning || o.PreDump {
		c.unlock()
		return nil
	}
	rec, recErr := r.root.ReadRecord(id)
	if err := r.destroyLocked(ctx, c.Container, rec, recErr); err != nil {
		c.unlock()
		return err
	}
	return c.lock.Remove()
}
