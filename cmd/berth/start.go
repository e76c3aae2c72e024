package main

import (
	"github.com/urfave/cli/v2"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start the user process of a created container",
		ArgsUsage: "<container-id>",
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
			return rt.Start(ctx, c.Args().First())
		},
	}
}
