package cgroup2

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cmdTimeout bounds every berth invocation. It is generous: in the
// software-emulated VM one container lifecycle takes seconds.
const cmdTimeout = 90 * time.Second

// env is one test's private world: a temp dir holding the test's --root
// and bundles, and the containers and cgroups it made, which its cleanup
// removes whatever happens.
type env struct {
	t    *testing.T
	base string // the test's files live below here
	root string // the private --root of every berth call
	reg  *registry
}

// registry is what the cleanup removes: the containers a test made, and
// their cgroups. It is shared by the test's subtests.
type registry struct {
	mu      sync.Mutex
	ids     []string
	cgroups []string // relative to cgroupRoot
}

// sub returns the env for subtest t: the same root and registry, with
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
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != "" {
		t.Fatal(setupErr)
	}
	t.Parallel()
	e := &env{t: t, base: t.TempDir(), reg: &registry{}}
	e.root = filepath.Join(e.base, "state")
	// Registered after TempDir's cleanup, so it runs first, while the
	// bundles still exist.
	t.Cleanup(e.cleanup)
	return e
}

var (
	idCounter  atomic.Int64
	idBadChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
)

// newID returns a fresh container id derived from the test name and
// registers it (and its cgroup) for cleanup.
func (e *env) newID() string {
	name := strings.TrimPrefix(e.t.Name(), "Test")
	name = idBadChars.ReplaceAllString(name, "_")
	if len(name) > 24 {
		name = name[:24]
	}
	id := fmt.Sprintf("%s-%03d", name, idCounter.Add(1))
	e.reg.mu.Lock()
	e.reg.ids = append(e.reg.ids, id)
	e.reg.cgroups = append(e.reg.cgroups, cgroupOf(id))
	e.reg.mu.Unlock()
	return id
}

// cgroupOf is the linux.cgroupsPath the tests give container id.
func cgroupOf(id string) string { return parentCgroup + "/" + id }

// ---------------------------------------------------------------------------
// Bundles

type bundle struct {
	t      *testing.T
	id     string
	dir    string
	spec   *specs.Spec
	cgroup string // linux.cgroupsPath, relative to cgroupRoot
}

// newBundle makes a bundle for container id: the base config with the
// shared read-only busybox rootfs, no terminal, process.args = args and
// linux.cgroupsPath = cgroupOf(id). edit, when not nil, changes the spec
// before it is written.
func (e *env) newBundle(id string, edit func(*specs.Spec), args ...string) *bundle {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.base, "bundle")
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
	b := &bundle{t: e.t, id: id, dir: dir, spec: &s, cgroup: s.Linux.CgroupsPath}
	data, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// in returns b with failures reported to (sub)test t.
func (b *bundle) in(t *testing.T) *bundle {
	c := *b
	c.t = t
	return &c
}

// path is the container's cgroup directory.
func (b *bundle) path() string { return filepath.Join(cgroupRoot, b.cgroup) }

// file reads a file of the container's cgroup, trimmed; the test fails if
// it cannot be read.
func (b *bundle) file(name string) string {
	b.t.Helper()
	data, err := os.ReadFile(filepath.Join(b.path(), name))
	if err != nil {
		b.t.Fatalf("reading the container's cgroup file: %v", err)
	}
	return strings.TrimSpace(string(data))
}

// expectFile checks that the cgroup file name reads want.
func (b *bundle) expectFile(name, want string) {
	b.t.Helper()
	data, err := os.ReadFile(filepath.Join(b.path(), name))
	if err != nil {
		b.t.Errorf("%s: %v", name, err)
		return
	}
	if got := strings.TrimSpace(string(data)); got != want {
		b.t.Errorf("%s: got %q, want %q", filepath.Join(b.path(), name), got, want)
	}
}

// keyed returns the value of key in a "key value" file such as
// memory.events or cgroup.events, or "" if the key is not there.
func (b *bundle) keyed(name, key string) string {
	b.t.Helper()
	for _, line := range strings.Split(b.file(name), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			return f[1]
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Running berth

type result struct {
	args   []string
	stdout string
	stderr string
	code   int   // exit code; -1 if berth did not exit normally
	err    error // start failure or timeout
}

func (r result) String() string {
	s := fmt.Sprintf("`%s` exited %d", strings.Join(r.args, " "), r.code)
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	return s + fmt.Sprintf("\n--- stdout:\n%s\n--- stderr:\n%s", r.stdout, r.stderr)
}

// run runs `berth --root <private root> args...` with stdin from stdin (nil:
// /dev/null). stdout and stderr go to files, not pipes, so that a
// container process inheriting them cannot hold up the wait.
func (e *env) runIn(stdin io.Reader, args ...string) result {
	e.t.Helper()
	full := append([]string{"--root", e.root}, args...)
	r := result{args: append([]string{"berth"}, full...)}
	outF, err1 := os.CreateTemp(e.base, "stdout")
	errF, err2 := os.CreateTemp(e.base, "stderr")
	if err := errors.Join(err1, err2); err != nil {
		e.t.Fatal(err)
	}
	defer func() {
		for _, f := range []*os.File{outF, errF} {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, full...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, outF, errF
	err := cmd.Run()
	r.code = -1
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	switch {
	case ctx.Err() != nil:
		r.err = fmt.Errorf("killed after %v", cmdTimeout)
	case err != nil && !errors.As(err, new(*exec.ExitError)):
		r.err = err
	}
	out, _ := os.ReadFile(outF.Name())
	serr, _ := os.ReadFile(errF.Name())
	r.stdout, r.stderr = string(out), string(serr)
	return r
}

func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runIn(nil, args...)
}

// mustRun is run that fails the test unless berth exits 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 || r.err != nil {
		e.t.Fatalf("command failed: %s", r)
	}
	return r
}

// create creates the bundle's container.
func (e *env) create(b *bundle) {
	e.t.Helper()
	e.mustRun("create", "--bundle", b.dir, b.id)
}

// state returns the container's status from `berth state`.
func (e *env) status(id string) string {
	e.t.Helper()
	r := e.mustRun("state", id)
	var s specs.State
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		e.t.Fatalf("state %s: not JSON: %v: %s", id, err, r)
	}
	return string(s.Status)
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
	full := append([]string{"--root", e.root}, args...)
	cmd := exec.Command(binary, full...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	errF, err := os.CreateTemp(e.base, "stderr")
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

// cleanup force-deletes the test's containers, fails the test if one's
// cgroup directory outlived the delete and removes whatever is left.
func (e *env) cleanup() {
	t := e.t
	e.reg.mu.Lock()
	ids := append([]string(nil), e.reg.ids...)
	cgs := append([]string(nil), e.reg.cgroups...)
	e.reg.mu.Unlock()
	for _, id := range ids {
		if r := e.run("delete", "--force", id); r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	}
	for _, cg := range cgs {
		if _, err := os.Stat(filepath.Join(cgroupRoot, cg)); err == nil {
			t.Errorf("cgroup %s still exists after `delete --force`", cg)
			if err := removeCgroupTree(cg); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	}
}

// removeCgroupTree kills every process in the cgroup rel (relative to
// cgroupRoot) and below it and removes the directories, children first.
// A cgroup that does not exist is not an error.
func removeCgroupTree(rel string) error {
	top := filepath.Join(cgroupRoot, rel)
	var dirs []string
	err := filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, d := range dirs {
		// cgroup.kill (Linux 5.14) SIGKILLs the whole subtree.
		_ = os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0)
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}
