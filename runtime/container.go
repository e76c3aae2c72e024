package runtime

import (
	"context"

	"github.com/opencontainers/runc/types"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Container is an open container, for a caller that makes many calls on
// one container in one process (the containerd shim keeps one per task):
// its libcontainer state is read once, where the Runtime's methods, which
// take an id, read it from disk for every call. Each call still takes the
// container's lock when it changes the container and decides from its
// status, read anew, whether it may.
//
// An open container assumes its caller is its only manager: were it
// deleted and made again under the same id by another process, the open
// container would still be the old one.
type Container struct {
	r *Runtime
	x ref
}

// Open opens container id, reading its state once.
func (r *Runtime) Open(ctx context.Context, id string) (*Container, error) {
	c, err := r.load(ref{id: id})
	if err != nil {
		return nil, err
	}
	return &Container{r: r, x: ref{id: id, c: c}}, nil
}

// Container is container id, not opened: every call reads its state from
// disk, as the Runtime's own methods do.
func (r *Runtime) Container(id string) *Container {
	return &Container{r: r, x: ref{id: id}}
}

// Container is the container p is the init of, open (Create made it), or
// nil for a process Exec started.
func (p *Process) Container() *Container {
	if p.c == nil {
		return nil
	}
	return &Container{r: p.r, x: ref{id: p.ID, c: p.c}}
}

// ID is the container's id.
func (c *Container) ID() string { return c.x.id }

// Start is Runtime.Start on the open container.
func (c *Container) Start(ctx context.Context, o StartOptions) error {
	return c.r.start(ctx, c.x, o)
}

// Exec is Runtime.Exec on the open container.
func (c *Container) Exec(ctx context.Context, o ExecOptions) (*Process, error) {
	return c.r.exec(c.x, o)
}

// Kill is Runtime.Kill on the open container.
func (c *Container) Kill(ctx context.Context, sig unix.Signal, o KillOptions) error {
	return c.r.kill(c.x, sig, o)
}

// Delete is Runtime.Delete on the open container; the container cannot be
// used afterwards.
func (c *Container) Delete(ctx context.Context, o DeleteOptions) error {
	return c.r.delete(ctx, c.x, o)
}

// Pause is Runtime.Pause on the open container.
func (c *Container) Pause(ctx context.Context) error { return c.r.pause(c.x) }

// Resume is Runtime.Resume on the open container.
func (c *Container) Resume(ctx context.Context) error { return c.r.resume(c.x) }

// Update is Runtime.Update on the open container.
func (c *Container) Update(ctx context.Context, res *specs.LinuxResources) error {
	return c.r.update(c.x, res)
}

// Checkpoint is Runtime.Checkpoint on the open container.
func (c *Container) Checkpoint(ctx context.Context, o *CriuOptions) error {
	return c.r.checkpoint(ctx, c.x, o)
}

// Processes is Runtime.Processes on the open container.
func (c *Container) Processes(ctx context.Context) ([]int, error) { return c.r.processes(c.x) }

// Stats is Runtime.Stats on the open container.
func (c *Container) Stats(ctx context.Context) (*types.Stats, error) {
	lc, err := c.r.runningContainer(c.x)
	if err != nil {
		return nil, err
	}
	return stats(lc)
}

// NotifyOOM is Runtime.NotifyOOM on the open container.
func (c *Container) NotifyOOM(ctx context.Context) (<-chan struct{}, error) {
	lc, err := c.r.runningContainer(c.x)
	if err != nil {
		return nil, err
	}
	return notifyOOM(ctx, lc)
}

// State is Runtime.State of the container, its status read anew.
func (c *Container) State(ctx context.Context) (*ContainerState, error) {
	if c.x.c == nil {
		return c.r.State(ctx, c.x.id)
	}
	if !c.r.root.Exists(c.x.id) {
		return nil, errNotExist(c.x.id)
	}
	return describe(c.x.c)
}
