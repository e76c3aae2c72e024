package main

import (
	"context"
	"encoding/json"
	"os"

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
			return printJSON(st)
		}),
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
