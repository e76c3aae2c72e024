// The Go runtime must not open the host's cgroup CPU files to size
// GOMAXPROCS: in "berth init" they would stay open inside the container, and
// a process exec'd into it could raise its own CPU limit through
// /proc/1/fd.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command berth is an OCI runtime: it runs OCI bundles through the runtime
// spec's lifecycle with runc's command line, on runc's libcontainer.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	goruntime "runtime"
	"slices"
	"strings"

	_ "github.com/opencontainers/cgroups/devices" // device rules for the cgroup managers
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec, run before the Go runtime in "berth init"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/runtime"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// init turns this binary into libcontainer's container init when
// libcontainer re-executes it as "berth init": by then nsexec has set up the
// namespaces, and Init never returns (it execs the user process).
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}

func main() {
	app := newApp()
	err := app.Run(os.Args)
	os.Exit(exitCode(err))
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
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Usage: "write berth's logs to this file (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "directory for container state (best on tmpfs)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: `use the systemd cgroup driver; linux.cgroupsPath is then "slice:prefix:name", e.g. "system.slice:berth:1234"`},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors: true, false or auto"},
		}, imageGlobalFlags()...),
		Before: configureLogging,
		Commands: sortCommands(append(imageCommands(),
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
		// Usage errors are returned (and logged once by exitCode) rather
		// than printed and exited inside urfave/cli.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// sortCommands orders commands by name, as help lists them.
func sortCommands(cmds []*cli.Command) []*cli.Command {
	slices.SortFunc(cmds, func(a, b *cli.Command) int { return strings.Compare(a.Name, b.Name) })
	return cmds
}

func defaultRoot() string {
	if os.Geteuid() != 0 {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
			return dir + "/berth"
		}
	}
	return "/run/berth"
}

func versionString() string {
	v := version
	if commit != "" {
		v += "\ncommit: " + commit
	}
	v += "\nspec: " + specs.Version + "\ngo: " + goruntime.Version()
	if major, minor, micro := seccomp.Version(); major+minor+micro > 0 {
		v += fmt.Sprintf("\nlibseccomp: %d.%d.%d", major, minor, micro)
	}
	return v
}

// configureLogging sets up logrus, the one logger berth and libcontainer
// share: --debug, --log-format and --log.
func configureLogging(c *cli.Context) error {
	if c.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch f := c.String("log-format"); f {
	case "text", "":
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return fmt.Errorf("--log-format: unknown format %q (want text or json)", f)
	}
	if path := c.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		logrus.SetOutput(f)
	}
	return nil
}

// exitError makes berth exit with code: the status of a container process
// berth ran in the foreground (err nil: not a failure of berth), or a
// failure that callers tell apart by its code (exec failing: 255).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode is the one place errors become exit codes: a failure is logged
// once at error level to --log (its last error line is what containerd
// reports) and printed plainly to stderr; with JSON logs on stderr, the log
// record is all.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err == nil {
			return ee.code
		}
		code = ee.code
	}
	log := logrus.StandardLogger()
	_, text := log.Formatter.(*logrus.TextFormatter)
	if log.Out != os.Stderr || !text {
		log.Error(err)
	}
	if log.Out != os.Stderr || text {
		// People read stderr: the error as it is, lines and all.
		fmt.Fprintln(os.Stderr, "berth:", err)
	}
	return code
}

// newRuntime builds the runtime from the global flags.
func newRuntime(c *cli.Context) (*runtime.Runtime, error) {
	return runtime.New(runtime.Options{
		Root:          c.String("root"),
		SystemdCgroup: c.Bool("systemd-cgroup"),
		Rootless:      c.String("rootless"),
	})
}

// commandContext is cancelled on SIGINT/SIGTERM for commands that do not
// forward signals themselves.
func commandContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
}

// args checks the number of positional arguments.
func args(c *cli.Context, min, max int) error {
	n := c.NArg()
	switch {
	case n < min && min == 1 && max == 1:
		return fmt.Errorf("%s: missing container id (usage: berth %s %s)", c.Command.Name, c.Command.Name, c.Command.ArgsUsage)
	case n < min || n > max:
		return fmt.Errorf("%s: expected %s, got %d argument(s) (usage: berth %s %s)", c.Command.Name, argCount(min, max), n, c.Command.Name, c.Command.ArgsUsage)
	}
	return nil
}

func argCount(min, max int) string {
	if min == max {
		return fmt.Sprintf("%d argument(s)", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

// withRuntime is the Action of a command that works on containers: it
// checks the number of arguments, builds the runtime from the global flags
// and runs do with a context cancelled by SIGINT or SIGTERM.
func withRuntime(min, max int, do func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := args(c, min, max); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		ctx, cancel := commandContext()
		defer cancel()
		return do(ctx, c, rt)
	}
}
