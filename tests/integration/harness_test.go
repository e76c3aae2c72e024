package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	// cmdTimeout bounds every runtime invocation so that no test hangs.
	cmdTimeout = 30 * time.Second
	// leakGrace is how long the leak checker waits for the kernel to reap
	// processes and for the runtime's teardown to become visible.
	leakGrace = 3 * time.Second
)

// env is one test's private world: a temp base dir that holds the private
// --root and every bundle/helper dir of the test, and the container ids the
// test created (checked for leaks when the test ends).
type env struct {
	t    *testing.T
	base string // all of the test's files live below here
	root string // the private --root passed to every runtime call

	mu  sync.Mutex
	ids []string
}

// newEnv checks the suite preconditions, marks the test parallel and makes
// the test's private dirs. Its cleanup (registered before any bundle dir is
// made, so it runs while they still exist) force-deletes every container the
// test made and asserts that nothing leaked.
func newEnv(t *testing.T) *env {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != "" {
		t.Fatal(setupErr)
	}
	t.Parallel()
	e := &env{t: t, base: t.TempDir()}
	e.root = filepath.Join(e.base, "state")
	// An existing root, as after a first container: like runc, berth
	// refuses to list a --root that does not exist.
	if err := os.Mkdir(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup)
	return e
}

var (
	idCounter  atomic.Int64
	idBadChars = regexp.MustCompile(`[^A-Za-z0-9_+.-]`)
	idRuntime  = regexp.MustCompile(`(?i)berth`)
)

// newID returns a fresh, short container id derived from the test name and
// registers it with the leak checker.
func (e *env) newID() string {
	name := strings.TrimPrefix(e.t.Name(), "Test")
	name = strings.ReplaceAll(name, "/", ".")
	name = idBadChars.ReplaceAllString(name, "_")
	name = idRuntime.ReplaceAllString(name, "rt")
	if len(name) > 20 {
		name = name[:20]
	}
	id := fmt.Sprintf("%s-%d-%03d", name, os.Getpid(), idCounter.Add(1))
	e.track(id)
	return id
}

// track registers id with the leak checker (for ids not made by newID).
func (e *env) track(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = append(e.ids, id)
}

