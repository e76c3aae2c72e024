package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/image/bundle"
	"github.com/berth-oci/berth/image/pull"
	"github.com/berth-oci/berth/image/store"
	"github.com/berth-oci/berth/image/unpack"
)

// imageCommands are the commands of the image store.
func imageCommands() []*cli.Command {
	actions := map[string]cli.ActionFunc{
		"bundle": bundleAction, "gc": gcAction, "images": imagesAction, "pull": pullAction, "rmi": rmiAction,
	}
	cmds := app.ImageCommands()
	for _, c := range cmds {
		c.Action = actions[c.Name]
	}
	return cmds
}

func pullOptions(c *cli.Context, quiet bool) (pull.Options, error) {
	o := pull.Options{Insecure: c.Bool("insecure"), AuthFile: c.String("authfile")}
	if s := c.String("platform"); s != "" {
		p, err := pull.ParsePlatform(s)
		if err != nil {
			return o, err
		}
		o.Platform = &p
	}
	if !quiet && app.IsTerminal(os.Stderr) {
		o.Progress = os.Stderr
	}
	return o, nil
}

// ensureImage finds ref in the store, pulling it if it is missing.
func ensureImage(ctx context.Context, c *cli.Context, st *store.Store, ref string) (bundle.Image, error) {
	r, err := pull.ParseRef(ref, c.Bool("insecure"))
	if err != nil {
		return bundle.Image{}, err
	}
	o, err := pullOptions(c, false)
	if err != nil {
		return bundle.Image{}, err
	}
	desc, err := pull.Ensure(ctx, st, r, o)
	if err != nil {
		return bundle.Image{}, err
	}
	return bundle.Image{Name: r.Name, Manifest: desc}, nil
}

func pullAction(c *cli.Context) error {
	if err := app.Args(c, 1, 1); err != nil {
		return err
	}
	st, err := app.OpenStore(c)
	if err != nil {
		return err
	}
	ref, err := pull.ParseRef(c.Args().First(), c.Bool("insecure"))
	if err != nil {
		return err
	}
	o, err := pullOptions(c, c.Bool("quiet"))
	if err != nil {
		return err
	}
	ctx, cancel := app.CommandContext()
	defer cancel()
	res, err := pull.Pull(ctx, st, ref, o)
	if err != nil {
		return err
	}
	logrus.WithFields(logrus.Fields{"image": res.Name, "fetched": res.Fetched}).Debug("pulled")
	fmt.Println(res.Manifest.Digest)
	return nil
}

// imageInfo is a line of berth images.
type imageInfo struct {
	Name     string `json:"name"`
	Digest   string `json:"digest"`
	Platform string `json:"platform,omitempty"`
	// Size is the size of the manifest, config and (compressed) layers.
	Size int64 `json:"size"`
}

func imagesAction(c *cli.Context) error {
	if err := app.Args(c, 0, 0); err != nil {
		return err
	}
	format := c.String("format")
	if format != "table" && format != "json" {
		return fmt.Errorf("images: unknown --format %q (want table or json)", format)
	}
	st, err := app.OpenStore(c)
	if err != nil {
		return err
	}
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	infos := []imageInfo{}
	for _, img := range imgs {
		info := imageInfo{Name: img.Name, Digest: img.Manifest.Digest.String()}
		if p := img.Manifest.Platform; p != nil {
			info.Platform = pull.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}.String()
		}
		info.Size, err = st.ImageSize(img.Manifest)
		if err != nil {
			return fmt.Errorf("image %q: %w", img.Name, err)
		}
		infos = append(infos, info)
	}
	switch {
	case c.Bool("quiet"):
		for _, i := range infos {
			fmt.Println(i.Name)
		}
		return nil
	case format == "json":
		return app.PrintJSON(infos)
	}
	w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
	fmt.Fprint(w, "NAME\tDIGEST\tPLATFORM\tSIZE\n")
	for _, i := range infos {
		fmt.Fprintf(w, "%s\t%s\t%s\t%.1f MB\n", i.Name, i.Digest, i.Platform, float64(i.Size)/1e6)
	}
	return w.Flush()
}

func rmiAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("rmi: name at least one image (see berth images)")
	}
	st, err := app.OpenStore(c)
	if err != nil {
		return err
	}
	var errs []error
	for _, arg := range c.Args().Slice() {
		ref, err := pull.ParseRef(arg, false)
		if err == nil {
			err = st.Untag(ref.Name)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(ref.Name)
	}
	if _, err := st.GC(); err != nil {
		errs = append(errs, fmt.Errorf("garbage collection: %w", err))
	}
	return errors.Join(errs...)
}

func gcAction(c *cli.Context) error {
	if err := app.Args(c, 0, 0); err != nil {
		return err
	}
	st, err := app.OpenStore(c)
	if err != nil {
		return err
	}
	res, err := st.GC()
	if err != nil {
		return err
	}
	fmt.Printf("removed %d blobs (%.1f MB) and %d unpacked layers\n", res.Blobs, float64(res.Bytes)/1e6, res.Layers)
	return nil
}

func bundleAction(c *cli.Context) error {
	if c.NArg() < 2 {
		return fmt.Errorf("bundle: expected an image and a directory (usage: berth bundle %s)", c.Command.ArgsUsage)
	}
	st, err := app.OpenStore(c)
	if err != nil {
		return err
	}
	ctx, cancel := app.CommandContext()
	defer cancel()
	img, err := ensureImage(ctx, c, st, c.Args().Get(0))
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(c.Args().Get(1))
	if err != nil {
		return err
	}
	o := bundle.Options{
		Apply:    unpack.Applier,
		Args:     app.CommandArgs(c.Args().Slice()[2:]),
		Terminal: c.Bool("tty"),
		Rootless: c.Bool("rootless"),
	}
	if c.Bool("owned") {
		// A bundle for berth run --image: marked for the store's gc, an
		// overlay of the cached layers where berth may mount one (an
		// unprivileged user cannot: the layers are applied instead).
		o.Owned = true
		o.Overlay = os.Geteuid() == 0
		o.Rootless = os.Geteuid() != 0
	}
	return bundle.Make(st, img, dir, o)
}
