package testkit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Berth runs the berth binary under test with the global flags of one test
// (its private --root, an --image-store...).
type Berth struct {
	Binary  string
	Globals []string // before the command, e.g. --root DIR
	Dir     string
	Env     []string // nil: the test binary's environment
	OutDir  string   // see Cmd.OutDir
	Timeout time.Duration
}

// Cmd is the command `Binary Globals... args...`.
func (b Berth) Cmd(args ...string) Cmd {
	return Cmd{
		Path:    b.Binary,
		Args:    append(append([]string{}, b.Globals...), args...),
		Dir:     b.Dir,
		Env:     b.Env,
		OutDir:  b.OutDir,
		Timeout: b.Timeout,
	}
}

// Run runs berth to its end.
func (b Berth) Run(args ...string) Result { return Run(b.Cmd(args...)) }

// State is what `berth state` prints: the OCI state, plus the rootfs, the
// creation time and the owner, as runc prints them.
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// State runs `state id`. st is nil when state failed; err says when it
// succeeded but printed something that is not a state object.
func (b Berth) State(id string) (st *State, r Result, err error) {
	r = b.Run("state", id)
	if !r.OK() {
		return nil, r, nil
	}
	var s State
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		return nil, r, fmt.Errorf("state %s printed no JSON state: %w", id, err)
	}
	return &s, r, nil
}

// Must runs berth and fails t unless it exits 0.
func (b Berth) Must(t testing.TB, args ...string) Result {
	t.Helper()
	r := b.Run(args...)
	if !r.OK() {
		t.Fatalf("command failed: %s", r)
	}
	return r
}

// ForceDelete runs `delete --force` for every id, as a test's cleanup
// does, and returns the results of the deletes that failed.
func (b Berth) ForceDelete(ids ...string) []Result {
	var failed []Result
	for _, id := range ids {
		if r := b.Run("delete", "--force", id); !r.OK() {
			failed = append(failed, r)
		}
	}
	return failed
}

// RepoRoot is the module root, two levels above the working directory:
// go test runs a suite in its package directory, tests/<suite> (in the
// cgroup v2 VM, a copy of it at the same depth).
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	return filepath.Clean(filepath.Join(wd, "..", "..")), nil
}

// BerthBinary is the berth binary under test: $BERTH_BINARY, or bin/berth
// of the repository, made absolute.
func BerthBinary(repo string) string {
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		bin = filepath.Join(repo, "bin", "berth")
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	return bin
}

// MissingBinary says why the binary at path cannot be run, or "".
func MissingBinary(path string) string {
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return fmt.Sprintf("runtime binary %s does not exist: run `make build` first (or set BERTH_BINARY)", path)
	}
	return ""
}

// NotRoot says why a suite that needs root cannot run, or "" as root.
func NotRoot(suite string) string {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Sprintf("%s and needs root (euid is %d)", suite, euid)
	}
	return ""
}

// Gate is why a suite's tests cannot run at all: Skip makes every test
// skip (not root, not cgroup v2), Fail makes every test fail (no binary,
// a setup step failed). TestMain fills it.
type Gate struct {
	Skip string
	Fail string
}

// Check skips or fails t as the gate says.
func (g Gate) Check(t testing.TB) {
	t.Helper()
	if g.Skip != "" {
		t.Skip(g.Skip)
	}
	if g.Fail != "" {
		t.Fatal(g.Fail)
	}
}

// Report writes to stderr why the suite's tests skip or fail, if they do.
func (g Gate) Report(suite string) {
	if g.Skip != "" {
		fmt.Fprintf(os.Stderr, "%s: skipping: %s\n", suite, g.Skip)
	}
	if g.Fail != "" {
		fmt.Fprintf(os.Stderr, "%s: setup failed: %s\n", suite, g.Fail)
	}
}

// Setup is what the TestMain of a suite that runs berth finds out first,
// and what its tests share.
type Setup struct {
	Repo   string // the module root
	Binary string // the berth binary under test
	Base   string // the base bundle, in suites that have one (see Run)
	IDs    *IDs   // the container ids of the suite's tests
	Gate   Gate
}

// NewSetup finds the repository and the binary under test, and closes the
// gate unless the test binary runs as root (needsRoot says why the suite
// needs it) and the binary exists. The suite's ids start with idPrefix.
func NewSetup(needsRoot, idPrefix string) Setup {
	s := Setup{IDs: NewIDs(idPrefix)}
	repo, err := RepoRoot()
	if err != nil {
		s.Gate.Fail = err.Error()
		return s
	}
	s.Repo, s.Binary = repo, BerthBinary(repo)
	if s.Gate.Skip = NotRoot(needsRoot); s.Gate.Skip == "" {
		s.Gate.Fail = MissingBinary(s.Binary)
	}
	return s
}

// BaseBundle makes the base bundle (MakeBaseBundle) in Base, a new
// temporary directory, unless the gate is closed already; a failure closes
// it. The function returned removes the directory.
func (s *Setup) BaseBundle() (remove func()) {
	if s.Gate.Skip != "" || s.Gate.Fail != "" {
		return func() {}
	}
	dir, err := os.MkdirTemp("", "berth-base-")
	if err != nil {
		s.Gate.Fail = "making the base bundle's directory: " + err.Error()
		return func() {}
	}
	s.Base = dir
	if err := MakeBaseBundle(dir, s.Binary); err != nil {
		s.Gate.Fail = "making the base bundle: " + err.Error()
	}
	return func() { os.RemoveAll(dir) }
}

// Run is the TestMain of a suite whose tests copy their bundles from a base
// bundle: it makes the base bundle (unless the gate is closed), reports the
// gate, runs the tests and removes the base bundle. It returns the exit
// code.
func (s *Setup) Run(m *testing.M, suite string) int {
	remove := s.BaseBundle()
	defer remove()
	s.Gate.Report(suite)
	return m.Run()
}

// Poll calls cond every 20 ms until it returns nil or timeout has passed,
// and returns cond's last error.
func Poll(timeout time.Duration, cond func() error) error {
	return PollEvery(timeout, 20*time.Millisecond, cond)
}

// PollEvery is Poll with another pause between calls, for a cond that is
// itself costly (a client command of a container engine).
func PollEvery(timeout, pause time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
	}
}

// Together runs f(0) ... f(n-1) at the same time, each in a goroutine of
// its own, and waits for them all: races of berth commands.
func Together(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{}) // no f starts before every goroutine is there
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}
