package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/image/bundle"
	"github.com/berth-oci/berth/image/oci"
	"github.com/berth-oci/berth/image/store"
	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/runtime"
)

// The image commands are berth-image's, a program installed beside berth:
// its registry client, decompressors and their package initialisation then
// cost nothing to the runtime's commands and to every container's init.
// berth hands those commands on to it, same arguments. run --image stays
// here: berth makes the bundle of an image the store has, unpacked, itself
// (what that takes is linked here anyway), and has berth-image make it
// otherwise, pulling and unpacking; either way berth runs the bundle.

// companionName is the image program's name, looked up beside berth.
const companionName = "berth-image"

// imageCommands are the image commands, each handed on to berth-image.
func imageCommands() []*cli.Command {
	cmds := app.ImageCommands()
	for _, c := range cmds {
		c.SkipFlagParsing = true
		c.Action = func(*cli.Context) error { return execCompanion() }
	}
	return cmds
}

// companion is the path of berth-image beside this berth.
func companion() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", companionName, err)
	}
	return filepath.Join(filepath.Dir(exe), companionName), nil
}

func errNoCompanion(path string) error {
	return fmt.Errorf("the image commands are in %s, which is not installed beside berth (make build and make install put both in place)", path)
}

// execCompanion replaces this process with berth-image, same arguments.
func execCompanion() error {
	path, err := companion()
	if err != nil {
		return err
	}
	err = unix.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
	if errors.Is(err, unix.ENOENT) {
		return errNoCompanion(path)
	}
	return fmt.Errorf("run %s: %w", path, err)
}

// runImage is run --image: the image's bundle is made in the store and
// handed to the runtime with the container, which removes it on delete.
func runImage(c *cli.Context, rt *runtime.Runtime, o runtime.CreateOptions) error {
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
	st, err := app.OpenStore(c)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(st.BundlesDir(), id+"-")
	if err != nil {
		return err
	}
	if err := makeImageBundle(c, st, dir); err != nil {
		return errors.Join(err, linux.RemoveBundle(dir))
	}
	o.Bundle, o.OwnBundle = dir, true
	err = runContainer(c, rt, o)
	if !containerExists(rt, id) {
		// The container was never made (or is gone): its bundle goes now.
		err = errors.Join(err, linux.RemoveBundle(dir))
	}
	return err
}

// makeImageBundle writes the bundle of run's image into dir: here when the
// store has the image with its layers unpacked, by berth-image otherwise.
func makeImageBundle(c *cli.Context, st *store.Store, dir string) error {
	args := app.CommandArgs(c.Args().Slice()[1:])
	if c.String("platform") == "" {
		err := makeLocalBundle(c, st, dir, args)
		if !errors.Is(err, errNotLocal) && !errors.Is(err, bundle.ErrNotUnpacked) {
			return err
		}
	}
	path, err := companion()
	if err != nil {
		return err
	}
	cmd := exec.Command(path, companionArgs(c, dir, args)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stderr, os.Stderr
	err = cmd.Run()
	if errors.Is(err, os.ErrNotExist) {
		return errNoCompanion(path)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// berth-image has said what went wrong.
		return &app.ExitError{Code: ee.ExitCode(), Err: fmt.Errorf("%s bundle failed", companionName)}
	}
	return err
}

// errNotLocal: the store does not have the image.
var errNotLocal = errors.New("image not in the store")

// makeLocalBundle makes the bundle of an image the store has, unpacked.
func makeLocalBundle(c *cli.Context, st *store.Store, dir string, args []string) error {
	name, ok := localImageName(c.String("image"))
	if !ok {
		return errNotLocal
	}
	desc, found, err := st.Resolve(name)
	if err != nil {
		return err
	}
	if !found {
		return errNotLocal
	}
	return bundle.Make(st, bundle.Image{Name: name, Manifest: desc}, dir, bundle.Options{
		Args:     args,
		Terminal: c.Bool("tty"),
		Rootless: os.Geteuid() != 0,
		// An unprivileged user cannot mount overlayfs here: the layers are
		// applied into the bundle instead.
		Overlay: os.Geteuid() == 0,
		Owned:   true,
	})
}

// companionArgs is the berth-image command line that makes run's bundle
// in dir: berth's global flags, then bundle with run's image flags.
func companionArgs(c *cli.Context, dir string, args []string) []string {
	var out []string
	for _, g := range []string{"debug", "systemd-cgroup"} {
		if c.Bool(g) {
			out = append(out, "--"+g)
		}
	}
	for _, g := range []string{"log", "log-format", "image-store"} {
		if v := c.String(g); v != "" {
			out = append(out, "--"+g+"="+v)
		}
	}
	out = append(out, "bundle", "--owned")
	if c.Bool("tty") {
		out = append(out, "--tty")
	}
	if c.Bool("insecure") {
		out = append(out, "--insecure")
	}
	for _, f := range []string{"platform", "authfile"} {
		if v := c.String(f); v != "" {
			out = append(out, "--"+f+"="+v)
		}
	}
	out = append(out, c.String("image"), dir, "--")
	return append(out, args...)
}

// containerExists reports whether container id exists, so that its bundle
// stays until delete removes both.
func containerExists(rt *runtime.Runtime, id string) bool {
	_, err := rt.State(context.Background(), id)
	return !errors.Is(err, libcontainer.ErrNotExist)
}

// localImageName is the store name berth-image gives reference ref (its
// normalisation: docker.io's defaults, tag latest, absolute OCI layout
// paths). ok is false for references it does not handle here; a name that
// differs from berth-image's only misses the store, and berth-image then
// makes the bundle.
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
