package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

const (
	// cmdTimeout bounds every client invocation unless told otherwise.
	cmdTimeout = 60 * time.Second
	// leakGrace is how long the leak checks wait for processes to be reaped
	// and mounts to go away before calling them leaked.
	leakGrace = 5 * time.Second
)

// suite is one engine's private world: a dir under workDir that holds the
// engine's config, root, state and socket, the logging shim and its log.
type suite struct {
	t *testing.T
	*world
}

// world is what a suite's subtests share.
type world struct {
	name    string
	dir     string
	shim    string // the logging wrapper handed to the engine
	shimLog string // one line per runtime invocation
	env     []string

	mu sync.Mutex
	// ids are container ids/names the suite made: no cgroup or runtime
	// state dir may be named after them at the end.
	ids []string
	// emptyDirs must be empty (or absent) at the end: runtime roots, engine
	// state dirs.
	emptyDirs []string
	// allowedMounts are mounts under dir that the engine itself keeps while
	// it has no container (e.g. containers/storage's private bind of its
	// home); everything else mounted under dir at the end is a leak.
	allowedMounts []string
	// idRoots are runtime roots shared with others (a runtime's default
	// root): at the end they may not hold state of the suite's containers.
	idRoots []string
	// tidies are host paths outside dir that did not exist when the suite
	// started and that the engine may create: removed at the end.
	tidies []tidyPath
}

type tidyPath struct {
	path string
	all  bool
}

// tidy registers host paths outside the suite dir that the engine or the
// runtime may create (a default root, a parent cgroup, a cache); those that
// do not exist now are removed when the suite ends, after the leak checks:
// if empty, or with everything in them when all is set. List deeper paths
// first.
func (s *suite) tidy(all bool, paths ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range paths {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			s.tidies = append(s.tidies, tidyPath{path: p, all: all})
		}
	}
}

// newSuite makes the suite dir and the logging shim. Its cleanup, which runs
// after every cleanup registered later (the engine's teardown), checks for
// leaks and then removes the dir.
func newSuite(t *testing.T, name string) *suite {
	t.Helper()
	setup.Gate.Check(t)
	dir := filepath.Join(workDir, name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &suite{t: t, world: &world{name: name, dir: dir, env: os.Environ()}}
	s.shimLog = filepath.Join(dir, "runtime-argv.log")
	s.shim = filepath.Join(dir, "bin", "berth")
	if err := writeShim(s.shim, s.shimLog, binary); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: runtime under test %s, via logging shim %s", name, binary, s.shim)
	t.Cleanup(s.finish)
	return s
}

// writeShim generates the logging wrapper: it appends "<pid>\t<argv...>"
// (tab-separated, one write) to logPath and execs the runtime.
func writeShim(path, logPath, runtime string) error {
	script := fmt.Sprintf(`#!/bin/sh
# berth e2e logging shim (generated): logs argv, then execs the runtime.
line="$$"
for a in "$@"; do line="$line	$a"; done
printf '%%s\n' "$line" >> %s
exec %s "$@"
`, shellQuote(logPath), shellQuote(runtime))
	return os.WriteFile(path, []byte(script), 0o755)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// in returns the suite for a subtest: failures go to t.
func (s *suite) in(t *testing.T) *suite { return &suite{t: t, world: s.world} }

type result = testkit.Result

// cmd is a client command of the suite: its environment, in the suite dir,
// in a process group of its own (a timeout kills what it started too).
func (s *suite) cmd(timeout time.Duration, name string, args ...string) testkit.Cmd {
	return testkit.Cmd{Path: name, Args: args, Env: s.env, Dir: s.dir, OutDir: s.dir, Timeout: timeout, Group: true}
}

// run runs a client command to completion.
func (s *suite) run(name string, args ...string) result {
	return testkit.Run(s.cmd(cmdTimeout, name, args...))
}

// start starts a client command in the background; it is killed when the
// test ends.
func (s *suite) start(timeout time.Duration, name string, args ...string) *testkit.Proc {
	s.t.Helper()
	p, err := testkit.Start(s.cmd(timeout, name, args...))
	if err != nil {
		s.t.Fatalf("starting %s: %v", name, err)
	}
	s.t.Cleanup(func() { p.Kill() })
	return p
}

// ---- pty ----

// runPTY runs a client on a new 24x80 pty as its controlling terminal, as a
// user at a terminal would: it waits for the container shell's prompt,
// types input, and returns everything the terminal showed plus the exit
// code.
func (s *suite) runPTY(timeout time.Duration, prompt, input string, name string, args ...string) result {
	s.t.Helper()
	term, err := testkit.NewTerminal(24, 80)
	if err != nil {
		if ciMode {
			s.t.Fatalf("opening a pty: %v", err)
		}
		s.t.Skipf("no pty on this machine: %v", err)
	}
	if err := term.Start(s.cmd(timeout, name, args...)); err != nil {
		s.t.Fatal(err)
	}
	promptErr := term.Expect(prompt, timeout/2)
	if promptErr == nil {
		_ = term.Type(input) // a shell that is gone fails the exit code check
	}
	r := term.Wait()
	if promptErr != nil && !r.TimedOut {
		r.Err = fmt.Errorf("no %q prompt on the terminal", prompt)
	}
	return r
}

// ---- the runtime argv log ----

// call is one runtime invocation seen by the shim.
type call struct {
	line    string
	globals []string // global flags, before the command
	cmd     string
	args    []string // after the command
}

// Global flags of runc that take a value (when not given as --flag=value).
var globalValueFlags = map[string]bool{
	"--log": true, "--log-format": true, "--root": true, "--criu": true, "--rootless": true,
}

func parseCall(line string) call {
	fields := strings.Split(line, "\t")
	c := call{line: strings.Join(fields[1:], " ")}
	argv := fields[1:]
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") {
			c.cmd = a
			c.args = argv[i+1:]
			break
		}
		c.globals = append(c.globals, a)
		if !strings.Contains(a, "=") && globalValueFlags[a] && i+1 < len(argv) {
			i++
			c.globals = append(c.globals, argv[i])
		}
	}
	return c
}

