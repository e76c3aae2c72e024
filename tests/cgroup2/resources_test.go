package cgroup2

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	kib = 1024
	mib = 1024 * kib
)

func ptr[T any](v T) *T { return &v }

// scratchDisk returns the major:minor of a whole disk for io.max rules:
// /dev/vda in the cgroup v2 VM, or $CG2TEST_DISK. ok is false when none.
func scratchDisk() (major, minor int64, why string) {
	dev := os.Getenv("CG2TEST_DISK")
	if dev == "" {
		dev = "/dev/vda"
	}
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return 0, 0, fmt.Sprintf("no disk for io.max rules: %v (set CG2TEST_DISK to a whole block device)", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, dev + " is not a block device"
	}
	// io.max takes whole disks only; a partition has a "partition" file.
	sysDir := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	if _, err := os.Stat(filepath.Join(sysDir, "partition")); err == nil {
		return 0, 0, dev + " is a partition; io.max needs a whole disk"
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), ""
}

// hugetlb2MB says why 2 MB huge page limits cannot be tested, or "".
func hugetlb2MB() string {
	if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB"); err != nil {
		return "the kernel has no 2 MB huge pages (/sys/kernel/mm/hugepages/hugepages-2048kB is missing)"
	}
	data, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.subtree_control"))
	if err != nil || !containsWord(string(data), "hugetlb") {
		return "the hugetlb controller is not enabled in the root's cgroup.subtree_control"
	}
	return ""
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// TestResources creates a container with every linux.resources field that
// has a cgroup v2 file and reads the files from outside before start.
func TestResources(t *testing.T) {
	e := newEnv(t)
	id := e.NewID()

	cpus := fmt.Sprint(runtime.NumCPU() - 1) // the last CPU: not the default "all"
	diskMajor, diskMinor, noDisk := scratchDisk()
	noHuge := hugetlb2MB()

	b := e.newBundle(id, func(s *specs.Spec) {
		r := s.Linux.Resources
		r.Memory = &specs.LinuxMemory{
			Limit:       ptr[int64](256 * mib),
			Reservation: ptr[int64](128 * mib),
			Swap:        ptr[int64](384 * mib), // memory+swap
		}
		r.CPU = &specs.LinuxCPU{
			Shares: ptr[uint64](512),
			Quota:  ptr[int64](50000),
			Period: ptr[uint64](100000),
			Cpus:   cpus,
			Mems:   "0",
		}
		r.Pids = &specs.LinuxPids{Limit: ptr[int64](42)}
		r.BlockIO = &specs.LinuxBlockIO{Weight: ptr[uint16](500)}
		if noDisk == "" {
			r.BlockIO.ThrottleReadBpsDevice = []specs.LinuxThrottleDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: diskMajor, Minor: diskMinor}, Rate: 1 * mib},
			}
			r.BlockIO.ThrottleWriteIOPSDevice = []specs.LinuxThrottleDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: diskMajor, Minor: diskMinor}, Rate: 100},
			}
		}
		if noHuge == "" {
			r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 * mib}}
		}
	}, "sleep", "600")
	e.create(b)

	// linux.resources.memory: limit -> memory.max, reservation ->
	// memory.low (not memory.high: libcontainer maps no spec field to
	// memory.high, only linux.resources.unified does), and swap, which
	// counts memory+swap as on v1, minus the limit -> memory.swap.max.
	t.Run("memory", func(t *testing.T) {
		b := b.in(t)
		b.expectFile("memory.max", fmt.Sprint(256*mib))
		b.expectFile("memory.low", fmt.Sprint(128*mib))
		b.expectFile("memory.swap.max", fmt.Sprint(128*mib))
		b.expectFile("memory.high", "max")
	})
	t.Run("pids", func(t *testing.T) {
		b := b.in(t)
		b.expectFile("pids.max", "42")
	})
	// cpu.max is "quota period"; cpu.weight comes from cpu.shares by the
	// cgroups module's ConvertCPUSharesToCgroupV2Value (v0.1.0: the
	// quadratic fit that maps 2->1, 1024->100, 262144->10000; 512->59).
	t.Run("cpu", func(t *testing.T) {
		b := b.in(t)
		b.expectFile("cpu.max", "50000 100000")
		b.expectFile("cpu.weight", "59")
	})
	t.Run("cpuset", func(t *testing.T) {
		b := b.in(t)
		b.expectFile("cpuset.cpus", cpus)
		b.expectFile("cpuset.mems", "0")
	})
	// blockIO.weight goes to io.bfq.weight as is when the BFQ scheduler
	// provides that file, else to io.weight converted from the v1 range
	// [10,1000] to [1,10000]: 1 + (500-10)*9999/990 = 4950.
	t.Run("io.weight", func(t *testing.T) {
		b := b.in(t)
		if _, err := os.Stat(filepath.Join(b.path(), "io.bfq.weight")); err == nil {
			b.expectFile("io.bfq.weight", "default 500")
		} else {
			b.expectFile("io.weight", "default 4950")
		}
	})
	t.Run("io.max", func(t *testing.T) {
		b := b.in(t)
		if noDisk != "" {
			t.Skip(noDisk)
		}
		b.expectFile("io.max", fmt.Sprintf("%d:%d rbps=%d wbps=max riops=max wiops=100", diskMajor, diskMinor, 1*mib))
	})
	t.Run("hugetlb", func(t *testing.T) {
		b := b.in(t)
		if noHuge != "" {
			t.Skip(noHuge)
		}
		b.expectFile("hugetlb.2MB.max", fmt.Sprint(4*mib))
		// Linux 5.7+ also has the reservation limit; libcontainer sets it
		// to the same value.
		if _, err := os.Stat(filepath.Join(b.path(), "hugetlb.2MB.rsvd.max")); err == nil {
			b.expectFile("hugetlb.2MB.rsvd.max", fmt.Sprint(4*mib))
		}
	})
	// The container's init is in the cgroup, and only there.
	t.Run("cgroup.procs", func(t *testing.T) {
		b := b.in(t)
		if procs := strings.Fields(b.file("cgroup.procs")); len(procs) != 1 {
			t.Errorf("cgroup.procs of a created container: got %q, want its init only", procs)
		}
	})
}

