// Command bench measures berth side by side with runc and crun: the
// container lifecycle commands, peak memory, parallel throughput and the cost
// of bind mounts, each berth/anchor pair run alternately in both orders.
//
//	go run ./bench            full run (about 3 minutes); writes BENCHMARKS.md
//	                          and bench/results/
//	go run ./bench -quick     smoke check (about 2 minutes); writes to a
//	                          temporary directory and prints the tables
//	go run ./bench -report bench/results/results.json
//	                          re-render BENCHMARKS.md and the chart from raw results
//	go run ./bench -scenarios containerd
//	                          only the containerd scenarios (about 5 minutes):
//	                          berth's shim against the runc v2 shim with runc
//	                          1.5.2, crun and berth under a private containerd;
//	                          writes its own section of BENCHMARKS.md and
//	                          bench/results/containerd.{json,csv}
//
// It must run as root on Linux. It installs what it compares against
// (Debian's runc and crun, runc v1.5.2 built with go install into the cache
// directory), builds berth with make, and runs every runtime inside one
// private mount namespace in which /sys/fs/cgroup/unified is hidden (crun
// refuses hybrid cgroup hierarchies) and the state roots are on a tmpfs.
// Containers, cgroups and mounts are removed at the end, also after ^C.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// innerEnv marks the re-executed benchmark inside the private mount
// namespace; its value is the path of the configuration file.
const innerEnv = "BERTH_BENCH_INNER"

// idPrefix starts every container id (and so every cgroup directory) the
// benchmark makes; leftovers with it are removed before and after a run.
const idPrefix = "bbench-"

// config is what the outer process hands to the inner one.
type config struct {
	Quick      bool           `json:"quick"`
	Runtimes   []runtimeInfo  `json:"runtimes"` // [0] is berth
	Bundles    map[int]string `json:"bundles"`  // bind-mount count -> bundle dir
	StateRoot  string         `json:"state_root"`
	TmpDir     string         `json:"tmp_dir"`
	RawOut     string         `json:"raw_out"`
	Iterations iterations     `json:"iterations"`
	Scenarios  []string       `json:"scenarios,omitempty"` // empty: all
	// ImageRunc is the runc of the image scenarios' skopeo+umoci+runc
	// pipeline.
	ImageRunc string `json:"image_runc"`
	// Ctrd is what the containerd scenarios run (bench/containerd.go).
	Ctrd ctrdConfig `json:"containerd"`
	// CtrdProfile, when set, is where the containerd scenarios write perf
	// profiles instead of measuring pairs (bench/containerd_profile.go).
	CtrdProfile  string `json:"containerd_profile,omitempty"`
	CtrdProfileN int    `json:"containerd_profile_n,omitempty"`
}

// iterations are the numbers of measured pairs per scenario (each pair is
// one berth and one anchor operation; orders alternate AB, BA).
type iterations struct {
	Warmup   int `json:"warmup"`
	Run      int `json:"run"`
	Cycle    int `json:"cycle"`
	DelForce int `json:"delete_force"`
	State    int `json:"state"`
	List     int `json:"list"`
	ListN    int `json:"list_containers"`
	Bind     int `json:"bind"`
	RSS      int `json:"rss"`
	Tput     int `json:"throughput"`
	TputN    int `json:"throughput_containers"`
	TputPar  int `json:"throughput_parallel"`
	// The image scenarios (bench/image.go): pairs of each.
	ImageCold  int `json:"image_cold"`
	ImageSteps int `json:"image_steps"`
	ImageWarm  int `json:"image_warm"`
	// The containerd scenarios (bench/containerd.go): pairs of each, per
	// runc shim stack.
	CtrRun int `json:"ctr_run"`
	Pod    int `json:"cri_pod"`
	Exec   int `json:"exec_probe"`
}

// scale multiplies the numbers of pairs (not the sizes: list and throughput
// containers), keeping at least one pair where there was one.
func (it *iterations) scale(f float64) {
	if f <= 0 || f == 1 {
		return
	}
	for _, n := range []*int{&it.Run, &it.Cycle, &it.DelForce, &it.State, &it.List, &it.Bind, &it.RSS, &it.Tput, &it.ImageCold, &it.ImageSteps, &it.ImageWarm, &it.CtrRun, &it.Pod, &it.Exec} {
		if *n > 0 {
			*n = max(1, int(float64(*n)*f+0.5))
		}
	}
}

