package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/runtime"
)

func pauseCommand() *cli.Command {
	return freezeCommand("pause", "freeze every process of a container", (*runtime.Runtime).Pause)
}

func resumeCommand() *cli.Command {
	return freezeCommand("resume", "thaw a paused container", (*runtime.Runtime).Resume)
}

func freezeCommand(name, usage string, op func(*runtime.Runtime, context.Context, string) error) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
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
			return op(rt, ctx, c.Args().First())
		},
	}
}
