package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	requireSuite(t)
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

// result is one finished client command.
type result struct {
	argv   []string
	stdout string
	stderr string
	code   int // -1: did not run or was killed
	err    error
	dur    time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\n(exit %d, %v, err=%v)\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.argv, " "), r.code, r.dur.Round(time.Millisecond), r.err,
		indent(r.stdout), indent(r.stderr))
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "  (empty)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// cmdOpts tunes one command.
type cmdOpts struct {
	timeout time.Duration
	stdin   string
}

func (s *suite) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = s.env
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runOpts runs a client command to completion.
func (s *suite) runOpts(o cmdOpts, name string, args ...string) result {
	if o.timeout == 0 {
		o.timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := s.command(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if o.stdin != "" {
		cmd.Stdin = strings.NewReader(o.stdin)
	}
	start := time.Now()
	err := cmd.Run()
	r := result{argv: cmd.Args, stdout: stdout.String(), stderr: stderr.String(), code: -1, err: err, dur: time.Since(start)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %v", o.timeout)
		r.code = -1
	}
	return r
}

func (s *suite) run(name string, args ...string) result {
	return s.runOpts(cmdOpts{}, name, args...)
}

// bg is a client command left running in the background.
type bg struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	res    result
}

func (s *suite) start(timeout time.Duration, name string, args ...string) *bg {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	b := &bg{cancel: cancel, done: make(chan struct{})}
	b.cmd = s.command(ctx, name, args...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	started := time.Now()
	if err := b.cmd.Start(); err != nil {
		cancel()
		s.t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		err := b.cmd.Wait()
		b.res = result{argv: b.cmd.Args, stdout: b.stdout.String(), stderr: b.stderr.String(), code: b.cmd.ProcessState.ExitCode(), err: err, dur: time.Since(started)}
		if ctx.Err() != nil {
			b.res.err = fmt.Errorf("timed out after %v", timeout)
			b.res.code = -1
		}
		cancel()
		close(b.done)
	}()
	s.t.Cleanup(func() { b.cancel(); <-b.done })
	return b
}

// wait waits for the command (bounded by its own timeout).
func (b *bg) wait() result {
	<-b.done
	return b.res
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---- pty ----

// openPTY returns a pty master and its slave, 24x80.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	sl, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	_ = unix.IoctlSetWinsize(int(sl.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	return m, sl, nil
}

// lockedBuf collects a pty's output.
type lockedBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runPTY runs a client on a new pty as its controlling terminal, as a user
// at a terminal would: it waits for the container shell's prompt, types
// input, and returns everything the terminal showed plus the exit code.
func (s *suite) runPTY(timeout time.Duration, prompt, input string, name string, args ...string) result {
	s.t.Helper()
	m, sl, err := openPTY()
	if err != nil {
		if ciMode {
			s.t.Fatalf("opening a pty: %v", err)
		}
		s.t.Skipf("no pty on this machine: %v", err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append([]string{}, s.env...), "TERM=xterm")
	cmd.Dir = s.dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sl, sl, sl
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 5 * time.Second
	out := &lockedBuf{}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		sl.Close()
		s.t.Fatalf("starting %s: %v", name, err)
	}
	sl.Close()
	readDone := make(chan struct{})
	go func() {
		io.Copy(out, m) // ends with EIO when the last slave fd closes
		close(readDone)
	}()
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	// Wait for the prompt, then type.
	promptErr := eventually(timeout/2, func() error {
		if strings.Contains(out.String(), prompt) {
			return nil
		}
		return errors.New("no prompt")
	})
	if promptErr == nil {
		m.Write([]byte(input))
	}
	err = <-waitErr
	select {
	case <-readDone:
	case <-time.After(2 * time.Second):
	}
	r := result{argv: cmd.Args, stdout: out.String(), code: -1, err: err, dur: time.Since(started)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if promptErr != nil {
		r.err = fmt.Errorf("no %q prompt on the terminal", prompt)
	}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %v", timeout)
		r.code = -1
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

// procsReferencing lists processes whose argv, cwd or root is under dir,
// or whose argv names one of ids together with the runtime under test.
func procsReferencing(dir string, ids []string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid := 0
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == self {
			continue
		}
		p := "/proc/" + e.Name()
		raw, err := os.ReadFile(p + "/cmdline")
		if err != nil {
			continue
		}
		argv := strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " ")
		reason := ""
		if strings.Contains(argv, dir) {
			reason = "argv"
		}
		if cwd, _ := os.Readlink(p + "/cwd"); reason == "" && strings.HasPrefix(cwd, dir) {
			reason = "cwd " + cwd
		}
		if root, _ := os.Readlink(p + "/root"); reason == "" && strings.HasPrefix(root, dir) {
			reason = "root " + root
		}
		if exe, _ := os.Readlink(p + "/exe"); reason == "" && exe == binary {
			for _, id := range ids {
				if strings.Contains(argv, id) {
					reason = "runtime for " + id
				}
			}
		}
		if reason != "" {
			found = append(found, fmt.Sprintf("pid %d (%s): %s", pid, reason, argv))
		}
	}
	return found
}

type mountEntry struct{ point, fstype, source string }

func mounts() []mountEntry {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var ms []mountEntry
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		m := mountEntry{point: unescapeMount(f[4])}
		for i, x := range f {
			if x == "-" && i+2 < len(f) {
				m.fstype, m.source = f[i+1], f[i+2]
			}
		}
		ms = append(ms, m)
	}
	return ms
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func mountsUnder(dir string) []mountEntry {
	var out []mountEntry
	for _, m := range mounts() {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			out = append(out, m)
		}
	}
	return out
}

// unmountUnder detaches every mount under dir, deepest (latest) first.
func unmountUnder(dir string) {
	for i := 0; i < 5; i++ {
		ms := mountsUnder(dir)
		if len(ms) == 0 {
			return
		}
		for j := len(ms) - 1; j >= 0; j-- {
			unix.Unmount(ms[j].point, unix.MNT_DETACH)
		}
	}
}

// cgroupsNamed lists cgroup dirs (in every hierarchy, a few levels deep)
// whose name contains one of ids.
func cgroupsNamed(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	var found []string
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		hier = []string{"/sys/fs/cgroup"}
	}
	for _, h := range hier {
		if fi, err := os.Lstat(h); err != nil || !fi.IsDir() {
			continue // cpu,cpuacct style symlinks
		}
		base := strings.Count(h, "/")
		filepath.WalkDir(h, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Count(p, "/")-base > 4 {
				return filepath.SkipDir
			}
			for _, id := range ids {
				if id != "" && strings.Contains(filepath.Base(p), id) {
					found = append(found, p)
					return filepath.SkipDir
				}
			}
			return nil
		})
	}
	return found
}

