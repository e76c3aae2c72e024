package robustness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/tests/internal/cgclean"
)

const (
	// opTimeout bounds every berth invocation: no test may hang on one.
	opTimeout = 20 * time.Second
	// leakGrace is how long a leak check waits for the kernel to finish
	// reaping and tearing down before it calls something a leak.
	leakGrace = 3 * time.Second
)

// world is one test's private space: a temporary directory holding its
// --root, bundles and helper files, and the container ids it used. When the
// test ends, every id is force-deleted, and anything of it still on the host
// (state entry, lock, cgroup, mount, process) fails the test and is removed.
type world struct {
	t    *testing.T
	dir  string
	root string
	tag  string

	mu    sync.Mutex
	ids   []string
	pids  []int   // host processes the test made that must not outlive it
	calls []*call // berth invocations, killed at the end if still running
}

var idSeq atomic.Int64

// newWorld checks the suite's preconditions, runs the test in parallel with
// the others, and makes its directory.
func newWorld(t *testing.T) *world {
	t.Helper()
	if skipAll != "" {
		t.Skip(skipAll)
	}
	if setupFailed != "" {
		t.Fatal(setupFailed)
	}
	t.Parallel()
	w := &world{t: t, dir: t.TempDir()}
	w.root = filepath.Join(w.dir, "root")
	// An existing root, as after a first container: like runc, berth
	// refuses to list a --root that does not exist.
	if err := os.Mkdir(w.root, 0o700); err != nil {
		t.Fatal(err)
	}
	w.tag = strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(strings.TrimPrefix(t.Name(), "Test"), ""))
	if len(w.tag) > 10 {
		w.tag = w.tag[:10]
	}
	t.Cleanup(w.finish)
	return w
}

// newID returns a container id unique on this host (pid and sequence
// number) and registers it for the final leak check.
func (w *world) newID() string {
	id := fmt.Sprintf("rb%d-%s-%04d", os.Getpid(), w.tag, idSeq.Add(1))
	w.mu.Lock()
	w.ids = append(w.ids, id)
	w.mu.Unlock()
	return id
}

// trackPid registers a host process that must be gone when the test ends.
func (w *world) trackPid(pid int) {
	w.mu.Lock()
	w.pids = append(w.pids, pid)
	w.mu.Unlock()
}

// ---------------------------------------------------------------------------
// Bundles

type bundle struct {
	w    *world
	dir  string
	spec specs.Spec
}

// newBundle copies the base busybox bundle, with a writable rootfs, no
// terminal and, when given, args as the process.
func (w *world) newBundle(args ...string) *bundle {
	w.t.Helper()
	dir, err := os.MkdirTemp(w.dir, "bundle")
	if err != nil {
		w.t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(baseBundle, "rootfs"), filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		w.t.Fatalf("copy base rootfs: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(baseBundle, "config.json"))
	if err != nil {
		w.t.Fatal(err)
	}
	b := &bundle{w: w, dir: dir}
	if err := json.Unmarshal(data, &b.spec); err != nil {
		w.t.Fatalf("base config.json: %v", err)
	}
	b.spec.Root.Readonly = false
	b.spec.Process.Terminal = false
	if len(args) > 0 {
		b.spec.Process.Args = args
	}
	b.write()
	return b
}

// edit changes the spec and rewrites config.json.
func (b *bundle) edit(f func(*specs.Spec)) {
	b.w.t.Helper()
	f(&b.spec)
	b.write()
}

func (b *bundle) write() {
	b.w.t.Helper()
	data, err := json.MarshalIndent(&b.spec, "", "  ")
	if err != nil {
		b.w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		b.w.t.Fatal(err)
	}
}

// rootfs is the host path of p inside the bundle's root filesystem.
func (b *bundle) rootfs(p string) string { return filepath.Join(b.dir, "rootfs", p) }

// addCaps gives the process these capabilities in every set.
func addCaps(s *specs.Spec, caps ...string) {
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, caps...)
	c.Effective = append(c.Effective, caps...)
	c.Permitted = append(c.Permitted, caps...)
}

// ---------------------------------------------------------------------------
// Running berth

type result struct {
	args     []string
	stdout   string
	stderr   string
	code     int // exit code; -1 when killed by a signal
	timedOut bool
	err      error // could not start, or wait failed
	dur      time.Duration
}

func (r result) ok() bool { return r.code == 0 && r.err == nil && !r.timedOut }

func (r result) String() string {
	s := fmt.Sprintf("`%s` exited %d after %v", strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond))
	if r.timedOut {
		s += " (killed: timed out)"
	}
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	return s + fmt.Sprintf("\n--- stdout:\n%s\n--- stderr:\n%s", clip(r.stdout), clip(r.stderr))
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "...[clipped]"
	}
	return s
}

