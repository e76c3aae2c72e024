package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/berth-oci/berth/runtime"
	"github.com/opencontainers/runc/types"
	"github.com/urfave/cli/v2"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print a container's resource usage and OOM kills as JSON lines",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between stats"},
			&cli.BoolFlag{Name: "stats", Usage: "print the stats once and exit"},
		},
		Action: withRuntime(1, 1, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			id := c.Args().First()
			enc := json.NewEncoder(os.Stdout)
			if c.Bool("stats") {
				s, err := rt.Stats(ctx, id)
				if err != nil {
					return err
				}
				return enc.Encode(types.Event{Type: "stats", ID: id, Data: s})
			}
			return rt.Events(ctx, id, c.Duration("interval"), func(e types.Event) error {
				return enc.Encode(e)
			})
		}),
	}
}