// checkLeaks fails the test for leaked processes, mounts, cgroups and
// runtime state, waiting leakGrace for things to settle.
func (s *suite) checkLeaks() {
	s.t.Helper()
	s.mu.Lock()
	ids := append([]string{}, s.ids...)
	empties := append([]string{}, s.emptyDirs...)
	allowed := append([]string{}, s.allowedMounts...)
	idRoots := append([]string{}, s.idRoots...)
	s.mu.Unlock()
	ids = append(ids, s.createdIDs()...)
	var problems []string
	eventually(leakGrace, func() error {
		problems = nil
		for _, p := range procsReferencing(s.dir, ids) {
			problems = append(problems, "process left: "+p)
		}
	mountLoop:
		for _, m := range mountsUnder(s.dir) {
			for _, a := range allowed {
				if m.point == a {
					continue mountLoop
				}
			}
			problems = append(problems, fmt.Sprintf("mount left: %s (%s from %s)", m.point, m.fstype, m.source))
		}
		for _, c := range cgroupsNamed(ids) {
			problems = append(problems, "cgroup left: "+c)
		}
		for _, d := range empties {
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				problems = append(problems, "state left: "+filepath.Join(d, e.Name()))
			}
		}
		for _, r := range idRoots {
			for _, id := range ids {
				if _, err := os.Lstat(filepath.Join(r, id)); err == nil {
					problems = append(problems, "state left: "+filepath.Join(r, id))
				}
			}
		}
		if len(problems) > 0 {
			return errors.New("leaks")
		}
		return nil
	})
	for _, p := range problems {
		s.t.Errorf("%s: %s", s.name, p)
	}
}

// finish checks for leaks (the engine is stopped by then) and removes the
// suite dir, keeping it on failure when E2E_KEEP=1.
func (s *suite) finish() {
	s.checkLeaks()
	// Leftover processes would keep mounts busy: kill what still refers to
	// the suite dir before unmounting.
	for _, p := range procsReferencing(s.dir, nil) {
		var pid int
		fmt.Sscanf(p, "pid %d", &pid)
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, tp := range s.tidies {
		if tp.all {
			os.RemoveAll(tp.path)
		} else {
			os.Remove(tp.path)
		}
	}
	if s.t.Failed() && keep {
		s.t.Logf("%s: keeping %s (E2E_KEEP=1)", s.name, s.dir)
		return
	}
	unmountUnder(s.dir)
	if err := os.RemoveAll(s.dir); err != nil {
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

// readSnippet returns a contrib/ config snippet with every occurrence of old
// replaced by new (pairs), failing if an old string is not in it: so the
// tests run the snippets exactly as documented, with only paths swapped.
func readSnippet(t *testing.T, rel string, pairs ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatalf("reading the documented snippet: %v", err)
	}
	text := string(data)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("%s no longer contains %q, which the e2e test substitutes", rel, pairs[i])
		}
		text = strings.ReplaceAll(text, pairs[i], pairs[i+1])
	}
	return text
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
