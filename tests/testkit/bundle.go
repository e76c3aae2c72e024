package testkit

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
)

// The users and groups of every busybox root filesystem of the tests.
const (
	BusyboxPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	BusyboxGroup  = "root:x:0:\nnobody:x:65534:\n"
)

// Busybox is the statically linked busybox the tests build root file
// systems and images from: $BUSYBOX, or the first static one of the usual
// places (Debian's busybox-static installs /bin/busybox).
func Busybox() (string, error) {
	if p := os.Getenv("BUSYBOX"); p != "" {
		return p, checkStatic(p)
	}
	var tried []string
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox"} {
		err := checkStatic(p)
		if err == nil {
			return p, nil
		}
		tried = append(tried, err.Error())
	}
	return "", fmt.Errorf("no statically linked busybox (%s)", strings.Join(tried, "; "))
}

// checkStatic fails unless path is a statically linked ELF executable (no
// PT_INTERP): the root file systems have no libraries.
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

// BusyboxApplets lists the applets of busybox as paths (bin/sh,
// usr/bin/env...), from `busybox --list-full`, busybox itself left out.
func BusyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		if a != "bin/busybox" {
			applets = append(applets, a)
		}
	}
	return applets, nil
}

// BusyboxRootfs makes dir a busybox root filesystem as contrib/mkbundle.sh
// does: the usual directories (tmp and var/tmp 1777), busybox in bin/ and a
// symlink to /bin/busybox for each applet, /etc/passwd and /etc/group.
func BusyboxRootfs(dir, busybox string) error {
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		// 1777: os.FileMode has its own sticky bit, not 01000.
		if err := os.Chmod(filepath.Join(dir, d), 0o777|os.ModeSticky); err != nil {
			return err
		}
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	applets, err := BusyboxApplets(busybox)
	if err != nil {
		return err
	}
	for _, a := range applets {
		p := filepath.Join(dir, a)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", p); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	for name, content := range map[string]string{"etc/passwd": BusyboxPasswd, "etc/group": BusyboxGroup} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
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

// MakeBaseBundle makes the bundle every test bundle is copied from, as
// contrib/mkbundle.sh does: dir/rootfs from Busybox() and the config.json
// that `berth spec` writes, with process.terminal false.
func MakeBaseBundle(dir, berth string) error {
	busybox, err := Busybox()
	if err != nil {
		return err
	}
	if err := BusyboxRootfs(filepath.Join(dir, "rootfs"), busybox); err != nil {
		return fmt.Errorf("busybox rootfs: %w", err)
	}
	cmd := exec.Command(berth, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s spec: %v: %s", berth, err, out)
	}
	path := filepath.Join(dir, "config.json")
	s, err := ReadSpec(path)
	if err != nil {
		return err
	}
	if s.Process == nil || s.Linux == nil {
		return fmt.Errorf("the config.json of `%s spec` has no process or no linux section", berth)
	}
	s.Process.Terminal = false
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// ReadSpec reads a config.json.
func ReadSpec(path string) (*specs.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// Bundle is an OCI bundle on disk, Dir/config.json and Dir/rootfs, with
// its config in memory. It is a test's: its methods fail T on errors.
type Bundle struct {
	Dir  string
	Spec *specs.Spec
	T    testing.TB
}

// CopyBundle makes a bundle for t in dir from the base bundle: a copy of
// its rootfs (cp -a: owners, modes and links as they are) and its config,
// with a writable rootfs, no terminal and, when given, args as the process.
func CopyBundle(t testing.TB, base, dir string, args ...string) *Bundle {
	t.Helper()
	if out, err := exec.Command("cp", "-a", filepath.Join(base, "rootfs"), filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copying the base rootfs: %v: %s", err, out)
	}
	s, err := ReadSpec(filepath.Join(base, "config.json"))
	if err != nil {
		t.Fatalf("base bundle: %v", err)
	}
	if s.Process == nil {
		t.Fatal("the base config.json has no process")
	}
	if s.Root == nil {
		s.Root = &specs.Root{Path: "rootfs"}
	}
	s.Root.Readonly = false
	s.Process.Terminal = false
	if len(args) > 0 {
		s.Process.Args = args
	}
	b := &Bundle{Dir: dir, Spec: s, T: t}
	b.Write()
	return b
}

// In is the bundle with failures reported to t (a subtest).
func (b *Bundle) In(t testing.TB) *Bundle {
	c := *b
	c.T = t
	return &c
}

// Edit applies f to the config and rewrites config.json.
func (b *Bundle) Edit(f func(*specs.Spec)) {
	b.T.Helper()
	f(b.Spec)
	b.Write()
}

// Write writes the config to config.json.
func (b *Bundle) Write() {
	b.T.Helper()
	data, err := json.MarshalIndent(b.Spec, "", "\t")
	if err != nil {
		b.T.Fatal(err)
	}
	b.WriteConfig(data)
}

// WriteConfig replaces config.json with raw bytes (a broken one, or one
// with properties the spec does not know).
func (b *Bundle) WriteConfig(data []byte) {
	b.T.Helper()
	if err := os.WriteFile(filepath.Join(b.Dir, "config.json"), data, 0o644); err != nil {
		b.T.Fatal(err)
	}
}

// ConfigMap is the config as generic JSON, for edits that the spec's
// types cannot hold (properties it does not know); WriteConfigMap writes it
// back.
func (b *Bundle) ConfigMap() map[string]any {
	b.T.Helper()
	data, err := json.Marshal(b.Spec)
	if err != nil {
		b.T.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		b.T.Fatal(err)
	}
	return m
}

// WriteConfigMap replaces config.json with m, indented.
func (b *Bundle) WriteConfigMap(m map[string]any) {
	b.T.Helper()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		b.T.Fatal(err)
	}
	b.WriteConfig(data)
}

// Rootfs is the host path of p inside the bundle's rootfs.
func (b *Bundle) Rootfs(p string) string { return filepath.Join(b.Dir, "rootfs", p) }

// AddCaps gives the process these capabilities in its bounding, effective
// and permitted sets.
func AddCaps(s *specs.Spec, caps ...string) {
	if s.Process.Capabilities == nil {
		s.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, caps...)
	c.Effective = append(c.Effective, caps...)
	c.Permitted = append(c.Permitted, caps...)
}
