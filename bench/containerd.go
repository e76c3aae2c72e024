package main

// The containerd scenarios (issue #14): berth's native shim
// (io.containerd.berth.v2) against containerd's runc v2 shim running runc
// 1.5.2, crun and bin/berth, under one private containerd.
//
//	ctrrun  `ctr run --rm` of /bin/true (busybox image imported once)
//	pod     a CRI pod sandbox and one container in it: RunPodSandbox,
//	        CreateContainer, StartContainer (the gRPC calls, timed from the
//	        benchmark itself: no crictl); the pod is stopped and removed
//	        after each, not measured
//	exec    an exec probe: CRI ExecSync of /bin/true in a running
//	        container, as the kubelet's exec probes do
//
// CPU: containerd runs in a cpuacct cgroup of its own (bbench-ctrd/daemon; on
// a pure cgroup v2 host the unified hierarchy's, read from cpu.stat;
// moved there before it starts any shim); its shims stay in it, and every
// container's cgroup parent is below bbench-ctrd too, so cpuacct.usage of
// bbench-ctrd is the CPU of containerd, the shims, the runtimes they run,
// the container inits and the containers, and of nothing else. The client
// (ctr, or the benchmark's gRPC calls) is outside it. The usage is read
// before an operation and again once the operation has ended and its
// processes are gone (a ctr run's shim) and the cgroup has been quiet for
// a while, so that exits and clean-ups that outlast the client's call are
// counted to the operation that caused them.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

const (
	// ctrdCgroup is the cgroup (below each hierarchy's root) of
	// everything the containerd scenarios start; its name starts with
	// idPrefix, so that sweep removes it after a killed run.
	ctrdCgroup = idPrefix + "ctrd"
	ctrdNS     = "bbench" // the ctr namespace (CRI's is k8s.io)
	ctrdImage  = "bench.local/busybox:1"
	ctrdPause  = "bench.local/pause:1"
	bshimKey   = "bshim"
	bshimType  = "io.containerd.berth.v2"
	runcType   = "io.containerd.runc.v2"
	cpuacctDir = "/sys/fs/cgroup/cpuacct"
	cgroupRoot = "/sys/fs/cgroup"
)

// ctrdConfig is what the outer process hands the containerd scenarios.
type ctrdConfig struct {
	Bin   string `json:"bin"`   // directory of containerd, ctr, containerd-shim-runc-v2
	Shim  string `json:"shim"`  // containerd-shim-berth-v2
	Runc  string `json:"runc"`  // runc v1.5.2
	Crun  string `json:"crun"`  // crun
	Berth string `json:"berth"` // bin/berth
}

// ctrdStack is one containerd shim and runtime.
type ctrdStack struct {
	Key     string `json:"key"`
	Label   string `json:"label"`
	Type    string `json:"type"`    // runtime type
	Binary  string `json:"binary"`  // the runc shim's BinaryName, or berth's shim
	Version string `json:"version"` // of Binary
	Root    string `json:"root"`    // the runtime's state root
}

// ctrdRunInfo says what the containerd scenarios ran on.
type ctrdRunInfo struct {
	Containerd string      `json:"containerd"` // containerd --version
	RuncShim   string      `json:"runc_shim"`  // containerd-shim-runc-v2 -v, first line
	Stacks     []ctrdStack `json:"stacks"`     // [0] is berth's shim
	Cgroup     string      `json:"cgroup"`
	Dir        string      `json:"dir"`
	DirFS      string      `json:"dir_fs"`
	// IdleCPU is what the cgroup used while nothing ran, over 2 s before
	// the measurements, in ms of CPU per second.
	IdleCPU float64 `json:"idle_cpu_ms_per_s"`
}

// wantCtrd reports whether the containerd scenario name (ctrrun, pod,
// exec) is to run: named itself, or all of them as "containerd".
func (b *bench) wantCtrd(name string) bool { return b.want("containerd") || b.want(name) }

func (b *bench) containerdScenarios() {
	it := b.cfg.Iterations
	if b.stop.Load() || !(b.wantCtrd("ctrrun") && it.CtrRun > 0 || b.wantCtrd("pod") && it.Pod > 0 || b.wantCtrd("exec") && it.Exec > 0) {
		return
	}
	logf("== containerd: berth's shim against the runc v2 shim with runc 1.5.2, crun and berth")
	start := time.Now()
	s, err := b.newCtrd()
	if s != nil {
		defer func() {
			if err := s.close(); err != nil {
				b.fail("containerd: clean-up: %v", err)
			}
			logf("   containerd: %.1fs in all", time.Since(start).Seconds())
		}()
	}
	if err != nil {
		b.fail("containerd: %v", err)
		return
	}
	if b.cfg.CtrdProfile != "" {
		err = s.profile(b.cfg.CtrdProfile, b.cfg.CtrdProfileN)
	} else {
		err = s.measure()
	}
	if err != nil {
		b.fail("containerd: %v", err)
	}
}

