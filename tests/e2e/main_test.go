package e2e

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

// Suite-wide settings, fixed in TestMain.
var (
	// setup has the repository, the runtime under test and why the engine
	// suites cannot run, if they cannot (not root, no binary, no work dir).
	setup testkit.Setup
	// repoRoot is the module root (two levels above this package).
	repoRoot string
	// binary is the absolute path of the runtime under test.
	binary string
	// ciMode: CI=true, where a missing tool is a failure, not a skip.
	ciMode bool
	// workDir holds every suite's private dir; removed at the end.
	workDir string
	// keep: E2E_KEEP=1 keeps the dirs of failed suites.
	keep bool
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	setup = testkit.NewSetup("the e2e suites run container engines", "")
	repoRoot, binary = setup.Repo, setup.Binary
	ciMode = os.Getenv("CI") == "true"
	keep = os.Getenv("E2E_KEEP") == "1"
	// Engines, conmon and the shims are looked up on PATH; make sure the
	// usual sbin dirs are on it even in a minimal CI environment.
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !strings.Contains(":"+os.Getenv("PATH")+":", ":"+d+":") {
			os.Setenv("PATH", os.Getenv("PATH")+":"+d)
		}
	}
	if setup.Gate.Skip == "" && setup.Gate.Fail == "" {
		// Short paths: unix socket paths (containerd's, conmon's attach
		// socket under the bundle) must stay below 108 bytes.
		var err error
		if workDir, err = os.MkdirTemp("/tmp", "berth-e2e."); err != nil {
			setup.Gate.Fail = "making work dir: " + err.Error()
		}
	}
	setup.Gate.Report("e2e")
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
			if err := testkit.UnmountUnder(workDir); err != nil {
				fmt.Fprintln(os.Stderr, "e2e:", err)
			}
			os.RemoveAll(workDir)
		}
	}
	return code
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
		bb, err := testkit.Busybox()
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
