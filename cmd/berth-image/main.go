// Command berth-image is berth's image commands: pull, images, rmi, gc and
// bundle. berth hands these commands on to it, same arguments, so that the
// registry client and the decompressors are linked here and not into the
// runtime. It never runs a container: berth run --image has it make the
// bundle, then runs that bundle itself.
package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	a := &cli.App{
		Name:                      "berth",
		Usage:                     "berth's image commands: pull images into berth's store and make bundles of them",
		Version:                   app.Version(version, commit),
		Flags:                     app.GlobalFlags(),
		Before:                    app.ConfigureLogging,
		Commands:                  app.SortCommands(imageCommands()),
		ErrWriter:                 os.Stderr,
		DisableSliceFlagSeparator: true, // one value, commas and all
		ExitErrHandler:            func(*cli.Context, error) {},
	}
	os.Exit(app.ExitCode(a.Run(app.Reorder(a, os.Args))))
}
