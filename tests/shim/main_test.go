package shim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	repoRoot string
	shimBin  string // absolute path of the shim under test
	ciMode   bool
	keep     bool
	workDir  string
	skipAll  string
	setupErr string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	ciMode = os.Getenv("CI") == "true"
	keep = os.Getenv("SHIM_KEEP") == "1"
	shimBin = os.Getenv("BERTH_SHIM")
	if shimBin == "" {
		shimBin = filepath.Join(repoRoot, "bin", "containerd-shim-berth-v2")
	}
	shimBin, _ = filepath.Abs(shimBin)
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !strings.Contains(":"+os.Getenv("PATH")+":", ":"+d+":") {
			os.Setenv("PATH", os.Getenv("PATH")+":"+d)
		}
	}
	switch {
	case os.Geteuid() != 0:
		skipAll = fmt.Sprintf("the shim suites run containerd and need root (euid %d)", os.Geteuid())
	default:
		if st, err := os.Stat(shimBin); err != nil || st.IsDir() {
			setupErr = fmt.Sprintf("shim %s does not exist: run `make build` first (or set BERTH_SHIM)", shimBin)
			break
		}
		// Short paths: unix sockets under it must stay below 108 bytes.
		if workDir, err = os.MkdirTemp("/tmp", "berth-shim."); err != nil {
			setupErr = err.Error()
		}
	}
	code := m.Run()
	if workDir != "" {
		ents, _ := os.ReadDir(workDir)
		kept := false
		for _, e := range ents {
			kept = kept || (keep && e.Name() != "images")
		}
		if kept {
			fmt.Fprintln(os.Stderr, "shim tests: kept", workDir)
		} else {
			unmountUnder(workDir)
			os.RemoveAll(workDir)
		}
	}
	return code
}

func requireSuite(t *testing.T) {
	t.Helper()
	if skipAll != "" {
		t.Skip(skipAll)
	}
	if setupErr != "" {
		t.Fatal(setupErr)
	}
}

// missing skips, or fails under CI=true.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if ciMode {
		t.Fatal("CI=true: " + msg)
	}
	t.Skip(msg)
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
	t.Run("containerd-1.6", func(t *testing.T) { requireSuite(t); f(t, containerd16(t)) })
	t.Run("containerd-2.4", func(t *testing.T) { requireSuite(t); f(t, containerd2(t)) })
}
