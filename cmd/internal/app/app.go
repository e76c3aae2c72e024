// Package app is what berth's two programs share: bin/berth, the runtime,
// and bin/berth-image, the image commands that berth hands on to it. Both
// take the same global flags, log the same way, turn errors into exit codes
// the same way and read their arguments as runc does.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/image/store"
)

// GlobalFlags are the flags before the command, the same in both programs
// so that berth can hand a command line on to berth-image as it is.
func GlobalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
		&cli.StringFlag{Name: "log", Usage: "write berth's logs to this file (default: stderr)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
		&cli.StringFlag{Name: "root", Value: DefaultRoot(), Usage: "directory for container state (best on tmpfs)"},
		&cli.BoolFlag{Name: "systemd-cgroup", Usage: `use the systemd cgroup driver; linux.cgroupsPath is then "slice:prefix:name", e.g. "system.slice:berth:1234"`},
		&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors: true, false or auto"},
		&cli.StringFlag{Name: "image-store", Value: store.DefaultDir, EnvVars: []string{"BERTH_IMAGE_STORE"}, Usage: "directory of the image store (pull, images, bundle, run --image)"},
	}
}

// DefaultRoot is the state root when --root is not given.
func DefaultRoot() string {
	if os.Geteuid() != 0 {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
			return dir + "/berth"
		}
	}
	return "/run/berth"
}

// Version is the text of --version: the first lines as runc prints them
// (go-runc parses "<name> version X", "commit:" and "spec:"), then extra.
func Version(version, commit string, extra ...string) string {
	v := version
	if commit != "" {
		v += "\ncommit: " + commit
	}
	v += "\nspec: " + specs.Version + "\ngo: " + goruntime.Version()
	for _, e := range extra {
		v += "\n" + e
	}
	return v
}

// SortCommands orders commands by name, as help lists them.
func SortCommands(cmds []*cli.Command) []*cli.Command {
	slices.SortFunc(cmds, func(a, b *cli.Command) int { return strings.Compare(a.Name, b.Name) })
	return cmds
}

// ConfigureLogging sets up logrus, the one logger berth and libcontainer
// share: --debug, --log-format and --log.
func ConfigureLogging(c *cli.Context) error {
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

// ExitError makes the program exit with Code: the status of a container
// process berth ran in the foreground (Err nil: not a failure of berth), or
// a failure that callers tell apart by its code (exec failing: 255).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the one place errors become exit codes: a failure is logged
// once at error level to --log (its last error line is what containerd
// reports) and printed plainly to stderr; with JSON logs on stderr, the log
// record is all.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err == nil {
			return ee.Code
		}
		code = ee.Code
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

// CommandContext is cancelled on SIGINT/SIGTERM, for commands that do not
// forward signals themselves.
func CommandContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
}

// Args checks the number of positional arguments.
func Args(c *cli.Context, min, max int) error {
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

// PrintJSON prints v to stdout as indented JSON.
func PrintJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