// ctrdSession is one private containerd and what was made through it.
type ctrdSession struct {
	b      *bench
	cfg    ctrdConfig
	info   *ctrdRunInfo
	dir    string
	fifo   string
	logDir string
	opts   string // the berth shim's options file (ConfigPath)
	d      *testkit.Containerd
	cri    *criClient
	stacks []ctrdStack
	cg     string // cgroup of everything: <cpuacct or the v2 root>/bbench-ctrd
	daemon string // containerd's and the shims' cgroup
	v2     bool   // cg is a cgroup v2 one (cpu.stat) rather than cpuacct
	base   int    // processes in daemon when nothing runs: containerd and long-lived shims
	groups []string
	podSeq int
}

func (s *ctrdSession) stack(key string) ctrdStack {
	for _, st := range s.stacks {
		if st.Key == key {
			return st
		}
	}
	panic("no containerd stack " + key)
}

func (st ctrdStack) rt() runtimeInfo {
	return runtimeInfo{Key: st.Key, Label: st.Label, Bin: st.Binary}
}

// newCtrd starts containerd in its cgroup with the four stacks configured
// and imports the images. A non-nil session is to be closed, also with an
// error.
func (b *bench) newCtrd() (*ctrdSession, error) {
	c := b.cfg.Ctrd
	for _, p := range []string{filepath.Join(c.Bin, "containerd"), filepath.Join(c.Bin, "ctr"), filepath.Join(c.Bin, "containerd-shim-runc-v2"), c.Shim, c.Runc, c.Crun, c.Berth} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s is missing (Debian's containerd and crun, runc v1.5.2, make build; run without -no-setup)", p)
		}
	}
	// CPU from cgroup v1's cpuacct hierarchy or, on a pure cgroup v2 host,
	// from cpu.stat (usage_usec) of the unified one.
	acct, v2 := cpuacctDir, false
	if testkit.Unified() {
		acct, v2 = cgroupRoot, true
	} else if _, err := os.Stat(filepath.Join(cpuacctDir, "cpuacct.usage")); err != nil {
		return nil, fmt.Errorf("neither a cgroup v1 cpuacct hierarchy at %s nor cgroup v2: the containerd scenarios account CPU with one", cpuacctDir)
	}
	dir := filepath.Join(b.cfg.StateRoot, "ctrd") // on the tmpfs; socket paths stay short
	s := &ctrdSession{b: b, cfg: c, dir: dir, fifo: filepath.Join(dir, "fifo"), logDir: filepath.Join(dir, "pod-logs"),
		cg: filepath.Join(acct, ctrdCgroup), daemon: filepath.Join(acct, ctrdCgroup, "daemon"), v2: v2}
	for _, d := range []string{dir, s.fifo, s.logDir, filepath.Join(dir, "bin"), s.daemon} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return s, err
		}
	}
	ver, err := firstLine(filepath.Join(c.Bin, "containerd"), "--version")
	if err != nil {
		return s, err
	}
	cfgVersion := 2
	if strings.Contains(ver, "containerd/v2") || strings.Contains(ver, " v2.") || strings.Contains(ver, " 2.") {
		cfgVersion = 3
	}
	shimVer, _ := shimVersion(filepath.Join(c.Bin, "containerd-shim-runc-v2"))
	s.info = &ctrdRunInfo{Containerd: ver, RuncShim: shimVer, Cgroup: strings.TrimPrefix(s.cg, "/sys/fs/cgroup/"), Dir: dir, DirFS: fsType(dir)}
	b.ctrd = s.info

	// The stacks, each with a state root of its own on the tmpfs.
	stacks := []struct{ key, label, typ, bin string }{
		{bshimKey, "berth shim", bshimType, c.Shim},
		{"rs-runc152", "runc shim + runc 1.5.2", runcType, c.Runc},
		{"rs-crun", "runc shim + crun", runcType, c.Crun},
		{"rs-berth", "runc shim + berth", runcType, c.Berth},
	}
	for _, x := range stacks {
		v, err := version(x.bin)
		if x.typ == bshimType {
			v, err = shimVersion(c.Shim)
		}
		if err != nil {
			return s, fmt.Errorf("%s: %w", x.bin, err)
		}
		label := x.label
		if x.key == "rs-crun" {
			label = "runc shim + " + label2(v, "crun")
		}
		st := ctrdStack{Key: x.key, Label: label, Type: x.typ, Binary: x.bin, Version: v, Root: filepath.Join(dir, "roots", x.key)}
		if err := os.MkdirAll(st.Root, 0o700); err != nil {
			return s, err
		}
		s.stacks = append(s.stacks, st)
	}
	s.info.Stacks = s.stacks
	s.opts = filepath.Join(dir, "berth-shim-options.toml")
	if err := os.WriteFile(s.opts, []byte("Root = "+testkit.TOMLString(s.stacks[0].Root)+"\n"), 0o644); err != nil {
		return s, err
	}
	if err := os.Symlink(c.Shim, filepath.Join(dir, "bin", "containerd-shim-berth-v2")); err != nil {
		return s, err
	}

	cri, err := testkit.CRIConfig(cfgVersion, dir, ctrdPause)
	if err != nil {
		return s, err
	}
	path := filepath.Join(dir, "bin") + ":" + c.Bin + ":" + s.b.sp.env[0][len("PATH="):]
	s.d, err = testkit.NewContainerd(testkit.ContainerdOptions{
		Dir: dir, Bin: c.Bin, Version: cfgVersion, Namespace: ctrdNS, CRI: true, LogLevel: "warn",
		Generator: "bench (berth)", Config: cri + s.handlers(cfgVersion),
		Env: []string{"PATH=" + path, "HOME=/root"},
	})
	if err != nil {
		return s, err
	}
	if err := s.d.Start(); err != nil {
		return s, err
	}
	// Into its cgroup before it starts any shim: the shims stay in it.
	if err := os.WriteFile(filepath.Join(s.daemon, "cgroup.procs"), []byte(strconv.Itoa(s.d.Pid())), 0o644); err != nil {
		return s, fmt.Errorf("moving containerd into %s: %w", s.daemon, err)
	}
	if s.base = len(s.procs()); s.base != 1 {
		return s, fmt.Errorf("%d processes in %s, want containerd alone", s.base, s.daemon)
	}
	if s.cri, err = dialCRI(s.d.Sock); err != nil {
		return s, err
	}

	bb, err := testkit.Busybox()
	if err != nil {
		return s, err
	}
	set, err := testkit.BuildImages(bb, "bench",
		testkit.Image{Ref: ctrdImage, Cmd: []string{"sh"}},
		testkit.Image{Ref: ctrdPause, Cmd: []string{"sleep", "2147483647"}})
	if err != nil {
		return s, err
	}
	archive := filepath.Join(dir, "images.tar")
	if err := set.WriteOCIArchive(archive); err != nil {
		return s, err
	}
	for _, ns := range []string{ctrdNS, "k8s.io"} {
		if r := testkit.Run(s.d.Client(s.d.Bin+"/ctr", "--address", s.d.Sock, "-n", ns, "images", "import", archive)); !r.OK() {
			return s, fmt.Errorf("importing the images into %s: %s", ns, r)
		}
	}
	if err := s.settle(); err != nil {
		return s, err
	}
	before := s.cpu()
	time.Sleep(2 * time.Second)
	s.info.IdleCPU = (s.cpu() - before) / 2
	logf("   %s; config version %d; busybox and pause images imported; CPU from %s (idle: %.2f ms/s)", ver, cfgVersion, s.cg, s.info.IdleCPU)
	if hold := os.Getenv("BERTH_BENCH_CTRD_HOLD"); hold != "" {
		// For a look from outside: nsenter -m -t <bench pid>, then ctr
		// --address DIR/containerd.sock.
		d, _ := time.ParseDuration(hold)
		logf("   holding for %s (BERTH_BENCH_CTRD_HOLD); socket %s", d, s.d.Sock)
		time.Sleep(d)
	}
	return s, nil
}

