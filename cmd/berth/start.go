package main

import (
	"context"
	"os"

	"github.com/berth-oci/berth/runtime"
	"github.com/urfave/cli/v2"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start the user process of a created container",
		ArgsUsage: "<container-id>",
		Action: withRuntime(1, 1, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			return rt.Start(ctx, c.Args().First(), runtime.StartOptions{NotifySocket: os.Getenv("NOTIFY_SOCKET")})
		}),
	}
}
