package runtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
)

// Stats reads the resource usage of a running container in runc's events
// schema ("data" of a {"type":"stats"} event), for cgroup v1 and v2 alike.
func (r *Runtime) Stats(ctx context.Context, id string) (*types.Stats, error) {
	c, err := r.runningContainer(ref{id: id})
	if err != nil {
		return nil, err
	}
	return stats(c)
}

// Events reports the container's stats every interval and each OOM kill
// in it, through emit, until the container stops or ctx ends.
func (r *Runtime) Events(ctx context.Context, id string, interval time.Duration, emit func(types.Event) error) error {
	if interval <= 0 {
		return fmt.Errorf("events: the interval must be greater than 0, got %s", interval)
	}
	c, err := r.runningContainer(ref{id: id})
	if err != nil {
		return err
	}
	ooms, err := notifyOOM(ctx, c)
	if err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ooms:
			if !ok {
				return nil // the container has stopped
			}
			if err := emit(types.Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		case <-tick.C:
			s, err := stats(c)
			if err != nil {
				if st, serr := c.Status(); serr == nil && st == libcontainer.Stopped {
					return nil
				}
				return err
			}
			if err := emit(types.Event{Type: "stats", ID: id, Data: s}); err != nil {
				return err
			}
		}
	}
}

// NotifyOOM reports each OOM kill in container id's cgroups on the returned
// channel, which is closed when the container stops or ctx ends.
func (r *Runtime) NotifyOOM(ctx context.Context, id string) (<-chan struct{}, error) {
	c, err := r.runningContainer(ref{id: id})
	if err != nil {
		return nil, err
	}
	return notifyOOM(ctx, c)
}

// notifyOOM passes on libcontainer's OOM notifications, and one more at
// the end when the counter says the last process was OOM-killed: the kernel
// rate-limits memory.events notifications, so that kill can arrive after
// the watcher has seen the cgroup empty.
func notifyOOM(ctx context.Context, c *libcontainer.Container) (<-chan struct{}, error) {
	ooms, err := c.NotifyOOM()
	if err != nil {
		return nil, fmt.Errorf("watch OOM events of %q: %w", c.ID(), err)
	}
	out := make(chan struct{})
	go func() {
		defer close(out)
		kills, counted := oomKills(c)
		send := func() bool {
			select {
			case out <- struct{}{}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-ooms:
				if !ok {
					if n, ok := oomKills(c); ok && counted && n > kills {
						send()
					}
					return
				}
				kills, counted = oomKills(c)
				if !send() {
					return
				}
			}
		}
	}()
	return out, nil
}

func (r *Runtime) runningContainer(x ref) (*libcontainer.Container, error) {
	c, err := r.open(x, opStats, false)
	if err != nil {
		return nil, err
	}
	return c.Container, nil
}

func stats(c *libcontainer.Container) (*types.Stats, error) {
	ls, err := c.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats of %q: %w", c.ID(), err)
	}
	return convertStats(ls), nil
}

// convertStats maps libcontainer's stats onto the schema runc prints.
func convertStats(ls *libcontainer.Stats) *types.Stats {
	s := &types.Stats{Hugetlb: map[string]types.Hugetlb{}, NetworkInterfaces: ls.Interfaces}
	cg := ls.CgroupStats
	if cg == nil {
		return s
	}
	cpu := cg.CpuStats
	s.CPU = types.Cpu{
		Usage: types.CpuUsage{
			Total:        cpu.CpuUsage.TotalUsage,
			Percpu:       cpu.CpuUsage.PercpuUsage,
			PercpuKernel: cpu.CpuUsage.PercpuUsageInKernelmode,
			PercpuUser:   cpu.CpuUsage.PercpuUsageInUsermode,
			Kernel:       cpu.CpuUsage.UsageInKernelmode,
			User:         cpu.CpuUsage.UsageInUsermode,
		},
		Throttling: types.Throttling{
			Periods:          cpu.ThrottlingData.Periods,
			ThrottledPeriods: cpu.ThrottlingData.ThrottledPeriods,
			ThrottledTime:    cpu.ThrottlingData.ThrottledTime,
		},
		PSI: cpu.PSI,
	}
	s.CPUSet = types.CPUSet(cg.CPUSetStats)
	mem := cg.MemoryStats
	s.Memory = types.Memory{
		Cache:     mem.Cache,
		Usage:     memoryEntry(mem.Usage),
		Swap:      memoryEntry(mem.SwapUsage),
		Kernel:    memoryEntry(mem.KernelUsage),
		KernelTCP: memoryEntry(mem.KernelTCPUsage),
		Raw:       mem.Stats,
		PSI:       mem.PSI,
	}
	s.Pids = types.Pids{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit}
	b := cg.BlkioStats
	s.Blkio = types.Blkio{
		IoServiceBytesRecursive: blkioEntries(b.IoServiceBytesRecursive),
		IoServicedRecursive:     blkioEntries(b.IoServicedRecursive),
		IoQueuedRecursive:       blkioEntries(b.IoQueuedRecursive),
		IoServiceTimeRecursive:  blkioEntries(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive:     blkioEntries(b.IoWaitTimeRecursive),
		IoMergedRecursive:       blkioEntries(b.IoMergedRecursive),
		IoTimeRecursive:         blkioEntries(b.IoTimeRecursive),
		SectorsRecursive:        blkioEntries(b.SectorsRecursive),
		PSI:                     b.PSI,
	}
	for size, h := range cg.HugetlbStats {
		s.Hugetlb[size] = types.Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return s
}

func memoryEntry(m cgroups.MemoryData) types.MemoryEntry {
	return types.MemoryEntry{Limit: m.Limit, Usage: m.Usage, Max: m.MaxUsage, Failcnt: m.Failcnt}
}

func blkioEntries(in []cgroups.BlkioStatEntry) []types.BlkioEntry {
	out := make([]types.BlkioEntry, len(in))
	for i, e := range in {
		out[i] = types.BlkioEntry(e)
	}
	return out
}

// oomKills reads how many processes of the container the kernel has
// OOM-killed (oom_kill in memory.events on cgroup v2, in memory.oom_control
// on v1), and whether it could.
func oomKills(c *libcontainer.Container) (uint64, bool) {
	st, err := c.State()
	if err != nil {
		return 0, false
	}
	file, dir := "memory.events", st.CgroupPaths[""]
	if !cgroups.IsCgroup2UnifiedMode() {
		file, dir = "memory.oom_control", st.CgroupPaths["memory"]
	}
	if dir == "" {
		return 0, false
	}
	data, err := cgroups.ReadFile(dir, file)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(data, "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
