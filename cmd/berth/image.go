//go:build berth_noimage

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/image/bundle"
	"github.com/berth-oci/berth/image/store"
	"github.com/berth-oci/berth/runtime"
)

// The runtime-only build (berth_noimage) leaves the image commands to its
// companion binary, berth-image, installed beside it: the registry client,
// the decompressors and their package initialisation then cost nothing to
// the runtime's own commands and to every container's init. The store
// commands are normally handed over before the Go runtime starts
// (companion_dispatch.go); these are the fallbacks for what that quick
// look at the arguments did not recognise. run --image of an image the
// store has, unpacked, runs here; berth-image pulls and unpacks the rest.

// companionName is the image binary's name, looked up beside berth.
const companionName = "berth-image"

func imageCommands() []*cli.Command {
	cmds := imageCommandSpecs()
	for _, c := range cmds {
		c.SkipFlagParsing = true
		c.Action = func(*cli.Context) error { return execCompanion() }
	}
	return cmds
}

// runImage runs an image the store has, with its layers unpacked, here
// (the warm path costs the runtime nothing it would not pay for a bundle);
// anything else (a pull, an unpack, another platform) is berth-image's.
func runImage(c *cli.Context, o runtime.CreateOptions) error {
	if c.String("platform") != "" {
		return execCompanion()
	}
	err := runImageWith(c, o, func(st *store.Store) (bundle.Image, error) {
		name, ok := localImageName(c.String("image"))
		if !ok {
			return bundle.Image{}, errNeedCompanion
		}
		desc, found, err := st.Resolve(name)
		if err != nil {
			return bundle.Image{}, err
		}
		if !found {
			return bundle.Image{}, errNeedCompanion
		}
		return bundle.Image{Name: name, Manifest: desc}, nil
	}, nil)
	if errors.Is(err, errNeedCompanion) || errors.Is(err, bundle.ErrNotUnpacked) {
		return execCompanion()
	}
	return err
}

// errNeedCompanion: the image must be pulled first.
var errNeedCompanion = errors.New("image not in the store")

// execCompanion replaces this process with berth-image, same arguments.
func execCompanion() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find berth-image: %w", err)
	}
	path := filepath.Join(filepath.Dir(exe), companionName)
	err = unix.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("the image commands are in %s, which is not installed beside %s (make build and make install put both in place; IMAGE=0 builds the runtime alone)", path, exe)
	}
	return fmt.Errorf("run %s: %w", path, err)
}
