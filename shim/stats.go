package shim

import (
	"slices"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/types"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/berth-oci/berth/shim/lite"
)

// metrics converts berth's stats (runc's events schema, from
// runtime.Stats) into the metrics message containerd's runc shim reports:
// io.containerd.cgroups.v1.Metrics on cgroup v1 (and hybrid) hosts,
// io.containerd.cgroups.v2.Metrics on cgroup v2, which is what `ctr task
// metrics` and the CRI plugin decode. The messages (containerd/cgroups'
// cgroup1/stats and cgroup2/stats metrics.proto) are encoded by hand, as
// wire.go encodes the task API: their generated packages and the protobuf
// registry they fill cost about 1 ms of package initialisation in every
// container init and exec, which run this binary. stats_test.go checks the
// encoding against the generated code.
func metrics(s *types.Stats, unified bool) (*lite.Any, error) {
	if unified {
		return &lite.Any{TypeURL: "io.containerd.cgroups.v2.Metrics", Value: metricsV2(s)}, nil
	}
	return &lite.Any{TypeURL: "io.containerd.cgroups.v1.Metrics", Value: metricsV1(s)}, nil
}

// v1 memory.stat keys, in the field order of v1's MemoryStat (1 to 32).
var v1MemoryKeys = [...]string{
	"cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout",
	"pgfault", "pgmajfault", "inactive_anon", "active_anon", "inactive_file", "active_file",
	"unevictable", "hierarchical_memory_limit", "hierarchical_memsw_limit", "total_cache",
	"total_rss", "total_rss_huge", "total_mapped_file", "total_dirty", "total_writeback",
	"total_pgpgin", "total_pgpgout", "total_pgfault", "total_pgmajfault", "total_inactive_anon",
	"total_active_anon", "total_inactive_file", "total_active_file", "total_unevictable",
}

// v2 memory.stat keys, in the field order of v2's MemoryStat (1 to 31).
var v2MemoryKeys = [...]string{
	"anon", "file", "kernel_stack", "slab", "sock", "shmem", "file_mapped", "file_dirty",
	"file_writeback", "anon_thp", "inactive_anon", "active_anon", "inactive_file", "active_file",
	"unevictable", "slab_reclaimable", "slab_unreclaimable", "pgfault", "pgmajfault",
	"workingset_refault", "workingset_activate", "workingset_nodereclaim", "pgrefill", "pgscan",
	"pgsteal", "pgactivate", "pgdeactivate", "pglazyfree", "pglazyfreed", "thp_fault_alloc",
	"thp_collapse_alloc",
}

func metricsV1(s *types.Stats) []byte {
	var m lite.Encoder
	for _, size := range sortedKeys(s.Hugetlb) {
		h := s.Hugetlb[size]
		var e lite.Encoder
		e.Uint(1, h.Usage)
		e.Uint(2, h.Max)
		e.Uint(3, h.Failcnt)
		e.Str(4, size)
		m.Message(1, e)
	}
	m.Message(2, pids(s.Pids))
	var usage, throttle, cpu lite.Encoder
	usage.Uint(1, s.CPU.Usage.Total)
	usage.Uint(2, s.CPU.Usage.Kernel)
	usage.Uint(3, s.CPU.Usage.User)
	usage.Packed(4, s.CPU.Usage.Percpu)
	throttle.Uint(1, s.CPU.Throttling.Periods)
	throttle.Uint(2, s.CPU.Throttling.ThrottledPeriods)
	throttle.Uint(3, s.CPU.Throttling.ThrottledTime)
	cpu.Message(1, usage)
	cpu.Message(2, throttle)
	m.Message(3, cpu)
	var mem lite.Encoder
	for i, k := range v1MemoryKeys {
		mem.Uint(protowire.Number(i+1), s.Memory.Raw[k])
	}
	for i, e := range []types.MemoryEntry{s.Memory.Usage, s.Memory.Swap, s.Memory.Kernel, s.Memory.KernelTCP} {
		var me lite.Encoder
		me.Uint(1, e.Limit)
		me.Uint(2, e.Usage)
		me.Uint(3, e.Max)
		me.Uint(4, e.Failcnt)
		mem.Message(protowire.Number(33+i), me)
	}
	m.Message(4, mem)
	b := s.Blkio
	var blk lite.Encoder
	for i, list := range [][]types.BlkioEntry{b.IoServiceBytesRecursive, b.IoServicedRecursive, b.IoQueuedRecursive,
		b.IoServiceTimeRecursive, b.IoWaitTimeRecursive, b.IoMergedRecursive, b.IoTimeRecursive, b.SectorsRecursive} {
		for _, be := range list {
			var e lite.Encoder
			e.Str(1, be.Op)
			e.Uint(3, be.Major)
			e.Uint(4, be.Minor)
			e.Uint(5, be.Value)
			blk.Message(protowire.Number(i+1), e)
		}
	}
	m.Message(5, blk)
	for _, n := range s.NetworkInterfaces {
		m.Message(7, network(n))
	}
	return m
}

