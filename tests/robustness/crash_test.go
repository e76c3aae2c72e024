package robustness

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/tests/testkit"
)

// crashIterations is the number of kill points tried per command.
const crashIterations = 20

// crashSeed seeds the kill points; ROBUSTNESS_SEED replays another run.
func crashSeed(t *testing.T) int64 {
	seed := int64(20240611)
	if s := os.Getenv("ROBUSTNESS_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("ROBUSTNESS_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("kill points seeded with %d (set ROBUSTNESS_SEED to replay another)", seed)
	return seed
}

// killPoints returns n delays in [0, max), one in each of n equal slices of
// [0, 1) squared: dense at the start, where berth does most, and seeded.
func killPoints(rng *rand.Rand, n int, max time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		u := (float64(i) + rng.Float64()) / float64(n)
		out[i] = time.Duration(u * u * float64(max))
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// crashCase is one command killed at random points.
type crashCase struct {
	// prepare brings container id into the state the command starts from.
	prepare func(w *world, b *testkit.Bundle, id string)
	// args is the command to kill.
	args     func(b *testkit.Bundle, id string) []string
	maxDelay time.Duration
}

func TestCrashCreate(t *testing.T) {
	crashLoop(t, crashCase{
		args:     func(b *testkit.Bundle, id string) []string { return []string{"create", "--bundle", b.Dir, id} },
		maxDelay: 80 * time.Millisecond,
	})
}

func TestCrashRun(t *testing.T) {
	crashLoop(t, crashCase{
		args:     func(b *testkit.Bundle, id string) []string { return []string{"run", "--bundle", b.Dir, id} },
		maxDelay: 80 * time.Millisecond,
	})
}

func TestCrashStart(t *testing.T) {
	crashLoop(t, crashCase{
		prepare: func(w *world, b *testkit.Bundle, id string) {
			w.must("create", "--bundle", b.Dir, id)
		},
		args:     func(b *testkit.Bundle, id string) []string { return []string{"start", id} },
		maxDelay: 20 * time.Millisecond,
	})
}

func TestCrashDelete(t *testing.T) {
	crashLoop(t, crashCase{
		prepare: func(w *world, b *testkit.Bundle, id string) {
			w.must("run", "--detach", "--bundle", b.Dir, id)
		},
		args:     func(b *testkit.Bundle, id string) []string { return []string{"delete", "--force", id} },
		maxDelay: 30 * time.Millisecond,
	})
}

// crashLoop kills the command with SIGKILL at crashIterations points, and
// after each: list and state must tell the truth (a live pid for a created
// or running container, no hang, no panic), and delete --force must remove
// every trace of the container.
func crashLoop(t *testing.T, cc crashCase) {
	w := newWorld(t)
	rng := rand.New(rand.NewSource(crashSeed(t)))
	b := w.newBundle("sleep", "1000")
	b.Edit(func(s *specs.Spec) {
		// A poststop hook makes delete do more work, and shows whether a
		// killed delete runs it twice or never.
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}
	})
	seen := map[string]int{}
	for i, delay := range killPoints(rng, crashIterations, cc.maxDelay) {
		id := w.NewID()
		if cc.prepare != nil {
			cc.prepare(w, b, id)
		}
		c := w.start(opts{}, cc.args(b, id)...)
		time.Sleep(delay)
		finished := c.Exited()
		r := c.Kill()
		what := fmt.Sprintf("iteration %d: `%s` killed %v after exec", i, strings.Join(cc.args(b, id), " "), delay)
		if finished {
			what += " (it had already finished)"
		}
		if r.Panicked() {
			t.Errorf("%s: panicked: %s", what, r)
		}
		status := checkHonest(w, id, what)
		seen[status]++
		if status == "created" {
			// What was left waiting for start must start, or refuse, at once.
			sr := w.start(opts{timeout: 10 * time.Second}, "start", id).Wait()
			switch {
			case sr.TimedOut || sr.Panicked():
				t.Errorf("%s: start of the created container left behind hung or panicked: %s", what, sr)
			case sr.OK():
				if st, r := w.state(id); st == nil || st.Status != "running" {
					t.Errorf("%s: after start: want running, got %+v: %s", what, st, r)
				}
			}
		}
		if r := w.start(opts{timeout: 15 * time.Second}, "delete", "--force", id).Wait(); !r.OK() || r.Panicked() {
			t.Errorf("%s: delete --force failed: %s", what, r)
		}
		if !w.checkClean(what+", then `delete --force`", id) {
			continue
		}
		if st, r := w.state(id); st != nil || !strings.Contains(r.Stderr, "does not exist") {
			t.Errorf("%s: state after delete --force: want \"does not exist\", got %+v: %s", what, st, r)
		}
	}
	var summary []string
	for s, n := range seen {
		summary = append(summary, fmt.Sprintf("%s: %d", s, n))
	}
	sort.Strings(summary)
	t.Logf("%d kill points; status seen afterwards: %s", crashIterations, strings.Join(summary, ", "))
}

// checkHonest checks what list and state say of container id right after a
// berth was killed, and returns the status ("absent" if none).
func checkHonest(w *world, id, what string) string {
	t := w.t
	t.Helper()
	lr := w.start(opts{timeout: 10 * time.Second}, "list", "--format", "json").Wait()
	var listed *testkit.State
	switch {
	case lr.TimedOut || lr.Panicked() || lr.Code != 0:
		t.Errorf("%s: list failed, hung or panicked: %s", what, lr)
	default:
		var all []testkit.State
		if err := json.Unmarshal([]byte(lr.Stdout), &all); err != nil {
			t.Errorf("%s: list --format json printed no JSON list: %v: %s", what, err, lr)
		}
		for i := range all {
			if all[i].ID == id {
				listed = &all[i]
			}
		}
	}
	st, sr := w.state(id)
	if st == nil {
		if !strings.Contains(sr.Stderr, id) {
			t.Errorf("%s: state failed without naming the container: %s", what, sr)
		}
		if !strings.Contains(sr.Stderr, "does not exist") {
			t.Errorf("%s: state cannot read the container: %s", what, sr)
		}
		if listed != nil {
			t.Errorf("%s: list shows %+v but state says: %s", what, *listed, sr)
		}
		return "absent"
	}
	if listed == nil {
		t.Errorf("%s: state shows %+v but list does not show the container", what, *st)
	} else if listed.Status != st.Status && st.Status != "stopped" {
		t.Errorf("%s: list says %q, state says %q", what, listed.Status, st.Status)
	}
	switch st.Status {
	case "created", "running", "paused":
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.Pid))
		waiting := strings.HasSuffix(string(cmdline), "\x00init\x00")
		if st.Status == "created" && !waiting && testkit.Alive(st.Pid) {
			t.Errorf("%s: state says created, but pid %d already runs the user process %q", what, st.Pid, cmdline)
		}
		if !testkit.Alive(st.Pid) {
			t.Errorf("%s: state says %s with pid %d, which is not alive", what, st.Status, st.Pid)
		} else if cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid)); !strings.Contains(string(cg), "/"+id) {
			t.Errorf("%s: state says %s with pid %d, which is not in the container's cgroup:\n%s", what, st.Status, st.Pid, cg)
		}
	case "stopped":
		if st.Pid != 0 {
			t.Errorf("%s: stopped container with pid %d", what, st.Pid)
		}
	case "creating":
		// The berth that held the lock is dead. A child it forked may
		// hold a copy of the lock's fd for a moment (until its execve
		// closes it); longer than that is a stale lock.
		holders := lockHolders(filepath.Join(w.Root, id+"~lock"))
		start := time.Now()
		if waitUntil(2*time.Second, func() bool {
			st, _ := w.state(id)
			return st == nil || st.Status != "creating"
		}) {
			t.Logf("%s: state said creating for %v after its berth died (lock fd held by %v)", what, time.Since(start).Round(time.Millisecond), holders)
		} else {
			t.Errorf("%s: state still says creating 2s after its berth died: a stale lock held by %v", what, holders)
		}
	default:
		t.Errorf("%s: unknown status %q", what, st.Status)
	}
	return string(st.Status)
}

