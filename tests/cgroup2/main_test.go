package cgroup2

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/tests/testkit"
)

// cgroupRoot is where the unified hierarchy is mounted.
const cgroupRoot = testkit.CgroupRoot

// Suite-wide settings, fixed in TestMain.
var (
	// setup has the berth binary under test, the ids, and why the tests
	// cannot run, if they cannot (not cgroup v2, not root, no binary, no
	// busybox...).
	setup testkit.Setup
	// baseRootfs is the shared busybox root filesystem; containers mount
	// it read-only, so every test can use it at once.
	baseRootfs string
	// baseSpec is the config.json written by `berth spec`.
	baseSpec []byte
	// parentCgroup is the cgroup (relative to cgroupRoot) below which
	// every container of this run gets its own cgroup. libcontainer makes
	// it and enables the controllers in it; TestMain removes it at the end.
	parentCgroup string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	setup = testkit.NewSetup("the cgroup v2 tests run real containers", "")
	parentCgroup = fmt.Sprintf("/berth-cg2test-%d", os.Getpid())
	if why := cgroup2Unavailable(); why != "" {
		setup.Gate = testkit.Gate{Skip: why}
	}
	remove := setup.BaseBundle()
	defer remove()
	if setup.Base != "" && setup.Gate.Fail == "" {
		baseRootfs = filepath.Join(setup.Base, "rootfs")
		var err error
		if baseSpec, err = os.ReadFile(filepath.Join(setup.Base, "config.json")); err != nil {
			setup.Gate.Fail = "reading the base config.json: " + err.Error()
		}
	}
	setup.Gate.Report("cgroup2")
	rc := m.Run()
	if setup.Gate.Skip != "" {
		return rc
	}
	if err := testkit.RemoveCgroups([]string{filepath.Join(cgroupRoot, parentCgroup)}, 5*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "cgroup2: removing the parent cgroup %s: %v\n", parentCgroup, err)
		if rc == 0 {
			rc = 1
		}
	}
	return rc
}

// cgroup2Unavailable says why the tests cannot run here, or "" when
// /sys/fs/cgroup is a cgroup2 file system.
func cgroup2Unavailable() string {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return fmt.Sprintf("statfs %s: %v", cgroupRoot, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Sprintf("%s is not cgroup2 (statfs magic %#x, want CGROUP2_SUPER_MAGIC %#x): "+
			"this host uses cgroup v1 or the hybrid layout; tests/cgroup2/run.sh runs these tests in a cgroup v2 VM",
			cgroupRoot, st.Type, unix.CGROUP2_SUPER_MAGIC)
	}
	return ""
}
