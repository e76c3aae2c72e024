package robustness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Fixed by TestMain for the whole package.
var (
	// berthBin is the absolute path of the berth binary under test.
	berthBin string
	// baseBundle holds the busybox rootfs and config.json that every test
	// bundle starts from (contrib/mkbundle.sh).
	baseBundle string
	// skipAll, when set, makes every test skip with this reason.
	skipAll string
	// setupFailed, when set, makes every test fail with this reason.
	setupFailed string
	// repoRoot is the module root.
	repoRoot string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "robustness:", err)
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	berthBin = os.Getenv("BERTH_BINARY")
	if berthBin == "" {
		berthBin = filepath.Join(repoRoot, "bin", "berth")
	}
	if abs, err := filepath.Abs(berthBin); err == nil {
		berthBin = abs
	}
	switch {
	case os.Geteuid() != 0:
		skipAll = fmt.Sprintf("the robustness suite runs real containers and needs root (euid %d)", os.Geteuid())
	default:
		if fi, err := os.Stat(berthBin); err != nil || fi.IsDir() {
			setupFailed = fmt.Sprintf("berth binary %s missing: run `make build` (or set BERTH_BINARY)", berthBin)
			break
		}
		dir, err := os.MkdirTemp("", "robust-base")
		if err != nil {
			setupFailed = err.Error()
			break
		}
		defer os.RemoveAll(dir)
		baseBundle = filepath.Join(dir, "bundle")
		cmd := exec.Command("/bin/sh", filepath.Join(repoRoot, "contrib", "mkbundle.sh"), baseBundle)
		cmd.Env = append(os.Environ(), "BERTH="+berthBin)
		if out, err := cmd.CombinedOutput(); err != nil {
			setupFailed = fmt.Sprintf("contrib/mkbundle.sh: %v\n%s", err, out)
		}
	}
	if skipAll != "" {
		fmt.Fprintln(os.Stderr, "robustness: skipping:", skipAll)
	}
	if setupFailed != "" {
		fmt.Fprintln(os.Stderr, "robustness: setup failed:", setupFailed)
	}
	return m.Run()
}