// TestUnified checks that linux.resources.unified keys land in the files
// as written, after (so over) the values from the structured fields.
func TestUnified(t *testing.T) {
	e := newEnv(t)
	b, _ := e.created(func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr[int64](42)}
		s.Linux.Resources.Unified = map[string]string{
			"memory.oom.group": "1",
			"memory.high":      fmt.Sprint(96 * mib),
			"pids.max":         "77", // overrides pids.limit 42
			"cpu.weight":       "300",
		}
	}, "sleep", "600")
	b.expectFile("memory.oom.group", "1")
	b.expectFile("memory.high", fmt.Sprint(96*mib))
	b.expectFile("pids.max", "77")
	b.expectFile("cpu.weight", "300")
}

// TestUnifiedInvalidKey: a unified key that is no cgroup file fails create
// with a message naming it, and leaves no cgroup behind (the cleanup checks).
func TestUnifiedInvalidKey(t *testing.T) {
	e := newEnv(t)
	id := e.NewID()
	b := e.newBundle(id, func(s *specs.Spec) {
		s.Linux.Resources.Unified = map[string]string{"memory.no_such_file": "1"}
	}, "true")
	r := e.run("create", "--bundle", b.Dir, id)
	if r.Code == 0 {
		t.Fatalf("create with unified key memory.no_such_file succeeded: %s", r)
	}
	if !strings.Contains(r.Stderr, "memory.no_such_file") {
		t.Errorf("the error does not name the bad key memory.no_such_file: %s", r)
	}
	if _, err := os.Stat(b.path()); err == nil {
		t.Errorf("failed create left its cgroup %s", b.path())
	}
}