// mkdir makes a fresh directory below the test's base dir.
func (e *env) mkdir(prefix string) string {
	e.t.Helper()
	d, err := os.MkdirTemp(e.base, prefix)
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

// ---------------------------------------------------------------------------
// Bundles

type bundle struct {
	t    *testing.T
	dir  string
	spec *specs.Spec
}

// newBundle makes a bundle: a copy of the base busybox rootfs and the base
// config.json (with a writable rootfs and, when given, process.args = args).
func (e *env) newBundle(args ...string) *bundle {
	e.t.Helper()
	dir := e.mkdir("bundle")
	out, err := exec.Command("cp", "-a", filepath.Join(baseDir, "rootfs"), filepath.Join(dir, "rootfs")).CombinedOutput()
	if err != nil {
		e.t.Fatalf("copying base rootfs: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(baseDir, "config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatalf("base config.json: %v", err)
	}
	if s.Root == nil {
		s.Root = &specs.Root{Path: "rootfs"}
	}
	s.Root.Readonly = false
	if s.Process == nil {
		e.t.Fatal("base config.json has no process")
	}
	s.Process.Terminal = false
	if len(args) > 0 {
		s.Process.Args = args
	}
	b := &bundle{t: e.t, dir: dir, spec: &s}
	b.write()
	return b
}

// edit applies f to the spec and rewrites config.json.
func (b *bundle) edit(f func(*specs.Spec)) {
	b.t.Helper()
	f(b.spec)
	b.write()
}

func (b *bundle) write() {
	b.t.Helper()
	data, err := json.MarshalIndent(b.spec, "", "\t")
	if err != nil {
		b.t.Fatal(err)
	}
	b.writeConfig(data)
}

// writeConfig replaces config.json with raw bytes.
func (b *bundle) writeConfig(data []byte) {
	b.t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// rootfs returns the host path of p inside the bundle's rootfs.
func (b *bundle) rootfs(p string) string {
	return filepath.Join(b.dir, "rootfs", p)
}

// ---------------------------------------------------------------------------
// Running the runtime

type result struct {
	args   []string
	stdout string
	stderr string
	code   int   // exit code; -1 if the process did not exit normally
	err    error // non-exit error (start failure, timeout...)
	dur    time.Duration
}

func (r result) String() string {
	s := fmt.Sprintf("`%s` exited %d after %v", strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond))
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	return s + fmt.Sprintf("\n--- stdout:\n%s\n--- stderr:\n%s", r.stdout, r.stderr)
}

// output is stdout and stderr together, for error-message assertions.
func (r result) output() string { return r.stdout + "\n" + r.stderr }

type execOpts struct {
	dir        string        // working directory
	stdin      io.Reader     // nil: /dev/null
	extraFiles []*os.File    // fds 3...
	timeout    time.Duration // 0: cmdTimeout
	noRoot     bool          // do not pass --root (args carry their own)
	wrap       []string      // run the runtime through this command (e.g. setpriv ...)
	env        []string      // added to the test's environment
}

// command builds an *exec.Cmd for the runtime with `--root <private root>`
// prepended (unless o.noRoot). Stdio is left to the caller.
func (e *env) command(ctx context.Context, o execOpts, args ...string) *exec.Cmd {
	full := args
	if !o.noRoot {
		full = append([]string{"--root", e.root}, args...)
	}
	cmd := exec.CommandContext(ctx, binary, full...)
	if len(o.wrap) > 0 {
		cmd = exec.CommandContext(ctx, o.wrap[0], append(append(o.wrap[1:], binary), full...)...)
	}
	cmd.Dir = o.dir
	if len(o.env) > 0 {
		cmd.Env = append(os.Environ(), o.env...)
	}
	cmd.ExtraFiles = o.extraFiles
	cmd.Stdin = o.stdin
	return cmd
}

// proc is a started runtime invocation whose stdout/stderr go to files, so
// that container processes inheriting them never block Wait.
type proc struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	outF   *os.File
	errF   *os.File
	start  time.Time
	done   chan struct{}
	res    result
}

// start launches the runtime without waiting for it. The process is killed
// at the test's end if it is still running.
func (e *env) start(o execOpts, args ...string) *proc {
	e.t.Helper()
	timeout := o.timeout
	if timeout == 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := e.command(ctx, o, args...)
	outF, err1 := os.CreateTemp(e.base, "stdout")
	errF, err2 := os.CreateTemp(e.base, "stderr")
	if err := errors.Join(err1, err2); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	p := &proc{cmd: cmd, cancel: cancel, outF: outF, errF: errF, done: make(chan struct{})}
	p.res.args = append([]string{filepath.Base(binary)}, cmd.Args[1:]...)
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		p.res.err, p.res.code = err, -1
		close(p.done)
		p.finish()
		return p
	}
	go func() {
		err := cmd.Wait()
		p.res.dur = time.Since(p.start)
		p.res.code = cmd.ProcessState.ExitCode()
		if ctx.Err() != nil {
			p.res.err = fmt.Errorf("killed after timeout %v", timeout)
		} else if err != nil && !errors.As(err, new(*exec.ExitError)) {
			p.res.err = err
		}
		cancel()
		p.finish()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) finish() {
	for _, f := range []*os.File{p.outF, p.errF} {
		data, _ := os.ReadFile(f.Name())
		if f == p.outF {
			p.res.stdout = string(data)
		} else {
			p.res.stderr = string(data)
		}
		f.Close()
		os.Remove(f.Name())
	}
}

// wait waits for the process to exit.
func (p *proc) wait() result {
	<-p.done
	return p.res
}

// exec runs the runtime to completion with options.
func (e *env) exec(o execOpts, args ...string) result {
	e.t.Helper()
	return e.start(o, args...).wait()
}

// run runs `<binary> --root <root> args...` and returns its result.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.exec(execOpts{}, args...)
}

// mustRun is run that fails the test unless the command exits 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 || r.err != nil {
		e.t.Fatalf("command failed: %s", r)
	}
	return r
}

// mustFail is run that fails the test unless the command exits non-zero
// with an output containing every one of wants.
func (e *env) mustFail(args []string, wants ...string) result {
	e.t.Helper()
	r := e.run(args...)
	checkFailure(e.t, r, r.output(), wants...)
	return r
}

