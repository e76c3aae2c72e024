package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	ciMode = testkit.CI()
	keep = os.Getenv("E2E_KEEP") == "1"
	// Engines, conmon and the shims are looked up on PATH.
	testkit.AddSystemPath()
	// Short paths: containerd's socket and conmon's attach socket under
	// the bundle are below it.
	workDir = setup.Gate.WorkDir("berth-e2e.")
	setup.Gate.Report("e2e")
	code := m.Run()
	testkit.RemoveWorkDir("e2e", workDir, keep)
	return code
}

// missing reports a tool that is not available: a skip with the reason, or
// under CI=true a failure (CI installs every tool with install-deps.sh).
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (tests/e2e/install-deps.sh installs it)"
	t.Log("SKIP: " + msg)
	testkit.Missing(t, msg)
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

// The images every suite uses, built once, on first use, into workDir.
const (
	busyboxRef = "localhost/busybox:berth-e2e"
	pauseRef   = "localhost/pause:berth-e2e"
)

var (
	defaultImages = []testkit.Image{{Ref: busyboxRef, Cmd: []string{"sh"}}, {Ref: pauseRef, Cmd: testkit.PauseCmd}}
	images        testkit.Archives
)

// needImages builds the archives (images.OCI, images.Docker) once.
func needImages(t *testing.T) {
	t.Helper()
	if err := images.Build(filepath.Join(workDir, "images"), "e2e", defaultImages...); err != nil {
		if strings.Contains(err.Error(), "busybox") && !ciMode {
			missing(t, "%v", err)
		}
		t.Fatal("building images: ", err)
	}
}
