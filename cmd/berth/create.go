package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/runtime"
)

// createFlags are shared by create and run.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", Usage: "bundle directory holding config.json (default: current directory)"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master when process.terminal is true"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of the container's init"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the init's pid to this file"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root (for a rootfs on ramfs)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many extra fds (3 onwards, after LISTEN_FDS) to the container"},
	}
}

func createOptions(c *cli.Context) runtime.CreateOptions {
	return runtime.CreateOptions{
		Bundle:        c.String("bundle"),
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		PidfdSocket:   c.String("pidfd-socket"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		PreserveFDs:   c.Int("preserve-fds"),
		ListenFDs:     listenFDs(),
		Stdio:         stdio(),
		NotifySocket:  os.Getenv("NOTIFY_SOCKET"),
	}
}

// listenFDs returns the socket-activation fds systemd passed to berth
// (LISTEN_FDS, for LISTEN_PID = berth), to hand on to the container.
func listenFDs() []*os.File {
	if pid, err := strconv.Atoi(os.Getenv("LISTEN_PID")); err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	files := make([]*os.File, 0, n)
	for fd := 3; fd < 3+n; fd++ {
		files = append(files, os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd)))
	}
	return files
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container and leave it waiting for start",
		ArgsUsage: "<container-id>",
		Flags:     createFlags(),
		Action: func(c *cli.Context) error {
			if err := app.Args(c, 1, 1); err != nil {
				return err
			}
			rt, err := newRuntime(c)
			if err != nil {
				return err
			}
			ctx, cancel := app.CommandContext()
			defer cancel()
			o := createOptions(c)
			o.Detach = true
			_, err = createContainer(ctx, rt, c.Args().First(), o)
			return err
		},
	}
}

// stdio is berth's own stdin, stdout and stderr, which a detached
// container or process inherits.
func stdio() runtime.Stdio {
	return runtime.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}

// createContainer is Create as runc does it: from the bundle directory,
// where the hooks that run during create (prestart, createRuntime) then
// run too.
func createContainer(ctx context.Context, rt *runtime.Runtime, id string, o runtime.CreateOptions) (*runtime.Process, error) {
	if err := o.ResolvePaths(); err != nil {
		return nil, err
	}
	if err := os.Chdir(o.Bundle); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return rt.Create(ctx, id, o)
}
