package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
	"github.com/berth-oci/berth/linux"
)

func specCommand() *cli.Command {
	return &cli.Command{
		Name:  "spec",
		Usage: "write a default config.json (busybox-friendly: sh on a terminal) into the bundle",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory to write config.json into (default: current directory)"},
			&cli.BoolFlag{Name: "rootless", Usage: "a config for an unprivileged user: user namespace with the caller's ids mapped"},
		},
		Action: func(c *cli.Context) error {
			if err := app.Args(c, 0, 0); err != nil {
				return err
			}
			data, err := json.MarshalIndent(linux.Example(c.Bool("rootless")), "", "\t")
			if err != nil {
				return err
			}
			path := filepath.Join(c.String("bundle"), "config.json")
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("spec: %s exists already; remove it first", path)
			}
			if err != nil {
				return fmt.Errorf("spec: %w", err)
			}
			if _, err := f.Write(append(data, '\n')); err != nil {
				f.Close()
				return fmt.Errorf("spec: %w", err)
			}
			return f.Close()
		},
	}
}
