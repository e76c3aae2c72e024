package shim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/tests/testkit"
)

const cmdTimeout = 60 * time.Second

// suite is one private containerd with the shim on its PATH.
type suite struct {
	t      *testing.T
	fl     flavor
	dir    string
	ns     string
	sock   string
	log    string
	cfg    string
	root   string // the shim's state root for ns (<Root>/<ns>)
	cmd    *exec.Cmd
	exited chan struct{}
	env    []string
	ids    []string // container ids made (their cgroups must be gone)
	// parents are cgroup parents the tests gave (a pod's): libcontainer
	// leaves them, as runc does; removed at the end.
	parents []string
	// defaultRootExisted: /run/containerd/berth/<ns> was there before.
	defaultRootExisted bool
}

func token() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newSuite starts containerd (the flavor's) with its own root, state and
// sockets, the shim on its PATH, and extra config tables (TOML of the
// flavor's config version). Its cleanup stops everything and checks that
// nothing is left.
func newSuite(t *testing.T, fl flavor, name, extra string) *suite {
	t.Helper()
	dir := filepath.Join(workDir, name+"-"+fl.name)
	for _, d := range []string{"bin", "fifo"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &suite{
		t: t, fl: fl, dir: dir,
		ns:     "berth-shim-" + token(),
		sock:   filepath.Join(dir, "containerd.sock"),
		log:    filepath.Join(dir, "containerd.log"),
		cfg:    filepath.Join(dir, "config.toml"),
		exited: make(chan struct{}),
	}
	s.root = filepath.Join("/run/containerd/berth", s.ns)
	s.markDefaultRoot()
	if err := os.Symlink(shimBin, filepath.Join(dir, "bin", "containerd-shim-berth-v2")); err != nil {
		t.Fatal(err)
	}
	s.env = append(os.Environ(), "PATH="+filepath.Join(dir, "bin")+":"+fl.bin+":"+os.Getenv("PATH"))
	t.Cleanup(s.finish)

	disabled := `"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"`
	if !strings.Contains(extra, "cri") {
		disabled += `, "io.containerd.grpc.v1.cri"`
	}
	cfg := fmt.Sprintf("version = %d\nroot = %q\nstate = %q\ndisabled_plugins = [%s]\n\n[grpc]\n  address = %q\n\n[ttrpc]\n  address = %q\n\n[debug]\n  level = \"debug\"\n\n%s\n",
		fl.version, filepath.Join(dir, "root"), filepath.Join(dir, "state"), disabled, s.sock, s.sock+".ttrpc", extra)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.startDaemon()
	return s
}

func (s *suite) startDaemon() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.dumpLog()
		s.t.Fatal(err)
	}
}

// start starts containerd and waits until it answers.
func (s *suite) start() error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.exited = make(chan struct{})
	s.cmd = exec.Command(filepath.Join(s.fl.bin, "containerd"), "--config", s.cfg)
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Its own process group, and the shims theirs: stopping containerd
	// (TERM to its pid only) leaves the shims running, as on a node.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start containerd: %w", err)
	}
	logf.Close()
	cmd, exited := s.cmd, s.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	err = eventually(30*time.Second, func() error {
		select {
		case <-exited:
			return errors.New("containerd exited")
		default:
		}
		return s.ctr("version").err()
	})
	if err != nil {
		return fmt.Errorf("containerd %s did not come up: %w", s.fl.name, err)
	}
	return nil
}

// stopDaemon stops containerd only (the shims go on).
func (s *suite) stopDaemon() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

func (s *suite) dumpLog() {
	data, _ := os.ReadFile(s.log)
	if len(data) > 64<<10 {
		data = data[len(data)-64<<10:]
	}
	s.t.Logf("---- containerd %s log (%s) ----\n%s\n---- end ----", s.fl.name, s.log, data)
}

// result of a command.
type result struct {
	argv           []string
	stdout, stderr string
	code           int
	runErr         error
	dur            time.Duration
}

func (r result) err() error {
	if r.code != 0 || r.runErr != nil {
		return fmt.Errorf("%s", r)
	}
	return nil
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\n(exit %d, %v, %v)\nstdout: %s\nstderr: %s", strings.Join(r.argv, " "), r.code, r.dur.Round(time.Millisecond), r.runErr, r.stdout, r.stderr)
}

func (s *suite) run(timeout time.Duration, stdin string, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = s.env
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err := cmd.Run()
	r := result{argv: cmd.Args, stdout: out.String(), stderr: errb.String(), code: -1, runErr: err, dur: time.Since(start)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		r.runErr, r.code = fmt.Errorf("timed out after %v", timeout), -1
	}
	return r
}

