package cgroup2

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// cmdTimeout bounds every berth invocation. It is generous: in the
// software-emulated VM one container lifecycle takes seconds.
const cmdTimeout = 90 * time.Second

// env is one test's private world: its space (a temp dir holding the
// test's --root and bundles, and the containers it made, which its cleanup
// removes whatever happens), shared by its subtests.
type env struct {
	t *testing.T
	*testkit.Space
}

// sub returns the env for subtest t: the same space, with
// failures reported to (and FailNow called on) t.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// newEnv skips or fails the test when the suite cannot run, marks it
// parallel and registers its cleanup.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, Space: setup.NewSpace(t)}
	// Registered after TempDir's cleanup, so it runs first, while the
	// bundles still exist.
	t.Cleanup(e.cleanup)
	return e
}

// cgroupOf is the linux.cgroupsPath the tests give container id.
func cgroupOf(id string) string { return parentCgroup + "/" + id }

// ---------------------------------------------------------------------------
// Bundles

// bundle is the bundle of one container, whose cgroup the tests read.
type bundle struct {
	*testkit.Bundle
	id     string
	cgroup string // linux.cgroupsPath, relative to cgroupRoot
}

// newBundle makes a bundle for container id: the base config with the
// shared read-only busybox rootfs, no terminal, process.args = args and
// linux.cgroupsPath = cgroupOf(id). edit, when not nil, changes the spec
// before it is written.
func (e *env) newBundle(id string, edit func(*specs.Spec), args ...string) *bundle {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.Dir, "bundle")
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(baseSpec, &s); err != nil {
		e.t.Fatal(err)
	}
	s.Root = &specs.Root{Path: baseRootfs, Readonly: true}
	s.Process.Terminal = false
	if len(args) > 0 {
		s.Process.Args = args
	}
	s.Linux.CgroupsPath = cgroupOf(id)
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	if edit != nil {
		edit(&s)
	}
	b := &bundle{Bundle: &testkit.Bundle{Dir: dir, Spec: &s, T: e.t}, id: id, cgroup: s.Linux.CgroupsPath}
	b.Write()
	return b
}

// in returns b with failures reported to (sub)test t.
func (b *bundle) in(t *testing.T) *bundle {
	c := *b
	c.Bundle = b.Bundle.In(t)
	return &c
}

// path is the container's cgroup directory.
func (b *bundle) path() string { return filepath.Join(cgroupRoot, b.cgroup) }

// file reads a file of the container's cgroup, trimmed; the test fails if
// it cannot be read.
func (b *bundle) file(name string) string {
	b.T.Helper()
	data, err := os.ReadFile(filepath.Join(b.path(), name))
	if err != nil {
		b.T.Fatalf("reading the container's cgroup file: %v", err)
	}
	return strings.TrimSpace(string(data))
}

// expectFile checks that the cgroup file name reads want.
func (b *bundle) expectFile(name, want string) {
	b.T.Helper()
	data, err := os.ReadFile(filepath.Join(b.path(), name))
	if err != nil {
		b.T.Errorf("%s: %v", name, err)
		return
	}
	if got := strings.TrimSpace(string(data)); got != want {
		b.T.Errorf("%s: got %q, want %q", filepath.Join(b.path(), name), got, want)
	}
}

// keyed returns the value of key in a "key value" file such as
// memory.events or cgroup.events, or "" if the key is not there.
func (b *bundle) keyed(name, key string) string {
	b.T.Helper()
	for _, line := range strings.Split(b.file(name), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			return f[1]
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Running berth

type result = testkit.Result

// berth runs berth with the test's --root.
func (e *env) berth() testkit.Berth { return e.Berth(setup.Binary, cmdTimeout) }

// runIn runs `berth --root <private root> args...` with stdin from stdin
// (nil: /dev/null).
func (e *env) runIn(stdin io.Reader, args ...string) result {
	c := e.berth().Cmd(args...)
	c.Stdin = stdin
	return testkit.Run(c)
}

func (e *env) run(args ...string) result { return e.berth().Run(args...) }

// mustRun is run that fails the test unless berth exits 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	return e.berth().Must(e.t, args...)
}

// create creates the bundle's container.
func (e *env) create(b *bundle) {
	e.t.Helper()
	e.mustRun("create", "--bundle", b.Dir, b.id)
}

// created makes a container, its bundle from edit and args (see
// newBundle), and creates it.
func (e *env) created(edit func(*specs.Spec), args ...string) (*bundle, string) {
	e.t.Helper()
	id := e.NewID()
	b := e.newBundle(id, edit, args...)
	e.create(b)
	return b, id
}

// started is created, then started.
func (e *env) started(edit func(*specs.Spec), args ...string) (*bundle, string) {
	e.t.Helper()
	b, id := e.created(edit, args...)
	e.mustRun("start", id)
	return b, id
}

// status returns the container's status from `berth state`.
func (e *env) status(id string) string {
	e.t.Helper()
	st, r, err := e.berth().State(id)
	if err != nil {
		e.t.Fatalf("%v: %s", err, r)
	}
	if st == nil {
		e.t.Fatalf("command failed: %s", r)
	}
	return string(st.Status)
}

// waitStatus polls `berth state` until the container's status is want.
func (e *env) waitStatus(id, want string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := e.status(id)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s: status %q after %v, want %q", id, got, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Streaming `berth events`

// stream is a running berth command whose stdout is read line by line.
type stream struct {
	cmd   *exec.Cmd
	lines chan string // closed at EOF
	done  chan struct{}
	errF  *os.File
	err   error // the Wait error, valid after done
}

// startStream starts berth with args and reads its stdout lines. The
// process is killed when the test ends.
func (e *env) startStream(args ...string) *stream {
	e.t.Helper()
	full := append([]string{"--root", e.Root}, args...)
	cmd := exec.Command(setup.Binary, full...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	errF, err := os.CreateTemp(e.Dir, "stderr")
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stderr = errF
	s := &stream{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{}), errF: errF}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting berth %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		s.err = cmd.Wait()
		close(s.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
		errF.Close()
	})
	return s
}

// next returns the next line, or false at EOF or after timeout.
func (s *stream) next(timeout time.Duration) (string, bool) {
	select {
	case l, ok := <-s.lines:
		return l, ok
	case <-time.After(timeout):
		return "", false
	}
}

// stderr returns what the command wrote to stderr so far.
func (s *stream) stderr() string {
	data, _ := os.ReadFile(s.errF.Name())
	return string(data)
}

// event is one line of `berth events`.
type event struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// ---------------------------------------------------------------------------
// Cleanup

// cleanup force-deletes the test's containers and fails the test if a
// delete failed, if a container's cgroup outlived it (delete removes it
// before it returns), or if anything else of them (state, a mount, a
// process) is still there a moment later; it removes whatever is left.
func (e *env) cleanup() {
	scope := e.Scope(setup.Binary)
	for _, r := range e.berth().ForceDelete(scope.IDs...) {
		e.t.Errorf("cleanup: %s", r)
	}
	for _, l := range scope.Find() {
		if l.Kind == "cgroup" {
			e.t.Errorf("%s still exists after `delete --force`", l)
		}
	}
	leaks := scope.Settle(testkit.LeakGrace)
	for _, l := range leaks {
		if l.Kind != "cgroup" { // reported above
			e.t.Errorf("%s left after `delete --force`", l)
		}
	}
	if err := testkit.Remove(leaks); err != nil {
		e.t.Errorf("cleanup: %v", err)
	}
}
