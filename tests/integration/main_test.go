package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Suite-wide settings, fixed in TestMain.
var (
	// binary is the absolute path of the runtime under test.
	binary string
	// skipReason, when set, makes every test skip (e.g. not root).
	skipReason string
	// setupErr, when set, makes every test fail (e.g. no binary, no base).
	setupErr string
	// baseDir holds the base bundle built by contrib/mkbundle.sh: a busybox
	// rootfs and the config.json written by `<binary> spec`.
	baseDir string
	// repoRoot is the module root (two levels above this package).
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))

	binary = os.Getenv("BERTH_BINARY")
	if binary == "" {
		binary = filepath.Join(repoRoot, "bin", "berth")
	}
	if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}

	switch {
	case os.Geteuid() != 0:
		skipReason = fmt.Sprintf("integration tests run real containers and need root (euid is %d)", os.Geteuid())
		fmt.Fprintln(os.Stderr, "integration: skipping:", skipReason)
	default:
		if st, err := os.Stat(binary); err != nil || st.IsDir() {
			setupErr = fmt.Sprintf("runtime binary %s does not exist: run `make build` first (or set BERTH_BINARY)", binary)
			break
		}
		dir, err := os.MkdirTemp("", "itbase")
		if err != nil {
			setupErr = "making base bundle dir: " + err.Error()
			break
		}
		defer os.RemoveAll(dir)
		baseDir = dir
		if err := buildBase(dir); err != nil {
			setupErr = err.Error()
		}
	}
	if setupErr != "" {
		fmt.Fprintln(os.Stderr, "integration: setup failed:", setupErr)
	}
	return m.Run()
}

// buildBase runs contrib/mkbundle.sh into dir with the binary under test.
func buildBase(dir string) error {
	script := filepath.Join(repoRoot, "contrib", "mkbundle.sh")
	cmd := exec.Command("/bin/sh", script, dir)
	cmd.Env = append(os.Environ(), "BERTH="+binary)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("building base bundle with %s (BERTH=%s): %v\n%s", script, binary, err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return fmt.Errorf("base bundle has no config.json after mkbundle.sh: %v\n%s", err, out)
	}
	return nil
}
