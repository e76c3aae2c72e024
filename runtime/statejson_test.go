package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestLightStateMatchesLoad runs real containers with the berth binary
// (private --root) and compares, for each status a container can have, the
// light read (lightState) with libcontainer.Load followed by describe
// (loadState): the same JSON, and the status and fields expected. It also
// checks that the light read answered itself rather than falling back, and
// that `berth state` and `berth list --format json` print what the Load
// path gives.
//
// It needs root and a berth binary: $BERTH_BINARY, or bin/berth from
// `make build`.
func TestLightStateMatchesLoad(t *testing.T) {
	e := newLightEnv(t)

	// One container per case, all created first: each starts "created".
	names := []string{"created", "running", "paused", "exited", "killed", "released"}
	ctrs := make(map[string]*lightCtr, len(names))
	for _, name := range names {
		args := []string{"sleep", "1000"}
		if name == "exited" {
			args = []string{"true"}
		}
		ctrs[name] = e.create(name, args...)
	}
	for _, name := range names {
		e.check(ctrs[name], "created")
	}

	e.berth("start", ctrs["running"].id)
	e.berth("start", ctrs["paused"].id)
	e.berth("pause", ctrs["paused"].id)
	e.berth("start", ctrs["exited"].id)
	if err := unix.Kill(ctrs["killed"].pid, unix.SIGKILL); err != nil {
		t.Fatalf("kill the init of %s: %v", ctrs["killed"].id, err)
	}
	// A start killed after the init read exec.fifo, before it removed
	// the fifo: libcontainer says created, berth says running.
	e.releaseInit(ctrs["released"])

	waitUntil(t, 10*time.Second, "the init of the exited container to exit", func() bool { return procGone(ctrs["exited"].pid) })
	waitUntil(t, 10*time.Second, "the killed init to be gone", func() bool { return procGone(ctrs["killed"].pid) })
	for _, name := range []string{"running", "released"} {
		pid := ctrs[name].pid
		waitUntil(t, 10*time.Second, "the init of "+name+" to execute sleep", func() bool { return !initWaiting(pid) })
	}

	c, err := e.rt.load(ref{id: ctrs["released"].id})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status(); err != nil || st != libcontainer.Created {
		t.Errorf("released init: libcontainer's own status is %v (%v), want created: the case does not test berth's rule", st, err)
	}

	want := map[string]string{
		"created": "created", "running": "running", "paused": "paused",
		"exited": "stopped", "killed": "stopped", "released": "running",
	}
	for _, name := range names {
		e.check(ctrs[name], want[name])
	}
	e.checkList(len(names))

	e.berth("resume", ctrs["paused"].id)
	e.check(ctrs["paused"], "running")
}

// TestLightStateSynthetic compares the light read with the Load path on
// state.json files written by hand, for the process rules that do not need
// a container: the test process itself stands in for a live init. Runs
// without root.
func TestLightStateSynthetic(t *testing.T) {
	r, err := New(Options{Root: t.TempDir(), Rootless: "true"})
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	selfStart := procStart(t, self)
	// Paths that do not exist: no freezer, as for a container without one.
	paths := map[string]string{"freezer": filepath.Join(t.TempDir(), "nofreezer")}
	if cgroups.IsCgroup2UnifiedMode() {
		paths = map[string]string{"": filepath.Join(t.TempDir(), "nocgroup")}
	}
	for _, c := range []struct {
		name  string
		pid   int
		start uint64
		fifo  bool
		want  string
		pid0  bool
	}{
		{"alive", self, selfStart, false, "running", false},
		// exec.fifo, but the "init" is not nsexec's waiting init: released.
		{"aliveFifo", self, selfStart, true, "running", false},
		{"reusedPid", self, selfStart + 1, false, "stopped", true},
		{"deadPid", 1 << 22, 1, true, "stopped", true}, // above pid_max's limit
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "syn-" + c.name
			writeState(t, r, id, map[string]any{
				"id": id, "init_process_pid": c.pid, "init_process_start": c.start,
				"created": "2026-01-02T03:04:05.678Z", "cgroup_paths": paths,
				"config": map[string]any{
					"rootfs": "/b/rootfs", "version": "1.3.0",
					"labels":  []string{"bundle=/b", "org.example.a=1", "noequals"},
					"cgroups": map[string]any{"name": id},
				},
			})
			if c.fifo {
				if err := os.WriteFile(filepath.Join(r.root.ContainerDir(id), "exec.fifo"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			light, err := r.lightState(id)
			if err != nil {
				t.Fatalf("light read: %v", err)
			}
			full, err := r.loadState(id)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if a, b := mustJSON(t, light), mustJSON(t, full); a != b {
				t.Errorf("light read differs from Load:\nlight %s\nload  %s", a, b)
			}
			wantPid := c.pid
			if c.pid0 {
				wantPid = 0
			}
			if light.Status != c.want || light.Pid != wantPid || light.ID != id || light.Bundle != "/b" ||
				light.Rootfs != "/b/rootfs" || light.OCIVersion != "1.3.0" || light.Annotations["org.example.a"] != "1" ||
				!light.Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)) {
				t.Errorf("got %+v, want status %s, pid %d and the fields written", *light, c.want, wantPid)
			}
		})
	}
}

