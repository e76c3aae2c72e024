package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// Debian packages the benchmark needs: the two anchors, what building runc
// v1.5.2 needs (cgo, libseccomp), the static busybox of the bundle and GNU
// time (peak RSS).
var debianPackages = []string{"runc", "crun", "gcc", "libc6-dev", "libseccomp-dev", "pkg-config", "make", "busybox-static", "time", "containerd"}

const runcModule = "github.com/opencontainers/runc@v1.5.2"

// debianRunc is Debian's runc: an anchor, and the `runc spec` of the bundle.
const debianRunc = "/usr/sbin/runc"

// keyOf makes a label usable in container ids and file names.
func keyOf(label string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(label) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// setup installs the anchors if they are missing, builds berth and returns
// the runtimes in table order: berth, runc v1.5.2, Debian's runc, crun.
func setup(o options) ([]runtimeInfo, error) {
	goBin, err := findGo()
	if err != nil {
		return nil, err
	}
	runc152 := filepath.Join(o.cache, "bin", "runc")
	berth := o.berthBin
	if !o.noSetup {
		if err := installDebian(append(debianPackages, imagePackages...)); err != nil {
			return nil, err
		}
		if v, _ := version(runc152); !strings.Contains(v, "1.5.2") {
			logf("installing runc v1.5.2 into %s (go install, a minute or so)", filepath.Dir(runc152))
			cmd := exec.Command(goBin, "install", "-tags", "seccomp", runcModule)
			cmd.Dir = "/"
			cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(runc152), "CGO_ENABLED=1")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("go install %s: %w", runcModule, err)
			}
		}
		if berth == "" {
			logf("building berth (make -C %s build)", o.repo)
			cmd := exec.Command("make", "-C", o.repo, "build")
			cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":"+filepath.Dir(goBin))
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("make build: %w", err)
			}
		}
	}
	if berth == "" {
		berth = filepath.Join(o.repo, "bin", "berth")
	}
	known := map[string]string{"runc152": runc152, "runcdeb": debianRunc, "crun": "/usr/bin/crun"}
	rts := []runtimeInfo{{Key: "berth", Bin: berth, Env: o.berthEnv}}
	for _, k := range o.anchors {
		bin, ok := known[k]
		if !ok {
			return nil, fmt.Errorf("-anchors: unknown anchor %q (want runc152, runcdeb or crun)", k)
		}
		rts = append(rts, runtimeInfo{Key: k, Bin: bin})
	}
	for _, e := range o.extra {
		lbl, bin, ok := strings.Cut(e, "=")
		if !ok || lbl == "" || bin == "" {
			return nil, fmt.Errorf("-anchor %q: want LABEL=BINARY", e)
		}
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		rts = append(rts, runtimeInfo{Key: keyOf(lbl), Label: lbl, Bin: abs})
	}
	if len(rts) < 2 {
		return nil, errors.New("no anchors to compare with")
	}
	for i := range rts {
		rt := &rts[i]
		v, err := version(rt.Bin)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rt.Bin, err)
		}
		rt.Version = v
		if rt.Label == "" {
			rt.Label = label(rt.Key, v)
		}
		if rt.Key == "berth" && o.berthBin == "" && dirty(o.repo) {
			rt.Version += " + uncommitted changes"
		}
		if len(rt.Env) > 0 {
			rt.Label += " (" + strings.Join(rt.Env, " ") + ")"
		}
	}
	// libcontainer seals its binary with an overlayfs whose lower layers
	// are the binary's directory and the state root; they must not nest or
	// it falls back to copying the binary into a memfd (slow).
	for _, rt := range rts {
		dir := filepath.Dir(rt.Bin) + "/"
		if strings.HasPrefix(o.state+"/", dir) || strings.HasPrefix(dir, o.state+"/") {
			return nil, fmt.Errorf("%s and the state root %s are in one tree; keep them apart", rt.Bin, o.state)
		}
	}
	return rts, nil
}

// ctrdConfigFor is what the containerd scenarios run: containerd from
// -containerd, berth's shim (-shim, or beside the berth binary), runc
// v1.5.2, crun and the berth binary under test.
func ctrdConfigFor(o options, rts []runtimeInfo) ctrdConfig {
	c := ctrdConfig{Bin: o.ctrdBin, Shim: o.shimBin, Runc: filepath.Join(o.cache, "bin", "runc"), Crun: "/usr/bin/crun", Berth: rts[0].Bin}
	if c.Shim == "" {
		c.Shim = filepath.Join(filepath.Dir(rts[0].Bin), "containerd-shim-berth-v2")
	}
	if abs, err := filepath.Abs(c.Shim); err == nil {
		c.Shim = abs
	}
	return c
}

// dirty reports whether berth's tracked files (the benchmark's own aside)
// differ from the commit that --version names.
func dirty(repo string) bool {
	out, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(out), "\n") {
		if len(l) > 3 && !strings.HasPrefix(l[3:], "bench/") && l[3:] != "BENCHMARKS.md" {
			return true
		}
	}
	return false
}

func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go", nil
	}
	return "", errors.New("go not found on PATH or in /usr/local/go/bin")
}