// label2 is "crun 1.8.1" from crun's version line.
func label2(v, name string) string {
	f := strings.Fields(v)
	for i := range f {
		if f[i] == "version" && i+1 < len(f) {
			return name + " " + f[i+1]
		}
	}
	return name
}

// shimVersion is "Version X (Revision Y)" from a shim's -v.
func shimVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		return "", fmt.Errorf("%s -v: %w", bin, err)
	}
	var v, r string
	for _, l := range strings.Split(string(out), "\n") {
		if k, val, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			switch k {
			case "Version":
				v = strings.TrimSpace(val)
			case "Revision":
				r = strings.TrimSpace(val)
			}
		}
	}
	return fmt.Sprintf("version %s (revision %s)", v, r), nil
}

func firstLine(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), nil
}

// handlers is the CRI runtime handlers, one per stack, named by its key.
func (s *ctrdSession) handlers(version int) string {
	var b strings.Builder
	table := `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.`
	if version == 3 {
		table = `plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.`
	}
	fmt.Fprintf(&b, "\n[%srunc]\n  runtime_type = %q\n", table, runcType)
	for _, st := range s.stacks {
		fmt.Fprintf(&b, "\n[%s%s]\n  runtime_type = %q\n[%s%s.options]\n", table, st.Key, st.Type, table, st.Key)
		switch {
		case st.Type == runcType:
			fmt.Fprintf(&b, "  BinaryName = %s\n  Root = %s\n", testkit.TOMLString(st.Binary), testkit.TOMLString(st.Root))
		case version == 3: // 2.x passes the table itself
			fmt.Fprintf(&b, "  Root = %s\n", testkit.TOMLString(st.Root))
		default: // 1.6, 1.7: only ConfigPath
			fmt.Fprintf(&b, "  ConfigPath = %s\n", testkit.TOMLString(s.opts))
		}
	}
	return b.String()
}

