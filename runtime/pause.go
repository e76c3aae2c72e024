package runtime

import (
	"context"
	"fmt"
)

// Pause freezes every process of container id.
func (r *Runtime) Pause(ctx context.Context, id string) error { return r.pause(ref{id: id}) }

func (r *Runtime) pause(x ref) error {
	id := x.id
	c, err := r.open(x, opPause, true)
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
func (r *Runtime) Resume(ctx context.Context, id string) error { return r.resume(ref{id: id}) }

func (r *Runtime) resume(x ref) error {
	id := x.id
	c, err := r.open(x, opResume, true)
	if err != nil {
		return err
	}
	defer c.unlock()
	if err := c.Resume(); err != nil {
		return fmt.Errorf("resume %q: %w", id, err)
	}
	return nil
}
