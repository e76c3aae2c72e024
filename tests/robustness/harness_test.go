package robustness

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// setup is what every test shares, fixed in TestMain: the berth binary
// under test, the base bundle every test bundle starts from (a busybox
// rootfs and its config.json, testkit.MakeBaseBundle), the ids (and other
// unique names), and why the tests cannot run, if they cannot (not root,
// no binary, no base bundle).
var setup testkit.Setup

func TestMain(m *testing.M) {
	setup = testkit.NewSetup("the robustness suite runs real containers", "rb")
	os.Exit(setup.Run(m, "robustness"))
}

// opTimeout bounds every berth invocation: no test may hang on one.
const opTimeout = 20 * time.Second

// world is one test's private space: a temporary directory holding its
// --root, bundles and helper files, and the container ids it used. When the
// test ends, every id is force-deleted, and anything of it still on the host
// (state entry, lock, cgroup, mount, process) fails the test and is removed.
type world struct {
	t *testing.T
	*testkit.Space

	mu    sync.Mutex
	pids  []int           // host processes the test made that must not outlive it
	calls []*testkit.Proc // berth invocations, killed at the end if still running
}

// newWorld checks the suite's preconditions, runs the test in parallel with
// the others, and makes its directory.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, Space: setup.NewSpace(t)}
	t.Cleanup(w.finish)
	return w
}

// trackPid registers a host process that must be gone when the test ends.
func (w *world) trackPid(pid int) {
	w.mu.Lock()
	w.pids = append(w.pids, pid)
	w.mu.Unlock()
}

// newBundle copies the base busybox bundle, with a writable rootfs, no
// terminal and, when given, args as the process.
func (w *world) newBundle(args ...string) *testkit.Bundle {
	w.t.Helper()
	dir, err := os.MkdirTemp(w.Dir, "bundle")
	if err != nil {
		w.t.Fatal(err)
	}
	return testkit.CopyBundle(w.t, setup.Base, dir, args...)
}

// ---------------------------------------------------------------------------
// Running berth

type result = testkit.Result

type opts struct {
	timeout time.Duration // 0: opTimeout
	stdin   io.Reader
	extra   []*os.File // fds 3...
	noRoot  bool       // args carry their own --root
	wrap    []string   // run berth through this command (setpriv ...)
	env     []string   // nil: inherit
	dir     string
	bin     string // "": setup.Binary
}

// start runs berth (with --root of the world unless o.noRoot) without
// waiting for it.
func (w *world) start(o opts, args ...string) *testkit.Proc {
	w.t.Helper()
	b := w.Berth(setup.Binary, opTimeout)
	if o.noRoot {
		b.Globals = nil
	}
	if o.bin != "" {
		b.Binary = o.bin
	}
	if o.timeout != 0 {
		b.Timeout = o.timeout
	}
	b.Dir, b.Env = o.dir, o.env
	c := b.Cmd(args...)
	c.Stdin, c.ExtraFiles, c.Wrap = o.stdin, o.extra, o.wrap
	p, err := testkit.Start(c)
	if err == nil {
		w.mu.Lock()
		w.calls = append(w.calls, p)
		w.mu.Unlock()
	}
	return p
}

// must runs berth and fails the test unless it succeeds.
func (w *world) must(args ...string) result {
	w.t.Helper()
	r := w.start(opts{}, args...).Wait()
	if !r.OK() {
		w.t.Fatalf("berth failed: %s", r)
	}
	return r
}

// state runs `state id`; st is nil when state failed. Output that is not
// a state object, a panic or a hang fails the test.
func (w *world) state(id string) (*testkit.State, result) {
	w.t.Helper()
	r := w.start(opts{timeout: 10 * time.Second}, "state", id).Wait()
	if r.TimedOut || r.Panicked() {
		w.t.Errorf("state %s hung or panicked: %s", id, r)
		return nil, r
	}
	if !r.OK() {
		return nil, r
	}
	var st testkit.State
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		w.t.Errorf("state %s printed something that is not a JSON state: %v: %s", id, err, r)
		return nil, r
	}
	return &st, r
}