// ---- accounting ----

// cpu is the CPU time of everything below the cgroup so far, in ms.
func (s *ctrdSession) cpu() float64 {
	if s.v2 {
		data, err := os.ReadFile(filepath.Join(s.cg, "cpu.stat"))
		if err != nil {
			return math.NaN()
		}
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
				us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return math.NaN()
				}
				return float64(us) / 1e3
			}
		}
		return math.NaN()
	}
	data, err := os.ReadFile(filepath.Join(s.cg, "cpuacct.usage"))
	if err != nil {
		return math.NaN()
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return math.NaN()
	}
	return float64(ns) / 1e6
}

// procs are the processes in containerd's cgroup: containerd, the shims,
// and what they run until it moves to a container's cgroup.
func (s *ctrdSession) procs() []int {
	data, _ := os.ReadFile(filepath.Join(s.daemon, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// settle waits until containerd's cgroup holds only its base processes
// (the shims of finished operations have exited), reaping the shims that
// were reparented to the benchmark, and then until the whole cgroup has
// used less than 2.5 % of a CPU over 20 ms (an idle containerd 1.6 with
// the CRI plugin uses about 0.6 %).
func (s *ctrdSession) settle() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		reapStrays() // no client of ours runs now
		n := len(s.procs())
		if n <= s.base {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes in %s after 20 s, want %d", n, s.daemon, s.base)
		}
		time.Sleep(2 * time.Millisecond)
	}
	const window, quiet = 20 * time.Millisecond, 0.5 // ms of CPU per window: 2.5 %
	last := s.cpu()
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		time.Sleep(window)
		now := s.cpu()
		if now-last < quiet {
			return nil
		}
		last = now
	}
	return nil // busy for 2 s: something in the background; measure anyway
}

// ---- the scenarios ----

func (s *ctrdSession) measure() error {
	b, it := s.b, s.b.cfg.Iterations
	berth := s.stacks[0].rt()
	warm := min(it.Warmup, 1)
	if b.wantCtrd("ctrrun") && it.CtrRun > 0 {
		for _, an := range s.stacks[1:] {
			sess := "ctrd-" + an.Key
			b.pairsAB(sess, "ctr run warm-up vs "+an.Label, warm, berth, an.rt(), false, s.ctrRunOp)
			b.pairsAB(sess, "ctr run --rm /bin/true vs "+an.Label, it.CtrRun, berth, an.rt(), true, s.ctrRunOp)
		}
	}
	if b.wantCtrd("pod") && it.Pod > 0 {
		for _, an := range s.stacks[1:] {
			sess := "ctrd-" + an.Key
			b.pairsAB(sess, "CRI pod warm-up vs "+an.Label, warm, berth, an.rt(), false, s.podOp)
			b.pairsAB(sess, "CRI pod + container start vs "+an.Label, it.Pod, berth, an.rt(), true, s.podOp)
		}
	}
	if b.wantCtrd("exec") && it.Exec > 0 && !b.stop.Load() {
		// One running pod and container per stack, kept for the probes.
		ctrs, stop, err := s.execPods(b)
		defer stop()
		if err != nil {
			return err
		}
		op := func(rt runtimeInfo) ([]meas, error) { return s.execOp(ctrs[rt.Key]) }
		for _, an := range s.stacks[1:] {
			sess := "ctrd-" + an.Key
			b.pairsAB(sess, "exec probe warm-up vs "+an.Label, warm, berth, an.rt(), false, op)
			b.pairsAB(sess, "exec probe (ExecSync /bin/true) vs "+an.Label, it.Exec, berth, an.rt(), true, op)
		}
	}
	return nil
}

