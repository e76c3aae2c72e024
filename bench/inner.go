package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// sample is one measured value of one runtime in one A/B pair.
type sample struct {
	Session string  `json:"session"` // the anchor berth was paired with
	Metric  string  `json:"metric"`
	Runtime string  `json:"runtime"`
	Order   string  `json:"order"` // AB: berth ran first in the pair; BA: the anchor did
	Iter    int     `json:"iter"`
	Value   float64 `json:"value"`
}

// rawResults is everything a run measured; the report is computed from it.
type rawResults struct {
	Machine    machine       `json:"machine"`
	Quick      bool          `json:"quick"`
	Iterations iterations    `json:"iterations"`
	Runtimes   []runtimeInfo `json:"runtimes"`
	Cgroups    string        `json:"cgroups"`
	Samples    []sample      `json:"samples"`
	Errors     []string      `json:"errors,omitempty"`
	DurationS  float64       `json:"duration_s"`
	Image      *imageRunInfo `json:"image,omitempty"` // the image scenarios' set-up
	// Containerd is the containerd scenarios' set-up (bench/containerd.go).
	Containerd *ctrdRunInfo `json:"containerd,omitempty"`
}

type machine struct {
	Kernel    string    `json:"kernel"`
	CPU       string    `json:"cpu"`
	Cores     int       `json:"cores"`
	MemGB     float64   `json:"mem_gb"`
	LoadStart string    `json:"load_start"`
	LoadEnd   string    `json:"load_end"`
	LoadMax1  float64   `json:"load_max_1min"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Go        string    `json:"go"`
}

// container is one container the benchmark made and has not deleted yet.
type container struct {
	rt   runtimeInfo
	id   string
	init *orphan
}

type bench struct {
	cfg   config
	sp    *spawner
	berth runtimeInfo

	seq  atomic.Int64
	stop atomic.Bool

	mu      sync.Mutex
	live    map[string]*container
	samples []sample
	errs    []string
	image   *imageRunInfo
	ctrd    *ctrdRunInfo
}

// inner runs in the private mount namespace: it measures, cleans up and
// writes the raw results.
func inner(cfgPath string) error {
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var cfg config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	cgroupMode, err := prepareNamespace(cfg.StateRoot)
	if err != nil {
		return err
	}
	if err := setSubreaper(); err != nil {
		return err
	}
	sp, err := newSpawner(cfg.TmpDir, 60*time.Second)
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, sp: sp, berth: cfg.Runtimes[0], live: map[string]*container{}}
	for _, rt := range cfg.Runtimes {
		if err := os.MkdirAll(b.root(rt), 0o700); err != nil {
			return err
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for range sigs {
			b.stop.Store(true)
		}
	}()

	raw := rawResults{Quick: cfg.Quick, Iterations: cfg.Iterations, Runtimes: cfg.Runtimes, Cgroups: cgroupMode}
	raw.Machine = machineInfo()
	loadMax := watchLoad()
	logf("%s; %d cores; load average %s; cgroups %s", raw.Machine.CPU, raw.Machine.Cores, raw.Machine.LoadStart, cgroupMode)

	b.measure()

	b.cleanup()
	raw.Machine.LoadEnd = loadavg()
	raw.Machine.LoadMax1 = loadMax()
	raw.Machine.Finished = time.Now().UTC()
	raw.Samples = b.samples
	raw.Errors = b.errs
	raw.Image = b.image
	raw.Containerd = b.ctrd
	if b.stop.Load() {
		return errors.New("interrupted; cleaned up")
	}
	out, err := json.MarshalIndent(raw, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(cfg.RawOut, out, 0o644)
}

// prepareNamespace hides a cgroup2 hierarchy mounted beside cgroup v1 under
// an empty tmpfs (crun refuses such hybrid set-ups, so every runtime gets the
// same pure v1 view) and puts the state roots on a tmpfs. The hiding tmpfs
// stays writable: crun, which still sees a "0::" line in /proc/self/cgroup,
// writes its pid into a cgroup.procs file there (a plain file, no cgroup).
// The caller is alone in a new mount namespace whose mounts are private.
func prepareNamespace(stateRoot string) (string, error) {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return "", fmt.Errorf("make mounts private: %w", err)
	}
	const cgroup2Magic = 0x63677270
	mode := "v1"
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == cgroup2Magic {
		mode = "v2 (unified)"
	} else if err := syscall.Statfs("/sys/fs/cgroup/unified", &st); err == nil && st.Type == cgroup2Magic {
		if err := syscall.Mount("none", "/sys/fs/cgroup/unified", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=755"); err != nil {
			return "", fmt.Errorf("hide /sys/fs/cgroup/unified: %w", err)
		}
		mode = "v1 (hybrid host; /sys/fs/cgroup/unified hidden by an empty tmpfs)"
	}
	if err := syscall.Mount("tmpfs", stateRoot, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=700"); err != nil {
		return "", fmt.Errorf("tmpfs on %s: %w", stateRoot, err)
	}
	return mode, nil
}

func (b *bench) root(rt runtimeInfo) string { return filepath.Join(b.cfg.StateRoot, rt.Key) }

func (b *bench) argv(rt runtimeInfo, args ...string) []string {
	return append([]string{rt.Bin, "--root", b.root(rt)}, args...)
}

// exec runs the runtime with args and its extra environment.
func (b *bench) exec(rt runtimeInfo, args ...string) (usage, error) {
	return b.sp.run(b.argv(rt, args...), nil, rt.Env)
}

func (b *bench) peakRSS(rt runtimeInfo, args ...string) (int64, error) {
	return b.sp.peakRSS(b.argv(rt, args...), rt.Env)
}

// want reports whether scenario name is to be run.
func (b *bench) want(name string) bool {
	if len(b.cfg.Scenarios) == 0 {
		return true
	}
	for _, s := range b.cfg.Scenarios {
		if s == name {
			return true
		}
	}
	return false
}

func (b *bench) newID(rt runtimeInfo) string {
	return idPrefix + rt.Key + "-" + strconv.FormatInt(b.seq.Add(1), 10)
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("ERROR %s", msg)
	b.mu.Lock()
	b.errs = append(b.errs, msg)
	b.mu.Unlock()
}

// measure runs every scenario for every anchor. The list scenario comes
// last, for all anchors, so that the 200 idle containers it needs are not
// around while the others are measured.
func (b *bench) measure() {
	it := b.cfg.Iterations
	cli := false
	for _, name := range []string{"run", "cycle", "delforce", "state", "bind", "tput", "rss"} {
		cli = cli || b.want(name)
	}
	for _, anchor := range b.cfg.Runtimes[1:] {
		if !cli {
			break
		}
		s := anchor.Key
		logf("== berth vs %s", anchor.Label)
		b.pairs(s, "warm-up", it.Warmup, anchor, false, b.runOp(0))
		if b.want("run") {
			b.pairs(s, "run", it.Run, anchor, true, b.runOp(0))
		}
		if b.want("cycle") {
			b.pairs(s, "create/start/delete", it.Cycle, anchor, true, b.cycleOp)
		}
		if b.want("delforce") {
			b.pairs(s, "delete --force of a created container", it.DelForce, anchor, true, b.delForceOp)
		}
		if b.want("state") {
			b.stateScenario(s, anchor)
		}
		if b.want("bind") {
			for _, n := range bindCounts[1:] {
				b.pairs(s, fmt.Sprintf("run with %d bind mounts", n), it.Bind, anchor, true, b.runOp(n))
			}
		}
		if b.want("tput") {
			b.pairs(s, fmt.Sprintf("throughput: %d containers, %d at a time", it.TputN, it.TputPar), it.Tput, anchor, true, b.tputOp)
		}
		if b.want("rss") {
			b.pairs(s, "peak RSS (create, state, run under GNU time)", it.RSS, anchor, true, b.rssOp)
		}
		if b.stop.Load() {
			return
		}
	}
	if b.want("image") {
		b.imageScenarios()
	}
	if b.want("list") {
		b.listScenarios()
	}
	// Last: it sweeps the benchmark's cgroups when it ends.
	b.containerdScenarios()
}

type meas struct {
	metric string
	value  float64
}

type op func(rt runtimeInfo) ([]meas, error)

// pairs runs n A/B pairs of op, berth first in even pairs (AB) and the
// anchor first in odd ones (BA).
func (b *bench) pairs(session, name string, n int, anchor runtimeInfo, record bool, f op) {
	b.pairsAB(session, name, n, b.berth, anchor, record, f)
}

// pairsAB is pairs with a as the A side instead of berth's CLI.
func (b *bench) pairsAB(session, name string, n int, a, anchor runtimeInfo, record bool, f op) {
	if n == 0 || b.stop.Load() {
		return
	}
	start := time.Now()
	for i := 0; i < n && !b.stop.Load(); i++ {
		order, pair := "AB", []runtimeInfo{a, anchor}
		if i%2 == 1 {
			order, pair = "BA", []runtimeInfo{anchor, a}
		}
		for _, rt := range pair {
			ms, err := f(rt)
			if err != nil {
				b.fail("%s vs %s, %s: %s: %v", a.Label, anchor.Label, name, rt.Label, err)
				return
			}
			if !record {
				continue
			}
			b.mu.Lock()
			for _, m := range ms {
				v := math.Round(m.value*1e4) / 1e4 // 0.1 µs, 0.1 KiB: plenty
				b.samples = append(b.samples, sample{Session: session, Metric: m.metric, Runtime: rt.Key, Order: order, Iter: i, Value: v})
			}
			b.mu.Unlock()
		}
	}
	logf("   %-45s %3d pairs  %5.1fs", name, n, time.Since(start).Seconds())
}

// runOp runs /bin/true in the foreground (create, start, wait, delete in one
// command) with n extra read-only bind mounts.
func (b *bench) runOp(n int) op {
	return func(rt runtimeInfo) ([]meas, error) {
		u, err := b.exec(rt, "run", "-b", b.cfg.Bundles[n], b.newID(rt))
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return []meas{{"run.wall", u.WallMS}, {"run.cpu", u.CPUMS()}}, nil
		}
		p := "bind" + strconv.Itoa(n)
		return []meas{{p + ".wall", u.WallMS}, {p + ".cpu", u.CPUMS()}}, nil
	}
}

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

// create creates a container from the bundle with n bind mounts and adopts
// its init.
func (b *bench) create(rt runtimeInfo, n int) (usage, *container, error) {
	id := b.newID(rt)
	pidFile := filepath.Join(b.cfg.TmpDir, id+".pid")
	u, err := b.exec(rt, "create", "--pid-file", pidFile, "-b", b.cfg.Bundles[n], id)
	if err != nil {
		return u, nil, err
	}
	c, err := b.adoptFromPidFile(rt, id, pidFile)
	return u, c, err
}

// adoptFromPidFile adopts the init of a container just created, whose pid
// the runtime wrote to pidFile, and registers the container for clean-up.
func (b *bench) adoptFromPidFile(rt runtimeInfo, id, pidFile string) (*container, error) {
	pid, err := testkit.ReadPid(pidFile)
	_ = os.Remove(pidFile)
	if err != nil {
		return nil, err
	}
	c := &container{rt: rt, id: id, init: adopt(pid)}
	b.mu.Lock()
	b.live[id] = c
	b.mu.Unlock()
	return c, nil
}

func (b *bench) forget(c *container) {
	b.mu.Lock()
	delete(b.live, c.id)
	b.mu.Unlock()
}

// remove deletes a container by the quickest route every runtime has: kill
// its init, wait for it, delete. Not measured.
func (b *bench) remove(c *container) error {
	if !c.init.exited() {
		_, _ = b.exec(c.rt, "kill", c.id, "KILL") // it may have exited meanwhile
		if _, err := c.init.wait(10 * time.Second); err != nil && !c.init.exited() {
			c.init.kill()
		}
	}
	if _, err := b.exec(c.rt, "delete", c.id); err != nil {
		if _, err2 := b.exec(c.rt, "delete", "--force", c.id); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	b.forget(c)
	return nil
}

// cycleOp: create (detached, pid file), start, wait for /bin/true to exit,
// delete. create's CPU is the runtime's own (and its short-lived helper
// children's); init.cpu is the container init's, from its fork to its exit.
func (b *bench) cycleOp(rt runtimeInfo) ([]meas, error) {
	cu, c, err := b.create(rt, 0)
	if err != nil {
		return nil, err
	}
	su, err := b.exec(rt, "start", c.id)
	if err != nil {
		_ = b.remove(c)
		return nil, err
	}
	iu, err := c.init.wait(10 * time.Second)
	if err != nil {
		_ = b.remove(c)
		return nil, err
	}
	du, err := b.exec(rt, "delete", c.id)
	if err != nil {
		_ = b.remove(c)
		return nil, err
	}
	b.forget(c)
	return []meas{
		{"create.wall", cu.WallMS}, {"create.cpu", cu.CPUMS()},
		{"init.cpu", iu.CPUMS()},
		{"start.wall", su.WallMS}, {"start.cpu", su.CPUMS()},
		{"delete.wall", du.WallMS}, {"delete.cpu", du.CPUMS()},
		{"cycle.wall", cu.WallMS + su.WallMS + du.WallMS},
		{"cycle.cpu", cu.CPUMS() + iu.CPUMS() + su.CPUMS() + du.CPUMS()},
	}, nil
}

// delForceOp: create (not measured), then delete --force, which kills the
// waiting init and removes the container.
func (b *bench) delForceOp(rt runtimeInfo) ([]meas, error) {
	_, c, err := b.create(rt, 0)
	if err != nil {
		return nil, err
	}
	u, err := b.exec(rt, "delete", "--force", c.id)
	if err != nil {
		_ = b.remove(c)
		return nil, err
	}
	if _, err := c.init.wait(10 * time.Second); err != nil {
		return nil, err
	}
	b.forget(c)
	return []meas{{"delforce.wall", u.WallMS}, {"delforce.cpu", u.CPUMS()}}, nil
}

// stateScenario: state of one created container per runtime.
func (b *bench) stateScenario(session string, anchor runtimeInfo) {
	if b.stop.Load() {
		return
	}
	made := map[string]*container{}
	for _, rt := range []runtimeInfo{b.berth, anchor} {
		_, c, err := b.create(rt, 0)
		if err != nil {
			b.fail("state: create a container for %s: %v", rt.Label, err)
			return
		}
		made[rt.Key] = c
	}
	defer func() {
		for _, c := range made {
			if err := b.remove(c); err != nil {
				b.fail("state: remove %s: %v", c.id, err)
			}
		}
	}()
	b.pairs(session, "state of a created container", b.cfg.Iterations.State, anchor, true, func(rt runtimeInfo) ([]meas, error) {
		u, err := b.exec(rt, "state", made[rt.Key].id)
		if err != nil {
			return nil, err
		}
		return []meas{{"state.wall", u.WallMS}, {"state.cpu", u.CPUMS()}}, nil
	})
}

// rssOp measures the peak resident set of create, of state (of the created
// container) and of run, each under GNU time. create's and state's are the
// runtime's own (create's helper children are C-only stages); run's includes
// the container init before it executes /bin/true.
func (b *bench) rssOp(rt runtimeInfo) ([]meas, error) {
	id := b.newID(rt)
	pidFile := filepath.Join(b.cfg.TmpDir, id+".pid")
	create, err := b.peakRSS(rt, "create", "--pid-file", pidFile, "-b", b.cfg.Bundles[0], id)
	if err != nil {
		return nil, err
	}
	c, err := b.adoptFromPidFile(rt, id, pidFile)
	if err != nil {
		return nil, err
	}
	state, err := b.peakRSS(rt, "state", id)
	if rmErr := b.remove(c); err == nil {
		err = rmErr
	}
	if err != nil {
		return nil, err
	}
	run, err := b.peakRSS(rt, "run", "-b", b.cfg.Bundles[0], b.newID(rt))
	if err != nil {
		return nil, err
	}
	return []meas{{"create.rss", kbToMB(create)}, {"state.rss", kbToMB(state)}, {"run.rss", kbToMB(run)}}, nil
}

// tputOp runs TputN containers (run, foreground) TputPar at a time and
// reports the wall time of the whole batch.
func (b *bench) tputOp(rt runtimeInfo) ([]meas, error) {
	it := b.cfg.Iterations
	jobs := make(chan int)
	errs := make(chan error, it.TputN)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < it.TputPar; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if _, err := b.exec(rt, "run", "-b", b.cfg.Bundles[0], b.newID(rt)); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < it.TputN; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return []meas{{"tput.wall", ms(wall)}}, nil
}

// listScenarios: list with ListN created containers under berth's root and
// under each anchor's. berth's containers are made once; each anchor's only
// for its own pairs.
func (b *bench) listScenarios() {
	it := b.cfg.Iterations
	if it.List == 0 || b.stop.Load() {
		return
	}
	logf("== list with %d created containers", it.ListN)
	berthPop, err := b.populate(b.berth, it.ListN)
	defer b.depopulate(berthPop)
	if err != nil {
		b.fail("list: populate %s: %v", b.berth.Label, err)
		return
	}
	for _, anchor := range b.cfg.Runtimes[1:] {
		pop, err := b.populate(anchor, it.ListN)
		if err != nil {
			b.fail("list: populate %s: %v", anchor.Label, err)
			b.depopulate(pop)
			return
		}
		b.pairs(anchor.Key, fmt.Sprintf("list (%d created containers) vs %s", it.ListN, anchor.Label), it.List, anchor, true, func(rt runtimeInfo) ([]meas, error) {
			u, err := b.exec(rt, "list")
			if err != nil {
				return nil, err
			}
			return []meas{{"list.wall", u.WallMS}, {"list.cpu", u.CPUMS()}}, nil
		})
		b.depopulate(pop)
		if b.stop.Load() {
			return
		}
	}
}

// parallelism of the unmeasured bulk work (populating and emptying roots).
const bulkWorkers = 4

func (b *bench) populate(rt runtimeInfo, n int) ([]*container, error) {
	start := time.Now()
	var (
		mu   sync.Mutex
		made []*container
		errs []error
		wg   sync.WaitGroup
	)
	jobs := make(chan int)
	for w := 0; w < bulkWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				_, c, err := b.create(rt, 0)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					made = append(made, c)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n && !b.stop.Load(); i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	logf("   %d containers created under %s's root in %.1fs", len(made), rt.Label, time.Since(start).Seconds())
	return made, errors.Join(errs...)
}

func (b *bench) depopulate(cs []*container) {
	var wg sync.WaitGroup
	jobs := make(chan *container)
	for w := 0; w < bulkWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				if err := b.remove(c); err != nil {
					b.fail("remove %s: %v", c.id, err)
				}
			}
		}()
	}
	for _, c := range cs {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
}

// cleanup removes every container still known, then sweeps cgroups and
// reaps what is left.
func (b *bench) cleanup() {
	b.mu.Lock()
	var left []*container
	for _, c := range b.live {
		left = append(left, c)
	}
	b.mu.Unlock()
	if len(left) > 0 {
		logf("cleaning up %d containers", len(left))
		b.depopulate(left)
	}
	sweep()
	reapStrays()
	for _, rt := range b.cfg.Runtimes {
		entries, _ := os.ReadDir(b.root(rt))
		for _, e := range entries {
			if e.IsDir() {
				b.fail("%s: state of %s left under %s", rt.Label, e.Name(), b.root(rt))
			}
		}
	}
	_ = syscall.Unmount(b.cfg.StateRoot, syscall.MNT_DETACH)
}

func machineInfo() machine {
	m := machine{Cores: goruntime.NumCPU(), LoadStart: loadavg(), Started: time.Now().UTC(), Go: goruntime.Version()}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.MemGB = float64(si.Totalram) * float64(si.Unit) / (1 << 30)
	}
	return m
}

// loadavg is the 1, 5 and 15 minute load averages.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// watchLoad samples the 1-minute load average every 5 s; the returned
// function gives the highest seen.
func watchLoad() func() float64 {
	var mu sync.Mutex
	highest := 0.0
	sample := func() {
		f, err := strconv.ParseFloat(strings.Fields(loadavg() + " 0")[0], 64)
		if err == nil {
			mu.Lock()
			highest = max(highest, f)
			mu.Unlock()
		}
	}
	sample()
	t := time.NewTicker(5 * time.Second)
	go func() {
		for range t.C {
			sample()
		}
	}()
	return func() float64 {
		t.Stop()
		sample()
		mu.Lock()
		defer mu.Unlock()
		return highest
	}
}
