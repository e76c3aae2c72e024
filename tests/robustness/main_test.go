package robustness

import (
	"os"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

// Fixed by TestMain for the whole package.
var (
	// setup has the berth binary under test and why the tests cannot run,
	// if they cannot (not root, no binary, no base bundle).
	setup testkit.Setup
	// berthBin is the absolute path of the berth binary under test.
	berthBin string
	// baseBundle holds the busybox rootfs and config.json that every test
	// bundle starts from (testkit.MakeBaseBundle).
	baseBundle string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	setup = testkit.NewSetup("the robustness suite runs real containers")
	berthBin = setup.Binary
	return setup.Run(m, "robustness", &baseBundle)
}
