package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestCompareRuncShim times, on containerd 1.6 and 2.4.2, `ctr run --rm`
// of a container running true and `ctr task exec` of true, through this
// shim and through containerd's runc shim with bin/berth as its runtime,
// interleaved. Timings are logged, never asserted; the test runs only with
// SHIM_BENCH=N (N rounds).
func TestCompareRuncShim(t *testing.T) {
	n := 0
	fmt.Sscan(os.Getenv("SHIM_BENCH"), &n)
	if n <= 0 {
		t.Skip("set SHIM_BENCH=N to time N rounds")
	}
	forEachSuite(t, "compare", func(t *testing.T, s *suite) {
		runcRoot := filepath.Join(s.dir, "runc-root")
		kinds := map[string][]string{
			"berth shim":      {"--runtime", "io.containerd.berth.v2"},
			"runc shim+berth": {"--runtime", "io.containerd.runc.v2", "--runc-binary", berthBin, "--runc-root", runcRoot},
		}
		runs := map[string][]time.Duration{}
		execs := map[string][]time.Duration{}
		long := map[string]string{}
		for kind, flags := range kinds {
			id := s.id("long")
			s.MustCtr(t, append(append([]string{"run", "-d", "--fifo-dir", s.dir + "/fifo"}, flags...), busyboxRef, id, "sleep", "3600")...)
			long[kind] = id
		}
		for i := range n {
			for kind, flags := range kinds {
				id := s.id(fmt.Sprintf("r%d", i))
				r := s.Ctr(append(append([]string{"run", "--rm", "--fifo-dir", s.dir + "/fifo"}, flags...), busyboxRef, id, "true")...)
				if !r.OK() {
					t.Fatalf("%s:\n%s", kind, r)
				}
				runs[kind] = append(runs[kind], r.Dur)
				r = s.Ctr("task", "exec", "--fifo-dir", s.dir+"/fifo", "--exec-id", fmt.Sprintf("e%d", i), long[kind], "true")
				if !r.OK() {
					t.Fatalf("%s exec:\n%s", kind, r)
				}
				execs[kind] = append(execs[kind], r.Dur)
			}
		}
		for kind := range kinds {
			t.Logf("containerd %s, %-16s ctr run --rm: median %v  ctr task exec: median %v  (%d rounds)", s.fl.name, kind, median(runs[kind]), median(execs[kind]), n)
			s.removeTask(t, long[kind])
		}
	})
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2].Round(100 * time.Microsecond)
}