func checkFailure(t *testing.T, r result, text string, wants ...string) {
	t.Helper()
	if r.err != nil || r.code == 0 {
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
func (e *env) create(b *bundle, id string, flags ...string) result {
	e.t.Helper()
	args := append(append([]string{"create", "--bundle", b.dir}, flags...), id)
	return e.mustRun(args...)
}

// ---------------------------------------------------------------------------
// State

type containerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations"`
	Owner       string            `json:"owner"`
}

// state runs `state id`; the returned state is nil when the command failed
// or printed something that is not a state object.
func (e *env) state(id string) (*containerState, result) {
	e.t.Helper()
	r := e.run("state", id)
	if r.code != 0 {
		return nil, r
	}
	var s containerState
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		e.t.Errorf("state %s: output is not JSON: %v: %s", id, err, r)
		return nil, r
	}
	return &s, r
}

func (e *env) mustState(id string) *containerState {
	e.t.Helper()
	s, r := e.state(id)
	if s == nil {
		e.t.Fatalf("state failed: %s", r)
	}
	return s
}

// waitStatus polls `state id` until the status is want.
func (e *env) waitStatus(id, want string, timeout time.Duration) *containerState {
	e.t.Helper()
	var last *containerState
	var lastR result
	waitFor(e.t, timeout, fmt.Sprintf("container %s to be %q", id, want), func() (bool, string) {
		last, lastR = e.state(id)
		if last == nil {
			return false, lastR.String()
		}
		return last.Status == want, "status " + last.Status
	})
	return last
}

// ---------------------------------------------------------------------------
// Polling

// waitFor polls cond every 20ms until it returns true or timeout passes, then
// fails the test with what and the last description cond returned.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
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

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, ok := procState(pid)
	return ok && st != 'Z' && st != 'X'
}

// procState returns the state letter from /proc/<pid>/stat.
func procState(pid int) (byte, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0, false
	}
	return data[i+2], true
}

// ---------------------------------------------------------------------------
// Unix sockets receiving fds (console socket, pidfd socket)

type recvd struct {
	file *os.File // first fd received, non-blocking and pollable
	name string   // the message data
	err  error
}

// listenFd listens on a fresh unix socket below the test dir and returns its
// path and a channel yielding the first fd received over SCM_RIGHTS from the
// first connection.
func (e *env) listenFd() (string, <-chan recvd) {
	e.t.Helper()
	// sun_path is limited to 108 bytes; the test dir may be long.
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		l.Close()
		os.RemoveAll(dir)
	})
	ch := make(chan recvd, 1)
	go func() {
		ch <- acceptFd(l)
	}()
	return path, ch
}

func acceptFd(l *net.UnixListener) recvd {
	_ = l.SetDeadline(time.Now().Add(cmdTimeout))
	conn, err := l.AcceptUnix()
	if err != nil {
		return recvd{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(cmdTimeout))
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return recvd{err: err}
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return recvd{err: err}
	}
	var fds []int
	for i := range msgs {
		f, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, f...)
		}
	}
	if len(fds) == 0 {
		return recvd{err: fmt.Errorf("no fd received (data %q)", buf[:n])}
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	_ = unix.SetNonblock(fds[0], true)
	return recvd{file: os.NewFile(uintptr(fds[0]), string(buf[:n])), name: string(buf[:n])}
}

// recvWithin waits for a received fd.
func recvWithin(t *testing.T, ch <-chan recvd, timeout time.Duration) *os.File {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("receiving fd: %v", r.err)
		}
		t.Cleanup(func() { r.file.Close() })
		return r.file
	case <-time.After(timeout):
		t.Fatalf("no fd received within %v", timeout)
		return nil
	}
}

// readUntil reads f (non-blocking, pollable) until the accumulated output
// contains want, EOF/EIO, or timeout. It returns what it read.
func readUntil(f *os.File, want string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	_ = f.SetReadDeadline(deadline)
	var out []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(out), want) {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(out)
}

// ---------------------------------------------------------------------------
// Pseudo-terminals

// openPty opens a new pty pair: master (non-blocking, pollable) and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		unix.Close(m)
		t.Fatalf("ptsname: %v", err)
	}
	s, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(m)
		t.Fatalf("open pty slave: %v", err)
	}
	_ = unix.SetNonblock(m, true)
	master = os.NewFile(uintptr(m), "ptmx")
	slave = os.NewFile(uintptr(s), fmt.Sprintf("/dev/pts/%d", n))
	t.Cleanup(func() {
		master.Close()
		slave.Close()
	})
	return master, slave
}

// ---------------------------------------------------------------------------
// Leak checking

type leaks struct {
	stateEntries []string
	cgroups      []string
	mounts       []string
	procs        []string
	pids         []int
}

func (l leaks) empty() bool {
	return len(l.stateEntries)+len(l.cgroups)+len(l.mounts)+len(l.procs) == 0
}

