package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/image/bundle"
	"github.com/berth-oci/berth/linux"
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
			&cli.StringFlag{Name: "image", Usage: "run this image (pulled if missing) instead of a bundle: berth run --image REF ID [-- command args...]"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "with --image: give the container a terminal"},
		), pullFlags()...),
		Action: func(c *cli.Context) error {
			o := createOptions(c)
			o.Start = true
			if c.String("image") != "" {
				return runImage(c, o)
			}
			if err := args(c, 1, 1); err != nil {
				return err
			}
			return runContainer(c, o)
		},
	}
}

// runImage is run --image: the image's bundle is made in the image store
// (its layers' overlay and a generated config.json), marked as berth's so
// that deleting the container removes it, and run.
func runImage(c *cli.Context, o runtime.CreateOptions) error {
	if c.NArg() < 1 {
		return fmt.Errorf("run: missing container id (usage: berth run --image REF ID [-- command args...])")
	}
	if c.String("bundle") != "" {
		return errors.New("run: --image and --bundle exclude each other")
	}
	id := c.Args().First()
	if err := linux.ValidateID(id); err != nil {
		return err
	}
	st, err := openStore(c)
	if err != nil {
		return err
	}
	ctx, cancel := commandContext()
	img, err := ensureImage(ctx, c, st, c.String("image"))
	cancel()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(st.BundlesDir(), id+"-")
	if err != nil {
		return err
	}
	err = bundle.Make(st, img, dir, bundle.Options{
		Args:     commandArgs(c.Args().Slice()[1:]),
		Terminal: c.Bool("tty"),
		Rootless: os.Geteuid() != 0,
		// An unprivileged user cannot mount overlayfs here: the layers are
		// applied into the bundle instead.
		Overlay: os.Geteuid() == 0,
		Owned:   true,
	})
	if err != nil {
		return err
	}
	o.Bundle = dir
	err = runContainer(c, o)
	if !bundleInUse(c, id) {
		// The container was never made (or is gone): its bundle goes now.
		err = errors.Join(err, bundle.Remove(dir))
	}
	return err
}

// bundleInUse reports whether container id still exists, so that its
// bundle stays until delete removes both.
func bundleInUse(c *cli.Context, id string) bool {
	rt, err := newRuntime(c)
	if err != nil {
		return true // cannot tell: leave the bundle to delete
	}
	_, err = rt.State(context.Background(), id)
	return !errors.Is(err, libcontainer.ErrNotExist)
}

// runContainer creates and starts a container (run), or restores one
// (restore): detached it returns at once; in the foreground it forwards
// signals and stdio until the container exits, then deletes it unless
// --keep, and exits with its status.
func runContainer(c *cli.Context, o runtime.CreateOptions) error {
	rt, err := newRuntime(c)
	if err != nil {
		return err
	}
	id := c.Args().First()
	o.Detach = c.Bool("detach")
	if o.Detach {
		ctx, cancel := commandContext()
		defer cancel()
		_, err := rt.Create(ctx, id, o)
		return err
	}

	// Catch every signal before the container exists, so that none sent
	// to berth in between is lost: they are forwarded.
	fwd, err := newForwarder(!c.Bool("no-subreaper"))
	if err != nil {
		return err
	}
	defer fwd.stop()
	ctx := context.Background()
	proc, err := rt.Create(ctx, id, o)
	if err != nil {
		return err
	}
	io, err := attach(proc)
	if err != nil {
		_ = proc.Signal(unix.SIGKILL) // the error below is what matters
		return errors.Join(err, cleanupRun(ctx, rt, id, c.Bool("keep")))
	}
	status, err := fwd.forward(proc, io)
	io.close()
	return errors.Join(err, cleanupRun(ctx, rt, id, c.Bool("keep")), exitStatus(status))
}

type deleter interface {
	Delete(ctx context.Context, id string, force bool) error
}

// cleanupRun deletes the container once its init is gone, unless --keep.
func cleanupRun(ctx context.Context, rt deleter, id string, keep bool) error {
	if keep {
		return nil
	}
	err := rt.Delete(ctx, id, true)
	if errors.Is(err, libcontainer.ErrNotExist) {
		return nil // somebody deleted it already
	}
	return err
}

func exitStatus(status int) error {
	if status == 0 {
		return nil
	}
	return &exitError{code: status}
}