func fullIterations() iterations {
	return iterations{Warmup: 3, Run: 120, Cycle: 80, DelForce: 40, State: 120, List: 30, ListN: 200, Bind: 60, RSS: 10, Tput: 12, TputN: 50, TputPar: 8,
		ImageCold: 30, ImageSteps: 16, ImageWarm: 60,
		CtrRun: 40, Pod: 30, Exec: 80}
}

func quickIterations() iterations {
	return iterations{Warmup: 1, Run: 20, Cycle: 12, DelForce: 6, State: 20, List: 6, ListN: 50, Bind: 10, RSS: 2, Tput: 2, TputN: 50, TputPar: 8,
		ImageCold: 4, ImageSteps: 2, ImageWarm: 12,
		CtrRun: 2, Pod: 2, Exec: 4}
}

// runtimeInfo names one runtime under test.
type runtimeInfo struct {
	Key     string `json:"key"`     // short, used in container ids
	Label   string `json:"label"`   // for tables
	Bin     string `json:"bin"`     // absolute path
	Version string `json:"version"` // first line of --version
	// Env is added to the runtime's environment (-berth-env).
	Env []string `json:"env,omitempty"`
}

func main() {
	if path := os.Getenv(innerEnv); path != "" {
		if err := inner(path); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	var (
		quick     = flag.Bool("quick", false, "short smoke run (fewer pairs, 50 containers for list); results go to a temporary directory")
		repo      = flag.String("repo", ".", "berth's source tree (built with make build)")
		cache     = flag.String("cache", "/var/cache/berth-bench", "where runc v1.5.2 is installed (bin/runc)")
		work      = flag.String("work", "/var/tmp/berth-bench", "bundles and scratch files")
		stateDir  = flag.String("state", "/run/berth-bench", "mount point of the tmpfs that holds the runtimes' --root directories")
		out       = flag.String("out", "", "results directory (default: REPO/bench/results, or a temporary directory with -quick)")
		report    = flag.String("report", "", "only render the report (BENCHMARKS.md, chart, CSV) from this results.json")
		setupOnly = flag.Bool("setup-only", false, "install the anchors, build berth, write the bundles to -work, and stop")
		noSetup   = flag.Bool("no-setup", false, "do not install anchors or build berth (use what is there)")
		anchors   = flag.String("anchors", "runc152,runcdeb,crun", "anchors to compare with: runc152 (runc v1.5.2), runcdeb (Debian's runc), crun")
		extra     = flag.String("anchor", "", "extra anchors, LABEL=BINARY[,LABEL=BINARY...]: e.g. another berth build to A/B a change")
		berthBin  = flag.String("berth", "", "the berth binary to measure (default: REPO/bin/berth, built with make build)")
		berthEnv  = flag.String("berth-env", "", "environment for berth only, K=V[,K=V...] (e.g. GOGC=off,GOMAXPROCS=1)")
		scale     = flag.Float64("scale", 1, "multiply the numbers of pairs by this")
		only      = flag.String("scenarios", "", "run only these scenarios: run,cycle,delforce,state,bind,tput,rss,list,image, containerd (= ctrrun,pod,exec) (default: all)")
		ctrdBin   = flag.String("containerd", "/usr/bin", "directory of the containerd, ctr and containerd-shim-runc-v2 of the containerd scenarios")
		shimBin   = flag.String("shim", "", "berth's containerd shim to measure (default: containerd-shim-berth-v2 beside the berth binary)")
		profile   = flag.String("ctrd-profile", "", "profile the containerd scenarios into this directory (perf record and perf stat per scenario and stack) instead of measuring pairs")
		profileN  = flag.Int("ctrd-profile-n", 40, "operations per scenario and stack with -ctrd-profile")
	)
	flag.Parse()
	repoAbs, err := filepath.Abs(*repo)
	if err != nil {
		fatal(err)
	}
	if *report != "" {
		raw, err := loadRaw(*report)
		if err != nil {
			fatal(err)
		}
		dir := *out
		if dir == "" {
			dir = filepath.Dir(*report)
		}
		if err := writeReport(raw, repoAbs, dir, strings.TrimSuffix(filepath.Base(*report), ".json"), false); err != nil {
			fatal(err)
		}
		return
	}
	outDir := *out
	if outDir == "" {
		if *quick {
			outDir = filepath.Join(os.TempDir(), "berth-bench-quick")
		} else {
			outDir = filepath.Join(repoAbs, "bench", "results")
		}
	}
	o := options{quick: *quick, repo: repoAbs, cache: *cache, work: *work, state: *stateDir, out: outDir, noSetup: *noSetup,
		anchors: splitList(*anchors), extra: splitList(*extra), berthBin: *berthBin, berthEnv: splitList(*berthEnv), scenarios: splitList(*only), scale: *scale, setupOnly: *setupOnly,
		ctrdBin: *ctrdBin, shimBin: *shimBin, profile: *profile, profileN: *profileN}
	if o.profile != "" {
		if o.profile, err = filepath.Abs(o.profile); err != nil {
			fatal(err)
		}
	}
	if err := outer(o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type options struct {
	quick     bool
	repo      string
	cache     string
	work      string
	state     string
	out       string
	noSetup   bool
	anchors   []string
	extra     []string
	berthBin  string
	berthEnv  []string
	scenarios []string
	scale     float64
	setupOnly bool
	ctrdBin   string
	shimBin   string
	profile   string
	profileN  int
}

// ctrdOnly reports whether the scenarios are containerd ones only: such a
// run writes its own results files and section, leaving the others'.
func ctrdOnly(scenarios []string) bool {
	if len(scenarios) == 0 {
		return false
	}
	for _, s := range scenarios {
		switch s {
		case "containerd", "ctrrun", "pod", "exec":
		default:
			return false
		}
	}
	return true
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// outer prepares everything on the host, runs the measurements in a private
// mount namespace, cleans up after them and writes the report.
func outer(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root (containers, cgroups, mounts)")
	}
	began := time.Now()
	sweep() // leftovers of an earlier, killed run
	rts, err := setup(o)
	if err != nil {
		return err
	}
	// The bundle is what `runc spec` of the distribution writes (Debian runc;
	// crun 1.8 refuses the ociVersion 1.3.0 of runc 1.5.2's spec).
	bundles, err := makeBundles(o.work, debianRunc)
	if err != nil {
		return err
	}
	if o.setupOnly {
		for _, rt := range rts {
			logf("%-12s %s (%s)", rt.Label, rt.Bin, rt.Version)
		}
		logf("bundles: %s/bundle-{0,20,100}", o.work)
		return nil
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(o.state, 0o700); err != nil {
		return err
	}
	defer os.Remove(o.state) // an empty mount point; its tmpfs lived in the namespace

	cfg := config{
		Quick:      o.quick,
		Runtimes:   rts,
		Bundles:    bundles,
		StateRoot:  o.state,
		TmpDir:     tmp,
		RawOut:     filepath.Join(tmp, "raw.json"),
		Iterations: fullIterations(),
		Scenarios:  o.scenarios,
		ImageRunc:  imagePipelineRunc(o.cache),
		Ctrd:       ctrdConfigFor(o, rts),
	}
	if o.profile != "" {
		if !ctrdOnly(o.scenarios) {
			return fmt.Errorf("-ctrd-profile: add -scenarios containerd (or ctrrun, pod, exec)")
		}
		cfg.CtrdProfile, cfg.CtrdProfileN = o.profile, o.profileN
	}
	if o.quick {
		cfg.Iterations = quickIterations()
	}
	cfg.Iterations.scale(o.scale)
	cfgPath := filepath.Join(tmp, "config.json")
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return err
	}

	// The inner process gets its own mount namespace; Go makes every mount
	// in it private (MS_REC|MS_PRIVATE on /) before exec, so nothing it
	// mounts propagates back to the host.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), innerEnv+"="+cfgPath)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the measuring process: %w", err)
	}
	var interrupted atomic.Bool
	go func() {
		for sig := range sigs {
			interrupted.Store(true)
			fmt.Fprintf(os.Stderr, "bench: %v: stopping and cleaning up\n", sig)
			_ = cmd.Process.Signal(sig)
		}
	}()
	runErr := cmd.Wait()
	sweep() // whatever the inner process could not remove
	if runErr != nil {
		return fmt.Errorf("measurements: %w", runErr)
	}
	if interrupted.Load() {
		return fmt.Errorf("interrupted")
	}
	raw, err := loadRaw(cfg.RawOut)
	if err != nil {
		return err
	}
	raw.DurationS = time.Since(began).Seconds()
	if o.profile != "" {
		if len(raw.Errors) > 0 {
			return fmt.Errorf("profiling: %s", strings.Join(raw.Errors, "; "))
		}
		logf("profiles and %s written; no report", filepath.Join(o.profile, "summary.txt"))
		return nil
	}
	base := "results"
	if ctrdOnly(o.scenarios) {
		base = "containerd"
	}
	if err := writeReport(raw, o.repo, o.out, base, o.quick); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: done in %s\n", time.Since(began).Round(time.Second))
	if len(raw.Errors) > 0 {
		return fmt.Errorf("%d measurement errors (see the report)", len(raw.Errors))
	}
	return nil
}
