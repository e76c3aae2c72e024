package main

// The containerd scenarios' report: berth's shim over each runc shim
// stack, ratios of medians in both pair orders, and issue #14's targets.

import (
	"fmt"
	"math"
	"strings"
)

// ctrdSessionPrefix starts the session name of the containerd scenarios'
// samples: "ctrd-" and the runc shim stack's key.
const ctrdSessionPrefix = "ctrd-"

var ctrdMetrics = []metricDef{
	{"ctrrun.wall", "`ctr run --rm` /bin/true: wall (ctr's fork to exit)", "ms", "ctrrun"},
	{"ctrrun.cpu", "  CPU: containerd, shim, runtime, init, container", "ms", "ctrrun"},
	{"ctrrun.client", "  ctr's own CPU (not in the row above)", "ms", "ctrrun"},
	{"pod.wall", "CRI pod + container: RunPodSandbox + CreateContainer + StartContainer: wall", "ms", "pod"},
	{"pod.cpu", "  CPU: containerd, shim, runtime, inits, containers", "ms", "pod"},
	{"pod.runp.wall", "  RunPodSandbox: wall", "ms", "pod"},
	{"pod.create.wall", "  CreateContainer: wall", "ms", "pod"},
	{"pod.start.wall", "  StartContainer: wall", "ms", "pod"},
	{"exec.wall", "exec probe: CRI ExecSync of /bin/true: wall", "ms", "exec"},
	{"exec.cpu", "  CPU: containerd, shim, runtime, exec process", "ms", "exec"},
}

// ctrdTargetDefs are issue #14's targets: berth's shim over a stack.
var ctrdTargetDefs = []ctrdTarget{
	{Label: "container run (`ctr run --rm`): wall", Metric: "ctrrun.wall", Anchor: "rs-crun", Max: 1.2},
	{Label: "container run: CPU", Metric: "ctrrun.cpu", Anchor: "rs-crun", Max: 1.2},
	{Label: "exec probe (ExecSync): wall", Metric: "exec.wall", Anchor: "rs-crun", Max: 1.2},
	{Label: "exec probe: CPU", Metric: "exec.cpu", Anchor: "rs-crun", Max: 1.2},
	{Label: "pod + container start: wall", Metric: "pod.wall", Anchor: "rs-crun", Max: 1.2},
	{Label: "pod + container start: CPU", Metric: "pod.cpu", Anchor: "rs-crun", Max: 1.2},
	{Label: "container run: wall", Metric: "ctrrun.wall", Anchor: "rs-runc152", Max: 0.6},
	{Label: "container run: CPU", Metric: "ctrrun.cpu", Anchor: "rs-runc152", Max: 0.6},
	{Label: "exec probe: wall", Metric: "exec.wall", Anchor: "rs-runc152", Max: 0.6},
	{Label: "exec probe: CPU", Metric: "exec.cpu", Anchor: "rs-runc152", Max: 0.6},
	{Label: "pod + container start: wall", Metric: "pod.wall", Anchor: "rs-runc152", Max: 0.6},
	{Label: "pod + container start: CPU", Metric: "pod.cpu", Anchor: "rs-runc152", Max: 0.6},
}

type ctrdTarget struct {
	Label  string  `json:"label"`
	Metric string  `json:"metric"`
	Anchor string  `json:"anchor"`
	Max    float64 `json:"max"`
	Ratio  ratio   `json:"ratio"`
	Met    bool    `json:"met"`
}

// ctrdCell is berth's shim against one stack for one metric.
type ctrdCell struct {
	Ratio ratio   `json:"ratio"`
	Berth summary `json:"berth"`
	Other summary `json:"other"`
}

type ctrdAnalysis struct {
	// Cells[metric][stack key]
	Cells   map[string]map[string]ctrdCell `json:"cells"`
	Targets []ctrdTarget                   `json:"targets"`
}

func analyzeCtrd(raw *rawResults) *ctrdAnalysis {
	if raw.Containerd == nil {
		return nil
	}
	type key struct{ session, metric, runtime, order string }
	vals := map[key][]float64{}
	for _, s := range raw.Samples {
		if !strings.HasPrefix(s.Session, ctrdSessionPrefix) {
			continue
		}
		for _, k := range []key{{s.Session, s.Metric, s.Runtime, s.Order}, {s.Session, s.Metric, s.Runtime, ""}} {
			vals[k] = append(vals[k], s.Value)
		}
	}
	a := &ctrdAnalysis{Cells: map[string]map[string]ctrdCell{}}
	stacks := raw.Containerd.Stacks
	if len(stacks) < 2 {
		return a
	}
	berth := stacks[0].Key
	for _, def := range ctrdMetrics {
		for _, st := range stacks[1:] {
			sess := ctrdSessionPrefix + st.Key
			bv, ov := vals[key{sess, def.key, berth, ""}], vals[key{sess, def.key, st.Key, ""}]
			if len(bv) == 0 || len(ov) == 0 {
				continue
			}
			c := ctrdCell{Berth: summarize(bv), Other: summarize(ov)}
			ab := median(vals[key{sess, def.key, berth, "AB"}]) / median(vals[key{sess, def.key, st.Key, "AB"}])
			ba := median(vals[key{sess, def.key, berth, "BA"}]) / median(vals[key{sess, def.key, st.Key, "BA"}])
			c.Ratio = ratio{AB: ab, BA: ba, Combined: math.Sqrt(ab * ba)}
			if math.IsNaN(c.Ratio.Combined) || math.IsInf(c.Ratio.Combined, 0) {
				c.Ratio.Combined = c.Berth.Median / c.Other.Median // one order only
			}
			if a.Cells[def.key] == nil {
				a.Cells[def.key] = map[string]ctrdCell{}
			}
			a.Cells[def.key][st.Key] = c
		}
	}
	for _, t := range ctrdTargetDefs {
		c, ok := a.Cells[t.Metric][t.Anchor]
		if !ok {
			continue
		}
		t.Ratio, t.Met = c.Ratio, c.Ratio.Combined <= t.Max
		a.Targets = append(a.Targets, t)
	}
	return a
}

