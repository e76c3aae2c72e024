package pull

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-oci/berth/image/oci"
)

// progress draws one line on a terminal: how many layers are complete and
// how many bytes of them have arrived, redrawn at most ten times a second.
type progress struct {
	w     io.Writer
	name  string
	sizes []int64
	got   []atomic.Int64

	mu   sync.Mutex
	last time.Time
}

func newProgress(w io.Writer, name string, layers []oci.Descriptor) *progress {
	p := &progress{w: w, name: name, sizes: make([]int64, len(layers)), got: make([]atomic.Int64, len(layers))}
	for i, l := range layers {
		p.sizes[i] = l.Size
	}
	return p
}

// counter returns the byte counter of layer i for store.Ingest.
func (p *progress) counter(i int) func(int64) {
	return func(n int64) {
		p.got[i].Add(n)
		p.draw(false)
	}
}

func (p *progress) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !final && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	var total, got int64
	complete := 0
	for i, size := range p.sizes {
		g := min(p.got[i].Load(), size)
		total += size
		got += g
		if g == size {
			complete++
		}
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r\033[K%s: %d/%d layers, %s / %s%s", p.name, complete, len(p.sizes), mb(got), mb(total), end)
}

// done draws the last line. Layers that were already in the store count
// as complete.
func (p *progress) done() {
	for i, size := range p.sizes {
		p.got[i].Store(size)
	}
	p.draw(true)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
