package shim

import (
	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/types"
)

// The conversion into cgroups' generated messages that stats.go encodes by
// hand: the reference its tests compare with.

func metricsV1Ref(s *types.Stats) *v1.Metrics {
	m := &v1.Metrics{
		Pids: &v1.PidsStat{Current: s.Pids.Current, Limit: s.Pids.Limit},
		CPU: &v1.CPUStat{
			Usage: &v1.CPUUsage{
				Total:  s.CPU.Usage.Total,
				Kernel: s.CPU.Usage.Kernel,
				User:   s.CPU.Usage.User,
				PerCPU: s.CPU.Usage.Percpu,
			},
			Throttling: &v1.Throttle{
				Periods:          s.CPU.Throttling.Periods,
				ThrottledPeriods: s.CPU.Throttling.ThrottledPeriods,
				ThrottledTime:    s.CPU.Throttling.ThrottledTime,
			},
		},
	}
	raw := s.Memory.Raw
	entry := func(e types.MemoryEntry) *v1.MemoryEntry {
		return &v1.MemoryEntry{Limit: e.Limit, Usage: e.Usage, Max: e.Max, Failcnt: e.Failcnt}
	}
	m.Memory = &v1.MemoryStat{
		Cache:                   raw["cache"],
		RSS:                     raw["rss"],
		RSSHuge:                 raw["rss_huge"],
		MappedFile:              raw["mapped_file"],
		Dirty:                   raw["dirty"],
		Writeback:               raw["writeback"],
		PgPgIn:                  raw["pgpgin"],
		PgPgOut:                 raw["pgpgout"],
		PgFault:                 raw["pgfault"],
		PgMajFault:              raw["pgmajfault"],
		InactiveAnon:            raw["inactive_anon"],
		ActiveAnon:              raw["active_anon"],
		InactiveFile:            raw["inactive_file"],
		ActiveFile:              raw["active_file"],
		Unevictable:             raw["unevictable"],
		HierarchicalMemoryLimit: raw["hierarchical_memory_limit"],
		HierarchicalSwapLimit:   raw["hierarchical_memsw_limit"],
		TotalCache:              raw["total_cache"],
		TotalRSS:                raw["total_rss"],
		TotalRSSHuge:            raw["total_rss_huge"],
		TotalMappedFile:         raw["total_mapped_file"],
		TotalDirty:              raw["total_dirty"],
		TotalWriteback:          raw["total_writeback"],
		TotalPgPgIn:             raw["total_pgpgin"],
		TotalPgPgOut:            raw["total_pgpgout"],
		TotalPgFault:            raw["total_pgfault"],
		TotalPgMajFault:         raw["total_pgmajfault"],
		TotalInactiveAnon:       raw["total_inactive_anon"],
		TotalActiveAnon:         raw["total_active_anon"],
		TotalInactiveFile:       raw["total_inactive_file"],
		TotalActiveFile:         raw["total_active_file"],
		TotalUnevictable:        raw["total_unevictable"],
		Usage:                   entry(s.Memory.Usage),
		Swap:                    entry(s.Memory.Swap),
		Kernel:                  entry(s.Memory.Kernel),
		KernelTCP:               entry(s.Memory.KernelTCP),
	}
	b := s.Blkio
	m.Blkio = &v1.BlkIOStat{
		IoServiceBytesRecursive: blkioRef(b.IoServiceBytesRecursive),
		IoServicedRecursive:     blkioRef(b.IoServicedRecursive),
		IoQueuedRecursive:       blkioRef(b.IoQueuedRecursive),
		IoServiceTimeRecursive:  blkioRef(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive:     blkioRef(b.IoWaitTimeRecursive),
		IoMergedRecursive:       blkioRef(b.IoMergedRecursive),
		IoTimeRecursive:         blkioRef(b.IoTimeRecursive),
		SectorsRecursive:        blkioRef(b.SectorsRecursive),
	}
	for size, h := range s.Hugetlb {
		m.Hugetlb = append(m.Hugetlb, &v1.HugetlbStat{Usage: h.Usage, Max: h.Max, Failcnt: h.Failcnt, Pagesize: size})
	}
	for _, n := range s.NetworkInterfaces {
		m.Network = append(m.Network, &v1.NetworkStat{
			Name: n.Name, RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
			TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
		})
	}
	return m
}

func blkioRef(in []types.BlkioEntry) []*v1.BlkIOEntry {
	out := make([]*v1.BlkIOEntry, 0, len(in))
	for _, e := range in {
		out = append(out, &v1.BlkIOEntry{Op: e.Op, Major: e.Major, Minor: e.Minor, Value: e.Value})
	}
	return out
}

func metricsV2Ref(s *types.Stats) *v2.Metrics {
	raw := s.Memory.Raw
	m := &v2.Metrics{
		Pids: &v2.PidsStat{Current: s.Pids.Current, Limit: s.Pids.Limit},
		// libcontainer reports cpu.stat's microseconds as nanoseconds.
		CPU: &v2.CPUStat{
			UsageUsec:     s.CPU.Usage.Total / 1000,
			UserUsec:      s.CPU.Usage.User / 1000,
			SystemUsec:    s.CPU.Usage.Kernel / 1000,
			NrPeriods:     s.CPU.Throttling.Periods,
			NrThrottled:   s.CPU.Throttling.ThrottledPeriods,
			ThrottledUsec: s.CPU.Throttling.ThrottledTime / 1000,
			PSI:           psiRef(s.CPU.PSI),
		},
		Memory: &v2.MemoryStat{
			Anon:                  raw["anon"],
			File:                  raw["file"],
			KernelStack:           raw["kernel_stack"],
			Slab:                  raw["slab"],
			Sock:                  raw["sock"],
			Shmem:                 raw["shmem"],
			FileMapped:            raw["file_mapped"],
			FileDirty:             raw["file_dirty"],
			FileWriteback:         raw["file_writeback"],
			AnonThp:               raw["anon_thp"],
			InactiveAnon:          raw["inactive_anon"],
			ActiveAnon:            raw["active_anon"],
			InactiveFile:          raw["inactive_file"],
			ActiveFile:            raw["active_file"],
			Unevictable:           raw["unevictable"],
			SlabReclaimable:       raw["slab_reclaimable"],
			SlabUnreclaimable:     raw["slab_unreclaimable"],
			Pgfault:               raw["pgfault"],
			Pgmajfault:            raw["pgmajfault"],
			WorkingsetRefault:     raw["workingset_refault"],
			WorkingsetActivate:    raw["workingset_activate"],
			WorkingsetNodereclaim: raw["workingset_nodereclaim"],
			Pgrefill:              raw["pgrefill"],
			Pgscan:                raw["pgscan"],
			Pgsteal:               raw["pgsteal"],
			Pgactivate:            raw["pgactivate"],
			Pgdeactivate:          raw["pgdeactivate"],
			Pglazyfree:            raw["pglazyfree"],
			Pglazyfreed:           raw["pglazyfreed"],
			ThpFaultAlloc:         raw["thp_fault_alloc"],
			ThpCollapseAlloc:      raw["thp_collapse_alloc"],
			Usage:                 s.Memory.Usage.Usage,
			UsageLimit:            s.Memory.Usage.Limit,
			MaxUsage:              s.Memory.Usage.Max,
			SwapUsage:             s.Memory.Swap.Usage,
			SwapLimit:             s.Memory.Swap.Limit,
			SwapMaxUsage:          s.Memory.Swap.Max,
			PSI:                   psiRef(s.Memory.PSI),
		},
	}
	// libcontainer has read io.stat into blkio's recursive lists.
	io := map[[2]uint64]*v2.IOEntry{}
	var order [][2]uint64
	add := func(list []types.BlkioEntry, set func(*v2.IOEntry, string, uint64)) {
		for _, e := range list {
			k := [2]uint64{e.Major, e.Minor}
			if io[k] == nil {
				io[k] = &v2.IOEntry{Major: e.Major, Minor: e.Minor}
				order = append(order, k)
			}
			set(io[k], e.Op, e.Value)
		}
	}
	add(s.Blkio.IoServiceBytesRecursive, func(e *v2.IOEntry, op string, v uint64) {
		switch op {
		case "Read", "read":
			e.Rbytes = v
		case "Write", "write":
			e.Wbytes = v
		}
	})
	add(s.Blkio.IoServicedRecursive, func(e *v2.IOEntry, op string, v uint64) {
		switch op {
		case "Read", "read":
			e.Rios = v
		case "Write", "write":
			e.Wios = v
		}
	})
	m.Io = &v2.IOStat{PSI: psiRef(s.Blkio.PSI)}
	for _, k := range order {
		m.Io.Usage = append(m.Io.Usage, io[k])
	}
	for size, h := range s.Hugetlb {
		m.Hugetlb = append(m.Hugetlb, &v2.HugeTlbStat{Current: h.Usage, Max: h.Max, Pagesize: size, Failcnt: h.Failcnt})
	}
	for _, n := range s.NetworkInterfaces {
		m.Network = append(m.Network, &v2.NetworkStat{
			Name: n.Name, RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
			TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
		})
	}
	return m
}

func psiRef(p *cgroups.PSIStats) *v2.PSIStats {
	if p == nil {
		return nil
	}
	data := func(d cgroups.PSIData) *v2.PSIData {
		return &v2.PSIData{Avg10: d.Avg10, Avg60: d.Avg60, Avg300: d.Avg300, Total: d.Total}
	}
	return &v2.PSIStats{Some: data(p.Some), Full: data(p.Full)}
}
