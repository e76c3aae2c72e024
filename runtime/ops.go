package runtime

import (
	"context"
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
)

// Pause freezes every process of container id.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	return r.withContainer(id, "pause", (*libcontainer.Container).Pause)
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	return r.withContainer(id, "resume", (*libcontainer.Container).Resume)
}

// Processes lists the host pids of every process in the container's cgroup.
func (r *Runtime) Processes(ctx context.Context, id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	pids, err := c.Processes()
	if err != nil {
		return nil, fmt.Errorf("processes of %q: %w", id, err)
	}
	return pids, nil
}

// withContainer runs op on container id under its lock, naming the
// operation and id in its error.
func (r *Runtime) withContainer(id, name string, op func(*libcontainer.Container) error) error {
	lock, err := r.lock(id)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := op(c); err != nil {
		return fmt.Errorf("%s %q: %w", name, id, err)
	}
	return nil
}