// waitStatus polls state until the container has status want.
func (w *world) waitStatus(id, want string, d time.Duration) *testkit.State {
	w.t.Helper()
	var last *testkit.State
	var lastR result
	if !waitUntil(d, func() bool {
		last, lastR = w.state(id)
		return last != nil && string(last.Status) == want
	}) {
		w.t.Fatalf("container %s not %q within %v; last: %+v %s", id, want, d, last, lastR)
	}
	return last
}

// execDetached execs args detached into container id and returns the pid
// that exec --pid-file wrote; the leak check then wants it gone.
func (w *world) execDetached(id string, args ...string) int {
	w.t.Helper()
	pidFile := filepath.Join(w.Dir, "exec.pid")
	w.must(append([]string{"exec", "--detach", "--pid-file", pidFile, id}, args...)...)
	pid, err := testkit.ReadPid(pidFile)
	if err != nil {
		w.t.Fatalf("exec pid file: %v", err)
	}
	w.trackPid(pid)
	return pid
}

// besideHealthy creates a healthy container of bundle b, then the container
// the test damages, in status ("created" or "running"): it returns both ids
// and the damaged one's state once it has that status.
func (w *world) besideHealthy(b *testkit.Bundle, status string) (healthy, id string, st *testkit.State) {
	w.t.Helper()
	healthy = w.NewID()
	w.must("create", "--bundle", b.Dir, healthy)
	id = w.NewID()
	if status == "created" {
		w.must("create", "--bundle", b.Dir, id)
	} else {
		w.must("run", "--detach", "--bundle", b.Dir, id)
	}
	return healthy, id, w.waitStatus(id, status, 10*time.Second)
}

// waitUntil polls cond for at most d.
func waitUntil(d time.Duration, cond func() bool) bool {
	return testkit.Poll(d, func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	}) == nil
}

// ---------------------------------------------------------------------------
// Leaks

// checkClean fails the test, naming what, if anything of the containers ids
// is still on the host after testkit.LeakGrace, and removes it: entries of the root
// named after them (state dirs, lock files), cgroups named after them,
// mounts of or below the world's directory, and live processes in their
// cgroups, started from the world's directory or tracked.
func (w *world) checkClean(what string, ids ...string) bool {
	w.t.Helper()
	w.mu.Lock()
	tracked := append([]int(nil), w.pids...)
	w.mu.Unlock()
	scope := w.Scope(setup.Binary)
	scope.IDs, scope.Pids = ids, tracked
	leaks := scope.Settle(testkit.LeakGrace)
	if len(leaks) == 0 {
		return true
	}
	var lines []string
	for _, l := range leaks {
		lines = append(lines, l.String())
	}
	w.t.Errorf("%s: left on the host:\n  %s", what, strings.Join(lines, "\n  "))
	if err := testkit.Remove(leaks); err != nil {
		w.t.Logf("scrub: %v", err)
	}
	return false
}

// finish force-deletes every container of the test, stops berth calls still
// running, and checks that nothing is left.
func (w *world) finish() {
	ids := w.IDs()
	for _, r := range w.Berth(setup.Binary, 30*time.Second).ForceDelete(ids...) {
		w.t.Logf("final delete --force: %s", r)
	}
	w.mu.Lock()
	calls := append([]*testkit.Proc(nil), w.calls...)
	w.mu.Unlock()
	for _, c := range calls {
		if _, ok := c.WaitFor(2 * time.Second); !ok {
			c.Kill()
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

// cgroupFile reads file of container id's cgroup: in controller's
// hierarchy on cgroup v1, in its unified cgroup on v2.
func cgroupFile(id, controller, file string) (string, error) {
	unified := testkit.Unified()
	for _, d := range testkit.CgroupsNamed(id) {
		if !unified && !strings.HasPrefix(d, filepath.Join(testkit.CgroupRoot, controller)+"/") {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(d, file)); err == nil {
			return strings.TrimSpace(string(data)), nil
		}
	}
	return "", errors.New("container " + id + ": no " + controller + " cgroup holding " + file)
}

// mountsUnder lists the mountinfo lines of this mount namespace that
// mention dir.
func mountsUnder(dir string) []string {
	ms, _ := testkit.MountsMentioning(dir) // no mountinfo: nothing to see
	var lines []string
	for _, m := range ms {
		lines = append(lines, m.Line)
	}
	return lines
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
