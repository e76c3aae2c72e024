//go:build berth_noimage

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/runtime"
)

// The runtime-only build (berth_noimage) leaves the image commands to its
// companion binary, berth-image, installed beside it: the registry client,
// the decompressors and their package initialisation then cost nothing to
// the runtime's own commands and to every container's init. The dispatch
// normally happens before the Go runtime starts (companion_dispatch.go);
// these are the fallbacks for what that quick look at the arguments did
// not recognise.

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

func runImage(*cli.Context, runtime.CreateOptions) error { return execCompanion() }

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
