package testkit

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	named := []string{"ctr-1", "ctr-1~lock", "ctr-1.pid", "libpod-ctr-1.scope", "/berth-e2e/ctr-1", "ctr-2 ctr-1x ctr-1"}
	for _, s := range named {
		if !Names(s, "ctr-1") {
			t.Errorf("%q does not name ctr-1", s)
		}
	}
	for _, s := range []string{"ctr-10", "xctr-1", "ctr-1x"} {
		if Names(s, "ctr-1") {
			t.Errorf("%q names ctr-1", s)
		}
	}
	if Names("anything", "") {
		t.Error("the empty id is named")
	}
}

func TestMountinfo(t *testing.T) {
	line := `36 35 98:0 /mnt\0401 /tmp/t/my\040dir rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
	m, ok := parseMountinfo(line)
	if !ok || m.Root != "/mnt 1" || m.Point != "/tmp/t/my dir" || m.Options != "rw,noatime" ||
		m.FSType != "ext3" || m.Source != "/dev/root" || m.SuperOptions != "rw,errors=continue" {
		t.Fatalf("parseMountinfo: %+v, %v", m, ok)
	}
	for dir, want := range map[string]bool{"/tmp/t": true, "/tmp/t/my dir": true, "/tmp/t/my": false, "/tmp/x": false} {
		if got := m.Under(dir); got != want {
			t.Errorf("Under(%q) = %v, want %v", dir, got, want)
		}
	}
	overlay, _ := parseMountinfo(`40 30 0:50 / /run/o rw - overlay overlay rw,lowerdir=/tmp/t/l1:/tmp/t/l2,upperdir=/x`)
	for dir, want := range map[string]bool{"/tmp/t": true, "/tmp/t/l2": true, "/tmp/t/l": false, "/run": true, "/x": true, "/tmp": true} {
		if got := overlay.Mentions(dir); got != want {
			t.Errorf("Mentions(%q) of %q = %v, want %v", dir, overlay.Line, got, want)
		}
	}
	if _, ok := parseMountinfo("36 35 98:0 / /x rw"); ok {
		t.Error("a truncated line parsed")
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	r := Run(Cmd{Path: "/bin/sh", Args: []string{"-c", "pwd; echo err >&2; exit 3"}, Dir: dir, OutDir: dir})
	if r.Code != 3 || r.Err != nil || r.OK() || r.Stdout != dir+"\n" || r.Stderr != "err\n" {
		t.Errorf("exit 3: %s", r)
	}
	r = Run(Cmd{Path: "/bin/sh", Args: []string{"-c", "read x; echo got $x"}, Stdin: strings.NewReader("in\n"), Env: []string{}})
	if !r.OK() || r.LastLine() != "got in" {
		t.Errorf("stdin: %s", r)
	}
	start := time.Now()
	r = Run(Cmd{Path: "/bin/sleep", Args: []string{"100"}, Timeout: 200 * time.Millisecond, Group: true})
	if !r.TimedOut || r.Err == nil || r.Code != -1 || time.Since(start) > 10*time.Second {
		t.Errorf("timeout: %s", r)
	}
	if _, err := Start(Cmd{Path: filepath.Join(dir, "missing")}); err == nil {
		t.Error("Start of a missing program succeeded")
	}
	r = Run(Cmd{Path: filepath.Join(dir, "missing")})
	if r.Err == nil || r.Code != -1 || r.OK() {
		t.Errorf("a missing program: %s", r)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".std*")); len(left) > 0 {
		t.Errorf("output files left: %v", left)
	}
}

// TestScope puts a process, a mount and a cgroup of a test on the host and
// checks that Find reports each, and that Remove removes them.
func TestScope(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount and to make cgroups")
	}
	dir := t.TempDir()
	id := fmt.Sprintf("testkit-scope-%d", os.Getpid())
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, id), 0o700); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = dir
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleeper.Wait() }()
	t.Cleanup(func() { _ = sleeper.Process.Kill() })
	if err := os.Mkdir(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", filepath.Join(dir, "m"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() { _ = UnmountUnder(dir) })
	var cgroups []string
	for _, h := range Hierarchies() {
		if err := os.Mkdir(filepath.Join(h, id), 0o755); err == nil {
			cgroups = append(cgroups, filepath.Join(h, id))
		}
	}
	t.Cleanup(func() { _ = RemoveCgroups(cgroups, time.Second) })

	gone := filepath.Join(t.TempDir(), "made")
	if err := os.WriteFile(gone, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := Scope{IDs: []string{id}, Roots: []string{root}, Gone: []string{gone, gone + ".not"}, Dir: dir, Inside: dir}
	kinds := map[string]int{}
	for _, l := range s.Find() {
		kinds[l.Kind]++
		if l.Kind == "process" && !strings.Contains(l.What, "sleep 60") {
			t.Errorf("a process that is not the test's: %s", l)
		}
	}
	if want := map[string]int{"state": 2, "process": 1, "mount": 1, "cgroup": len(cgroups)}; fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("Find: %v, want %v", kinds, want)
	}
	if err := Remove(s.Find()); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if left := s.Settle(3 * time.Second); len(left) > 0 {
		t.Errorf("left after Remove: %v", left)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Error("Remove did not kill the process")
	}
}

// TestRemoveCgroups puts a process into a nested cgroup and checks that
// RemoveCgroups kills it and removes the whole tree.
func TestRemoveCgroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	base := "/sys/fs/cgroup/pids"
	if Unified() {
		base = CgroupRoot
	}
	top := filepath.Join(base, fmt.Sprintf("testkit-remove-%d", os.Getpid()))
	sub := filepath.Join(top, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Skipf("cannot make a cgroup here: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(sub); _ = os.Remove(top) })
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("move the process into %s: %v", sub, err)
	}
	if err := RemoveCgroups([]string{top}, 2*time.Second); err != nil {
		t.Errorf("RemoveCgroups: %v", err)
	}
	if _, err := os.Stat(top); !os.IsNotExist(err) {
		t.Errorf("%s still exists after RemoveCgroups", top)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Error("the process in the cgroup was not killed")
	}
}

// TestBaseBundleLikeMkbundle: the suites make their base bundle with
// MakeBaseBundle where they used contrib/mkbundle.sh; both must make the
// same bundle.
func TestBaseBundleLikeMkbundle(t *testing.T) {
	repo, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	berth := BerthBinary(repo)
	if why := MissingBinary(berth); why != "" {
		t.Skip(why)
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("contrib/mkbundle.sh needs jq")
	}
	kit, script := filepath.Join(t.TempDir(), "kit"), filepath.Join(t.TempDir(), "script")
	if err := os.Mkdir(kit, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MakeBaseBundle(kit, berth); err != nil {
		t.Fatalf("MakeBaseBundle: %v", err)
	}
	cmd := exec.Command("/bin/sh", filepath.Join(repo, "contrib", "mkbundle.sh"), script)
	cmd.Env = append(os.Environ(), "BERTH="+berth)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("contrib/mkbundle.sh: %v\n%s", err, out)
	}
	if a, b := tree(t, filepath.Join(kit, "rootfs")), tree(t, filepath.Join(script, "rootfs")); a != b {
		t.Errorf("rootfs of MakeBaseBundle and of contrib/mkbundle.sh differ:\n%s\n----\n%s", a, b)
	}
	a, err := ReadSpec(filepath.Join(kit, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadSpec(filepath.Join(script, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || a.Process.Terminal {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Errorf("config.json of MakeBaseBundle and of contrib/mkbundle.sh differ:\n%s\n%s", ja, jb)
	}
}

// tree describes every file below dir: path, mode, link target, size.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		link, _ := os.Readlink(p)
		size := fi.Size()
		if fi.IsDir() {
			size = 0
		}
		fmt.Fprintf(&b, "%s %v %s %d\n", strings.TrimPrefix(p, dir), fi.Mode(), link, size)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
