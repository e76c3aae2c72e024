// The Go runtime must not open the host's cgroup CPU files to size
// GOMAXPROCS: in "berth init" they would stay open inside the container, and
// a process exec'd into it could raise its own CPU limit through
// /proc/1/fd (see package containerinit).

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command berth is an OCI runtime: it runs OCI bundles through the runtime
// spec's lifecycle with runc's command line, on runc's libcontainer. The
// image commands (pull, images, rmi, gc, bundle) are berth-image's, a
// program of their own beside berth that berth hands them on to, so that
// their registry client and decompressors cost nothing to the runtime's
// commands and to every container's init.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
	_ "github.com/berth-oci/berth/cmd/internal/containerinit" // "berth init": libcontainer's container init
	"github.com/berth-oci/berth/runtime"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	a := newApp()
	err := a.Run(app.Reorder(a, os.Args, "exec", "ps"))
	os.Exit(app.ExitCode(err))
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "berth",
		Usage: "run OCI bundles through the OCI runtime lifecycle (runc-compatible)",
		Description: `berth creates and runs containers from OCI bundles: a directory with a
config.json and a root filesystem. Its commands and flags are runc's, so
containerd, podman and CRI-O can use it in runc's place.

   berth spec                  write a default config.json here
   berth run -b BUNDLE ID      run a container in the foreground
   berth create -b BUNDLE ID   create it, then: berth start ID`,
		Version:              versionString(),
		EnableBashCompletion: true,
		Flags:                app.GlobalFlags(),
		Before:               app.ConfigureLogging,
		Commands: app.SortCommands(append(imageCommands(),
			checkpointCommand(),
			createCommand(),
			deleteCommand(),
			eventsCommand(),
			execCommand(),
			featuresCommand(),
			killCommand(),
			listCommand(),
			pauseCommand(),
			psCommand(),
			restoreCommand(),
			resumeCommand(),
			runCommand(),
			specCommand(),
			startCommand(),
			stateCommand(),
			updateCommand(),
		)),
		ErrWriter: os.Stderr,
		// A value is one value, commas and all: --cgroup cpu,cpuacct:sub
		// names two controllers, --env A=b,c sets A to "b,c" (runc).
		DisableSliceFlagSeparator: true,
		// Usage errors are returned (and logged once by ExitCode) rather
		// than printed and exited inside urfave/cli.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func versionString() string {
	var extra []string
	if major, minor, micro := seccomp.Version(); major+minor+micro > 0 {
		extra = append(extra, fmt.Sprintf("libseccomp: %d.%d.%d", major, minor, micro))
	}
	return app.Version(version, commit, extra...)
}

// newRuntime builds the runtime from the global flags.
func newRuntime(c *cli.Context) (*runtime.Runtime, error) {
	return runtime.New(runtime.Options{
		Root:          c.String("root"),
		SystemdCgroup: c.Bool("systemd-cgroup"),
		Rootless:      c.String("rootless"),
	})
}

// withRuntime is the Action of a command that works on containers: it
// checks the number of arguments, builds the runtime from the global flags
// and runs do with a context cancelled by SIGINT or SIGTERM.
func withRuntime(min, max int, do func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := app.Args(c, min, max); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		ctx, cancel := app.CommandContext()
		defer cancel()
		return do(ctx, c, rt)
	}
}
