package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"unicode/utf8"
)

// The chart: one group of horizontal bars per metric, one bar per anchor,
// each the berth/anchor ratio on a logarithmic axis centred on 1.

const (
	fontScale = 2
	charW     = 6 * fontScale // 5 pixels and a gap
	lineH     = 9 * fontScale
	barH      = 14
	barGap    = 3
	groupGap  = 12
	chartW    = 1400
	labelW    = 600
	marginR   = 80
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{0, 0, 0, 255}
	gray      = color.RGBA{110, 110, 110, 255}
	gridGray  = color.RGBA{225, 225, 225, 255}
	bandGray  = color.RGBA{246, 246, 246, 255}
	barColors = []color.RGBA{
		{31, 119, 180, 255}, // blue
		{230, 120, 20, 255}, // orange
		{44, 160, 44, 255},  // green
		{148, 103, 189, 255},
	}
)

type canvas struct{ *image.RGBA }

func (c canvas) fill(x0, y0, x1, y1 int, col color.RGBA) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c.SetRGBA(x, y, col)
		}
	}
}

// text draws s with its top-left corner at (x, y) and returns its width.
func (c canvas) text(x, y int, s string, col color.RGBA) int {
	cx := x
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g = unknownGlyph
		}
		for row := 0; row < 7; row++ {
			for bit := 0; bit < 5; bit++ {
				if g[row]&(0x10>>bit) != 0 {
					c.fill(cx+bit*fontScale, y+row*fontScale, cx+(bit+1)*fontScale, y+(row+1)*fontScale, col)
				}
			}
		}
		cx += charW
	}
	return cx - x
}

func textWidth(s string) int { return utf8.RuneCountInString(s) * charW }

func writeChart(raw *rawResults, a analysis, path string) error {
	anchors := raw.Runtimes[1:]
	type row struct {
		label  string
		ratios []float64 // per anchor, NaN when missing
	}
	var rows []row
	lo, hi := 1.0, 1.0
	for _, def := range metrics {
		if def.key == "tput.rate" {
			continue // higher is better there; the batch wall time is charted
		}
		r := row{label: def.title(raw.Iterations)}
		any := false
		for _, an := range anchors {
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
	// Axis: whole 1-2-5 steps around the data, at least 0.5 to 2.
	steps := []float64{}
	for e := -3; e <= 3; e++ {
		for _, m := range []float64{1, 2, 5} {
			steps = append(steps, m*math.Pow(10, float64(e)))
		}
	}
	axLo, axHi := 0.5, 2.0
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

	headerH := 3*lineH + 30
	groupH := len(anchors)*(barH+barGap) + groupGap
	plotTop := headerH + 20
	plotH := len(rows) * groupH
	height := plotTop + plotH + 2*lineH + 20
	img := canvas{image.NewRGBA(image.Rect(0, 0, chartW, height))}
	img.fill(0, 0, chartW, height, white)

	plotL, plotR := labelW, chartW-marginR
	xOf := func(v float64) int {
		f := (math.Log(v) - math.Log(axLo)) / (math.Log(axHi) - math.Log(axLo))
		return plotL + int(math.Round(f*float64(plotR-plotL)))
	}

	img.text(10, 10, "berth / anchor: ratio of medians (geometric mean of AB and BA pair orders), log scale", black)
	img.text(10, 10+lineH, fmt.Sprintf("left of 1: berth is faster or smaller.  %s, %d cores, load %s .. %s",
		raw.Machine.Started.Format("2006-01-02"), raw.Machine.Cores, raw.Machine.LoadStart, raw.Machine.LoadEnd), gray)
	lx := 10
	for i, an := range anchors {
		col := barColors[i%len(barColors)]
		img.fill(lx, 14+2*lineH, lx+24, 14+2*lineH+barH, col)
		lx += 30
		lx += img.text(lx, 14+2*lineH, "vs "+an.Label, black) + 30
	}

	// Bands, grid and axis labels.
	for i := range rows {
		if i%2 == 0 {
			img.fill(0, plotTop+i*groupH-groupGap/2, chartW, plotTop+(i+1)*groupH-groupGap/2, bandGray)
		}
	}
	for _, s := range steps {
		if s < axLo || s > axHi {
			continue
		}
		x := xOf(s)
		col := gridGray
		if s == 1 {
			col = black
		}
		img.fill(x, plotTop-groupGap/2, x+1, plotTop+plotH, col)
		lbl := trimFloat(s)
		img.text(x-textWidth(lbl)/2, plotTop+plotH+6, lbl, gray)
	}
	img.fill(xOf(1)-1, plotTop-groupGap/2, xOf(1)+1, plotTop+plotH, black)

	for i, r := range rows {
		y := plotTop + i*groupH
		ly := y + (len(anchors)*(barH+barGap)-lineH)/2
		img.text(labelW-20-textWidth(r.label), ly+2, r.label, black)
		for j, v := range r.ratios {
			by := y + j*(barH+barGap)
			if math.IsNaN(v) {
				continue
			}
			col := barColors[j%len(barColors)]
			x1, xv := xOf(1), xOf(v)
			if xv == x1 {
				xv = x1 + 1
			}
			img.fill(x1, by, xv, by+barH, col)
			lbl := fmt.Sprintf("%.2f", v)
			if v >= 1 {
				img.text(xv+5, by, lbl, col)
			} else {
				img.text(x1+5, by, lbl, col) // right of the 1 line: never over the labels
			}
		}
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func trimFloat(v float64) string { return fmt.Sprintf("%g", v) }