// panicked reports whether the output holds a Go panic or runtime trace.
func (r result) panicked() bool {
	out := r.stdout + r.stderr
	return strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") || strings.Contains(out, "SIGSEGV")
}

type opts struct {
	timeout time.Duration // 0: opTimeout
	stdin   io.Reader
	extra   []*os.File // fds 3...
	noRoot  bool       // args carry their own --root
	wrap    []string   // run berth through this command (setpriv ...)
	env     []string   // nil: inherit
	dir     string
	bin     string // "": berthBin
}

// call is a running berth whose stdout and stderr go to files, so that a
// container inheriting them never holds up Wait.
type call struct {
	cmd      *exec.Cmd
	started  time.Time
	done     chan struct{}
	timedOut atomic.Bool
	res      result
	outPath  string
}

// stdoutSoFar is what the call has written to stdout until now.
func (c *call) stdoutSoFar() string {
	if c.exited() {
		return c.res.stdout
	}
	data, _ := os.ReadFile(c.outPath)
	return string(data)
}

// start runs berth (with --root of the world unless o.noRoot) without
// waiting for it.
func (w *world) start(o opts, args ...string) *call {
	w.t.Helper()
	full := args
	if !o.noRoot {
		full = append([]string{"--root", w.root}, args...)
	}
	bin := berthBin
	if o.bin != "" {
		bin = o.bin
	}
	name, cargs := bin, full
	if len(o.wrap) > 0 {
		name, cargs = o.wrap[0], append(append(append([]string{}, o.wrap[1:]...), bin), full...)
	}
	cmd := exec.Command(name, cargs...)
	cmd.Dir = o.dir
	cmd.Stdin = o.stdin
	cmd.ExtraFiles = o.extra
	cmd.Env = o.env
	outF, err1 := os.CreateTemp(w.dir, ".stdout")
	errF, err2 := os.CreateTemp(w.dir, ".stderr")
	if err := errors.Join(err1, err2); err != nil {
		w.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	c := &call{cmd: cmd, done: make(chan struct{}), outPath: outF.Name()}
	c.res.args = append([]string{filepath.Base(name)}, cargs...)
	timeout := o.timeout
	if timeout == 0 {
		timeout = opTimeout
	}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		c.res.err, c.res.code = err, -1
		collect(&c.res, outF, errF)
		close(c.done)
		return c
	}
	w.mu.Lock()
	w.calls = append(w.calls, c)
	w.mu.Unlock()
	timer := time.AfterFunc(timeout, func() {
		c.timedOut.Store(true)
		_ = cmd.Process.Kill()
	})
	go func() {
		err := cmd.Wait()
		timer.Stop()
		c.res.dur = time.Since(c.started)
		c.res.code = cmd.ProcessState.ExitCode()
		c.res.timedOut = c.timedOut.Load()
		if err != nil && !errors.As(err, new(*exec.ExitError)) {
			c.res.err = err
		}
		collect(&c.res, outF, errF)
		close(c.done)
	}()
	return c
}

func collect(r *result, outF, errF *os.File) {
	out, _ := os.ReadFile(outF.Name())
	errOut, _ := os.ReadFile(errF.Name())
	r.stdout, r.stderr = string(out), string(errOut)
	for _, f := range []*os.File{outF, errF} {
		f.Close()
		os.Remove(f.Name())
	}
}

