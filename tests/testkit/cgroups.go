package testkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CgroupRoot is where the cgroup file systems are mounted.
const CgroupRoot = "/sys/fs/cgroup"

// cgroupDepth is how deep below a hierarchy's root the leak checks look
// for a container's cgroup (engines nest them: parent, slice, pod...).
const cgroupDepth = 6

// Unified reports whether the host has the pure cgroup v2 layout.
func Unified() bool {
	_, err := os.Stat(filepath.Join(CgroupRoot, "cgroup.controllers"))
	return err == nil
}

// Hierarchies lists the roots of the cgroup hierarchies: /sys/fs/cgroup on
// cgroup v2, the controllers' directories (and a hybrid host's "unified")
// on v1, without the cpu,cpuacct style symlinks, and without directories
// of the tmpfs that are not cgroup mounts.
func Hierarchies() []string {
	if Unified() {
		return []string{CgroupRoot}
	}
	ents, _ := os.ReadDir(CgroupRoot) // none: no cgroups to leak
	var out []string
	for _, e := range ents {
		if p := filepath.Join(CgroupRoot, e.Name()); e.IsDir() && isCgroupFS(p) {
			out = append(out, p)
		}
	}
	return out
}

// isCgroupFS reports whether dir is on a cgroup (v1 or v2) file system.
func isCgroupFS(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && (st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC)
}

// writeControl writes a cgroup control file. It never creates one: in a
// directory that is no cgroup, or a file of the other cgroup version, the
// write fails (harmlessly: the callers write what may not be there).
func writeControl(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	return errors.Join(err, f.Close())
}

// CgroupsNamed lists the cgroup directories, in every hierarchy, whose
// name names one of ids (see Names); it does not look below a match.
func CgroupsNamed(ids ...string) []string {
	var found []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return // removed meanwhile
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if namesAny(e.Name(), ids) {
				found = append(found, p)
			} else if depth < cgroupDepth {
				walk(p, depth+1)
			}
		}
	}
	if len(ids) > 0 {
		for _, h := range Hierarchies() {
			walk(h, 1)
		}
	}
	return found
}

func namesAny(s string, ids []string) bool {
	for _, id := range ids {
		if Names(s, id) {
			return true
		}
	}
	return false
}

// MemoryLimit reads the memory limit of the cgroup parent/id, on cgroup
// v1 or v2; false when there is no such cgroup.
func MemoryLimit(parent, id string) (string, bool) {
	for _, p := range []string{
		filepath.Join(CgroupRoot, "memory", parent, id, "memory.limit_in_bytes"),
		filepath.Join(CgroupRoot, parent, id, "memory.max"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b)), true
		}
	}
	return "", false
}

// thawCgroups unfreezes the cgroups, on v1 (freezer.state) and v2
// (cgroup.freeze): a frozen task does not die of SIGKILL.
func thawCgroups(dirs []string) {
	for _, cg := range dirs {
		_ = writeControl(filepath.Join(cg, "freezer.state"), "THAWED")
		_ = writeControl(filepath.Join(cg, "cgroup.freeze"), "0")
	}
}

// RemoveCgroups removes cgroup trees: it thaws them, then removes each
// directory deepest first, killing whatever is still in it (cgroup.kill on
// v2, every pid of cgroup.procs) until it is empty or timeout passes. A
// cgroup that does not exist is no error.
func RemoveCgroups(dirs []string, timeout time.Duration) error {
	thawCgroups(dirs)
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
	var errs []error
	for _, cg := range all {
		deadline := time.Now().Add(timeout)
		for {
			killCgroup(cg)
			err := unix.Rmdir(cg)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", cg, err))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// killCgroup SIGKILLs the processes of one cgroup; errors mean they are
// gone already (or the cgroup is).
func killCgroup(cg string) {
	_ = writeControl(filepath.Join(cg, "cgroup.kill"), "1") // v2, Linux 5.14
	data, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
