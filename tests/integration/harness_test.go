package integration

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// setup is what every test shares, fixed in TestMain: the runtime binary
// under test, the base bundle (testkit.MakeBaseBundle, which makes what
// contrib/mkbundle.sh makes: a busybox rootfs and the config.json written
// by `<binary> spec`), the ids, and why the tests cannot run, if they
// cannot (not root, no binary, no base).
var setup testkit.Setup

func TestMain(m *testing.M) {
	setup = testkit.NewSetup("integration tests run real containers", "")
	os.Exit(setup.Run(m, "integration"))
}

// env is one test's private world: its space (a temp dir that holds the
// private --root and every bundle and helper dir of the test, and the
// container ids the test created, checked for leaks when the test ends).
type env struct {
	t *testing.T
	*testkit.Space
}

// newEnv checks the suite preconditions, marks the test parallel and makes
// the test's private dirs. Its cleanup (registered before any bundle dir is
// made, so it runs while they still exist) force-deletes every container the
// test made and asserts that nothing leaked.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, Space: setup.NewSpace(t)}
	t.Cleanup(e.cleanup)
	return e
}

// mkdir makes a fresh directory below the test's base dir.
func (e *env) mkdir(prefix string) string {
	e.t.Helper()
	d, err := os.MkdirTemp(e.Dir, prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// writeFile writes a file and fails the test on error.
func (e *env) writeFile(path, content string, mode os.FileMode) {
	e.t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		e.t.Fatal(err)
	}
}

// newBundle makes a bundle: a copy of the base busybox bundle, with a
// writable rootfs and, when given, process.args = args.
func (e *env) newBundle(args ...string) *testkit.Bundle {
	e.t.Helper()
	return testkit.CopyBundle(e.t, setup.Base, e.mkdir("bundle"), args...)
}

// ---------------------------------------------------------------------------
// Running the runtime

type result = testkit.Result

// cmdTimeout bounds every runtime invocation so that no test hangs.
const cmdTimeout = 30 * time.Second

type execOpts struct {
	dir        string        // working directory
	stdin      io.Reader     // nil: /dev/null
	extraFiles []*os.File    // fds 3...
	timeout    time.Duration // 0: cmdTimeout
	noRoot     bool          // do not pass --root (args carry their own)
	wrap       []string      // run the runtime through this command (e.g. setpriv ...)
	env        []string      // added to the test's environment
}

// berth runs the runtime with the test's --root.
func (e *env) berth() testkit.Berth { return e.Berth(setup.Binary, cmdTimeout) }

// cmd is the runtime invocation `<binary> --root <root> args...` (without
// --root when o.noRoot).
func (e *env) cmd(o execOpts, args ...string) testkit.Cmd {
	b := e.berth()
	if o.noRoot {
		b.Globals = nil
	}
	c := b.Cmd(args...)
	c.Dir, c.Stdin, c.ExtraFiles, c.Wrap = o.dir, o.stdin, o.extraFiles, o.wrap
	if o.timeout != 0 {
		c.Timeout = o.timeout
	}
	if len(o.env) > 0 {
		c.Env = append(os.Environ(), o.env...)
	}
	return c
}

// start launches the runtime without waiting for it. The process is killed
// at the test's end if it is still running.
func (e *env) start(o execOpts, args ...string) *testkit.Proc {
	p, _ := testkit.Start(e.cmd(o, args...)) // a start failure is in its result
	e.t.Cleanup(func() { p.Kill() })
	return p
}

// exec runs the runtime to completion with options.
func (e *env) exec(o execOpts, args ...string) result {
	return testkit.Run(e.cmd(o, args...))
}

// run runs `<binary> --root <root> args...` and returns its result.
func (e *env) run(args ...string) result {
	return e.exec(execOpts{}, args...)
}

// mustRun is run that fails the test unless the command exits 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	return e.berth().Must(e.t, args...)
}

// mustFail is run that fails the test unless the command exits non-zero
// with an output containing every one of wants.
func (e *env) mustFail(args []string, wants ...string) result {
	e.t.Helper()
	r := e.run(args...)
	checkFailure(e.t, r, r.Output(), wants...)
	return r
}

func checkFailure(t *testing.T, r result, text string, wants ...string) {
	t.Helper()
	if r.Err != nil || r.Code == 0 {
		t.Errorf("expected a failure (non-zero exit), got: %s", r)
		return
	}
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("error output does not contain %q: %s", w, r)
		}
	}
}

// create runs `create --bundle b.dir id` plus extra flags and requires success.
func (e *env) create(b *testkit.Bundle, id string, flags ...string) result {
	e.t.Helper()
	args := append(append([]string{"create", "--bundle", b.Dir}, flags...), id)
	return e.mustRun(args...)
}

// created makes a bundle with args and creates a container of it.
func (e *env) created(args ...string) (*testkit.Bundle, string) {
	e.t.Helper()
	b := e.newBundle(args...)
	id := e.NewID()
	e.create(b, id)
	return b, id
}

