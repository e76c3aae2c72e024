package main

import (
	"math"
	"sort"
)

// metricDef describes one row of the report.
type metricDef struct {
	key   string
	label string
	unit  string
	group string
}

// metrics in report order. Keys ending in ".slope" and ".rate" are derived.
var metrics = []metricDef{
	{"run.wall", "run /bin/true: wall", "ms", "run"},
	{"run.cpu", "run: CPU user+sys (runtime, init, helpers)", "ms", "run"},
	{"create.wall", "create", "ms", "lifecycle"},
	{"start.wall", "start", "ms", "lifecycle"},
	{"delete.wall", "delete (stopped container)", "ms", "lifecycle"},
	{"cycle.wall", "create+start+delete", "ms", "lifecycle"},
	{"create.cpu", "create: CPU of the runtime process", "ms", "lifecycle"},
	{"init.cpu", "container init: CPU, fork to exit", "ms", "lifecycle"},
	{"cycle.cpu", "create+start+delete: CPU incl. init", "ms", "lifecycle"},
	{"delforce.wall", "delete --force of a created container", "ms", "lifecycle"},
	{"state.wall", "state", "ms", "query"},
	{"list.wall", "list, %d created containers", "ms", "query"},
	{"create.rss", "peak RSS: create (runtime process)", "MiB", "memory"},
	{"state.rss", "peak RSS: state", "MiB", "memory"},
	{"run.rss", "peak RSS: run (with the init before exec)", "MiB", "memory"},
	{"tput.wall", "%d containers, %d at a time: wall", "ms", "throughput"},
	{"tput.rate", "  throughput", "containers/s", "throughput"},
	{"bind20.wall", "run with 20 ro bind mounts: wall", "ms", "mounts"},
	{"bind100.wall", "run with 100 ro bind mounts: wall", "ms", "mounts"},
	{"bind20.cpu", "run with 20 ro bind mounts: CPU", "ms", "mounts"},
	{"bind100.cpu", "run with 100 ro bind mounts: CPU", "ms", "mounts"},
	{"bind.cpu.slope", "CPU per ro bind mount (slope 0/20/100)", "µs", "mounts"},
	{"bind.wall.slope", "wall per ro bind mount (slope 0/20/100)", "µs", "mounts"},
}

// summary is what the report shows for one runtime and metric.
type summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// ratio of berth to one anchor for one metric, per pair order and combined.
type ratio struct {
	AB       float64 `json:"ab"`
	BA       float64 `json:"ba"`
	Combined float64 `json:"combined"` // geometric mean of AB and BA
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := summary{N: len(v), Median: median(v), Min: v[0], Max: v[0]}
	for _, x := range v {
		s.Min = math.Min(s.Min, x)
		s.Max = math.Max(s.Max, x)
	}
	return s
}

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		if math.IsNaN(y[i]) {
			return math.NaN()
		}
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return math.NaN()
	}
	return (n*sxy - sx*sy) / d
}

// analysis is the report's numbers.
type analysis struct {
	// Summaries[runtime][metric], pooled over every pair the runtime was in
	// (berth's over all sessions).
	Summaries map[string]map[string]summary `json:"summaries"`
	// Sessions[anchor][runtime][metric]: the same over one anchor's
	// pairs only, berth's and the anchor's, measured side by side.
	Sessions map[string]map[string]map[string]summary `json:"sessions"`
	// Ratios[anchor][metric] is berth/anchor from that anchor's session.
	Ratios map[string]map[string]ratio `json:"ratios"`
	// Image is the image scenarios' table (bench/image.go).
	Image []imageRow `json:"image,omitempty"`
	// Containerd is the containerd scenarios' tables (bench/containerd.go).
	Containerd *ctrdAnalysis `json:"containerd,omitempty"`
}

func analyze(raw *rawResults) analysis {
	a := analysis{
		Summaries: map[string]map[string]summary{},
		Sessions:  map[string]map[string]map[string]summary{},
		Ratios:    map[string]map[string]ratio{},
	}
	type key struct{ session, metric, runtime, order string }
	vals := map[key][]float64{}
	for _, s := range raw.Samples {
		for _, k := range []key{
			{s.Session, s.Metric, s.Runtime, s.Order},
			{s.Session, s.Metric, s.Runtime, ""},
			{"", s.Metric, s.Runtime, ""},
		} {
			vals[k] = append(vals[k], s.Value)
		}
	}
	berth := raw.Runtimes[0].Key
	it := raw.Iterations
	rate := func(wallMS float64) float64 { return float64(it.TputN) / (wallMS / 1000) }
	bindX := []float64{0, 20, 100}
	// bindSlope of one runtime from the medians of the given selection; µs.
	bindSlope := func(session, rt, order, kind string) float64 {
		y := []float64{
			median(vals[key{session, "run." + kind, rt, order}]),
			median(vals[key{session, "bind20." + kind, rt, order}]),
			median(vals[key{session, "bind100." + kind, rt, order}]),
		}
		return 1000 * slope(bindX, y)
	}
	// summaries of one runtime, over one session's pairs or ("") all.
	summaries := func(session, rt string) map[string]summary {
		m := map[string]summary{}
		for _, def := range metrics {
			if v := vals[key{session, def.key, rt, ""}]; len(v) > 0 {
				m[def.key] = summarize(v)
			}
		}
		if s, ok := m["tput.wall"]; ok {
			// The rate of the median batch; its min is the slowest batch.
			m["tput.rate"] = summary{N: s.N, Median: rate(s.Median), Min: rate(s.Max), Max: rate(s.Min)}
		}
		for _, kind := range []string{"cpu", "wall"} {
			if v := bindSlope(session, rt, "", kind); !math.IsNaN(v) {
				m["bind."+kind+".slope"] = summary{N: 1, Median: v, Min: v, Max: v}
			}
		}
		return m
	}
	for _, rt := range raw.Runtimes {
		a.Summaries[rt.Key] = summaries("", rt.Key)
	}
	for _, anchor := range raw.Runtimes[1:] {
		a.Sessions[anchor.Key] = map[string]map[string]summary{
			berth:      summaries(anchor.Key, berth),
			anchor.Key: summaries(anchor.Key, anchor.Key),
		}
	}
	for _, anchor := range raw.Runtimes[1:] {
		s := anchor.Key
		r := map[string]ratio{}
		for _, def := range metrics {
			var per [2]float64
			for i, order := range []string{"AB", "BA"} {
				var bv, av float64
				switch def.key {
				case "bind.cpu.slope", "bind.wall.slope":
					kind := def.key[len("bind.") : len(def.key)-len(".slope")]
					bv, av = bindSlope(s, berth, order, kind), bindSlope(s, anchor.Key, order, kind)
				case "tput.rate":
					bv, av = rate(median(vals[key{s, "tput.wall", berth, order}])), rate(median(vals[key{s, "tput.wall", anchor.Key, order}]))
				default:
					bv, av = median(vals[key{s, def.key, berth, order}]), median(vals[key{s, def.key, anchor.Key, order}])
				}
				per[i] = bv / av
			}
			if !(per[0] > 0 && per[1] > 0) || math.IsInf(per[0], 0) || math.IsInf(per[1], 0) {
				continue
			}
			r[def.key] = ratio{AB: per[0], BA: per[1], Combined: math.Sqrt(per[0] * per[1])}
		}
		a.Ratios[s] = r
	}
	a.Image = analyzeImage(raw)
	a.Containerd = analyzeCtrd(raw)
	return a
}
