package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/image/bundle"
	"github.com/berth-oci/berth/image/oci"
	"github.com/berth-oci/berth/image/owned"
	"github.com/berth-oci/berth/image/store"
	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/runtime"
)

// runImageWith is run --image once the image is found (find) in the store:
// its bundle is made in the store (an overlay of its unpacked layers, or
// them applied with apply, and a generated config.json), marked as
// berth's so that deleting the container removes it, and run.
func runImageWith(c *cli.Context, o runtime.CreateOptions, find func(*store.Store) (bundle.Image, error), apply bundle.ApplyFunc) error {
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
	img, err := find(st)
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
		Apply:   apply,
	})
	if err != nil {
		return err // Make removed what it made
	}
	o.Bundle = dir
	err = runContainer(c, o)
	if !bundleInUse(c, id) {
		// The container was never made (or is gone): its bundle goes now.
		err = errors.Join(err, owned.Remove(dir))
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

func openStore(c *cli.Context) (*store.Store, error) {
	return store.Open(c.String("image-store"))
}

// commandArgs are the arguments given for the container's command, after
// an optional "--".
func commandArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

// localImageName is the store name berth-image gives reference ref (its
// normalisation: docker.io's defaults, tag latest, absolute OCI layout
// paths). ok is false for references it does not handle here; a name that
// differs from berth-image's only misses the store, and berth-image then
// handles the run.
func localImageName(ref string) (string, bool) {
	if l, ok, err := oci.ParseLayoutRef(ref); ok {
		return l.Name, err == nil
	}
	if ref == "" || strings.ContainsAny(ref, " \t\n") {
		return "", false
	}
	name, suffix := ref, ""
	if i := strings.Index(ref, "@"); i >= 0 {
		name, suffix = ref[:i], ref[i:]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, suffix = ref[:i], ref[i:]
	} else {
		suffix = ":latest"
	}
	registry, repo := "index.docker.io", name
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		registry, repo = first, rest
	}
	if registry == "docker.io" {
		registry = "index.docker.io"
	}
	if registry == "index.docker.io" && !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return registry + "/" + repo + suffix, true
}
