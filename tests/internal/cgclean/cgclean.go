// Package cgclean removes cgroup trees that tests leaked, so that a failing
// test still leaves the machine clean. It is shared by the test suites.
package cgclean

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Remove thaws the cgroups (a frozen task does not die of SIGKILL), then
// removes each tree deepest first, killing whatever is still in a cgroup
// until it is empty or timeout passes. It returns the cgroups it could not
// remove with why.
func Remove(dirs []string, timeout time.Duration) []error {
	Thaw(dirs)
	var all []string
	for _, cg := range dirs {
		_ = filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				all = append(all, p)
			}
			return nil // a tree that vanished while walking is fine
		})
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	var failed []error
	for _, cg := range all {
		deadline := time.Now().Add(timeout)
		for {
			data, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs")) // gone: rmdir below says so
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL) // may have exited already
				}
			}
			err := unix.Rmdir(cg)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if time.Now().After(deadline) {
				failed = append(failed, &os.PathError{Op: "rmdir", Path: cg, Err: err})
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return failed
}

// Thaw unfreezes the cgroups, on v1 (freezer.state) and v2 (cgroup.freeze);
// the file of the other version is absent and its write fails harmlessly.
func Thaw(dirs []string) {
	for _, cg := range dirs {
		_ = os.WriteFile(filepath.Join(cg, "freezer.state"), []byte("THAWED"), 0o644)
		_ = os.WriteFile(filepath.Join(cg, "cgroup.freeze"), []byte("0"), 0o644)
	}
}