func (s *suite) ctrArgs(args ...string) []string {
	return append([]string{"--address", s.sock, "-n", s.ns}, args...)
}

func (s *suite) ctr(args ...string) result {
	return s.run(cmdTimeout, "", filepath.Join(s.fl.bin, "ctr"), s.ctrArgs(args...)...)
}

func (s *suite) mustCtr(t *testing.T, args ...string) string {
	t.Helper()
	r := s.ctr(args...)
	if r.code != 0 {
		t.Fatalf("ctr failed:\n%s", r)
	}
	return r.stdout
}

// runArgs are `ctr run` arguments that select the shim.
func (s *suite) runArgs(extra ...string) []string {
	return append([]string{"run", "--runtime", "io.containerd.berth.v2", "--fifo-dir", filepath.Join(s.dir, "fifo")}, extra...)
}

func (s *suite) importImages(t *testing.T) {
	t.Helper()
	s.mustCtr(t, "images", "import", needImages(t))
}

func (s *suite) id(name string) string {
	id := "shim-" + token() + "-" + name
	s.ids = append(s.ids, id)
	return id
}

// tasks returns id -> status from `ctr task ls`.
func (s *suite) tasks() map[string]string {
	out := map[string]string{}
	r := s.ctr("task", "ls")
	for _, line := range strings.Split(r.stdout, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 3 {
			out[f[0]] = f[2]
		}
	}
	return out
}

func (s *suite) taskPid(id string) int {
	r := s.ctr("task", "ls")
	for _, line := range strings.Split(r.stdout, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == id {
			pid, _ := strconv.Atoi(f[1])
			return pid
		}
	}
	return 0
}

func (s *suite) waitStatus(t *testing.T, id, want string, timeout time.Duration) {
	t.Helper()
	var got string
	if err := eventually(timeout, func() error {
		if got = s.tasks()[id]; got != want {
			return fmt.Errorf("status %q", got)
		}
		return nil
	}); err != nil {
		t.Fatalf("task %s: status %q, want %q", id, got, want)
	}
}

// removeTask kills, deletes the task and the container.
func (s *suite) removeTask(t *testing.T, id string) {
	t.Helper()
	s.ctr("task", "kill", "-s", "SIGKILL", id)
	_ = eventually(15*time.Second, func() error {
		if st := s.tasks()[id]; st == "RUNNING" || st == "PAUSED" || st == "CREATED" {
			return fmt.Errorf("still %s", st)
		}
		return nil
	})
	if r := s.ctr("task", "delete", id); r.code != 0 && !strings.Contains(r.stderr, "not found") {
		t.Errorf("task delete %s:\n%s", id, r)
	}
	if r := s.ctr("container", "delete", id); r.code != 0 && !strings.Contains(r.stderr, "not found") {
		t.Errorf("container delete %s:\n%s", id, r)
	}
}

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

// ---- the end of a suite ----

// finish removes what the tests left through containerd, stops it, then
// checks that no shim, container process, mount, cgroup, state or socket is
// left, and removes whatever is.
func (s *suite) finish() {
	t := s.t
	select {
	case <-s.exited:
		// Stopped by a test that failed half-way: back, to clean up
		// through it (the checks and the scrub below run either way).
		if s.cmd != nil {
			if err := s.start(); err != nil {
				t.Errorf("restart containerd to clean up: %v", err)
			}
		}
	default:
	}
	for id, st := range s.tasks() {
		if st == "PAUSED" {
			s.ctr("task", "resume", id)
		}
		s.ctr("task", "kill", "-a", "-s", "SIGKILL", id)
		_ = eventually(10*time.Second, func() error {
			if st := s.tasks()[id]; st != "STOPPED" && st != "" {
				return errors.New(st)
			}
			return nil
		})
		s.ctr("task", "delete", "-f", id)
	}
	for _, id := range strings.Fields(s.ctr("container", "ls", "-q").stdout) {
		s.ctr("container", "delete", id)
	}
	if s.cmd != nil {
		s.stopDaemon()
	}
	if t.Failed() {
		s.dumpLog()
	}
	var problems []string
	_ = eventually(10*time.Second, func() error {
		problems = s.leaks()
		if len(problems) > 0 {
			return errors.New("leaks")
		}
		return nil
	})
	for _, p := range problems {
		t.Errorf("%s: %s", s.fl.name, p)
	}
	s.scrub()
}

// markDefaultRoot notes whether the namespace's default state root exists
// (call again after changing s.ns).
func (s *suite) markDefaultRoot() {
	_, err := os.Stat(filepath.Join("/run/containerd/berth", s.ns))
	s.defaultRootExisted = err == nil
}