func (s *suite) calls() []call {
	f, err := os.Open(s.shimLog)
	if err != nil {
		return nil
	}
	defer f.Close()
	var calls []call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			calls = append(calls, parseCall(sc.Text()))
		}
	}
	return calls
}

// hasFlag: spec "--x" is present as "--x", "--x=..." or "-x"; spec
// "--x=v" is present as "--x=v" or "--x" "v".
func hasFlag(args []string, spec string) bool {
	name, val, withVal := strings.Cut(spec, "=")
	for i, a := range args {
		if a == "--" {
			return false
		}
		an, av, aHasVal := strings.Cut(a, "=")
		if an != name && an != strings.TrimPrefix(name, "-") {
			continue
		}
		if !withVal {
			return true
		}
		if aHasVal && av == val {
			return true
		}
		if !aHasVal && i+1 < len(args) && args[i+1] == val {
			return true
		}
	}
	return false
}

// lastArgIs matches calls whose last argument is v.
func lastArgIs(v string) func(c call) bool {
	return func(c call) bool { return len(c.args) > 0 && c.args[len(c.args)-1] == v }
}

// form is one argv shape an engine must have used.
type form struct {
	cmd     string
	flags   []string // command flags (see hasFlag)
	globals []string // global flags (see hasFlag)
	// match, if set, must also hold (e.g. an id among the positional args).
	match func(c call) bool
}

func (f form) String() string {
	parts := append([]string{}, f.globals...)
	parts = append(parts, f.cmd)
	parts = append(parts, f.flags...)
	return strings.Join(parts, " ")
}

func (f form) matches(c call) bool {
	if c.cmd != f.cmd {
		return false
	}
	for _, fl := range f.flags {
		if !hasFlag(c.args, fl) {
			return false
		}
	}
	for _, g := range f.globals {
		if !hasFlag(c.globals, g) {
			return false
		}
	}
	return f.match == nil || f.match(c)
}