func (c *call) wait() result {
	<-c.done
	return c.res
}

// waitFor waits at most d for the call to end.
func (c *call) waitFor(d time.Duration) (result, bool) {
	select {
	case <-c.done:
		return c.res, true
	case <-time.After(d):
		return result{}, false
	}
}

func (c *call) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to berth (not to what it started) and waits for it.
func (c *call) kill() result {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	}
	return c.wait()
}

// berth runs berth to completion.
func (w *world) berth(args ...string) result {
	w.t.Helper()
	return w.start(opts{}, args...).wait()
}

// must runs berth and fails the test unless it succeeds.
func (w *world) must(args ...string) result {
	w.t.Helper()
	r := w.berth(args...)
	if !r.ok() {
		w.t.Fatalf("berth failed: %s", r)
	}
	return r
}

type ociState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

// state runs `state id`; st is nil when state failed. Output that is not
// a state object, a panic or a hang fails the test.
func (w *world) state(id string) (*ociState, result) {
	w.t.Helper()
	r := w.start(opts{timeout: 10 * time.Second}, "state", id).wait()
	if r.timedOut || r.panicked() {
		w.t.Errorf("state %s hung or panicked: %s", id, r)
		return nil, r
	}
	if !r.ok() {
		return nil, r
	}
	var st ociState
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		w.t.Errorf("state %s printed something that is not a JSON state: %v: %s", id, err, r)
		return nil, r
	}
	return &st, r
}

// waitStatus polls state until the container has status want.
func (w *world) waitStatus(id, want string, d time.Duration) *ociState {
	w.t.Helper()
	var last *ociState
	var lastR result
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		last, lastR = w.state(id)
		if last != nil && last.Status == want {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.t.Fatalf("container %s not %q within %v; last: %+v %s", id, want, d, last, lastR)
	return nil
}

// ---------------------------------------------------------------------------
// Leaks

// leaksOf lists what of the containers ids is still on the host: entries of
// the root named after them (state dirs, lock files), cgroup directories
// named after them, mounts below the world's directory, and live processes
// in their cgroups, started from the world's directory or tracked.
func (w *world) leaksOf(ids []string) []string {
	var out []string
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	if ents, err := os.ReadDir(w.root); err == nil {
		for _, e := range ents {
			for _, id := range ids {
				if e.Name() == id || strings.HasPrefix(e.Name(), id+"~") || strings.HasPrefix(e.Name(), id+".") {
					out = append(out, "state entry "+filepath.Join(w.root, e.Name()))
				}
			}
		}
	}
	for _, cg := range cgroupDirs(set) {
		out = append(out, "cgroup "+cg)
	}
	for _, m := range mountsUnder(w.dir) {
		out = append(out, "mount "+m)
	}
	w.mu.Lock()
	tracked := append([]int(nil), w.pids...)
	w.mu.Unlock()
	for _, p := range processesOf(set, w.dir, tracked) {
		out = append(out, "process "+p.desc)
	}
	return out
}

// checkClean fails the test, naming what, if anything of ids is still on
// the host after leakGrace, and removes it.
func (w *world) checkClean(what string, ids ...string) bool {
	w.t.Helper()
	var l []string
	deadline := time.Now().Add(leakGrace)
	for {
		l = w.leaksOf(ids)
		if len(l) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Errorf("%s: left on the host:\n  %s", what, strings.Join(l, "\n  "))
	w.scrub(ids)
	return false
}

// finish force-deletes every container of the test, stops berth calls still
// running, and checks that nothing is left.
func (w *world) finish() {
	w.mu.Lock()
	ids := append([]string(nil), w.ids...)
	w.mu.Unlock()
	for _, id := range ids {
		if r := w.start(opts{timeout: 30 * time.Second}, "delete", "--force", id).wait(); !r.ok() {
			w.t.Logf("final delete --force %s: %s", id, r)
		}
	}
	w.mu.Lock()
	calls := append([]*call(nil), w.calls...)
	w.mu.Unlock()
	for _, c := range calls {
		if _, ok := c.waitFor(2 * time.Second); !ok {
			c.kill()
		}
	}
	w.checkClean("after the test's final `delete --force` of every container", ids...)
	w.mu.Lock()
	pids := append([]int(nil), w.pids...)
	w.mu.Unlock()
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// scrub removes whatever of ids is still on the host.
func (w *world) scrub(ids []string) {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	w.mu.Lock()
	tracked := append([]int(nil), w.pids...)
	w.mu.Unlock()
	cgs := cgroupDirs(set)
	// Thaw first: a frozen task does not die of SIGKILL.
	cgclean.Thaw(cgs)
	for _, p := range processesOf(set, w.dir, tracked) {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	mounts := mountsUnder(w.dir)
	for i := len(mounts) - 1; i >= 0; i-- {
		if f := strings.Fields(mounts[i]); len(f) > 4 {
			_ = unix.Unmount(unescapeMount(f[4]), unix.MNT_DETACH)
		}
	}
	for _, err := range cgclean.Remove(cgs, 3*time.Second) {
		w.t.Logf("scrub: %v", err)
	}
	if ents, err := os.ReadDir(w.root); err == nil {
		for _, e := range ents {
			for _, id := range ids {
				if e.Name() == id || strings.HasPrefix(e.Name(), id+"~") || strings.HasPrefix(e.Name(), id+".") {
					_ = os.RemoveAll(filepath.Join(w.root, e.Name()))
				}
			}
		}
	}
}

// cgroupDirs finds directories named after one of ids in every cgroup
// hierarchy under /sys/fs/cgroup (v1 and v2), to depth 6.
func cgroupDirs(ids map[string]bool) []string {
	var found []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if ids[e.Name()] {
				found = append(found, p)
				continue
			}
			if depth < 6 {
				walk(p, depth+1)
			}
		}
	}
	if fi, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil && !fi.IsDir() {
		walk("/sys/fs/cgroup", 1) // unified
		return found
	}
	hier, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hier {
		if h.IsDir() { // cpu,cpuacct style names are symlinks
			walk(filepath.Join("/sys/fs/cgroup", h.Name()), 1)
		}
	}
	return found
}

// mountsUnder lists the mountinfo lines of this mount namespace that
// mention dir.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, dir+"/") || strings.Contains(l, " "+dir+" ") {
			out = append(out, l)
		}
	}
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

