package integration

import (
	"os"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

// Suite-wide settings, fixed in TestMain.
var (
	// setup has the repository, the runtime binary under test and why the
	// tests cannot run, if they cannot (not root, no binary, no base).
	setup testkit.Setup
	// binary is the absolute path of the runtime under test.
	binary string
	// baseDir holds the base bundle (testkit.MakeBaseBundle, which makes
	// what contrib/mkbundle.sh makes): a busybox rootfs and the
	// config.json written by `<binary> spec`.
	baseDir string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	setup = testkit.NewSetup("integration tests run real containers")
	binary = setup.Binary
	return setup.Run(m, "integration", &baseDir)
}
