package image

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Suite-wide settings, fixed in TestMain.
var (
	// binary is the absolute path of the berth binary under test.
	binary string
	// repoRoot is the module root (two levels above this package).
	repoRoot string

	// skipReason makes every test skip (not root; no docker-registry and
	// no way to install it outside CI).
	skipReason string
	// setupErr makes every test fail (the registries did not start...).
	setupErr string
	// binaryErr makes the tests that run berth fail (no binary); the
	// harness's own tests still run.
	binaryErr string

	// suiteDir holds everything of the harness: registry configs and
	// storage, the token server's certificate. Removed at exit.
	suiteDir string
	// openReg is the registry without auth; authReg the one with token
	// auth (tokens from tokenSrv).
	openReg  *registry
	authReg  *registry
	tokenSrv *tokenServer
)

const (
	registryBinary = "/usr/bin/docker-registry"
	busyboxPath    = "/bin/busybox"
	// suitePrefix names the suite's temp dir: <prefix><pid>-<random>. A
	// run that crashed (a test timeout panics past TestMain's defers)
	// leaves one behind; the next run removes those whose pid is gone.
	suitePrefix = "berth-image-test-"
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image tests:", err)
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
	if st, err := os.Stat(binary); err != nil || st.IsDir() {
		binaryErr = fmt.Sprintf("berth binary %s does not exist: run `make build` first (or set BERTH_BINARY)", binary)
	}

	if os.Geteuid() != 0 {
		skipReason = fmt.Sprintf("image tests unpack images with their owners and run containers: they need root (euid is %d)", os.Geteuid())
		fmt.Fprintln(os.Stderr, "image tests: skipping:", skipReason)
		return m.Run()
	}
	if reason, fatal := ensureRegistryBinary(); reason != "" {
		if fatal {
			setupErr = reason
		} else {
			skipReason = reason
			fmt.Fprintln(os.Stderr, "image tests: skipping:", skipReason)
			return m.Run()
		}
	}
	if setupErr == "" {
		if err := checkStaticBusybox(busyboxPath); err != nil {
			setupErr = err.Error() + " (install busybox-static: make test-deps)"
		}
	}
	if setupErr == "" {
		stop, err := startSuite()
		// stop runs on every normal return; SIGINT/SIGTERM run it too.
		// A panic (e.g. the test timeout) skips it: the registries die
		// with us (Pdeathsig) and the next run sweeps the dir.
		defer stop()
		if err != nil {
			setupErr = err.Error()
		}
	}
	if setupErr != "" {
		fmt.Fprintln(os.Stderr, "image tests: setup failed:", setupErr)
	}
	return m.Run()
}

// ensureRegistryBinary returns "" when docker-registry is installed;
// otherwise it tries to install it (contrib/install-deps.sh, as root), and
// on failure returns why, fatal when CI=true (make test-deps installs it
// there, so a missing registry is a broken setup, not a reason to skip).
func ensureRegistryBinary() (reason string, fatal bool) {
	if _, err := os.Stat(registryBinary); err == nil {
		return "", false
	}
	script := filepath.Join(repoRoot, "contrib", "install-deps.sh")
	fmt.Fprintf(os.Stderr, "image tests: %s is missing; installing Debian's docker-registry with %s\n", registryBinary, script)
	out, err := exec.Command("/bin/sh", script, "docker-registry").CombinedOutput()
	if _, statErr := os.Stat(registryBinary); statErr == nil {
		return "", false
	}
	reason = fmt.Sprintf("%s is not installed and installing Debian's docker-registry failed (%v): %s",
		registryBinary, err, strings.TrimSpace(string(out)))
	return reason, os.Getenv("CI") == "true"
}

// checkStaticBusybox makes sure path is a statically linked ELF (no
// PT_INTERP): the images' only binary, run in containers with nothing else.
func checkStaticBusybox(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
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
		for _, r := range []*registry{openReg, authReg} {
			if r != nil {
				r.stop()
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

	openReg, err = startRegistry(filepath.Join(suiteDir, "open"), nil)
	if err != nil {
		return stop, fmt.Errorf("starting the registry: %w", err)
	}
	tokenSrv, err = startTokenServer(filepath.Join(suiteDir, "token"))
	if err != nil {
		return stop, fmt.Errorf("starting the token server: %w", err)
	}
	authReg, err = startRegistry(filepath.Join(suiteDir, "auth"), tokenSrv)
	if err != nil {
		return stop, fmt.Errorf("starting the token-auth registry: %w", err)
	}
	fmt.Fprintf(os.Stderr, "image tests: registry %s (proxy for docker-registry on %s), token-auth registry %s (proxy for %s, tokens at /token)\n",
		openReg.addr, openReg.backend, authReg.addr, authReg.backend)
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

// requireSuite skips or fails t when the harness is not usable.
func requireSuite(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != "" {
		t.Fatal(setupErr)
	}
}
