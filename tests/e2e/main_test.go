package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Suite-wide settings, fixed in TestMain.
var (
	// repoRoot is the module root (two levels above this package).
	repoRoot string
	// binary is the absolute path of the runtime under test.
	binary string
	// ciMode: CI=true, where a missing tool is a failure, not a skip.
	ciMode bool
	// skipAll, when set, makes every engine suite skip (e.g. not root).
	skipAll string
	// setupErr, when set, makes every engine suite fail.
	setupErr string
	// workDir holds every suite's private dir; removed at the end.
	workDir string
	// keep: E2E_KEEP=1 keeps the dirs of failed suites.
	keep bool
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	ciMode = os.Getenv("CI") == "true"
	keep = os.Getenv("E2E_KEEP") == "1"

	binary = os.Getenv("BERTH_BINARY")
	if binary == "" {
		binary = filepath.Join(repoRoot, "bin", "berth")
	}
	if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}
	// Engines, conmon and the shims are looked up on PATH; make sure the
	// usual sbin dirs are on it even in a minimal CI environment.
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !strings.Contains(":"+os.Getenv("PATH")+":", ":"+d+":") {
			os.Setenv("PATH", os.Getenv("PATH")+":"+d)
		}
	}

	switch {
	case os.Geteuid() != 0:
		skipAll = fmt.Sprintf("the e2e suites run container engines and need root (euid is %d)", os.Geteuid())
	default:
		if st, err := os.Stat(binary); err != nil || st.IsDir() {
			setupErr = fmt.Sprintf("runtime binary %s does not exist: run `make build` first (or set BERTH_BINARY)", binary)
			break
		}
		// Short paths: unix socket paths (containerd's, conmon's attach
		// socket under the bundle) must stay below 108 bytes.
		workDir, err = os.MkdirTemp("/tmp", "berth-e2e.")
		if err != nil {
			setupErr = "making work dir: " + err.Error()
			break
		}
	}
	if skipAll != "" {
		fmt.Fprintln(os.Stderr, "e2e: skipping engine suites:", skipAll)
	}
	if setupErr != "" {
		fmt.Fprintln(os.Stderr, "e2e: setup failed:", setupErr)
	}
	code := m.Run()
	if workDir != "" {
		// Suites remove their own dirs unless they failed under E2E_KEEP=1.
		kept := false
		if keep {
			ents, _ := os.ReadDir(workDir)
			for _, e := range ents {
				kept = kept || e.Name() != "images"
			}
		}
		if kept {
			fmt.Fprintln(os.Stderr, "e2e: kept", workDir)
		} else {
			unmountUnder(workDir)
			os.RemoveAll(workDir)
		}
	}
	return code
}

// requireSuite skips or fails the test when the suite cannot run at all.
func requireSuite(t *testing.T) {
	t.Helper()
	if skipAll != "" {
		t.Skip(skipAll)
	}
	if setupErr != "" {
		t.Fatal(setupErr)
	}
}

// missing reports a tool that is not available: a skip with the reason, or
// under CI=true a failure (CI installs every tool with install-deps.sh).
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (tests/e2e/install-deps.sh installs it)"
	if ciMode {
		t.Fatal("CI=true: " + msg)
	}
	t.Log("SKIP: " + msg)
	t.Skip(msg)
}

// needTool returns the path of each named tool, or skips/fails the test.
func needTool(t *testing.T, names ...string) []string {
	t.Helper()
	var paths []string
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			missing(t, "%s is not installed", n)
		}
		paths = append(paths, p)
	}
	return paths
}

// Images are built once, on first use, into workDir.
var (
	imagesOnce sync.Once
	imagesErr  error
	ociTar     string // OCI image layout tar with every image
	dockerTar  string // docker-archive tar with every image
)

func needImages(t *testing.T) {
	t.Helper()
	imagesOnce.Do(func() {
		bb, err := findStaticBusybox()
		if err != nil {
			imagesErr = err
			return
		}
		set, err := buildImages(bb, defaultImages)
		if err != nil {
			imagesErr = err
			return
		}
		dir := filepath.Join(workDir, "images")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			imagesErr = err
			return
		}
		ociTar = filepath.Join(dir, "oci.tar")
		dockerTar = filepath.Join(dir, "docker.tar")
		if imagesErr = set.writeOCIArchive(ociTar); imagesErr == nil {
			imagesErr = set.writeDockerArchive(dockerTar)
		}
	})
	if imagesErr != nil {
		if strings.Contains(imagesErr.Error(), "busybox") && !ciMode {
			missing(t, "%v", imagesErr)
		}
		t.Fatal("building images: ", imagesErr)
	}
}
