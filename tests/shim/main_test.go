package shim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

var (
	repoRoot string
	shimBin  string // absolute path of the shim under test
	// daemonBin is the shim daemon, berth-shim beside the shim under
	// test (symbolic links resolved, as the shim finds it).
	daemonBin string
	berthBin  string // bin/berth beside it
	keep      bool
	workDir   string
	// gate says why the suites cannot run, if they cannot (not root, no
	// shim, no work dir).
	gate testkit.Gate
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	var err error
	if repoRoot, err = testkit.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keep = os.Getenv("SHIM_KEEP") == "1"
	shimBin = os.Getenv("BERTH_SHIM")
	if shimBin == "" {
		shimBin = filepath.Join(repoRoot, "bin", "containerd-shim-berth-v2")
	}
	shimBin, _ = filepath.Abs(shimBin)
	berthBin = filepath.Join(filepath.Dir(shimBin), "berth")
	daemonBin = filepath.Join(filepath.Dir(shimBin), "berth-shim")
	if exe, err := filepath.EvalSymlinks(shimBin); err == nil {
		daemonBin = filepath.Join(filepath.Dir(exe), "berth-shim")
	}
	testkit.AddSystemPath()
	if gate.Skip = testkit.NotRoot("the shim suites run containerd"); gate.Skip == "" {
		for _, b := range []string{shimBin, daemonBin} {
			if st, err := os.Stat(b); err != nil || st.IsDir() {
				gate.Fail = fmt.Sprintf("shim %s does not exist: run `make build` first (or set BERTH_SHIM)", b)
			}
		}
	}
	workDir = gate.WorkDir("berth-shim.")
	gate.Report("shim tests")
	code := m.Run()
	testkit.RemoveWorkDir("shim tests", workDir, keep)
	return code
}

// missing skips, or fails under CI=true.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	testkit.Missing(t, fmt.Sprintf(format, args...))
}

// flavor is one containerd version under test.
type flavor struct {
	name    string // "1.6", "2.4"
	bin     string // dir of containerd and ctr
	version int    // config version: 2 (1.6) or 3 (2.x)
}

var (
	c2Once sync.Once
	c2Dir  string
	c2Err  error
)

// containerd16 is Debian's containerd.
func containerd16(t *testing.T) flavor {
	t.Helper()
	p, err := exec.LookPath("containerd")
	if err != nil {
		missing(t, "containerd is not installed (tests/e2e/install-deps.sh installs it)")
	}
	out, _ := exec.Command(p, "--version").Output()
	if !strings.Contains(string(out), " 1.6.") && !strings.Contains(string(out), " 1.7.") {
		missing(t, "the containerd on PATH is not 1.6 or 1.7: %s", out)
	}
	return flavor{name: "1.6", bin: filepath.Dir(p), version: 2}
}

// containerd2 is containerd 2.x: $CONTAINERD2_BIN, or built once into
// <repo>/.cache by containerd2.sh (about 3.5 minutes the first time).
func containerd2(t *testing.T) flavor {
	t.Helper()
	c2Once.Do(func() {
		if d := os.Getenv("CONTAINERD2_BIN"); d != "" {
			c2Dir = d
			return
		}
		cmd := exec.Command(filepath.Join(repoRoot, "tests", "shim", "containerd2.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			c2Err = fmt.Errorf("tests/shim/containerd2.sh: %w", err)
			return
		}
		c2Dir = strings.TrimSpace(string(out))
	})
	if c2Err != nil {
		t.Fatal(c2Err)
	}
	if _, err := os.Stat(filepath.Join(c2Dir, "containerd")); err != nil {
		t.Fatalf("containerd 2.x: %v", err)
	}
	return flavor{name: "2.4", bin: c2Dir, version: 3}
}

// forEachFlavor runs f as a subtest per containerd version.
func forEachFlavor(t *testing.T, f func(t *testing.T, fl flavor)) {
	t.Run("containerd-1.6", func(t *testing.T) { gate.Check(t); f(t, containerd16(t)) })
	t.Run("containerd-2.4", func(t *testing.T) { gate.Check(t); f(t, containerd2(t)) })
}

// The test images, built from the host's static busybox (nothing is
// downloaded): busybox, and a pause image for the CRI sandboxes.
const (
	busyboxRef = "localhost/busybox:berth-shim"
	pauseRef   = "localhost/pause:berth-shim"
)

var images testkit.Archives

// needImages builds the OCI archive once per test run.
func needImages(t *testing.T) string {
	t.Helper()
	err := images.Build(filepath.Join(workDir, "images"), "shim",
		testkit.Image{Ref: busyboxRef, Cmd: []string{"sh"}}, testkit.Image{Ref: pauseRef, Cmd: testkit.PauseCmd})
	if err != nil {
		if strings.Contains(err.Error(), "busybox") {
			missing(t, "%v", err)
		}
		t.Fatal(err)
	}
	return images.OCI
}