// TestLightStateFallsBack: state the light read must leave to
// libcontainer.Load, and what State then reports.
func TestLightStateFallsBack(t *testing.T) {
	r, err := New(Options{Root: t.TempDir(), Rootless: "true"})
	if err != nil {
		t.Fatal(err)
	}
	good := func() map[string]any {
		return map[string]any{
			"init_process_pid": 1 << 22, "init_process_start": 1, "created": "2026-01-02T03:04:05Z",
			"cgroup_paths": map[string]string{}, "config": map[string]any{"cgroups": map[string]any{}},
		}
	}
	for _, c := range []struct {
		name string
		mess func(m map[string]any)
	}{
		{"noPid", func(m map[string]any) { delete(m, "init_process_pid") }},
		{"noStart", func(m map[string]any) { delete(m, "init_process_start") }},
		{"noCreated", func(m map[string]any) { delete(m, "created") }},
		{"pid0", func(m map[string]any) { m["init_process_pid"] = 0 }},
		{"noConfig", func(m map[string]any) { delete(m, "config") }},
		{"noCgroups", func(m map[string]any) { m["config"] = map[string]any{"rootfs": "/"} }},
		{"noCgroupPaths", func(m map[string]any) { delete(m, "cgroup_paths") }},
		{"wrongType", func(m map[string]any) { m["config"] = map[string]any{"labels": "x", "cgroups": map[string]any{}} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := good()
			c.mess(m)
			id := "fb-" + c.name
			writeState(t, r, id, m)
			if s, err := r.lightState(id); err == nil {
				t.Errorf("light read answered %+v; want it to leave this state to Load", *s)
			}
		})
	}

	t.Run("symlink", func(t *testing.T) {
		writeState(t, r, "fb-target", good())
		dir := r.root.ContainerDir("fb-link")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../fb-target/state.json", filepath.Join(dir, "state.json")); err != nil {
			t.Fatal(err)
		}
		if s, err := r.lightState("fb-link"); err == nil {
			t.Errorf("light read followed a symlinked state.json: %+v", *s)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		dir := r.root.ContainerDir("fb-garbage")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{\"config\": "), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := r.lightState("fb-garbage"); err == nil {
			t.Error("light read answered for a truncated state.json")
		}
		_, err := r.State(context.Background(), "fb-garbage")
		if err == nil || !strings.Contains(err.Error(), "delete --force fb-garbage") {
			t.Errorf("State of a truncated state.json: want Load's error naming delete --force, got %v", err)
		}
	})

	t.Run("noStateJSON", func(t *testing.T) {
		// A create killed before libcontainer wrote state.json.
		if err := os.Mkdir(r.root.ContainerDir("fb-half"), 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := r.State(context.Background(), "fb-half")
		if err != nil || s.Status != string(specs.StateStopped) || s.Pid != 0 {
			t.Errorf("State of a half-created container: got %+v, %v; want stopped", s, err)
		}
	})

	t.Run("badID", func(t *testing.T) {
		if _, err := r.State(context.Background(), "../x"); err == nil {
			t.Error("State accepted the id ../x")
		}
	})
}

func TestParseProcStat(t *testing.T) {
	tail := " 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10 18446744073709551615"
	for _, c := range []struct {
		data string
		want procStat
		ok   bool
	}{
		{"42 (sleep) S" + tail, procStat{"sleep", 'S', 123456}, true},
		{"42 (runc:[2:INIT]) S" + tail + "\n", procStat{"runc:[2:INIT]", 'S', 123456}, true},
		{"42 (a) b) (c) Z" + tail + "\n", procStat{"a) b) (c", 'Z', 123456}, true},
		{"42 (x y) R" + tail + " 0 0 0\n", procStat{"x y", 'R', 123456}, true},
		{"42 () R" + tail, procStat{"", 'R', 123456}, true},
		{"42 (sleep) S 1 2 3", procStat{}, false},
		{"42 sleep S" + tail, procStat{}, false},
		{"42 )sleep( S" + tail, procStat{}, false},
		{"42 (sleep) S" + strings.Replace(tail, "123456", "x", 1), procStat{}, false},
		{"42 (sleep) SS" + tail, procStat{}, false},
	} {
		got, err := parseProcStat([]byte(c.data))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseProcStat(%q) = %+v, %v; want %+v, ok %v", c.data, got, err, c.want, c.ok)
		}
	}
}

