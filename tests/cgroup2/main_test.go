package cgroup2

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the unified hierarchy is mounted.
const cgroupRoot = "/sys/fs/cgroup"

// Suite-wide settings, fixed in TestMain.
var (
	// binary is the absolute path of the berth binary under test.
	binary string
	// skipReason, when set, makes every test skip (not cgroup v2, not root).
	skipReason string
	// setupErr, when set, makes every test fail (no binary, no busybox...).
	setupErr string
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
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cgroup2:", err)
		return 1
	}
	binary = os.Getenv("BERTH_BINARY")
	if binary == "" {
		binary = filepath.Join(wd, "..", "..", "bin", "berth")
	}
	if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}
	parentCgroup = fmt.Sprintf("/berth-cg2test-%d", os.Getpid())

	skipReason = cgroup2Unavailable()
	if skipReason == "" && os.Geteuid() != 0 {
		skipReason = fmt.Sprintf("the cgroup v2 tests run real containers and need root (euid is %d)", os.Geteuid())
	}
	if skipReason != "" {
		fmt.Fprintln(os.Stderr, "cgroup2: skipping every test:", skipReason)
		return m.Run()
	}

	if st, err := os.Stat(binary); err != nil || st.IsDir() {
		setupErr = fmt.Sprintf("runtime binary %s does not exist: run `make build` first (or set BERTH_BINARY)", binary)
	} else {
		dir, err := os.MkdirTemp("", "cg2base")
		if err != nil {
			setupErr = "making base bundle dir: " + err.Error()
		} else {
			defer os.RemoveAll(dir)
			if err := buildBase(dir); err != nil {
				setupErr = "building the base bundle: " + err.Error()
			}
		}
	}
	if setupErr != "" {
		fmt.Fprintln(os.Stderr, "cgroup2: setup failed:", setupErr)
	}
	rc := m.Run()
	if err := removeCgroupTree(parentCgroup); err != nil {
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

// buildBase makes dir/rootfs, a busybox root filesystem, and reads the
// config.json of `berth spec`. It does what contrib/mkbundle.sh does,
// without jq.
func buildBase(dir string) error {
	busybox := os.Getenv("BUSYBOX")
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	if err := checkStatic(busybox); err != nil {
		return err
	}
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		if err := os.Chmod(filepath.Join(rootfs, d), 0o1777); err != nil {
			return err
		}
	}
	if err := copyFile(busybox, filepath.Join(rootfs, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(rootfs, "bin", "busybox"), "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "bin/busybox" {
			continue
		}
		p := filepath.Join(rootfs, applet)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", p); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnobody:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(content), 0o644); err != nil {
			return err
		}
	}

	specDir := filepath.Join(dir, "spec")
	if err := os.Mkdir(specDir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(binary, "spec")
	cmd.Dir = specDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s spec: %v: %s", binary, err, out)
	}
	data, err := os.ReadFile(filepath.Join(specDir, "config.json"))
	if err != nil {
		return err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("config.json of `berth spec`: %w", err)
	}
	if s.Process == nil || s.Linux == nil {
		return errors.New("config.json of `berth spec` has no process or no linux section")
	}
	baseRootfs, baseSpec = rootfs, data
	return nil
}

// checkStatic fails unless path is a statically linked ELF executable: the
// rootfs has no libraries.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w (install busybox-static or set BUSYBOX)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: install busybox-static or set BUSYBOX", path)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
