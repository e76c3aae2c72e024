package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/linux"
)

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "print what berth supports on this host (runtime-spec features JSON)",
		Action: func(c *cli.Context) error {
			if err := app.Args(c, 0, 0); err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(linux.Features(version, commit))
		},
	}
}
