package main

// -ctrd-profile DIR: where the containerd scenarios' time goes. Instead of
// A/B pairs, each stack runs each scenario's operation N times in a row
// (after one unrecorded) under
//
//	perf record -a -g -e cpu-clock   (DIR/SCENARIO-STACK.data; the exec and
//	                                 exit events in order: .procs.txt)
//	perf stat -a -e sched:sched_process_exec,sched:sched_process_fork
//
// and DIR/summary.txt gets, per scenario and stack: wall and cgroup CPU per
// operation, programs executed and tasks (processes and threads) forked per
// operation, and the sampled CPU per operation of each command name
// (containerd, containerd-shim, runc, runc:[2:INIT], ...). The sampled
// split is system-wide: run it on a quiet machine. The client's own
// samples (ctr, the benchmark) are listed but are outside the cgroup's CPU.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const profileHz = 1999

type profRow struct {
	scenario, stack string
	n               int
	wall, cpu       float64 // per operation, ms
	execs, forks    float64 // per operation
	comms           []commShare
	file            string
}

type commShare struct {
	comm string
	ms   float64 // per operation
}

func (s *ctrdSession) profile(dir string, n int) error {
	if _, err := exec.LookPath("perf"); err != nil {
		return errors.New("-ctrd-profile needs perf (Debian package linux-perf)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b := s.b
	type scen struct {
		name string
		op   func(rt runtimeInfo) ([]meas, error)
	}
	var rows []profRow
	run := func(scens ...scen) error {
		for _, sc := range scens {
			for _, st := range s.stacks {
				if b.stop.Load() {
					return errors.New("interrupted")
				}
				row, err := s.profileOne(dir, sc.name, st, n, sc.op)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", sc.name, st.Label, err)
				}
				logf("   profile %-7s %-28s wall %6.1f ms  CPU %6.1f ms  exec %4.1f  fork %5.1f per operation",
					sc.name, st.Label, row.wall, row.cpu, row.execs, row.forks)
				rows = append(rows, row)
			}
		}
		return nil
	}
	if b.wantCtrd("ctrrun") {
		if err := run(scen{"ctrrun", s.ctrRunOp}); err != nil {
			return err
		}
	}
	if b.wantCtrd("pod") {
		if err := run(scen{"pod", s.podOp}); err != nil {
			return err
		}
	}
	if b.wantCtrd("exec") {
		// The pods are started here, after the other scenarios' profiles:
		// their idle shims would be in those otherwise.
		ctrs, stop, err := s.execPods(b)
		defer stop()
		if err != nil {
			return err
		}
		if err := run(scen{"exec", func(rt runtimeInfo) ([]meas, error) { return s.execOp(ctrs[rt.Key]) }}); err != nil {
			return err
		}
	}
	return writeProfileSummary(filepath.Join(dir, "summary.txt"), rows, n)
}

func (s *ctrdSession) profileOne(dir, scenario string, st ctrdStack, n int, op func(runtimeInfo) ([]meas, error)) (profRow, error) {
	row := profRow{scenario: scenario, stack: st.Label, n: n, file: filepath.Join(dir, scenario+"-"+st.Key)}
	if _, err := op(st.rt()); err != nil { // warm-up
		return row, err
	}
	rec := exec.Command("perf", "record", "-q", "-a", "-g", "-e", "cpu-clock", "-F", strconv.Itoa(profileHz), "-o", row.file+".data")
	procs := exec.Command("perf", "record", "-q", "-a", "-e", "sched:sched_process_exec", "-e", "sched:sched_process_exit", "-o", row.file+".procs.data")
	stat := exec.Command("perf", "stat", "-a", "-x", ",", "-e", "sched:sched_process_exec,sched:sched_process_fork", "-o", row.file+".stat")
	for _, c := range []*exec.Cmd{rec, procs, stat} {
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Start(); err != nil {
			return row, err
		}
	}
	stopPerf := func() {
		for _, c := range []*exec.Cmd{rec, procs, stat} {
			_ = c.Process.Signal(syscall.SIGINT)
		}
		for _, c := range []*exec.Cmd{rec, procs, stat} {
			_ = c.Wait()
		}
	}
	time.Sleep(time.Second) // perf is set up
	for i := 0; i < n; i++ {
		ms, err := op(st.rt())
		if err != nil {
			stopPerf()
			return row, err
		}
		for _, m := range ms {
			switch m.metric {
			case scenario + ".wall":
				row.wall += m.value / float64(n)
			case scenario + ".cpu":
				row.cpu += m.value / float64(n)
			}
		}
	}
	stopPerf()
	data, err := os.ReadFile(row.file + ".stat")
	if err != nil {
		return row, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ",")
		if len(f) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch f[2] {
		case "sched:sched_process_exec":
			row.execs = v / float64(n)
		case "sched:sched_process_fork":
			row.forks = v / float64(n)
		}
	}
	row.comms, err = commSplit(row.file+".data", n)
	if err != nil {
		return row, err
	}
	// The programs executed and the processes that exited, in order.
	out, err := exec.Command("perf", "script", "-i", row.file+".procs.data", "-F", "comm,pid,tid,time,event,trace").Output()
	if err != nil {
		return row, fmt.Errorf("perf script: %w", err)
	}
	return row, os.WriteFile(row.file+".procs.txt", out, 0o644)
}

// commSplit is the samples of each command name, as ms of CPU per
// operation, largest first; the idle task is left out.
func commSplit(data string, n int) ([]commShare, error) {
	out, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "comm",
		"-F", "sample,comm", "-g", "none").Output()
	if err != nil {
		return nil, fmt.Errorf("perf report %s: %w", data, err)
	}
	var shares []commShare
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		samples, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		comm := strings.Join(f[1:], " ")
		if comm == "swapper" {
			continue
		}
		shares = append(shares, commShare{comm: comm, ms: samples * 1000 / profileHz / float64(n)})
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].ms > shares[j].ms })
	return shares, nil
}

func writeProfileSummary(path string, rows []profRow, n int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# containerd scenarios: %d operations per stack after one unrecorded, perf record -a -g -e cpu-clock -F %d\n", n, profileHz)
	fmt.Fprintf(&b, "# per operation: wall and CPU (cgroup) in ms, programs executed, tasks forked (threads too);\n")
	fmt.Fprintf(&b, "# then sampled CPU per command name in ms (system-wide; ctr and bench are the clients, outside the cgroup)\n\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s / %s: wall %.1f  cgroup CPU %.1f  exec %.1f  fork %.1f   (%s.data)\n", r.scenario, r.stack, r.wall, r.cpu, r.execs, r.forks, r.file)
		for _, c := range r.comms {
			if c.ms < 0.05 {
				continue
			}
			fmt.Fprintf(&b, "    %8.2f  %s\n", c.ms, c.comm)
		}
		b.WriteString("\n")
	}
	fmt.Fprint(os.Stderr, b.String())
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