// ---------------------------------------------------------------------------
// The real-container harness.

type lightEnv struct {
	t      *testing.T
	bin    string // the berth binary
	dir    string // everything of the test lives below
	root   string // the private --root
	bundle string
	rt     *Runtime
	ctrs   []*lightCtr
	spec   specs.Spec
}

type lightCtr struct {
	id      string
	pid     int
	start   uint64
	cgroups []string
	before  time.Time // create was called
	after   time.Time // create returned
}

func newLightEnv(t *testing.T) *lightEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("runs real containers: needs root")
	}
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		bin = filepath.Join("..", "bin", "berth")
		if _, err := os.Stat(bin); err != nil {
			t.Skip("no berth binary: run `make build` first (or set BERTH_BINARY)")
		}
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("BERTH_BINARY: %v", err)
	}
	e := &lightEnv{t: t, bin: bin, dir: t.TempDir()}
	e.root = filepath.Join(e.dir, "root")
	e.bundle = filepath.Join(e.dir, "bundle")
	// Registered after TempDir, so it runs first: the containers go
	// before their files do.
	t.Cleanup(e.cleanup)
	e.rt, err = New(Options{Root: e.root})
	if err != nil {
		t.Fatal(err)
	}
	e.makeBundle()
	return e
}

// makeBundle makes a busybox bundle with `berth spec`'s config, a
// read-only root shared by every container, and an annotation.
func (e *lightEnv) makeBundle() {
	t := e.t
	rootfs := filepath.Join(e.bundle, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("needs a static busybox (busybox-static): %v", err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), busybox, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "sleep", "true"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(e.bin, "spec")
	cmd.Dir = e.bundle
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("berth spec: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(e.bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &e.spec); err != nil {
		t.Fatal(err)
	}
	e.spec.Process.Terminal = false
	e.spec.Annotations = map[string]string{"org.berth.test": "light state"}
}

// create creates a container running args, its id unique to this run.
func (e *lightEnv) create(name string, args ...string) *lightCtr {
	t := e.t
	t.Helper()
	c := &lightCtr{id: fmt.Sprintf("light-%d-%d-%s", os.Getpid(), time.Now().UnixNano()%1e9, name)}
	e.ctrs = append(e.ctrs, c) // before create: cleanup deletes what a failed create left
	e.spec.Process.Args = args
	data, err := json.Marshal(e.spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.bundle, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(e.dir, c.id+".pid")
	c.before = time.Now()
	e.berth("create", "--bundle", e.bundle, "--pid-file", pidFile, c.id)
	c.after = time.Now()
	pidData, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.pid, err = strconv.Atoi(strings.TrimSpace(string(pidData))); err != nil {
		t.Fatalf("pid file: %v", err)
	}
	var st struct {
		Start uint64            `json:"init_process_start"`
		Paths map[string]string `json:"cgroup_paths"`
	}
	data, err = os.ReadFile(filepath.Join(e.root, c.id, "state.json"))
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		t.Fatalf("state.json of %s: %v", c.id, err)
	}
	c.start = st.Start
	for _, p := range st.Paths {
		c.cgroups = append(c.cgroups, p)
	}
	return c
}

// check compares the light read of c with the Load path and with what it
// should be, and `berth state` with the Load path's answer.
func (e *lightEnv) check(c *lightCtr, status string) {
	t := e.t
	t.Helper()
	light, err := e.rt.lightState(c.id)
	if err != nil {
		t.Fatalf("%s (%s): the light read fell back: %v", c.id, status, err)
	}
	full, err := e.rt.loadState(c.id)
	if err != nil {
		t.Fatalf("%s (%s): load: %v", c.id, status, err)
	}
	if a, b := mustJSON(t, light), mustJSON(t, full); a != b {
		t.Errorf("%s (%s): light read differs from Load:\nlight %s\nload  %s", c.id, status, a, b)
	}
	pid := c.pid
	if status == "stopped" {
		pid = 0
	}
	if light.Status != status || light.Pid != pid {
		t.Errorf("%s: got status %s, pid %d; want %s, %d", c.id, light.Status, light.Pid, status, pid)
	}
	if light.ID != c.id || light.OCIVersion != e.spec.Version || light.Bundle != e.bundle ||
		light.Rootfs != filepath.Join(e.bundle, "rootfs") || light.Annotations["org.berth.test"] != "light state" ||
		len(light.Annotations) != 1 || light.Created.Before(c.before) || light.Created.After(c.after) {
		t.Errorf("%s: fields %+v; want id, ociVersion %s, bundle %s, its rootfs, the annotation and a creation time within create",
			c.id, *light, e.spec.Version, e.bundle)
	}
	if out := e.berth("state", c.id); out != printed(t, full, false) {
		t.Errorf("`berth state %s` printed\n%s\nthe Load path gives\n%s", c.id, out, printed(t, full, false))
	}
}

// checkList compares List and `berth list --format json` with the Load
// path's answer for each container.
func (e *lightEnv) checkList(n int) {
	t := e.t
	t.Helper()
	ids, err := e.rt.root.IDs()
	if err != nil {
		t.Fatal(err)
	}
	var want []ContainerState
	for _, id := range ids {
		s, err := e.rt.loadState(id)
		if err != nil {
			t.Fatal(err)
		}
		s.Owner = e.rt.owner(id)
		want = append(want, *s)
	}
	if len(want) != n {
		t.Fatalf("%d containers under the root, want %d", len(want), n)
	}
	got, unreadable, err := e.rt.List(context.Background())
	if err != nil || len(unreadable) > 0 {
		t.Fatal(err, unreadable)
	}
	if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
		t.Errorf("List differs from Load:\nlist %s\nload %s", a, b)
	}
	if out := e.berth("list", "--format", "json"); out != printed(t, want, true) {
		t.Errorf("`berth list --format json` printed\n%s\nthe Load path gives\n%s", out, printed(t, want, true))
	}
}

