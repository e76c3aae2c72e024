package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/runtime"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:    "list",
		Aliases: []string{"ls"},
		Usage:   "list the containers under --root",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the container ids"},
		},
		Action: withRuntime(0, 0, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			format := c.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("list: unknown --format %q (want table or json)", format)
			}
			states, unreadable, err := rt.List(ctx)
			if errors.Is(err, os.ErrNotExist) && !c.IsSet("root") {
				// The default root is made by the first container.
				states, err = []runtime.ContainerState{}, nil
			}
			if err != nil {
				return fmt.Errorf("list: %w", err)
			}
			// The readable containers are listed; the others are
			// reported, not hidden, and do not fail the listing.
			for _, err := range unreadable {
				logrus.WithError(err).Warn("list: a container could not be read")
			}
			switch {
			case c.Bool("quiet"):
				for _, s := range states {
					fmt.Println(s.ID)
				}
				return nil
			case format == "json":
				// One line, as runc prints it.
				return json.NewEncoder(os.Stdout).Encode(states)
			}
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		}),
	}
}
