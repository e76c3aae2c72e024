package main

import (
	"context"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/runtime"
	"github.com/urfave/cli/v2"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print the state of a container as JSON",
		ArgsUsage: "<container-id>",
		Action: withRuntime(1, 1, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			st, err := rt.State(ctx, c.Args().First())
			if err != nil {
				return err
			}
			return app.PrintJSON(st)
		}),
	}
}
