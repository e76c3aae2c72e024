package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/image/bundle"
	"github.com/berth-oci/berth/runtime"
)

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal (default: SIGTERM) to the container's init",
		ArgsUsage: "<container-id> [signal]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the signal to every process of the container"},
		},
		Action: withRuntime(1, 2, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			name := c.Args().Get(1)
			if name == "" {
				name = stopSignal(ctx, rt, c.Args().First())
			}
			sig, err := parseSignal(name)
			if err != nil {
				return err
			}
			return rt.Kill(ctx, c.Args().First(), sig, runtime.KillOptions{All: c.Bool("all")})
		}),
	}
}

// stopSignal is the signal kill sends when none is named: the StopSignal of
// the image the container was made from (bundle annotation
// org.opencontainers.image.stopSignal), or SIGTERM.
func stopSignal(ctx context.Context, rt *runtime.Runtime, id string) string {
	st, err := rt.State(ctx, id)
	if err != nil {
		return "" // Kill reports the error
	}
	return st.Annotations[bundle.AnnotationStopSignal]
}

// parseSignal reads a signal as a number ("9"), or a name with or without
// the SIG prefix, in any case ("KILL", "SIGKILL", "sigkill"). Empty means
// SIGTERM.
func parseSignal(s string) (unix.Signal, error) {
	if s == "" {
		return unix.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: numbers go from 0 (is the init alive?) to 64", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name such as TERM or KILL, or a number)", s)
}
