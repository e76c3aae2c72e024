package shim

import (
	"math"
	"slices"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/types"
	"google.golang.org/protobuf/encoding/protowire"
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
func metrics(s *types.Stats, unified bool) (*anyMsg, error) {
	if unified {
		return &anyMsg{TypeURL: "io.containerd.cgroups.v2.Metrics", Value: metricsV2(s)}, nil
	}
	return &anyMsg{TypeURL: "io.containerd.cgroups.v1.Metrics", Value: metricsV1(s)}, nil
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
	var m encoder
	for _, size := range sortedKeys(s.Hugetlb) {
		h := s.Hugetlb[size]
		var e encoder
		e.uint(1, h.Usage)
		e.uint(2, h.Max)
		e.uint(3, h.Failcnt)
		e.str(4, size)
		m.message(1, e)
	}
	m.message(2, pids(s.Pids))
	var usage, throttle, cpu encoder
	usage.uint(1, s.CPU.Usage.Total)
	usage.uint(2, s.CPU.Usage.Kernel)
	usage.uint(3, s.CPU.Usage.User)
	usage.packed(4, s.CPU.Usage.Percpu)
	throttle.uint(1, s.CPU.Throttling.Periods)
	throttle.uint(2, s.CPU.Throttling.ThrottledPeriods)
	throttle.uint(3, s.CPU.Throttling.ThrottledTime)
	cpu.message(1, usage)
	cpu.message(2, throttle)
	m.message(3, cpu)
	var mem encoder
	for i, k := range v1MemoryKeys {
		mem.uint(protowire.Number(i+1), s.Memory.Raw[k])
	}
	for i, e := range []types.MemoryEntry{s.Memory.Usage, s.Memory.Swap, s.Memory.Kernel, s.Memory.KernelTCP} {
		var me encoder
		me.uint(1, e.Limit)
		me.uint(2, e.Usage)
		me.uint(3, e.Max)
		me.uint(4, e.Failcnt)
		mem.message(protowire.Number(33+i), me)
	}
	m.message(4, mem)
	b := s.Blkio
	var blk encoder
	for i, list := range [][]types.BlkioEntry{b.IoServiceBytesRecursive, b.IoServicedRecursive, b.IoQueuedRecursive,
		b.IoServiceTimeRecursive, b.IoWaitTimeRecursive, b.IoMergedRecursive, b.IoTimeRecursive, b.SectorsRecursive} {
		for _, be := range list {
			var e encoder
			e.str(1, be.Op)
			e.uint(3, be.Major)
			e.uint(4, be.Minor)
			e.uint(5, be.Value)
			blk.message(protowire.Number(i+1), e)
		}
	}
	m.message(5, blk)
	for _, n := range s.NetworkInterfaces {
		m.message(7, network(n))
	}
	return m
}

func metricsV2(s *types.Stats) []byte {
	var m encoder
	m.message(1, pids(s.Pids))
	// libcontainer reports cpu.stat's microseconds as nanoseconds.
	var cpu encoder
	cpu.uint(1, s.CPU.Usage.Total/1000)
	cpu.uint(2, s.CPU.Usage.User/1000)
	cpu.uint(3, s.CPU.Usage.Kernel/1000)
	cpu.uint(4, s.CPU.Throttling.Periods)
	cpu.uint(5, s.CPU.Throttling.ThrottledPeriods)
	cpu.uint(6, s.CPU.Throttling.ThrottledTime/1000)
	cpu.psi(7, s.CPU.PSI)
	m.message(2, cpu)
	var mem encoder
	for i, k := range v2MemoryKeys {
		mem.uint(protowire.Number(i+1), s.Memory.Raw[k])
	}
	mem.uint(32, s.Memory.Usage.Usage)
	mem.uint(33, s.Memory.Usage.Limit)
	mem.uint(34, s.Memory.Swap.Usage)
	mem.uint(35, s.Memory.Swap.Limit)
	mem.uint(36, s.Memory.Usage.Max)
	mem.uint(37, s.Memory.Swap.Max)
	mem.psi(38, s.Memory.PSI)
	m.message(4, mem)
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
	var io encoder
	for _, d := range order {
		var e encoder
		e.uint(1, d.major)
		e.uint(2, d.minor)
		for i, v := range ios[d] {
			e.uint(protowire.Number(3+i), v)
		}
		io.message(1, e)
	}
	io.psi(2, s.Blkio.PSI)
	m.message(6, io)
	for _, size := range sortedKeys(s.Hugetlb) {
		h := s.Hugetlb[size]
		var e encoder
		e.uint(1, h.Usage)
		e.uint(2, h.Max)
		e.str(3, size)
		e.uint(4, h.Failcnt)
		m.message(7, e)
	}
	for _, n := range s.NetworkInterfaces {
		m.message(9, network(n))
	}
	return m
}

func pids(p types.Pids) []byte {
	var e encoder
	e.uint(1, p.Current)
	e.uint(2, p.Limit)
	return e
}

func network(n *types.NetworkInterface) []byte {
	var e encoder
	e.str(1, n.Name)
	for i, v := range []uint64{n.RxBytes, n.RxPackets, n.RxErrors, n.RxDropped, n.TxBytes, n.TxPackets, n.TxErrors, n.TxDropped} {
		e.uint(protowire.Number(2+i), v)
	}
	return e
}

// packed writes a repeated uint64 field in proto3's packed form.
func (e *encoder) packed(n protowire.Number, vs []uint64) {
	if len(vs) == 0 {
		return
	}
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, v)
	}
	e.message(n, b)
}

// psi writes v2's PSIStats, when there are any.
func (e *encoder) psi(n protowire.Number, p *cgroups.PSIStats) {
	if p == nil {
		return
	}
	var s encoder
	for i, d := range []cgroups.PSIData{p.Some, p.Full} {
		var pd encoder
		pd.double(1, d.Avg10)
		pd.double(2, d.Avg60)
		pd.double(3, d.Avg300)
		pd.uint(4, d.Total)
		s.message(protowire.Number(i+1), pd)
	}
	e.message(n, s)
}

func (e *encoder) double(n protowire.Number, v float64) {
	if v != 0 {
		*e = protowire.AppendTag(*e, n, protowire.Fixed64Type)
		*e = protowire.AppendFixed64(*e, math.Float64bits(v))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