func metricsV2(s *types.Stats) []byte {
	var m lite.Encoder
	m.Message(1, pids(s.Pids))
	// libcontainer reports cpu.stat's microseconds as nanoseconds.
	var cpu lite.Encoder
	cpu.Uint(1, s.CPU.Usage.Total/1000)
	cpu.Uint(2, s.CPU.Usage.User/1000)
	cpu.Uint(3, s.CPU.Usage.Kernel/1000)
	cpu.Uint(4, s.CPU.Throttling.Periods)
	cpu.Uint(5, s.CPU.Throttling.ThrottledPeriods)
	cpu.Uint(6, s.CPU.Throttling.ThrottledTime/1000)
	psi(&cpu, 7, s.CPU.PSI)
	m.Message(2, cpu)
	var mem lite.Encoder
	for i, k := range v2MemoryKeys {
		mem.Uint(protowire.Number(i+1), s.Memory.Raw[k])
	}
	mem.Uint(32, s.Memory.Usage.Usage)
	mem.Uint(33, s.Memory.Usage.Limit)
	mem.Uint(34, s.Memory.Swap.Usage)
	mem.Uint(35, s.Memory.Swap.Limit)
	mem.Uint(36, s.Memory.Usage.Max)
	mem.Uint(37, s.Memory.Swap.Max)
	psi(&mem, 38, s.Memory.PSI)
	m.Message(4, mem)
	// libcontainer has read io.stat into blkio's recursive lists: one
	// entry per device, in the order the devices first appear.
	type dev struct{ major, minor uint64 }
	var order []dev
	ios := map[dev]*[4]uint64{} // rbytes, wbytes, rios, wios
	add := func(list []types.BlkioEntry, read, write int) {
		for _, e := range list {
			d := dev{e.Major, e.Minor}
			if ios[d] == nil {
				ios[d] = new([4]uint64)
				order = append(order, d)
			}
			switch e.Op {
			case "Read", "read":
				ios[d][read] = e.Value
			case "Write", "write":
				ios[d][write] = e.Value
			}
		}
	}
	add(s.Blkio.IoServiceBytesRecursive, 0, 1)
	add(s.Blkio.IoServicedRecursive, 2, 3)
	var io lite.Encoder
	for _, d := range order {
		var e lite.Encoder
		e.Uint(1, d.major)
		e.Uint(2, d.minor)
		for i, v := range ios[d] {
			e.Uint(protowire.Number(3+i), v)
		}
		io.Message(1, e)
	}
	psi(&io, 2, s.Blkio.PSI)
	m.Message(6, io)
	for _, size := range sortedKeys(s.Hugetlb) {
		h := s.Hugetlb[size]
		var e lite.Encoder
		e.Uint(1, h.Usage)
		e.Uint(2, h.Max)
		e.Str(3, size)
		e.Uint(4, h.Failcnt)
		m.Message(7, e)
	}
	for _, n := range s.NetworkInterfaces {
		m.Message(9, network(n))
	}
	return m
}

func pids(p types.Pids) []byte {
	var e lite.Encoder
	e.Uint(1, p.Current)
	e.Uint(2, p.Limit)
	return e
}

func network(n *types.NetworkInterface) []byte {
	var e lite.Encoder
	e.Str(1, n.Name)
	for i, v := range []uint64{n.RxBytes, n.RxPackets, n.RxErrors, n.RxDropped, n.TxBytes, n.TxPackets, n.TxErrors, n.TxDropped} {
		e.Uint(protowire.Number(2+i), v)
	}
	return e
}

// psi writes v2's PSIStats, when there are any.
func psi(e *lite.Encoder, n protowire.Number, p *cgroups.PSIStats) {
	if p == nil {
		return
	}
	var s lite.Encoder
	for i, d := range []cgroups.PSIData{p.Some, p.Full} {
		var pd lite.Encoder
		pd.Double(1, d.Avg10)
		pd.Double(2, d.Avg60)
		pd.Double(3, d.Avg300)
		pd.Uint(4, d.Total)
		s.Message(protowire.Number(i+1), pd)
	}
	e.Message(n, s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
