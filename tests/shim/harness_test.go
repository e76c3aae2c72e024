package shim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// defaultRoot is the shim's default state root; the namespace is added
// below it.
const defaultRoot = "/run/containerd/berth"

// suite is one private containerd (the flavor's) with the shim on its
// PATH, in a directory of its own.
type suite struct {
	*testkit.Containerd
	t    *testing.T
	fl   flavor
	dir  string
	root string // the shim's state root for the namespace (<Root>/<ns>)
	ids  []string
	// parents are cgroup parents the tests gave (a pod's): libcontainer
	// leaves them, as runc does; removed at the end.
	parents []string
	// defaultRootExisted: <defaultRoot>/<ns> was there before.
	defaultRootExisted bool
}

// suiteDir is the directory of the suite name on the flavor.
func suiteDir(name string, fl flavor) string { return filepath.Join(workDir, name+"-"+fl.name) }

// newSuite starts containerd (the flavor's) with its own root, state and
// sockets and the shim on its PATH. cri, when set, is the config of the
// CRI plugin and its runtime handler (config version of the flavor), and
// the suite's namespace is k8s.io; otherwise it has a namespace of its
// own. It imports the test images. Its cleanup stops everything and
// checks that nothing is left.
func newSuite(t *testing.T, fl flavor, name, cri string) *suite {
	t.Helper()
	dir := suiteDir(name, fl)
	for _, d := range []string{"bin", "fifo"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ns := "berth-shim-" + testkit.RandomHex(3)
	if cri != "" {
		ns = "k8s.io"
	}
	if err := os.Symlink(shimBin, filepath.Join(dir, "bin", "containerd-shim-berth-v2")); err != nil {
		t.Fatal(err)
	}
	d, err := testkit.NewContainerd(testkit.ContainerdOptions{
		Dir: dir, Bin: fl.bin, Version: fl.version, Namespace: ns, CRI: cri != "",
		LogLevel: "debug", Generator: "tests/shim", Config: cri,
		Env: append(os.Environ(), "PATH="+filepath.Join(dir, "bin")+":"+fl.bin+":"+os.Getenv("PATH")),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{Containerd: d, t: t, fl: fl, dir: dir, root: filepath.Join(defaultRoot, ns)}
	_, err = os.Stat(s.root)
	s.defaultRootExisted = err == nil
	t.Cleanup(s.finish)
	s.startDaemon(t)
	s.ImportImages(t, needImages(t), busyboxRef, pauseRef)
	return s
}

// criConfig is the CRI part of a suite's containerd config: the documented
// runtime handler "berth" (contrib/containerd, of the flavor's config
// version) with its state root in the suite dir, no CNI (host-network
// pods), the pause image imported by the suite.
func criConfig(t *testing.T, fl flavor, dir string) (config, root string) {
	t.Helper()
	root = filepath.Join(dir, "berth-root")
	if err := os.MkdirAll(filepath.Join(dir, "pod-logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cri, err := testkit.CRIConfig(fl.version, dir, pauseRef)
	if err != nil {
		t.Fatal(err)
	}
	contrib := filepath.Join(repoRoot, "contrib", "containerd")
	if fl.version == 2 {
		opts := filepath.Join(dir, "berth-shim-options.toml")
		if err := os.WriteFile(opts, []byte(fmt.Sprintf("Root = %s\n", testkit.TOMLString(root))), 0o644); err != nil {
			t.Fatal(err)
		}
		return cri + testkit.Snippet(t, filepath.Join(contrib, "berth-shim.toml"),
			`ConfigPath = "/etc/containerd/berth-shim-options.toml"`, "ConfigPath = "+testkit.TOMLString(opts)), root
	}
	return cri + testkit.Snippet(t, filepath.Join(contrib, "berth-shim-v3.toml"),
		"Root = '/run/containerd/berth'", "Root = "+testkit.TOMLString(root)), root
}

// forEachSuite runs f as a subtest per containerd version, each with a
// suite of its own (see newSuite).
func forEachSuite(t *testing.T, name string, f func(t *testing.T, s *suite)) {
	forEachFlavor(t, func(t *testing.T, fl flavor) { f(t, newSuite(t, fl, name, "")) })
}

// startDaemon starts containerd (again), or fails t.
func (s *suite) startDaemon(t *testing.T) {
	t.Helper()
	if err := s.Start(); err != nil {
		t.Fatalf("containerd %s: %v", s.fl.name, err)
	}
}

func (s *suite) dumpLog() {
	s.t.Logf("---- containerd %s log (%s) ----\n%s\n---- end ----", s.fl.name, s.Log, s.LogTail(64<<10))
}

// runArgs are `ctr run` arguments that select the shim.
func (s *suite) runArgs(extra ...string) []string {
	return append([]string{"run", "--runtime", "io.containerd.berth.v2", "--fifo-dir", filepath.Join(s.dir, "fifo")}, extra...)
}

func (s *suite) id(name string) string {
	id := "shim-" + testkit.RandomHex(3) + "-" + name
	s.ids = append(s.ids, id)
	return id
}

// removeTask kills, deletes the task and the container, whatever state
// they are in.
func (s *suite) removeTask(t *testing.T, id string) {
	t.Helper()
	s.Ctr("task", "kill", "-s", "SIGKILL", id)
	_ = eventually(15*time.Second, func() error {
		if st := s.Tasks()[id]; st == "RUNNING" || st == "PAUSED" || st == "CREATED" {
			return fmt.Errorf("still %s", st)
		}
		return nil
	})
	if r := s.Ctr("task", "delete", id); !r.OK() && !strings.Contains(r.Stderr, "not found") {
		t.Errorf("task delete %s: %s", id, r)
	}
	if r := s.Ctr("container", "delete", id); !r.OK() && !strings.Contains(r.Stderr, "not found") {
		t.Errorf("container delete %s: %s", id, r)
	}
}

func eventually(timeout time.Duration, f func() error) error {
	return testkit.PollEvery(timeout, 100*time.Millisecond, f)
}

// berth runs bin/berth (beside the shim).
func berth(args ...string) testkit.Result {
	return testkit.Berth{Binary: berthBin, Timeout: testkit.CmdTimeout}.Run(args...)
}

// ---- the end of a suite ----

// finish removes what the tests left through containerd (started again if
// a test stopped it), stops it, then checks that no shim, container
// process, mount, cgroup, state or socket is left, and removes whatever
// is.
func (s *suite) finish() {
	t := s.t
	if err := s.Shutdown(); err != nil {
		t.Errorf("%s: restart containerd to clean up: %v", s.fl.name, err)
	}
	if t.Failed() {
		s.dumpLog()
	}
	leaks := s.scope().Settle(10 * time.Second)
	for _, l := range leaks {
		t.Errorf("%s: %s left", s.fl.name, l)
	}
	if err := testkit.Remove(leaks); err != nil {
		t.Errorf("%s: removing what was left: %v", s.fl.name, err)
	}
	_ = testkit.UnmountUnder(s.root) // best effort: the leaks are reported and removed
	os.RemoveAll(s.root)
	for _, cg := range testkit.Hierarchies() {
		_ = os.Remove(filepath.Join(cg, s.Namespace)) // the namespace's parent cgroup, if empty
		for _, p := range s.parents {
			_ = os.Remove(filepath.Join(cg, p))
		}
	}
	if t.Failed() && keep {
		t.Logf("keeping %s (SHIM_KEEP=1)", s.dir)
		return
	}
	if err := testkit.UnmountUnder(s.dir); err != nil {
		t.Errorf("%s: %v", s.fl.name, err)
	}
	os.RemoveAll(s.dir)
}

// scope is what of the suite must be gone at its end: its containers'
// cgroups and processes, its shims and everything else that mentions its
// directory, berth's state of its containers and containerd's of its
// tasks, the shims' sockets, and a default state root the suite must not
// have made.
func (s *suite) scope() testkit.Scope {
	sc := testkit.Scope{
		IDs:       s.ids,
		EmptyDirs: []string{s.root, s.TaskDir()},
		Gone:      s.sockets(),
		Dir:       s.dir,
		Inside:    s.dir,
		Binary:    daemonBin,
	}
	// A suite with its own Root must not touch the default one.
	if def := filepath.Join(defaultRoot, s.Namespace); def != s.root && !s.defaultRootExisted {
		sc.Gone = append(sc.Gone, def)
	}
	return sc
}

// shimProcs are the pids of the suite's shim daemons (its namespace and
// its containerd), whatever other test runs have running.
func (s *suite) shimProcs() []int {
	return testkit.Pids(func(argv []string) bool {
		return len(argv) > 2 && argv[0] == daemonBin &&
			slices.Contains(argv, s.Namespace) && slices.Contains(argv, s.Sock)
	})
}

// sockets are the socket paths the suite's shims used: one per group (a
// ctr container, a CRI pod), named as the shim names them (shim/start.go).
func (s *suite) sockets() []string {
	var out []string
	for _, id := range s.ids {
		sum := sha256.Sum256([]byte(s.Sock + "\x00" + s.Namespace + "\x00" + id))
		out = append(out, "/run/containerd/s/berth-"+hex.EncodeToString(sum[:20]))
	}
	return out
}