// shape is a call's command with its flag names, for the summary.
func (c call) shape() string {
	parts := []string{}
	for _, g := range c.globals {
		if strings.HasPrefix(g, "-") {
			n, _, _ := strings.Cut(g, "=")
			parts = append(parts, n)
		}
	}
	parts = append(parts, c.cmd)
	for _, a := range c.args {
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			n, _, _ := strings.Cut(a, "=")
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, " ")
}

// assertForms fails the test for every form that no logged call matches, and
// logs a summary of the shapes seen.
func (s *suite) assertForms(forms []form) {
	s.t.Helper()
	calls := s.calls()
	counts := map[string]int{}
	for _, c := range calls {
		counts[c.shape()]++
	}
	var shapes []string
	for sh, n := range counts {
		shapes = append(shapes, fmt.Sprintf("%4d  %s", n, sh))
	}
	sort.Strings(shapes)
	s.t.Logf("%s: %d runtime invocations through the shim, by shape:\n%s", s.name, len(calls), strings.Join(shapes, "\n"))
	defer func() {
		if s.t.Failed() || testing.Verbose() {
			var lines []string
			for _, c := range calls {
				lines = append(lines, "  "+c.line)
			}
			s.t.Logf("%s: runtime argv log (%s):\n%s", s.name, s.shimLog, strings.Join(lines, "\n"))
		}
	}()
	if len(calls) == 0 {
		s.t.Errorf("%s: the runtime under test was never invoked (shim log %s is empty): the engine did not use berth", s.name, s.shimLog)
		return
	}
	for _, f := range forms {
		found := false
		for _, c := range calls {
			if f.matches(c) {
				found = true
				break
			}
		}
		if !found {
			s.t.Errorf("%s: the engine never ran the runtime as `%s`", s.name, f)
		}
	}
}

// createdIDs returns the container ids the runtime was asked to create.
func (s *suite) createdIDs() []string {
	var ids []string
	for _, c := range s.calls() {
		if (c.cmd == "create" || c.cmd == "run") && len(c.args) > 0 {
			ids = append(ids, c.args[len(c.args)-1])
		}
	}
	return ids
}

// ---- leaks ----

// scope is what of the suite must be gone at its end: the containers the
// engine created (and the suite named), state in its runtime roots, mounts
// and processes of its dir.
func (s *suite) scope() testkit.Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return testkit.Scope{
		IDs:           append(append([]string{}, s.ids...), s.createdIDs()...),
		Roots:         append([]string{}, s.idRoots...),
		EmptyDirs:     append([]string{}, s.emptyDirs...),
		Dir:           s.dir,
		AllowedMounts: append([]string{}, s.allowedMounts...),
		Inside:        s.dir,
		Binary:        binary,
	}
}

// finish checks for leaks (the engine is stopped by then), removes them and
// the suite dir, keeping that on failure when E2E_KEEP=1.
func (s *suite) finish() {
	leaks := s.scope().Settle(leakGrace)
	var procs []testkit.Leak
	for _, l := range leaks {
		s.t.Errorf("%s: %s left", s.name, l)
		if l.Kind == "process" {
			procs = append(procs, l)
		}
	}
	kept := s.t.Failed() && keep
	if kept {
		// Leftover processes only: what they left stays to be looked at.
		leaks = procs
	}
	if err := testkit.Remove(leaks); err != nil {
		s.t.Errorf("%s: removing what was left: %v", s.name, err)
	}
	for _, tp := range s.tidies {
		if tp.all {
			os.RemoveAll(tp.path)
		} else {
			os.Remove(tp.path)
		}
	}
	if kept {
		s.t.Logf("%s: keeping %s (E2E_KEEP=1)", s.name, s.dir)
		return
	}
	if err := errors.Join(testkit.UnmountUnder(s.dir), os.RemoveAll(s.dir)); err != nil {
		s.t.Errorf("%s: removing %s: %v", s.name, s.dir, err)
	}
}

// dumpFile logs a file's tail (e.g. an engine's log) under a header.
func dumpFile(t *testing.T, header, path string, maxBytes int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Logf("%s: %v", header, err)
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		f.Seek(st.Size()-maxBytes, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	t.Logf("---- %s (%s) ----\n%s\n---- end of %s ----", header, path, data, header)
}