// ctrdMarkdown is the containerd scenarios' section.
func ctrdMarkdown(raw *rawResults, a *ctrdAnalysis) string {
	in := raw.Containerd
	if in == nil || a == nil || len(in.Stacks) < 2 {
		return ""
	}
	var b strings.Builder
	m, it := raw.Machine, raw.Iterations
	kind := "full run"
	if raw.Quick {
		kind = "quick run (`make bench-quick`: few pairs, not for conclusions)"
	}
	fmt.Fprintf(&b, "## containerd: berth's shim against the runc v2 shim (issue #14; %s)\n\n", kind)
	fmt.Fprintf(&b, "**Machine:** Linux %s · %s · %d cores · %.0f GiB · %s · cgroups %s\n\n",
		m.Kernel, m.CPU, m.Cores, m.MemGB, m.Started.Format("2006-01-02 15:04 UTC"), raw.Cgroups)
	fmt.Fprintf(&b, "**Load average** (1, 5, 15 min): %s at the start, %s at the end, highest 1-minute value seen %.2f.\n\n",
		m.LoadStart, m.LoadEnd, m.LoadMax1)
	fmt.Fprintf(&b, "**containerd:** `%s`, runc shim `%s`, private (its own config, root, state and sockets on a tmpfs, in %s), "+
		"CRI plugin on, no CNI (host-network pods), images imported from an archive: busybox (the host's static busybox, "+
		"one layer) and a pause image of it (`sleep`).\n\n", in.Containerd, in.RuncShim, in.Dir)
	b.WriteString("**Stacks:** ")
	for i, st := range in.Stacks {
		if i > 0 {
			b.WriteString(" · ")
		}
		fmt.Fprintf(&b, "%s = `%s` with `%s` (%s)", st.Label, st.Type, st.Version, st.Binary)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "**Pairs per stack:** ctr run %d, pod %d, exec probe %d, after one unrecorded pair each; "+
		"berth's shim first in even pairs (AB), the other stack first in odd ones (BA). "+
		"**CPU** is the CPU usage (cgroup v1 cpuacct.usage, or cpu.stat on cgroup v2) of the cgroup `%s`, which holds containerd, its shims and what they run, and every "+
		"container's cgroup (parents below it); ctr and the benchmark's CRI calls are outside it. Read before the operation and "+
		"after it, once the operation's shim has exited (ctr run) and the cgroup has used under 2.5 %% of a CPU for 20 ms (idle: %.1f ms of CPU per second).\n\n",
		it.CtrRun, it.Pod, it.Exec, in.Cgroup, in.IdleCPU)

	stacks := in.Stacks[1:]
	b.WriteString("### Issue #14's targets\n\n")
	b.WriteString("| berth shim / stack | target | measured | |\n|---|---|---|---|\n")
	label := map[string]string{}
	for _, st := range in.Stacks {
		label[st.Key] = st.Label
	}
	for _, t := range a.Targets {
		verdict := "not met"
		if t.Met {
			verdict = "**met**"
		}
		fmt.Fprintf(&b, "| %s, vs %s | ≤ %.2f | **%.2f** (%.2f / %.2f) | %s |\n", t.Label, label[t.Anchor], t.Max,
			t.Ratio.Combined, t.Ratio.AB, t.Ratio.BA, verdict)
	}
	b.WriteString("\n### berth's shim / stack\n\n")
	b.WriteString("Ratio of medians, below 1 is better for berth's shim; the geometric mean of the AB and BA orders' ratios, which are in brackets.\n\n")
	b.WriteString("| metric |")
	for _, st := range stacks {
		fmt.Fprintf(&b, " vs %s |", st.Label)
	}
	b.WriteString("\n|" + strings.Repeat("---|", len(stacks)+1) + "\n")
	writeCtrdRows(&b, a, stacks, " – |", func(c ctrdCell) string {
		return fmt.Sprintf(" **%.2f** (%.2f / %.2f) |", c.Ratio.Combined, c.Ratio.AB, c.Ratio.BA)
	})
	b.WriteString("\n### Medians (min–max), ms\n\n")
	b.WriteString("berth's shim beside each stack, from the same pairs.\n\n| metric |")
	for _, st := range stacks {
		fmt.Fprintf(&b, " berth shim | %s |", st.Label)
	}
	b.WriteString("\n|" + strings.Repeat("---|", 2*len(stacks)+1) + "\n")
	cell := func(s summary) string {
		return fmt.Sprintf(" %s (%s–%s) |", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
	}
	writeCtrdRows(&b, a, stacks, " – | – |", func(c ctrdCell) string {
		return cell(c.Berth) + cell(c.Other)
	})
	b.WriteString("\n")
	return b.String()
}

// writeCtrdRows writes a table row for every measured metric: its label,
// then for every stack cells(its cell), or missing where the stack has none.
func writeCtrdRows(b *strings.Builder, a *ctrdAnalysis, stacks []ctrdStack, missing string, cells func(ctrdCell) string) {
	for _, def := range ctrdMetrics {
		if a.Cells[def.key] == nil {
			continue
		}
		fmt.Fprintf(b, "| %s |", def.label)
		for _, st := range stacks {
			if c, ok := a.Cells[def.key][st.Key]; ok {
				b.WriteString(cells(c))
			} else {
				b.WriteString(missing)
			}
		}
		b.WriteString("\n")
	}
}