func (l leaks) String() string {
	var parts []string
	add := func(what string, items []string) {
		if len(items) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", what, strings.Join(items, "; ")))
		}
	}
	add("state dir entries", l.stateEntries)
	add("cgroup dirs", l.cgroups)
	add("mounts", l.mounts)
	add("processes", l.procs)
	return strings.Join(parts, "\n")
}

// cleanup force-deletes every container of the test, asserts nothing was
// left behind and cleans up whatever was.
func (e *env) cleanup() {
	t := e.t
	e.mu.Lock()
	ids := append([]string(nil), e.ids...)
	e.mu.Unlock()
	for _, id := range ids {
		r := e.exec(execOpts{}, "delete", "--force", id)
		if r.code != 0 {
			t.Logf("cleanup: %s", r)
		}
	}
	idSet := make(map[string]bool, len(ids))
	for _, id := range ids {
		idSet[id] = true
	}
	var l leaks
	deadline := time.Now().Add(leakGrace)
	for {
		l = e.findLeaks(ids, idSet)
		if l.empty() || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l.empty() {
		return
	}
	t.Errorf("leaked after `delete --force` of %v:\n%s", ids, l)
	e.cleanLeaks(l, ids)
}

func (e *env) findLeaks(ids []string, idSet map[string]bool) leaks {
	var l leaks
	// State: no entry of the private root starting with an id.
	if ents, err := os.ReadDir(e.root); err == nil {
		for _, ent := range ents {
			for _, id := range ids {
				if strings.HasPrefix(ent.Name(), id) {
					l.stateEntries = append(l.stateEntries, filepath.Join(e.root, ent.Name()))
				}
			}
		}
	}
	// Stray state dirs in the wrong place (e.g. --root / was accepted).
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, "/") || id == "." || id == ".." {
			continue
		}
		if _, err := os.Stat(filepath.Join("/", id)); err == nil {
			l.stateEntries = append(l.stateEntries, filepath.Join("/", id))
		}
	}
	l.cgroups = findCgroups(idSet)
	// Mounts mentioning any of the test's dirs.
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.Contains(sc.Text(), e.base+"/") {
				l.mounts = append(l.mounts, sc.Text())
			}
		}
		f.Close()
	}
	l.procs, l.pids = findProcs(e.base, idSet)
	return l
}

// findCgroups walks /sys/fs/cgroup/<hierarchy>/ to depth 5 for directories
// whose base name is one of ids.
func findCgroups(ids map[string]bool) []string {
	var found []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, ent := range ents {
			if !ent.IsDir() {
				continue
			}
			p := filepath.Join(dir, ent.Name())
			if ids[ent.Name()] {
				found = append(found, p)
			}
			if depth < 5 {
				walk(p, depth+1)
			}
		}
	}
	// From the top: on cgroup v2 a container's cgroup sits right under
	// /sys/fs/cgroup; on v1 under each hierarchy. ReadDir's IsDir skips
	// the cpu,cpuacct style symlinks.
	walk("/sys/fs/cgroup", 0)
	return found
}

// findProcs lists live processes whose command line mentions base or whose
// cgroup path has a component equal to one of ids.
func findProcs(base string, ids map[string]bool) ([]string, []int) {
	var descs []string
	var pids []int
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		if !pidAlive(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cl := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		why := ""
		if strings.Contains(cl, base+"/") {
			why = "command line mentions " + base
		}
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		for _, line := range strings.Split(string(cg), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 {
				continue
			}
			for _, c := range strings.Split(parts[2], "/") {
				if ids[c] {
					why = "in cgroup " + line
				}
			}
		}
		if why != "" {
			descs = append(descs, fmt.Sprintf("pid %d %q (%s)", pid, cl, why))
			pids = append(pids, pid)
		}
	}
	return descs, pids
}

// cleanLeaks removes whatever findLeaks reported so the machine stays clean.
func (e *env) cleanLeaks(l leaks, ids []string) {
	for _, pid := range l.pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := len(l.mounts) - 1; i >= 0; i-- {
		f := strings.Fields(l.mounts[i])
		if len(f) > 4 {
			_ = unix.Unmount(f[4], unix.MNT_DETACH)
		}
	}
	for _, err := range cgclean.Remove(l.cgroups, 2*time.Second) {
		e.t.Logf("cleanup: %v", err)
	}
	for _, p := range l.stateEntries {
		_ = os.RemoveAll(p)
	}
}