// TestStaleLockNeverBlocks kills a create while its prestart hook runs (the
// create holds the container's lock then): the kernel drops the lock with
// the process, so delete --force must finish at once, and remove what the
// half-done create made (cgroups, state, the waiting init).
func TestStaleLockNeverBlocks(t *testing.T) {
	w := newWorld(t)
	pidFile := filepath.Join(w.Dir, "hook.pid")
	b := w.newBundle("sleep", "1000")
	b.Edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{ //nolint:staticcheck // prestart is what runs under create's lock
			Path: "/bin/sh",
			Args: []string{"sh", "-c", "echo $$ > " + pidFile + "; exec sleep 60"},
		}}}
	})
	id := w.NewID()
	c := w.start(opts{}, "create", "--bundle", b.Dir, id)
	var hookPid int
	if !waitUntil(10*time.Second, func() bool {
		var err error
		hookPid, err = testkit.ReadPid(pidFile)
		return err == nil && hookPid > 0
	}) {
		t.Fatalf("prestart hook did not start: %s", c.Kill())
	}
	w.trackPid(hookPid)
	defer func() { _ = killPid(hookPid) }()

	// While create holds the lock, state still answers at once.
	if st, r := w.state(id); st == nil || st.Status != "creating" {
		t.Errorf("state during create's prestart hook: want creating, got %+v: %s", st, r)
	}
	c.Kill()
	start := time.Now()
	r := w.start(opts{timeout: 5 * time.Second}, "delete", "--force", id).Wait()
	if !r.OK() || time.Since(start) > 3*time.Second {
		t.Errorf("delete --force after the lock holder died: want success within 3s: %s", r)
	}
	_ = killPid(hookPid) // the hook is berth's child, not the container's
	w.checkClean("create killed in its prestart hook, then `delete --force`", id)
}

func killPid(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// lockHolders describes the processes that have path open.
func lockHolders(path string) []string {
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		fds, err := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); l == path {
				cmd, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
				out = append(out, fmt.Sprintf("pid %s %q", p.Name(), strings.ReplaceAll(string(cmd), "\x00", " ")))
			}
		}
	}
	return out
}

// TestStartInterruptedAfterRelease recreates, deterministically, what a
// start killed between releasing the init and removing the exec fifo
// leaves behind (TestCrashStart hits it now and then): the user process
// runs, but the exec fifo is still there. state must not call that
// container "created", and a second start must not wait forever for an
// init that will never open the fifo again.
func TestStartInterruptedAfterRelease(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sleep", "1000")
	id := w.NewID()
	w.must("run", "--detach", "--bundle", b.Dir, id)
	st := w.waitStatus(id, "running", 10*time.Second)
	if err := unix.Mkfifo(filepath.Join(w.Root, id, "exec.fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, r := w.state(id); got == nil || got.Status != "running" {
		t.Errorf("state of a container whose user process runs: want running, got %+v: %s", got, r)
	}
	r := w.start(opts{timeout: 5 * time.Second}, "start", id).Wait()
	if r.TimedOut || r.Panicked() {
		t.Errorf("start of a container already released hangs: %s", r)
	}
	w.must("delete", "--force", id)
	if testkit.Alive(st.Pid) {
		t.Errorf("init %d alive after delete --force", st.Pid)
	}
	w.checkClean("start after an interrupted start, then delete --force", id)
}
