package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/runtime"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:  "exec",
		Usage: "run a new process in a running container",
		ArgsUsage: `<container-id> <command> [args...]
   berth exec [options] -p process.json <container-id>`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "process.json (runtime-spec process) to run"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master (with --tty and --detach)"},
			&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of the process"},
			&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add an environment variable KEY=value"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "uid[:gid] to run as"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional group ids"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "leave the process running on its own"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to this file"},
			&cli.StringFlag{Name: "process-label", Usage: "SELinux label of the process"},
			&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile of the process"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (e.g. CAP_NET_ADMIN) to the process"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many extra fds (3 onwards) to the process"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run in a sub-cgroup of the container: [controller[,controller]:]path"},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return fmt.Errorf("exec: missing container id (usage: berth exec %s)", c.Command.ArgsUsage)
			}
			o, err := execOptions(c)
			if err != nil {
				return err
			}
			rt, err := newRuntime(c)
			if err != nil {
				return err
			}
			id := c.Args().First()
			if o.Detach {
				ctx, cancel := app.CommandContext()
				defer cancel()
				if _, err := rt.Exec(ctx, id, o); err != nil {
					return execFailed(err)
				}
				return nil
			}
			fwd, err := newForwarder(false)
			if err != nil {
				return err
			}
			defer fwd.stop()
			proc, err := rt.Exec(context.Background(), id, o)
			if err != nil {
				return execFailed(err)
			}
			io, err := attach(proc)
			if err != nil {
				return err
			}
			status, err := fwd.forward(proc, io)
			io.close()
			if err != nil {
				return err
			}
			return exitStatus(status)
		},
	}
}

func execOptions(c *cli.Context) (runtime.ExecOptions, error) {
	o := runtime.ExecOptions{
		ProcessFile:   c.String("process"),
		Detach:        c.Bool("detach"),
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		PidfdSocket:   c.String("pidfd-socket"),
		PreserveFDs:   c.Int("preserve-fds"),
		IgnorePaused:  c.Bool("ignore-paused"),
		Stdio:         stdio(),
	}
	ov := &o.Overrides
	ov.Args = c.Args().Tail()
	ov.Cwd = c.String("cwd")
	ov.Env = c.StringSlice("env")
	ov.Caps = c.StringSlice("cap")
	ov.SelinuxLabel = c.String("process-label")
	ov.ApparmorProfile = c.String("apparmor")
	if c.IsSet("tty") {
		t := c.Bool("tty")
		ov.Terminal = &t
	}
	if c.IsSet("no-new-privs") {
		n := c.Bool("no-new-privs")
		ov.NoNewPrivileges = &n
	}
	if u := c.String("user"); u != "" {
		uidStr, gidStr, hasGID := strings.Cut(u, ":")
		uid, err := parseID(uidStr)
		if err != nil {
			return o, fmt.Errorf("--user %q: uid: %w (want uid[:gid], numeric)", u, err)
		}
		ov.UID = &uid
		if hasGID {
			gid, err := parseID(gidStr)
			if err != nil {
				return o, fmt.Errorf("--user %q: gid: %w (want uid[:gid], numeric)", u, err)
			}
			ov.GID = &gid
		}
	}
	for _, g := range c.Int64Slice("additional-gids") {
		if g < 0 || g > 1<<32-1 {
			return o, fmt.Errorf("--additional-gids: %d is not a valid gid", g)
		}
		ov.AdditionalGids = append(ov.AdditionalGids, uint32(g))
	}
	cg, err := subCgroups(c.StringSlice("cgroup"))
	if err != nil {
		return o, err
	}
	o.SubCgroups = cg
	return o, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return uint32(n), nil
}

// subCgroups parses --cgroup values: "path" alone (every controller, or the
// cgroup v2 path) or "ctrl[,ctrl]:path" per controller.
func subCgroups(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(values))
	for _, v := range values {
		ctrls, path, ok := strings.Cut(v, ":")
		if !ok {
			if len(values) != 1 {
				return nil, fmt.Errorf("--cgroup %q: with several --cgroup flags each needs a controller: prefix", v)
			}
			paths[""] = v
			continue
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if ctrl == "" {
				return nil, fmt.Errorf("--cgroup %q: empty controller name", v)
			}
			if _, dup := paths[ctrl]; dup {
				return nil, fmt.Errorf("--cgroup: controller %q given twice", ctrl)
			}
			paths[ctrl] = path
		}
	}
	return paths, nil
}

// execFailed marks a failure to start the process: berth exits 255, as
// runc does, so that callers can tell it from the process's own status.
func execFailed(err error) error {
	return &app.ExitError{Code: 255, Err: fmt.Errorf("exec failed: %w", err)}
}
