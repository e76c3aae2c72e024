package runtime

import (
	"context"
	"fmt"
	"slices"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// Update changes the resource limits of container id live. Only the fields
// set in res change; the others keep their values. Device rules are left
// alone (runc's update does not touch them either).
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	return r.update(ref{id: id}, res)
}

func (r *Runtime) update(x ref, res *specs.LinuxResources) error {
	id := x.id
	c, err := r.open(x, opUpdate, true)
	if err != nil {
		return err
	}
	defer c.unlock()
	cfg := c.Config()
	mergeResources(cfg.Cgroups.Resources, res)
	cfg.Cgroups.SkipDevices = true
	if err := c.Set(cfg); err != nil {
		return fmt.Errorf("update %q: %w", id, err)
	}
	return nil
}

// mergeResources writes the set fields of res over dst.
func mergeResources(dst *cgroups.Resources, res *specs.LinuxResources) {
	if m := res.Memory; m != nil {
		setInt64(&dst.Memory, m.Limit)
		setInt64(&dst.MemoryReservation, m.Reservation)
		setInt64(&dst.MemorySwap, m.Swap)
		if m.Limit != nil && *m.Limit == -1 && m.Swap == nil {
			// Lifting the memory limit lifts memory+swap too: cgroup v1
			// refuses a swap limit below the memory limit.
			dst.MemorySwap = -1
		}
		if m.CheckBeforeUpdate != nil {
			dst.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
		}
		if m.Kernel != nil || m.KernelTCP != nil { //nolint:staticcheck // still accepted in input, ignored
			logrus.Warn("update: kernel memory limits are not supported by the kernel any more and are ignored")
		}
	}
	if cpu := res.CPU; cpu != nil {
		if cpu.Shares != nil {
			dst.CpuShares = *cpu.Shares
			dst.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
		}
		setInt64(&dst.CpuQuota, cpu.Quota)
		setUint64(&dst.CpuPeriod, cpu.Period)
		if cpu.Burst != nil {
			dst.CpuBurst = cpu.Burst
		}
		setInt64(&dst.CpuRtRuntime, cpu.RealtimeRuntime)
		setUint64(&dst.CpuRtPeriod, cpu.RealtimePeriod)
		if cpu.Cpus != "" {
			dst.CpusetCpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			dst.CpusetMems = cpu.Mems
		}
		if cpu.Idle != nil {
			dst.CPUIdle = cpu.Idle
			if cpu.Shares == nil {
				// The kernel refuses cpu.weight while cpu.idle is set:
				// shares (the weight) are left alone, as runc does.
				dst.CpuShares, dst.CpuWeight = 0, 0
			}
		}
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		dst.PidsLimit = p.Limit
	}
	if b := res.BlockIO; b != nil {
		if b.Weight != nil {
			dst.BlkioWeight = *b.Weight
		}
		if b.LeafWeight != nil {
			dst.BlkioLeafWeight = *b.LeafWeight
		}
		for _, wd := range b.WeightDevice {
			dst.BlkioWeightDevice = upsertWeight(dst.BlkioWeightDevice, wd)
		}
		dst.BlkioThrottleReadBpsDevice = upsertThrottle(dst.BlkioThrottleReadBpsDevice, b.ThrottleReadBpsDevice)
		dst.BlkioThrottleWriteBpsDevice = upsertThrottle(dst.BlkioThrottleWriteBpsDevice, b.ThrottleWriteBpsDevice)
		dst.BlkioThrottleReadIOPSDevice = upsertThrottle(dst.BlkioThrottleReadIOPSDevice, b.ThrottleReadIOPSDevice)
		dst.BlkioThrottleWriteIOPSDevice = upsertThrottle(dst.BlkioThrottleWriteIOPSDevice, b.ThrottleWriteIOPSDevice)
	}
	for _, h := range res.HugepageLimits {
		dst.HugetlbLimit = upsertHugetlb(dst.HugetlbLimit, h)
	}
	if len(res.Unified) > 0 {
		if dst.Unified == nil {
			dst.Unified = map[string]string{}
		}
		for k, v := range res.Unified {
			dst.Unified[k] = v
		}
	}
}

func setInt64(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

func setUint64(dst *uint64, v *uint64) {
	if v != nil {
		*dst = *v
	}
}

// upsertWeight and upsertThrottle update a device's entry, or add one. A
// device listed twice is written twice, the last entry last, so that is
// the one updated.
func upsertWeight(devs []*cgroups.WeightDevice, wd specs.LinuxWeightDevice) []*cgroups.WeightDevice {
	for _, d := range slices.Backward(devs) {
		if d.Major == wd.Major && d.Minor == wd.Minor {
			if wd.Weight != nil {
				d.Weight = *wd.Weight
			}
			if wd.LeafWeight != nil {
				d.LeafWeight = *wd.LeafWeight
			}
			return devs
		}
	}
	var w, lw uint16
	if wd.Weight != nil {
		w = *wd.Weight
	}
	if wd.LeafWeight != nil {
		lw = *wd.LeafWeight
	}
	return append(devs, cgroups.NewWeightDevice(wd.Major, wd.Minor, w, lw))
}

func upsertThrottle(devs []*cgroups.ThrottleDevice, in []specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
next:
	for _, td := range in {
		for _, d := range slices.Backward(devs) {
			if d.Major == td.Major && d.Minor == td.Minor {
				d.Rate = td.Rate
				continue next
			}
		}
		devs = append(devs, cgroups.NewThrottleDevice(td.Major, td.Minor, td.Rate))
	}
	return devs
}

func upsertHugetlb(limits []*cgroups.HugepageLimit, h specs.LinuxHugepageLimit) []*cgroups.HugepageLimit {
	for _, l := range limits {
		if l.Pagesize == h.Pagesize {
			l.Limit = h.Limit
			return limits
		}
	}
	return append(limits, &cgroups.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
}
