package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print the state of a container as JSON",
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
			st, err := rt.State(ctx, c.Args().First())
			if err != nil {
				return err
			}
			return printJSON(st)
		},
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
