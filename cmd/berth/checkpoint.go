package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/runtime"
)

// criuFlags are the CRIU settings shared by checkpoint and restore.
func criuFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "directory for the CRIU image files (default: ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "directory for CRIU's work files and logs"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open TCP connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "how CRIU handles cgroups: soft, full, strict or ignore"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "namespace (network) to create but not to restore the properties of"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "deduplicate memory images"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "restore memory pages lazily with userfaultfd"},
	}
}

func checkpointCommand() *cli.Command {
	return &cli.Command{
		Name:      "checkpoint",
		Usage:     "save a running container with CRIU (it stops, unless --leave-running)",
		ArgsUsage: "<container-id>",
		Flags: append(criuFlags(),
			&cli.StringFlag{Name: "parent-path", Usage: "previous (pre-dump) images, relative to --image-path"},
			&cli.BoolFlag{Name: "leave-running", Usage: "keep the container running after the checkpoint"},
			&cli.BoolFlag{Name: "tcp-skip-in-flight", Usage: "skip in-flight TCP connections"},
			&cli.BoolFlag{Name: "link-remap", Usage: "link unlinked files back when possible"},
			&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "fd CRIU writes \\0 to when lazy pages are ready"},
			&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of a CRIU page server"},
			&cli.BoolFlag{Name: "pre-dump", Usage: "dump the memory only, leaving the container running"},
		),
		Action: withRuntime(1, 1, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			o, err := criuOptions(c)
			if err != nil {
				return err
			}
			return rt.Checkpoint(ctx, c.Args().First(), o)
		}),
	}
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a container from a CRIU checkpoint; in the foreground, berth exits with its status",
		ArgsUsage: "<container-id>",
		Flags: append(criuFlags(),
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory holding config.json (default: current directory)"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the init's pid to this file"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container runs"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not make berth a subreaper"},
			&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
			&cli.StringFlag{Name: "lsm-profile", Usage: "LSM profile for the restored process, TYPE:NAME"},
			&cli.StringFlag{Name: "lsm-mount-context", Usage: "SELinux mount context for the restored mounts"},
		),
		Action: func(c *cli.Context) error {
			if err := app.Args(c, 1, 1); err != nil {
				return err
			}
			criu, err := criuOptions(c)
			if err != nil {
				return err
			}
			rt, err := newRuntime(c)
			if err != nil {
				return err
			}
			o := createOptions(c)
			o.Restore = criu
			return runContainer(c, rt, o)
		},
	}
}

// criuOptions reads the CRIU flags. Flags a command does not define read
// as their zero values.
func criuOptions(c *cli.Context) (*runtime.CriuOptions, error) {
	images := c.String("image-path")
	if images == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		images = filepath.Join(cwd, "checkpoint")
	}
	images, err := filepath.Abs(images)
	if err != nil {
		return nil, err
	}
	parent := c.String("parent-path")
	if parent != "" {
		if filepath.IsAbs(parent) {
			return nil, errors.New("--parent-path must be relative to --image-path")
		}
		// Checked before CRIU runs: it would fail late, and less clearly.
		dir := filepath.Join(images, parent)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--parent-path %s: no directory of earlier images at %s", parent, dir)
		}
	}
	o := &runtime.CriuOptions{
		ImagesDirectory:         images,
		WorkDirectory:           c.String("work-path"),
		ParentImage:             parent,
		LeaveRunning:            c.Bool("leave-running"),
		TcpEstablished:          c.Bool("tcp-established"),
		TcpSkipInFlight:         c.Bool("tcp-skip-in-flight"),
		LinkRemap:               c.Bool("link-remap"),
		ExternalUnixConnections: c.Bool("ext-unix-sk"),
		ShellJob:                c.Bool("shell-job"),
		FileLocks:               c.Bool("file-locks"),
		PreDump:                 c.Bool("pre-dump"),
		AutoDedup:               c.Bool("auto-dedup"),
		LazyPages:               c.Bool("lazy-pages"),
		StatusFd:                -1,
		LsmProfile:              c.String("lsm-profile"),
		LsmMountContext:         c.String("lsm-mount-context"),
		ManageCgroupsMode:       c.String("manage-cgroups-mode"),
		EmptyNs:                 unix.CLONE_NEWNET,
	}
	if c.IsSet("status-fd") {
		o.StatusFd = c.Int("status-fd")
	}
	if ps := c.String("page-server"); ps != "" {
		host, port, err := net.SplitHostPort(ps)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil {
			return nil, fmt.Errorf("--page-server %q: want ADDRESS:PORT", ps)
		}
		o.PageServer = libcontainer.CriuPageServerInfo{Address: host, Port: int32(n)}
	}
	for _, ns := range c.StringSlice("empty-ns") {
		if specs.LinuxNamespaceType(ns) != specs.NetworkNamespace {
			return nil, fmt.Errorf("--empty-ns %q: only network is supported", ns)
		}
	}
	return o, nil
}