// started makes a bundle with args and a container of it, created and
// started.
func (e *env) started(args ...string) (*testkit.Bundle, string) {
	e.t.Helper()
	b, id := e.created(args...)
	e.mustRun("start", id)
	return b, id
}

// runNew runs a container of a new bundle with args in the foreground
// (edit, when not nil, changes its config first) and returns the result of
// `run` and the container's id.
func (e *env) runNew(edit func(*specs.Spec), args ...string) (result, string) {
	e.t.Helper()
	b := e.newBundle(args...)
	if edit != nil {
		b.Edit(edit)
	}
	id := e.NewID()
	return e.run("run", "--bundle", b.Dir, id), id
}

// ---------------------------------------------------------------------------
// State

// state runs `state id`; the returned state is nil when the command failed
// or printed something that is not a state object.
func (e *env) state(id string) (*testkit.State, result) {
	e.t.Helper()
	st, r, err := e.berth().State(id)
	if err != nil {
		e.t.Errorf("%v: %s", err, r)
	}
	return st, r
}

func (e *env) mustState(id string) *testkit.State {
	e.t.Helper()
	s, r := e.state(id)
	if s == nil {
		e.t.Fatalf("state failed: %s", r)
	}
	return s
}

// waitStatus polls `state id` until the status is want.
func (e *env) waitStatus(id, want string, timeout time.Duration) *testkit.State {
	e.t.Helper()
	var last *testkit.State
	var lastR result
	waitFor(e.t, timeout, fmt.Sprintf("container %s to be %q", id, want), func() (bool, string) {
		last, lastR = e.state(id)
		if last == nil {
			return false, lastR.String()
		}
		return string(last.Status) == want, "status " + string(last.Status)
	})
	return last
}

// ---------------------------------------------------------------------------
// Polling

// waitFor polls cond until it returns true or timeout passes, then fails the
// test with what and the last description cond returned.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	err := testkit.Poll(timeout, func() error {
		if ok, last := cond(); !ok {
			return errors.New(last)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("timed out after %v waiting for %s; last: %v", timeout, what, err)
	}
}

// waitFile waits until path exists and contains substr; returns the content.
func waitFile(t *testing.T, path, substr string, timeout time.Duration) string {
	t.Helper()
	var data []byte
	waitFor(t, timeout, fmt.Sprintf("%s to contain %q", path, substr), func() (bool, string) {
		var err error
		data, err = os.ReadFile(path)
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(string(data), substr), fmt.Sprintf("content %q", data)
	})
	return string(data)
}

func itoa(i int) string { return strconv.Itoa(i) }

// ---------------------------------------------------------------------------
// Unix sockets receiving fds (console socket, pidfd socket), terminals

// listenFd listens on a fresh unix socket and returns its path and a
// channel yielding the first fd received over SCM_RIGHTS from the first
// connection.
func (e *env) listenFd() (string, <-chan testkit.Received) {
	e.t.Helper()
	// sun_path is limited to 108 bytes; the test dir may be long.
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	rcv, err := testkit.ReceiveFD(path, cmdTimeout)
	if err != nil {
		os.RemoveAll(dir)
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		rcv.Close()
		os.RemoveAll(dir)
	})
	return path, rcv.C
}

// recvWithin waits for a received fd.
func recvWithin(t *testing.T, ch <-chan testkit.Received, timeout time.Duration) *os.File {
	t.Helper()
	select {
	case r := <-ch:
		if r.Err != nil {
			t.Fatalf("receiving fd: %v", r.Err)
		}
		t.Cleanup(func() { r.File.Close() })
		return r.File
	case <-time.After(timeout):
		t.Fatalf("no fd received within %v", timeout)
		return nil
	}
}

// openPty opens a new pty pair: master (non-blocking, pollable) and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := testkit.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		master.Close()
		slave.Close()
	})
	return master, slave
}

// ---------------------------------------------------------------------------
// Leak checking

// cleanup force-deletes every container of the test, asserts nothing was
// left behind and cleans up whatever was: no state entry (in the test's
// root, or in / should --root / have been taken), cgroup, mount or process.
func (e *env) cleanup() {
	scope := e.Scope(setup.Binary)
	scope.Roots = append(scope.Roots, "/")
	for _, r := range e.berth().ForceDelete(scope.IDs...) {
		e.t.Logf("cleanup: %s", r)
	}
	leaks := scope.Settle(testkit.LeakGrace)
	if len(leaks) == 0 {
		return
	}
	e.t.Errorf("leaked after `delete --force` of %v:\n%s", scope.IDs, leakList(leaks))
	if err := testkit.Remove(leaks); err != nil {
		e.t.Logf("cleanup: %v", err)
	}
}

func leakList(leaks []testkit.Leak) string {
	var lines []string
	for _, l := range leaks {
		lines = append(lines, l.String())
	}
	return strings.Join(lines, "\n")
}
