package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"strings"
)

// The chart, an SVG file: one group of horizontal bars per metric, one bar
// per anchor, each the berth/anchor ratio on a logarithmic axis centred on
// 1. The viewer draws the text, so the file needs no font of its own.

const (
	lineH    = 18 // a line of text
	barH     = 14
	barGap   = 3
	groupGap = 12
	chartW   = 1400
	labelW   = 600 // metric labels end here; the plot starts
	marginR  = 80
	fontSize = 13
)

var barColors = []string{"#1f77b4", "#e67814", "#2ca02c", "#9467bd"}

// svg accumulates the elements of the chart.
type svg struct{ strings.Builder }

func (s *svg) rect(x0, y0, x1, y1 int, fill string) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	fmt.Fprintf(s, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", x0, y0, x1-x0, y1-y0, fill)
}

// text writes str with its top at y; anchor is start, middle or end of x.
func (s *svg) text(x, y int, str, fill, anchor string) {
	fmt.Fprintf(s, `<text x="%d" y="%d" fill="%s" text-anchor="%s">%s</text>`+"\n",
		x, y+fontSize, fill, anchor, html.EscapeString(str))
}

// chartRow is one metric: its label and the ratio to each anchor.
type chartRow struct {
	label  string
	ratios []float64 // per anchor, NaN when missing
}

// chartRows are the metrics with a ratio, and the smallest and largest
// ratio (at most 1 and at least 1).
func chartRows(raw *rawResults, a analysis) (rows []chartRow, lo, hi float64) {
	lo, hi = 1, 1
	for _, def := range metrics {
		if def.key == "tput.rate" {
			continue // higher is better there; the batch wall time is charted
		}
		r := chartRow{label: def.title(raw.Iterations)}
		any := false
		for _, an := range raw.Runtimes[1:] {
			v, ok := a.Ratios[an.Key][def.key]
			if !ok {
				r.ratios = append(r.ratios, math.NaN())
				continue
			}
			any = true
			r.ratios = append(r.ratios, v.Combined)
			lo, hi = math.Min(lo, v.Combined), math.Max(hi, v.Combined)
		}
		if any {
			rows = append(rows, r)
		}
	}
	return rows, lo, hi
}

// axisSteps are the 1-2-5 steps of the axis, and its ends: whole steps
// around the data, at least 0.5 to 2.
func axisSteps(lo, hi float64) (steps []float64, axLo, axHi float64) {
	for e := -3; e <= 3; e++ {
		for _, m := range []float64{1, 2, 5} {
			steps = append(steps, m*math.Pow(10, float64(e)))
		}
	}
	axLo, axHi = 0.5, 2.0
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i] <= lo/1.15 {
			axLo = math.Min(axLo, steps[i])
			break
		}
	}
	for _, s := range steps {
		if s >= hi*1.15 {
			axHi = math.Max(axHi, s)
			break
		}
	}
	return steps, axLo, axHi
}

func writeChart(raw *rawResults, a analysis, path string) error {
	anchors := raw.Runtimes[1:]
	rows, lo, hi := chartRows(raw, a)
	steps, axLo, axHi := axisSteps(lo, hi)

	headerH := 3*lineH + 30
	groupH := len(anchors)*(barH+barGap) + groupGap
	plotTop := headerH + 20
	plotH := len(rows) * groupH
	height := plotTop + plotH + 2*lineH + 20
	plotL, plotR := labelW, chartW-marginR
	xOf := func(v float64) int {
		f := (math.Log(v) - math.Log(axLo)) / (math.Log(axHi) - math.Log(axLo))
		return plotL + int(math.Round(f*float64(plotR-plotL)))
	}

	var s svg
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="%d">`+"\n",
		chartW, height, chartW, height, fontSize)
	s.rect(0, 0, chartW, height, "white")
	s.text(10, 10, "berth / anchor: ratio of medians (geometric mean of AB and BA pair orders), log scale", "black", "start")
	s.text(10, 10+lineH, fmt.Sprintf("left of 1: berth is faster or smaller.  %s, %d cores, load %s .. %s",
		raw.Machine.Started.Format("2006-01-02"), raw.Machine.Cores, raw.Machine.LoadStart, raw.Machine.LoadEnd), "#6e6e6e", "start")
	// The legend: a swatch and the anchor's name each, 300 px apart.
	for i, an := range anchors {
		x := 10 + i*300
		s.rect(x, 14+2*lineH, x+24, 14+2*lineH+barH, barColors[i%len(barColors)])
		s.text(x+30, 14+2*lineH, "vs "+an.Label, "black", "start")
	}

	// Bands, grid and axis labels.
	for i := range rows {
		if i%2 == 0 {
			s.rect(0, plotTop+i*groupH-groupGap/2, chartW, plotTop+(i+1)*groupH-groupGap/2, "#f6f6f6")
		}
	}
	for _, st := range steps {
		if st < axLo || st > axHi {
			continue
		}
		x := xOf(st)
		col := "#e1e1e1"
		if st == 1 {
			col = "black"
		}
		s.rect(x, plotTop-groupGap/2, x+1, plotTop+plotH, col)
		s.text(x, plotTop+plotH+6, fmt.Sprintf("%g", st), "#6e6e6e", "middle")
	}
	s.rect(xOf(1)-1, plotTop-groupGap/2, xOf(1)+1, plotTop+plotH, "black")

	for i, r := range rows {
		y := plotTop + i*groupH
		s.text(labelW-20, y+(len(anchors)*(barH+barGap)-lineH)/2+2, r.label, "black", "end")
		for j, v := range r.ratios {
			if math.IsNaN(v) {
				continue
			}
			by := y + j*(barH+barGap)
			col := barColors[j%len(barColors)]
			x1, xv := xOf(1), xOf(v)
			if xv == x1 {
				xv = x1 + 1
			}
			s.rect(x1, by, xv, by+barH, col)
			lx := x1 + 5 // right of the 1 line: never over the labels
			if v >= 1 {
				lx = xv + 5
			}
			s.text(lx, by-1, fmt.Sprintf("%.2f", v), col, "start")
		}
	}
	s.WriteString("</svg>\n")
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		return fmt.Errorf("writing the chart: %w", err)
	}
	return nil
}
