package main

import (
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
		Action: func(c *cli.Context) error {
			if err := args(c, 1, 1); err != nil {
				return err
			}
			rt, err := newRuntime(c)
			if err != nil {
				return err
			}
			ctx, cancel := commandContext()
			defer cancel()
			return rt.Delete(ctx, c.Args().First(), c.Bool("force"))
		},
	}
}
