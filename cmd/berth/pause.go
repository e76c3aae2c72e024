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
		Action: withRuntime(1, 1, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			return op(rt, ctx, c.Args().First())
		}),
	}
}