// ctrRunOp: ctr run --rm of /bin/true, its container's cgroup below
// ctrdCgroup. Wall is ctr's, fork to exit; CPU is the cgroup's until
// the shim has exited and the cgroup is quiet; ctr's own CPU apart.
func (s *ctrdSession) ctrRunOp(rt runtimeInfo) ([]meas, error) {
	st := s.stack(rt.Key)
	id := s.b.newID(rt)
	s.groups = append(s.groups, id)
	args := []string{filepath.Join(s.cfg.Bin, "ctr"), "--address", s.d.Sock, "-n", ctrdNS, "run", "--rm",
		"--fifo-dir", s.fifo, "--cgroup", "/" + ctrdCgroup + "/ctr/" + id, "--runtime", st.Type}
	if st.Type == bshimType {
		args = append(args, "--runtime-config-path", s.opts)
	} else {
		args = append(args, "--runc-binary", st.Binary, "--runc-root", st.Root)
	}
	args = append(args, ctrdImage, id, "/bin/true")
	before := s.cpu()
	u, err := s.b.sp.run(args, nil, nil)
	if err != nil {
		s.removeCtr(id)
		return nil, err
	}
	if err := s.settle(); err != nil {
		return nil, err
	}
	return []meas{{"ctrrun.wall", u.WallMS}, {"ctrrun.cpu", s.cpu() - before}, {"ctrrun.client", u.CPUMS()}}, nil
}

// removeCtr removes what a failed ctr run left (not measured).
func (s *ctrdSession) removeCtr(id string) {
	s.d.Ctr("task", "kill", "-s", "SIGKILL", id)
	time.Sleep(100 * time.Millisecond)
	s.d.Ctr("task", "delete", "-f", id)
	s.d.Ctr("container", "delete", id)
}

// startPod runs a pod sandbox with the stack's handler and a container in
// it that sleeps, and returns their ids and the three calls' wall times.
// execPods starts one pod with a running container for every stack, for
// the exec probes, and returns the containers by stack key; stop removes
// the pods (also after an error).
func (s *ctrdSession) execPods(b *bench) (ctrs map[string]string, stop func(), err error) {
	ctrs = map[string]string{}
	var pods []string
	stop = func() {
		for _, p := range pods {
			if err := s.removePod(p); err != nil {
				b.fail("containerd: removing the exec pods: %v", err)
			}
		}
	}
	for _, st := range s.stacks {
		pod, ctr, _, err := s.startPod(st)
		if pod != "" {
			pods = append(pods, pod)
		}
		if err != nil {
			return nil, stop, fmt.Errorf("exec probe: the pod of %s: %w", st.Label, err)
		}
		ctrs[st.Key] = ctr
	}
	if err := s.settle(); err != nil {
		return nil, stop, fmt.Errorf("exec probe: %w", err)
	}
	return ctrs, stop, nil
}

func (s *ctrdSession) startPod(st ctrdStack) (pod, ctr string, walls [3]float64, err error) {
	s.podSeq++
	name := fmt.Sprintf("%s%s-%d", idPrefix, st.Key, s.podSeq)
	pc := podConfig(name, "uid-"+name, "bbench", s.logDir, "/"+ctrdCgroup+"/pods")
	cc := containerConfig("sleeper", ctrdImage, name+".log", "sleep", "2147483647")
	t0 := time.Now()
	if pod, err = s.cri.runPodSandbox(pc, st.Key); err != nil {
		return "", "", walls, err
	}
	s.groups = append(s.groups, pod)
	s.base++ // the pod's shim, until removePod
	t1 := time.Now()
	if ctr, err = s.cri.createContainer(pod, cc, pc); err != nil {
		return pod, "", walls, err
	}
	t2 := time.Now()
	if err = s.cri.startContainer(ctr); err != nil {
		return pod, ctr, walls, err
	}
	t3 := time.Now()
	walls = [3]float64{ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t3.Sub(t2))}
	return pod, ctr, walls, nil
}

