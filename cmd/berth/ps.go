package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/cmd/internal/app"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "list the processes of a container",
		ArgsUsage: "<container-id> [ps options (default: -ef)]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (host ps output) or json (pid list)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return fmt.Errorf("ps: missing container id (usage: berth ps %s)", c.Command.ArgsUsage)
			}
			format := c.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("ps: unknown --format %q (want table or json)", format)
			}
			rt, err := newRuntime(c)
			if err != nil {
				return err
			}
			ctx, cancel := app.CommandContext()
			defer cancel()
			pids, err := rt.Processes(ctx, c.Args().First())
			if err != nil {
				return err
			}
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(os.Stdout).Encode(pids)
			}
			psArgs := c.Args().Tail()
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.CommandContext(ctx, "ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
			}
			return filterPs(out, pids)
		},
	}
}

// filterPs prints the header of the host's ps output and the rows whose
// PID column is one of pids.
func filterPs(out []byte, pids []int) error {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return fmt.Errorf("ps: no PID column in the output of ps (header %q); include pid in the ps options", lines[0])
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= col {
			continue
		}
		if pid, err := strconv.Atoi(fields[col]); err == nil && slices.Contains(pids, pid) {
			b.WriteString(line + "\n")
		}
	}
	_, err := os.Stdout.Write(b.Bytes())
	return err
}