// shimProcs are the pids of the suite's shims (its namespace and its
// containerd), whatever other test runs have running.
func (s *suite) shimProcs() []int { return shimProcs(s.ns, s.sock) }

// shimProcs are the pids of shims serving namespace ns for the containerd
// at address.
func shimProcs(ns, address string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(argv) > 2 && strings.HasSuffix(argv[0], "containerd-shim-berth-v2") && strings.Contains(string(raw), "\x00"+ns+"\x00") && strings.Contains(string(raw), "\x00"+address+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sockets are the socket paths the suite's shims used: one per group (a
// ctr container, a CRI pod), named as the shim names them (shim/start.go).
func (s *suite) sockets() []string {
	var out []string
	for _, id := range s.ids {
		sum := sha256.Sum256([]byte(s.sock + "\x00" + s.ns + "\x00" + id))
		out = append(out, "/run/containerd/s/berth-"+hex.EncodeToString(sum[:20]))
	}
	return out
}

func (s *suite) leaks() []string {
	var problems []string
	for _, pid := range s.shimProcs() {
		problems = append(problems, fmt.Sprintf("shim left: pid %d", pid))
	}
	for _, p := range procsUnder(s.dir) {
		problems = append(problems, "process left: "+p)
	}
	for _, m := range mountsUnder(s.dir) {
		problems = append(problems, "mount left: "+m)
	}
	for _, cg := range cgroupsNamed(s.ids) {
		problems = append(problems, "cgroup left: "+cg)
	}
	if ents, err := os.ReadDir(s.root); err == nil && len(ents) > 0 {
		for _, e := range ents {
			problems = append(problems, "berth state left: "+filepath.Join(s.root, e.Name()))
		}
	}
	for _, p := range s.sockets() {
		if _, err := os.Lstat(p); err == nil {
			problems = append(problems, "shim socket left: "+p)
		}
	}
	// A suite with its own Root must not touch the default one.
	if def := filepath.Join("/run/containerd/berth", s.ns); def != s.root && !s.defaultRootExisted {
		if _, err := os.Stat(def); err == nil {
			problems = append(problems, "default state root made: "+def)
		}
	}
	return problems
}

// scrub removes whatever the suite left, after the checks.
func (s *suite) scrub() {
	for _, pid := range s.shimProcs() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, p := range procsUnder(s.dir) {
		var pid int
		fmt.Sscanf(p, "pid %d", &pid)
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = testkit.RemoveCgroups(cgroupsNamed(s.ids), 5*time.Second) // best effort: scrub is the last resort
	unmountUnder(s.dir)
	unmountUnder(s.root)
	os.RemoveAll(s.root)
	for _, cg := range cgroupHierarchies() {
		_ = os.Remove(filepath.Join(cg, s.ns)) // the namespace's parent cgroup, if empty
		for _, p := range s.parents {
			_ = os.Remove(filepath.Join(cg, p))
		}
	}
	for _, p := range s.sockets() {
		_ = os.Remove(p)
	}
	if s.t.Failed() && keep {
		s.t.Logf("keeping %s (SHIM_KEEP=1)", s.dir)
		return
	}
	os.RemoveAll(s.dir)
}

func procsUnder(dir string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		p := "/proc/" + e.Name()
		raw, _ := os.ReadFile(p + "/cmdline")
		argv := strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " ")
		cwd, _ := os.Readlink(p + "/cwd")
		root, _ := os.Readlink(p + "/root")
		if strings.Contains(argv, dir) || strings.HasPrefix(cwd, dir) || strings.HasPrefix(root, dir) {
			found = append(found, fmt.Sprintf("pid %d: %s (cwd %s)", pid, argv, cwd))
		}
	}
	return found
}

func mountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

func unmountUnder(dir string) {
	for range 5 {
		ms := mountsUnder(dir)
		if len(ms) == 0 {
			return
		}
		for i := len(ms) - 1; i >= 0; i-- {
			_ = unix.Unmount(ms[i], unix.MNT_DETACH)
		}
	}
}

func cgroupHierarchies() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var out []string
	hs, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hs {
		if fi, err := os.Lstat(h); err == nil && fi.IsDir() {
			out = append(out, h)
		}
	}
	return out
}

// cgroupsNamed finds cgroup dirs (a few levels deep) named after ids.
func cgroupsNamed(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	var found []string
	for _, h := range cgroupHierarchies() {
		base := strings.Count(h, "/")
		_ = filepath.WalkDir(h, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Count(p, "/")-base > 4 {
				return filepath.SkipDir
			}
			for _, id := range ids {
				if strings.Contains(filepath.Base(p), id) {
					found = append(found, p)
					return filepath.SkipDir
				}
			}
			return nil
		})
	}
	return found
}

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