// installDebian installs the packages that are not installed yet.
func installDebian(pkgs []string) error {
	var missing []string
	for _, p := range pkgs {
		out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	logf("installing Debian packages: %s", strings.Join(missing, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	update := exec.Command("apt-get", "update", "-qq")
	update.Env, update.Stdout, update.Stderr = env, os.Stderr, os.Stderr
	if err := update.Run(); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	install := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)...)
	install.Env, install.Stdout, install.Stderr = env, os.Stderr, os.Stderr
	if err := install.Run(); err != nil {
		return fmt.Errorf("apt-get install: %w", err)
	}
	return nil
}

// version is the first line of `bin --version`, plus the commit line when
// there is one (berth's tells which tree was measured).
func version(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	v := lines[0]
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "commit: ") && !strings.Contains(v, "+ds") {
			v += " (" + l + ")"
		}
	}
	return v, nil
}

func label(key, version string) string {
	fields := strings.Fields(version)
	num := ""
	for i, f := range fields {
		if f == "version" && i+1 < len(fields) {
			num = strings.TrimSuffix(fields[i+1], "+ds1")
		}
	}
	switch key {
	case "berth":
		return "berth"
	case "crun":
		return "crun " + num
	default:
		return "runc " + num
	}
}

// bindCounts are the numbers of read-only bind mounts of the run-with-binds
// scenarios (0 is the plain run).
var bindCounts = []int{0, 20, 100}

// makeBundles writes a busybox root filesystem and one bundle per bind-mount
// count. config.json is what `runc spec` writes, with process.args
// ["/bin/true"], no terminal, the root filesystem by absolute path (the
// bundles share it) and the extra read-only bind mounts.
func makeBundles(work, runc string) (map[int]string, error) {
	rootfs := filepath.Join(work, "rootfs")
	for _, n := range []string{"rootfs", "bindsrc", "spec", "bundle-*"} {
		old, _ := filepath.Glob(filepath.Join(work, n))
		for _, o := range old {
			if err := os.RemoveAll(o); err != nil {
				return nil, err
			}
		}
	}
	busybox, err := testkit.Busybox()
	if err != nil {
		return nil, err
	}
	if err := testkit.BusyboxRootfs(rootfs, busybox); err != nil {
		return nil, fmt.Errorf("the bundles' busybox root filesystem: %w", err)
	}
	// Mount points exist beforehand, so that no runtime pays for mkdir.
	for i := 0; i < bindCounts[len(bindCounts)-1]; i++ {
		if err := os.MkdirAll(filepath.Join(rootfs, "mnt", "b"+strconv.Itoa(i)), 0o755); err != nil {
			return nil, err
		}
	}
	src := filepath.Join(work, "bindsrc")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("bind source\n"), 0o644); err != nil {
		return nil, err
	}

	specDir := filepath.Join(work, "spec")
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(runc, "spec")
	cmd.Dir = specDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("runc spec: %w: %s", err, out)
	}
	base, err := os.ReadFile(filepath.Join(specDir, "config.json"))
	if err != nil {
		return nil, err
	}
	bundles := map[int]string{}
	for _, n := range bindCounts {
		var spec map[string]any
		if err := json.Unmarshal(base, &spec); err != nil {
			return nil, fmt.Errorf("runc spec output: %w", err)
		}
		proc, _ := spec["process"].(map[string]any)
		root, _ := spec["root"].(map[string]any)
		mounts, _ := spec["mounts"].([]any)
		if proc == nil || root == nil {
			return nil, errors.New("runc spec output lacks process or root")
		}
		proc["terminal"] = false
		proc["args"] = []string{"/bin/true"}
		root["path"] = rootfs
		for i := 0; i < n; i++ {
			mounts = append(mounts, map[string]any{
				"destination": "/mnt/b" + strconv.Itoa(i),
				"type":        "bind",
				"source":      src,
				"options":     []string{"bind", "ro"},
			})
		}
		spec["mounts"] = mounts
		dir := filepath.Join(work, "bundle-"+strconv.Itoa(n))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
			return nil, err
		}
		bundles[n] = dir
	}
	return bundles, nil
}

// sweep removes what a killed run may have left: cgroups named after the
// benchmark's container ids, and the processes in them. It is safe to run
// at any time no benchmark is running.
func sweep() {
	const cgroupMagic, cgroup2Magic = 0x27e0eb, 0x63677270
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/" + idPrefix + "*", "/sys/fs/cgroup/*/" + idPrefix + "*"} {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			// Only real cgroups: inside the benchmark's namespace the
			// hidden unified hierarchy is a tmpfs with crun's junk on it.
			var st syscall.Statfs_t
			if syscall.Statfs(d, &st) == nil && (st.Type == cgroupMagic || st.Type == cgroup2Magic) {
				dirs = append(dirs, d)
			}
		}
	}
	if len(dirs) == 0 {
		return
	}
	if err := testkit.RemoveCgroups(dirs, time.Second); err != nil {
		logf("%v", err)
	}
	logf("swept %d leftover cgroups", len(dirs))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
