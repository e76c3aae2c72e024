package runtime

import (
	"context"
	"fmt"
)

// Pause freezes every process of container id.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	c, err := r.open(id, opPause, true)
	if err != nil {
		return err
	}
	defer c.unlock()
	if err := c.Pause(); err != nil {
		return fmt.Errorf("pause %q: %w", id, err)
	}
	return nil
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	c, err := r.open(id, opResume, true)
	if err != nil {
		return err
	}
	defer c.unlock()
	if err := c.Resume(); err != nil {
		return fmt.Errorf("resume %q: %w", id, err)
	}
	return nil
}
