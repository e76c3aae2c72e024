package main

import (
	"context"

	"github.com/berth-oci/berth/runtime"
	"github.com/urfave/cli/v2"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a container's processes, cgroups and state",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running or paused container (SIGKILL) and delete it"},
		},
		Action: withRuntime(1, 1, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			return rt.Delete(ctx, c.Args().First(), runtime.DeleteOptions{Force: c.Bool("force")})
		}),
	}
}
