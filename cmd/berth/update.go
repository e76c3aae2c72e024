package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/berth-oci/berth/runtime"
	"github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change a running container's resource limits",
		ArgsUsage: "<container-id>",
		Description: `The limits come from --resources (runtime-spec LinuxResources JSON, from a
   file or "-" for stdin) or from the flags; only what is given changes.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: `LinuxResources JSON file, or "-" for stdin`},
			&cli.StringFlag{Name: "memory", Usage: "memory limit, e.g. 64m (-1: none)"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
			&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit (-1: none)"},
			&cli.StringFlag{Name: "kernel-memory", Usage: "ignored: the kernel has no kernel memory limits any more", Hidden: true},
			&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "ignored: the kernel has no kernel memory limits any more", Hidden: true},
			&cli.StringFlag{Name: "cpu-shares", Aliases: []string{"cpu-share"}, Usage: "CPU shares (relative weight)"},
			&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota in microseconds per period"},
			&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period in microseconds"},
			&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS burst in microseconds"},
			&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period in microseconds"},
			&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime runtime in microseconds"},
			&cli.StringFlag{Name: "cpu-idle", Usage: "cgroup v2 cpu.idle (0 or 1)"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs allowed, e.g. 0-3,5"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes allowed, e.g. 0"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes (-1: none)"},
			&cli.UintFlag{Name: "blkio-weight", Usage: "block IO weight, 10 to 1000"},
		},
		Action: withRuntime(1, 1, func(ctx context.Context, c *cli.Context, rt *runtime.Runtime) error {
			res, err := updateResources(c)
			if err != nil {
				return err
			}
			return rt.Update(ctx, c.Args().First(), res)
		}),
	}
}

// updateResources reads the new limits from --resources or the flags.
func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	if in := c.String("resources"); in != "" {
		var r io.Reader = os.Stdin
		if in != "-" {
			f, err := os.Open(in)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			r = f
		}
		res := &specs.LinuxResources{}
		if err := json.NewDecoder(r).Decode(res); err != nil {
			return nil, fmt.Errorf("--resources %s: not LinuxResources JSON: %w", in, err)
		}
		return res, nil
	}
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, Pids: &specs.LinuxPids{}, BlockIO: &specs.LinuxBlockIO{}}
	for flag, dst := range map[string]**int64{
		"memory":             &res.Memory.Limit,
		"memory-reservation": &res.Memory.Reservation,
		"memory-swap":        &res.Memory.Swap,
		"kernel-memory":      &res.Memory.Kernel, //nolint:staticcheck // accepted and ignored, as runc does
		"kernel-memory-tcp":  &res.Memory.KernelTCP,
	} {
		if v := c.String(flag); v != "" {
			n, err := parseBytes(v)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: %w", flag, v, err)
			}
			*dst = &n
		}
	}
	for flag, dst := range map[string]**uint64{
		"cpu-shares":    &res.CPU.Shares,
		"cpu-period":    &res.CPU.Period,
		"cpu-burst":     &res.CPU.Burst,
		"cpu-rt-period": &res.CPU.RealtimePeriod,
	} {
		if v := c.String(flag); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: not a non-negative number", flag, v)
			}
			*dst = &n
		}
	}
	for flag, dst := range map[string]**int64{
		"cpu-quota":      &res.CPU.Quota,
		"cpu-rt-runtime": &res.CPU.RealtimeRuntime,
		"cpu-idle":       &res.CPU.Idle,
	} {
		if v := c.String(flag); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: not a number", flag, v)
			}
			*dst = &n
		}
	}
	res.CPU.Cpus = c.String("cpuset-cpus")
	res.CPU.Mems = c.String("cpuset-mems")
	if c.IsSet("pids-limit") {
		n := c.Int64("pids-limit")
		res.Pids.Limit = &n
	}
	if c.IsSet("blkio-weight") {
		w := c.Uint("blkio-weight")
		if w < 10 || w > 1000 {
			return nil, fmt.Errorf("--blkio-weight %d: must be from 10 to 1000", w)
		}
		w16 := uint16(w)
		res.BlockIO.Weight = &w16
	}
	return res, nil
}

// parseBytes reads a size such as 64m, 1g or 1048576; -1 means unlimited.
func parseBytes(v string) (int64, error) {
	if v == "-1" {
		return -1, nil
	}
	n, err := units.RAMInBytes(v)
	if err == nil && n < 0 {
		// RAMInBytes wraps a size beyond int64 around to a negative one.
		return 0, errors.New("size too large (the most is 8 EiB)")
	}
	return n, err
}
