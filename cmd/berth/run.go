package main

import (
	"context"
	"errors"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/runtime"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "create and start a container; in the foreground, berth exits with its status",
		ArgsUsage: "<container-id>",
		Flags: append(append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container runs, leaving it berth's stdio"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container (nor, with --image, its bundle) after it exits"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not make berth a subreaper of the container's orphans"},
		), app.ImageRunFlags()...),
		Action: func(c *cli.Context) error {
			o := createOptions(c)
			o.Start = true
			rt, err := newRuntime(c)
			if err != nil {
				return err
			}
			if c.String("image") != "" {
				return runImage(c, rt, o)
			}
			if err := app.Args(c, 1, 1); err != nil {
				return err
			}
			return runContainer(c, rt, o)
		},
	}
}

// runContainer creates and starts a container (run), or restores one
// (restore): detached it returns at once; in the foreground it forwards
// signals and stdio until the container exits, then deletes it unless
// --keep, and exits with its status.
func runContainer(c *cli.Context, rt *runtime.Runtime, o runtime.CreateOptions) error {
	id := c.Args().First()
	o.Detach = c.Bool("detach")
	if o.Detach {
		ctx, cancel := app.CommandContext()
		defer cancel()
		proc, err := createContainer(ctx, rt, id, o)
		if err != nil {
			return err
		}
		// With NOTIFY_SOCKET, berth returns once the container is ready.
		return proc.ForwardReady(ctx, proc.Pid)
	}

	// Catch every signal before the container exists, so that none sent
	// to berth in between is lost: they are forwarded.
	fwd, err := newForwarder(!c.Bool("no-subreaper"))
	if err != nil {
		return err
	}
	defer fwd.stop()
	ctx := context.Background()
	proc, err := createContainer(ctx, rt, id, o)
	if err != nil {
		return err
	}
	io, err := attach(proc)
	if err != nil {
		_ = proc.Signal(unix.SIGKILL) // the error below is what matters
		return errors.Join(err, cleanupRun(ctx, rt, proc, c.Bool("keep")))
	}
	// berth stays in the foreground: it is the main pid the notify
	// receiver should watch.
	ready := make(chan error, 1)
	go func() { ready <- proc.ForwardReady(ctx, os.Getpid()) }()
	status, err := fwd.forward(proc, io)
	io.close()
	return errors.Join(err, <-ready, cleanupRun(ctx, rt, proc, c.Bool("keep")), exitStatus(status))
}

// cleanupRun deletes the container once its init is gone, unless --keep.
func cleanupRun(ctx context.Context, rt *runtime.Runtime, proc *runtime.Process, keep bool) error {
	if keep {
		return nil
	}
	err := rt.DeleteExited(ctx, proc)
	if errors.Is(err, libcontainer.ErrNotExist) {
		return nil // somebody deleted it already
	}
	return err
}

func exitStatus(status int) error {
	if status == 0 {
		return nil
	}
	return &app.ExitError{Code: status}
}