type hostProc struct {
	pid  int
	desc string
}

// processesOf lists live (non-zombie) processes in a cgroup named after one
// of ids, whose command line mentions dir, or among tracked.
func processesOf(ids map[string]bool, dir string, tracked []int) []hostProc {
	var out []hostProc
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !alive(pid) {
			continue
		}
		why := ""
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cl := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		if strings.Contains(cl, dir+"/") {
			why = "command line mentions the test directory"
		}
		for _, t := range tracked {
			if t == pid {
				why = "started by the test"
			}
		}
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		for _, line := range strings.Split(string(cg), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
				for _, c := range strings.Split(parts[2], "/") {
					if ids[c] {
						why = "in cgroup " + line
					}
				}
			}
		}
		if why != "" {
			out = append(out, hostProc{pid: pid, desc: fmt.Sprintf("pid %d %q (%s)", pid, cl, why)})
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	return data[i+2] != 'Z' && data[i+2] != 'X'
}

// waitUntil polls cond every 20 ms for at most d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupFile reads file of container id's cgroup: in controller's
// hierarchy on cgroup v1, in its unified cgroup on v2.
func cgroupFile(id, controller, file string) (string, error) {
	unified := fileExists("/sys/fs/cgroup/cgroup.controllers")
	for _, d := range cgroupDirs(map[string]bool{id: true}) {
		if !unified && !strings.HasPrefix(d, "/sys/fs/cgroup/"+controller+"/") {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(d, file)); err == nil {
			return strings.TrimSpace(string(data)), nil
		}
	}
	return "", fmt.Errorf("container %s: no %s cgroup holding %s", id, controller, file)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
