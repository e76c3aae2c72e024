package image

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

// Suite-wide settings, fixed in TestMain.
var (
	// binary is the absolute path of the berth binary under test.
	binary string
	// repoRoot is the module root (two levels above this package).
	repoRoot string
	// busyboxPath is the static busybox the test images are made of.
	busyboxPath string

	// gate makes every test skip (not root; no docker-registry and no
	// way to install it outside CI) or fail (the registries did not
	// start...).
	gate testkit.Gate
	// binaryErr makes the tests that run berth fail (no binary); the
	// harness's own tests still run.
	binaryErr string

	// suiteDir holds everything of the harness: registry configs and
	// storage, the token server's certificate. Removed at exit.
	suiteDir string
	// openReg is the registry without auth; authReg the one with token
	// auth (tokens from tokenSrv). Both record the requests they serve.
	openReg  *testkit.Registry
	authReg  *testkit.Registry
	tokenSrv *testkit.TokenServer
)

// suitePrefix names the suite's temp dir: <prefix><pid>-<random>. A run
// that crashed (a test timeout panics past TestMain's defers) leaves one
// behind; the next run removes those whose pid is gone.
const suitePrefix = "berth-image-test-"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	if repoRoot, err = testkit.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "image tests:", err)
		return 1
	}
	binary = testkit.BerthBinary(repoRoot)
	binaryErr = testkit.MissingBinary(binary)

	if gate.Skip = testkit.NotRoot("image tests unpack images with their owners and run containers"); gate.Skip != "" {
		gate.Report("image tests")
		return m.Run()
	}
	if reason, fatal := ensureRegistryBinary(); reason != "" {
		if !fatal {
			gate.Skip = reason
			gate.Report("image tests")
			return m.Run()
		}
		gate.Fail = reason
	}
	if gate.Fail == "" {
		if busyboxPath, err = testkit.Busybox(); err != nil {
			gate.Fail = err.Error() + " (make test-deps installs it)"
		}
	}
	if gate.Fail == "" {
		stop, err := startSuite()
		// stop runs on every normal return; SIGINT/SIGTERM run it too.
		// A panic (e.g. the test timeout) skips it: the registries die
		// with us (Pdeathsig) and the next run sweeps the dir.
		defer stop()
		if err != nil {
			gate.Fail = err.Error()
		}
	}
	gate.Report("image tests")
	return m.Run()
}

// ensureRegistryBinary returns "" when docker-registry is installed;
// otherwise it tries to install it (contrib/install-deps.sh, as root), and
// on failure returns why, fatal when CI=true (make test-deps installs it
// there, so a missing registry is a broken setup, not a reason to skip).
func ensureRegistryBinary() (reason string, fatal bool) {
	if _, err := os.Stat(testkit.RegistryBinary); err == nil {
		return "", false
	}
	script := filepath.Join(repoRoot, "contrib", "install-deps.sh")
	fmt.Fprintf(os.Stderr, "image tests: %s is missing; installing Debian's docker-registry with %s\n", testkit.RegistryBinary, script)
	out, err := exec.Command("/bin/sh", script, "docker-registry").CombinedOutput()
	if _, statErr := os.Stat(testkit.RegistryBinary); statErr == nil {
		return "", false
	}
	reason = fmt.Sprintf("%s is not installed and installing Debian's docker-registry failed (%v): %s",
		testkit.RegistryBinary, err, strings.TrimSpace(string(out)))
	return reason, os.Getenv("CI") == "true"
}

// startSuite sweeps stale suite dirs, makes this run's dir and starts the
// registries and the token server. The returned stop function (never nil,
// idempotent) stops them and removes the dir.
func startSuite() (stop func(), err error) {
	sweepStaleSuiteDirs()
	suiteDir, err = os.MkdirTemp("", fmt.Sprintf("%s%d-", suitePrefix, os.Getpid()))
	if err != nil {
		return func() {}, err
	}
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		for _, r := range []*testkit.Registry{openReg, authReg} {
			if r != nil {
				r.Stop()
			}
		}
		if err := os.RemoveAll(suiteDir); err != nil {
			fmt.Fprintln(os.Stderr, "image tests: removing", suiteDir+":", err)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "image tests: %v: stopping the registries\n", s)
		stop()
		os.Exit(130)
	}()

	openReg, err = testkit.StartRegistry(filepath.Join(suiteDir, "open"), testkit.RegistryOptions{Proxy: true})
	if err != nil {
		return stop, fmt.Errorf("starting the registry: %w", err)
	}
	tokenSrv, err = testkit.StartTokenServer(filepath.Join(suiteDir, "token"))
	if err != nil {
		return stop, fmt.Errorf("starting the token server: %w", err)
	}
	authReg, err = testkit.StartRegistry(filepath.Join(suiteDir, "auth"), testkit.RegistryOptions{Proxy: true, Auth: tokenSrv})
	if err != nil {
		return stop, fmt.Errorf("starting the token-auth registry: %w", err)
	}
	fmt.Fprintf(os.Stderr, "image tests: registry %s (proxy for docker-registry on %s), token-auth registry %s (proxy for %s, tokens at /token)\n",
		openReg.Addr, openReg.Backend, authReg.Addr, authReg.Backend)
	return stop, nil
}

// sweepStaleSuiteDirs removes suite dirs left by runs whose process is gone.
func sweepStaleSuiteDirs() {
	ents, _ := os.ReadDir(os.TempDir())
	for _, ent := range ents {
		rest, ok := strings.CutPrefix(ent.Name(), suitePrefix)
		if !ok || !ent.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // still running
		}
		_ = os.RemoveAll(filepath.Join(os.TempDir(), ent.Name()))
	}
}
