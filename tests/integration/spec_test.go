package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/tests/testkit"
)

// Spec points where runc 1.5.2 fails the runtime spec and berth does not.

func TestFifoDevice(t *testing.T) {
	e := newEnv(t)
	r, _ := e.runNew(func(s *specs.Spec) {
		mode := os.FileMode(0o666)
		// The spec ignores major and minor for fifos; libcontainer
		// compared them with the new inode's 0:0 and failed.
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/myfifo", Type: "p", Major: 8, Minor: 666, FileMode: &mode})
	}, "sh", "-c", `[ -p /dev/myfifo ] && echo is-fifo`)
	if r.Code != 0 || r.Stdout != "is-fifo\n" {
		t.Fatalf("fifo device with major:minor: want a fifo at /dev/myfifo: %s", r)
	}
}

func TestBindMountWithFilesystemOptions(t *testing.T) {
	e := newEnv(t)
	src := e.mkdir("bindsrc")
	e.writeFile(filepath.Join(src, "hello"), "bound\n", 0o644)
	r, _ := e.runNew(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src,
			Options: []string{"rbind", "ro", "size=1m", "mode=755"}})
	}, "cat", "/mnt/hello")
	if r.Code != 0 || r.Stdout != "bound\n" {
		t.Fatalf("bind mount with filesystem options: want it mounted (options ignored): %s", r)
	}
	if !strings.Contains(r.Stderr, "ignoring filesystem options") {
		t.Errorf("want a warning about the ignored options: %s", r)
	}
}

func TestUngrantableCapabilityDropped(t *testing.T) {
	// berth runs without CAP_SYS_TIME in its bounding set; the container
	// asks for it. The spec: do not fail, the capability cannot be granted.
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "grep CapBnd /proc/self/status")
	b.Edit(func(s *specs.Spec) { testkit.AddCaps(s, "CAP_SYS_TIME") })
	r := e.exec(execOpts{wrap: []string{"setpriv", "--bounding-set", "-sys_time", "--"}}, "run", "--bundle", b.Dir, e.NewID())
	if r.Code != 0 {
		t.Fatalf("run without CAP_SYS_TIME to grant: want success with a warning: %s", r)
	}
	if !strings.Contains(r.Stderr, "CAP_SYS_TIME") {
		t.Errorf("want a warning naming CAP_SYS_TIME: %s", r)
	}
	bnd, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.Stdout), "CapBnd:")), 16, 64)
	if err != nil {
		t.Fatalf("CapBnd line: %v: %s", err, r)
	}
	if bnd&(1<<unix.CAP_SYS_TIME) != 0 || bnd&(1<<unix.CAP_KILL) == 0 {
		t.Errorf("container bounding set %#x: want CAP_KILL and not CAP_SYS_TIME", bnd)
	}
}

func TestMountLabelWithoutSELinux(t *testing.T) {
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		t.Skip("SELinux is enabled on this host: linux.mountLabel is applied, not ignored")
	}
	e := newEnv(t)
	r, _ := e.runNew(func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2" }, "true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "ignoring linux.mountLabel") {
		t.Fatalf("mountLabel without SELinux: want success with a warning: %s", r)
	}
}

func TestKernelTCPLimit(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "100")
	limit := int64(50 << 20)
	b.Edit(func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Memory = &specs.LinuxMemory{KernelTCP: &limit} //nolint:staticcheck // what is tested
	})
	id := e.NewID()
	e.create(b, id)
	st := e.mustState(id)
	dir := memoryCgroupDir(t, st.Pid)
	if dir == "" {
		t.Skip("no cgroup v1 memory hierarchy: kernelTCP exists on cgroup v1 only")
	}
	data, err := os.ReadFile(filepath.Join(dir, "memory.kmem.tcp.limit_in_bytes"))
	if os.IsNotExist(err) {
		t.Skip("this kernel has no memory.kmem.tcp.limit_in_bytes")
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != strconv.FormatInt(limit, 10) {
		t.Errorf("memory.kmem.tcp.limit_in_bytes = %s, want %d", got, limit)
	}
}

// memoryCgroupDir is the v1 memory cgroup directory of pid, or "".
func memoryCgroupDir(t *testing.T, pid int) string {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 && parts[1] == "memory" {
			return filepath.Join("/sys/fs/cgroup/memory", parts[2])
		}
	}
	return ""
}