// removePod stops and removes a pod and its container (as the kubelet
// does, forcibly) and waits until its shim has exited.
func (s *ctrdSession) removePod(pod string) error {
	err := errors.Join(s.cri.stopPodSandbox(pod), s.cri.removePodSandbox(pod))
	s.base--
	return errors.Join(err, s.settle())
}

// podOp: RunPodSandbox, CreateContainer, StartContainer. Wall from the
// first call to the last answer; CPU until the cgroup is quiet.
func (s *ctrdSession) podOp(rt runtimeInfo) ([]meas, error) {
	before := s.cpu()
	pod, _, walls, err := s.startPod(s.stack(rt.Key))
	if err != nil {
		if pod != "" {
			err = errors.Join(err, s.removePod(pod))
		}
		return nil, err
	}
	settleErr := s.settle() // the pod's shim runs on (counted in base)
	cpu := s.cpu() - before
	if err := errors.Join(settleErr, s.removePod(pod)); err != nil {
		return nil, err
	}
	return []meas{
		{"pod.wall", walls[0] + walls[1] + walls[2]}, {"pod.cpu", cpu},
		{"pod.runp.wall", walls[0]}, {"pod.create.wall", walls[1]}, {"pod.start.wall", walls[2]},
	}, nil
}

// execOp: one ExecSync of /bin/true in the running container ctr.
func (s *ctrdSession) execOp(ctr string) ([]meas, error) {
	before := s.cpu()
	t0 := time.Now()
	if err := s.cri.execSync(ctr, 10, "/bin/true"); err != nil {
		return nil, err
	}
	wall := ms(time.Since(t0))
	if err := s.settle(); err != nil {
		return nil, err
	}
	return []meas{{"exec.wall", wall}, {"exec.cpu", s.cpu() - before}}, nil
}

// ---- the end ----

// close removes every pod and container through containerd, stops it,
// kills whatever is left in its cgroup (shims, containers), removes the
// cgroups, unmounts and removes its directory and the shims' sockets. Left
// overs that containerd should have removed are reported.
func (s *ctrdSession) close() error {
	var errs []error
	if s.d != nil && s.d.Running() {
		if s.cri != nil {
			pods, err := s.cri.listPodSandboxes()
			errs = append(errs, err)
			for _, p := range pods {
				errs = append(errs, fmt.Errorf("pod %s left", p), s.cri.stopPodSandbox(p), s.cri.removePodSandbox(p))
			}
		}
		for _, l := range s.d.Leftovers(false) {
			errs = append(errs, errors.New(l))
		}
		s.d.Clean()
		s.d.Stop()
	}
	if s.cri != nil {
		s.cri.close()
	}
	if n := len(s.procs()); n > 0 {
		errs = append(errs, fmt.Errorf("%d processes (shims) left in %s after containerd stopped", n, s.daemon))
	}
	var cgs []string
	for _, h := range testkit.Hierarchies() {
		if _, err := os.Stat(filepath.Join(h, ctrdCgroup)); err == nil {
			cgs = append(cgs, filepath.Join(h, ctrdCgroup))
		}
	}
	errs = append(errs, testkit.RemoveCgroups(cgs, 5*time.Second))
	reapStrays()
	errs = append(errs, testkit.UnmountUnder(s.dir), os.RemoveAll(s.dir))
	// The shims' sockets, named as containerd 1.6's runc shim and
	// berth's shim name them; a shim that exited cleanly removed its own.
	if s.d != nil {
		left := 0
		for _, g := range s.groups {
			for _, ns := range []string{ctrdNS, "k8s.io"} {
				for _, p := range shimSockets(s.d.Sock, ns, g) {
					if _, err := os.Lstat(p); err == nil {
						left++
						_ = os.Remove(p)
					}
				}
			}
		}
		if left > 0 {
			errs = append(errs, fmt.Errorf("%d shim sockets left in /run/containerd/s (removed)", left))
		}
	}
	return errors.Join(errs...)
}

// shimSockets are the socket paths the runc v2 shim (containerd 1.6) and
// berth's shim (shim/start.go) use for a group id.
func shimSockets(address, ns, id string) []string {
	runc := sha256.Sum256([]byte(filepath.Join(address, ns, id)))
	berth := sha256.Sum256([]byte(address + "\x00" + ns + "\x00" + id))
	return []string{
		"/run/containerd/s/" + hex.EncodeToString(runc[:]),
		"/run/containerd/s/berth-" + hex.EncodeToString(berth[:20]),
	}
}