// releaseInit does what start does up to the removal of exec.fifo: it
// reads the fifo, which lets the init execute the user process.
func (e *lightEnv) releaseInit(c *lightCtr) {
	t := e.t
	t.Helper()
	fd, err := unix.Open(filepath.Join(e.root, c.id, "exec.fifo"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 1)
	waitUntil(t, 10*time.Second, "the init to write to exec.fifo", func() bool {
		n, _ := unix.Read(fd, buf) // nothing yet: 0 or EAGAIN
		return n == 1
	})
}

// berth runs the binary with the private root; stdout and stderr go to
// files, so that a container inheriting them does not hold up the wait.
func (e *lightEnv) berth(args ...string) string {
	t := e.t
	t.Helper()
	out, err := e.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *lightEnv) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var files [2]*os.File
	for i := range files {
		f, err := os.CreateTemp(e.dir, "out")
		if err != nil {
			return "", err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	runErr := cmd.Run()
	stdout, err := os.ReadFile(files[0].Name())
	if err != nil {
		return "", err
	}
	if runErr != nil {
		stderr, _ := os.ReadFile(files[1].Name())
		return string(stdout), fmt.Errorf("berth %s: %w\n%s", strings.Join(args, " "), runErr, stderr)
	}
	return string(stdout), nil
}

// cleanup deletes every container with delete --force and fails the test
// when a state directory, process, cgroup or mount is left; then removes
// what is left, so that a failing test still leaves the machine clean.
func (e *lightEnv) cleanup() {
	t := e.t
	for _, c := range e.ctrs {
		if _, err := e.run("delete", "--force", c.id); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	var leaks []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		leaks = e.leaks()
		if len(leaks) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(leaks) == 0 {
		return
	}
	t.Errorf("left after delete --force:\n%s", strings.Join(leaks, "\n"))
	var cgs []string
	for _, c := range e.ctrs {
		if c.pid > 0 && !procGone(c.pid) && procStartTime(c.pid) == c.start {
			_ = unix.Kill(c.pid, unix.SIGKILL)
		}
		cgs = append(cgs, c.cgroups...)
	}
	for _, err := range removeCgroups(cgs) {
		t.Error(err)
	}
	for _, m := range e.mounts() {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
}

// removeCgroups thaws each cgroup (a frozen task does not die of SIGKILL),
// kills what is in it and removes it. (tests/internal/cgclean does this for
// the suites under tests/, which this package cannot import.)
func removeCgroups(dirs []string) []error {
	var failed []error
	for _, cg := range dirs {
		_ = os.WriteFile(filepath.Join(cg, "freezer.state"), []byte("THAWED"), 0o644)
		_ = os.WriteFile(filepath.Join(cg, "cgroup.freeze"), []byte("0"), 0o644)
		var err error
		for try := 0; try < 100; try++ {
			procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
			for _, f := range strings.Fields(string(procs)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
			if err = unix.Rmdir(cg); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("remove cgroup %s: %w", cg, err))
		}
	}
	return failed
}

func (e *lightEnv) leaks() []string {
	var leaks []string
	for _, c := range e.ctrs {
		if _, err := os.Lstat(filepath.Join(e.root, c.id)); err == nil {
			leaks = append(leaks, "state directory of "+c.id)
		}
		if c.pid > 0 && !procGone(c.pid) && procStartTime(c.pid) == c.start {
			leaks = append(leaks, fmt.Sprintf("init %d of %s", c.pid, c.id))
		}
		for _, cg := range c.cgroups {
			if _, err := os.Stat(cg); err == nil {
				leaks = append(leaks, "cgroup "+cg)
			}
		}
	}
	for _, m := range e.mounts() {
		leaks = append(leaks, "mount "+m)
	}
	return leaks
}

// mounts lists the mount points below the test's directory.
func (e *lightEnv) mounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], e.dir+"/") {
			found = append(found, fields[4])
		}
	}
	return found
}

// ---------------------------------------------------------------------------
// Helpers.

func writeState(t *testing.T, r *Runtime, id string, st map[string]any) {
	t.Helper()
	dir := r.root.ContainerDir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// printed is v as berth's state command prints it (indented), or, with
// oneLine, as its list command does (runc's one line).
func printed(t *testing.T, v any, oneLine bool) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	if !oneLine {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// procGone: no process pid, or only its zombie.
func procGone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] == 'Z' || data[i+2] == 'X'
}

// procStartTime is the start time of pid, 0 when it cannot be read.
func procStartTime(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 20 {
		return 0
	}
	start, _ := strconv.ParseUint(fields[19], 10, 64)
	return start
}

func procStart(t *testing.T, pid int) uint64 {
	t.Helper()
	start := procStartTime(pid)
	if start == 0 {
		t.Fatalf("no start time for pid %d", pid)
	}
	return start
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
