package image

import (
	"archive/tar"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

// bundleLayered pushes the three-layer image and bundles it into a new
// dir (berth pulls it: it is not in the store yet).
func bundleLayered(t *testing.T, e *env, args ...string) (pushedImage, string) {
	t.Helper()
	p := pushLayered(t)
	dir := e.path("bundle")
	cmd := []string{"bundle", p.Ref, dir}
	if len(args) > 0 {
		cmd = append(append(cmd, "--"), args...)
	}
	e.mustBerth(cmd...)
	return p, dir
}

func TestBundleLayeredRootfs(t *testing.T) {
	e := newEnv(t)
	_, dir := bundleLayered(t, e)
	rootfs := filepath.Join(dir, "rootfs")

	st, err := os.Lstat(rootfs)
	if err != nil || !st.IsDir() {
		t.Fatalf("rootfs is not a directory: %v", err)
	}
	if m := mountsBelow(dir); len(m) != 0 {
		t.Errorf("bundle left mounts (rootfs must be a plain directory): %v", m)
	}

	// Whiteouts: /file (a file) and /gone (a directory) are removed.
	for _, p := range []string{"file", "gone"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); !os.IsNotExist(err) {
			t.Errorf("/%s was whited out in layer 3 but exists (%v)", p, err)
		}
	}
	// Opaque /dir: only layer 2's and 3's entries.
	if got := readDirNames(filepath.Join(rootfs, "dir")); !slices.Equal(got, layeredDirEntries) {
		t.Errorf("opaque /dir holds %v, want %v", got, layeredDirEntries)
	}
	// Files of each layer, whatever its compression.
	for p, want := range map[string]string{
		"keep":                "kept\n",
		"dir/upper":           "upper\n",
		"dir/from-zstd":       "from-zstd\n",
		"uncompressed-marker": "from-uncompressed-layer\n",
		"zstd-marker":         "from-zstd-layer\n",
		"etc/passwd":          layeredPasswd,
		"etc/group":           layeredGroup,
	} {
		data, err := os.ReadFile(filepath.Join(rootfs, p))
		if err != nil || string(data) != want {
			t.Errorf("/%s: %q (%v), want %q", p, data, err, want)
		}
	}
	// No whiteout marker is left anywhere.
	_ = filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".wh.") {
			t.Errorf("whiteout marker left in the rootfs: %s", p)
		}
		return nil
	})
	// The working directory exists although no layer has it.
	if st, err := os.Stat(filepath.Join(rootfs, layeredWorkdir)); err != nil || !st.IsDir() {
		t.Errorf("WorkingDir %s not created in the rootfs: %v", layeredWorkdir, err)
	}
	// Modes and owners as in the layer.
	for p, want := range map[string]struct {
		mode     fs.FileMode
		uid, gid uint32
	}{
		"owned":       {0o640, layeredUID, layeredGID},
		"home/app":    {fs.ModeDir | 0o750, layeredUID, layeredGID},
		"bin/busybox": {0o755, 0, 0},
		"tmp":         {fs.ModeDir | fs.ModeSticky | 0o777, 0, 0},
	} {
		st, err := os.Lstat(filepath.Join(rootfs, p))
		if err != nil {
			t.Errorf("/%s: %v", p, err)
			continue
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode() != want.mode || sys.Uid != want.uid || sys.Gid != want.gid {
			t.Errorf("/%s: mode %v owner %d:%d, want %v %d:%d", p, st.Mode(), sys.Uid, sys.Gid, want.mode, want.uid, want.gid)
		}
	}
	if target, err := os.Readlink(filepath.Join(rootfs, "bin", "sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("/bin/sh: %q (%v), want a symlink to /bin/busybox", target, err)
	}
}

func TestBundleLayeredConfig(t *testing.T) {
	e := newEnv(t)
	_, dir := bundleLayered(t, e)
	s := loadSpec(t, dir)

	if s.Root == nil || (s.Root.Path != "rootfs" && s.Root.Path != filepath.Join(dir, "rootfs")) {
		t.Errorf("root %+v, want rootfs", s.Root)
	}
	if s.Process == nil {
		t.Fatal("config.json has no process")
	}
	if want := append(slices.Clone(layeredEntrypoint), layeredCmd...); !slices.Equal(s.Process.Args, want) {
		t.Errorf("process.args %q, want Entrypoint+Cmd %q", s.Process.Args, want)
	}
	for _, kv := range layeredEnv {
		if !slices.Contains(s.Process.Env, kv) {
			t.Errorf("process.env %q lacks the image's %q", s.Process.Env, kv)
		}
	}
	if s.Process.Cwd != layeredWorkdir {
		t.Errorf("process.cwd %q, want %q", s.Process.Cwd, layeredWorkdir)
	}
	if u := s.Process.User; u.UID != layeredUID || u.GID != layeredGID {
		t.Errorf("process.user %d:%d, want %d:%d (user %q from /etc/passwd)", u.UID, u.GID, layeredUID, layeredGID, layeredUser)
	}
	if !slices.Contains(s.Process.User.AdditionalGids, layeredExtraGID) {
		t.Errorf("process.user.additionalGids %v lacks %d (group extra lists %s in /etc/group)",
			s.Process.User.AdditionalGids, layeredExtraGID, layeredUser)
	}
	for k, v := range layeredLabels {
		if got, ok := s.Annotations[k]; !ok || got != v {
			t.Errorf("annotation %s = %q, want the label's %q (annotations %v)", k, got, v, s.Annotations)
		}
	}
}

func TestBundleArgsReplaceCmd(t *testing.T) {
	e := newEnv(t)
	_, dir := bundleLayered(t, e, "x", "y z")
	s := loadSpec(t, dir)
	if want := append(slices.Clone(layeredEntrypoint), "x", "y z"); s.Process == nil || !slices.Equal(s.Process.Args, want) {
		t.Errorf("process.args %v, want Entrypoint+ARGS %q", s.Process, want)
	}

	// Without an Entrypoint, ARGS are the whole command.
	p := pushBusybox(t)
	dir = e.path("bundle-busybox")
	e.mustBerth("bundle", p.Ref, dir, "--", "echo", "replaced")
	if s := loadSpec(t, dir); s.Process == nil || !slices.Equal(s.Process.Args, []string{"echo", "replaced"}) {
		t.Errorf("process.args %v, want [echo replaced]", s.Process)
	}
}

func TestBundleCorruptBlob(t *testing.T) {
	e := newEnv(t)
	p := pushCorrupt(t)
	dir := e.path("bundle")
	r := e.mustFail("bundle", p.Ref, dir)
	if !strings.Contains(r.Output(), p.Layers[0]) && !strings.Contains(r.Output(), strings.TrimPrefix(p.Layers[0], "sha256:")) {
		t.Errorf("bundle of an image with a corrupt layer does not name %s:\n%s", p.Layers[0], r)
	}
	if got := readDirNames(filepath.Join(dir, "rootfs")); len(got) != 0 {
		t.Errorf("something was unpacked from the corrupt image: rootfs holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		t.Error("config.json written for an image that failed to pull")
	}
}

// unsafeCase is a layer trying to write outside the rootfs.
type unsafeCase struct {
	name    string
	entries []testkit.TarEntry
	// names: one of them must appear in the error if bundle refuses.
	names []string
	// outside: host paths (some relative to the bundle dir) that must not
	// exist afterwards.
	outside func(bundleDir string) []string
	// inside: where, relative to the rootfs, the entry lands if bundle
	// accepts the layer.
	inside string
}

// escapeCase is an unsafeCase whose error, when bundle refuses the layer,
// names name, whose entry lands at inside in the rootfs when bundle takes
// it, and that must not have made the host path outside.
func escapeCase(caseName, name, inside, outside string, entries ...testkit.TarEntry) unsafeCase {
	return unsafeCase{name: caseName, entries: entries, names: []string{name}, inside: inside,
		outside: func(string) []string { return []string{outside} }}
}

func TestBundleUnsafeLayers(t *testing.T) {
	e := newEnv(t)
	tok := testkit.RandomHex(6)
	cases := []unsafeCase{{
		name:    "dotdot",
		entries: []testkit.TarEntry{testkit.FileEntry("../escape-"+tok, "escaped\n", 0o644)},
		names:   []string{"../escape-" + tok, "escape-" + tok},
		inside:  "escape-" + tok,
		outside: func(b string) []string {
			return []string{filepath.Join(b, "escape-"+tok), filepath.Join(filepath.Dir(b), "escape-"+tok)}
		},
	},
		escapeCase("absolute", "abs-escape-"+tok, "abs-escape-"+tok, "/abs-escape-"+tok,
			testkit.FileEntry("/abs-escape-"+tok, "escaped\n", 0o644)),
		escapeCase("symlink to /", "link", "etc/escaped-"+tok, "/etc/escaped-"+tok,
			testkit.SymlinkEntry("link", "/"), testkit.FileEntry("link/etc/escaped-"+tok, "escaped\n", 0o644)),
		escapeCase("relative symlink up", "up", "tmp/escaped-up-"+tok, "/tmp/escaped-up-"+tok,
			testkit.SymlinkEntry("up", strings.Repeat("../", 12)), testkit.FileEntry("up/tmp/escaped-up-"+tok, "escaped\n", 0o644)),
		escapeCase("symlink to a host dir", "etcdir", "etc/escaped-dir-"+tok, "/etc/escaped-dir-"+tok,
			testkit.SymlinkEntry("etcdir", "/etc"), testkit.FileEntry("etcdir/escaped-dir-"+tok, "escaped\n", 0o644)),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkUnsafe(t, e, c)
		})
	}

	t.Run("hardlink to a host file", func(t *testing.T) {
		p := pushUnsafe(t, "hardlink", testkit.TarEntry{Name: "hardlink-escape", Type: tar.TypeLink, Mode: 0o644, Link: strings.Repeat("../", 12) + "etc/passwd"})
		dir := e.path("bundle-hardlink")
		r := e.berth("bundle", p.Ref, dir)
		if r.Code != 0 {
			if !strings.Contains(r.Output(), "hardlink-escape") {
				t.Errorf("bundle refused the layer without naming the entry hardlink-escape:\n%s", r)
			}
			t.Logf("refused: %s", strings.TrimSpace(r.Stderr))
			return
		}
		host, err := os.Stat("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(filepath.Join(dir, "rootfs", "hardlink-escape")); err == nil && os.SameFile(st, host) {
			t.Error("rootfs/hardlink-escape is a hard link to the host's /etc/passwd")
		}
	})
}

// checkUnsafe bundles an image made of c.entries and requires that either
// bundle fails naming an entry, or it succeeds with the safe file in the
// rootfs; either way nothing may exist at c.outside.
func checkUnsafe(t *testing.T, e *env, c unsafeCase) {
	p := pushUnsafe(t, c.name, c.entries...)
	dir := e.path("bundle-" + strings.ReplaceAll(c.name, " ", "-"))
	r := e.berth("bundle", p.Ref, dir)
	for _, o := range c.outside(dir) {
		if _, err := os.Lstat(o); err == nil {
			t.Errorf("the layer wrote %s outside the rootfs (bundle exited %d)", o, r.Code)
			_ = os.Remove(o)
		}
	}
	if r.Code != 0 {
		named := false
		for _, n := range c.names {
			named = named || strings.Contains(r.Output(), n)
		}
		if !named {
			t.Errorf("bundle refused the layer without naming the entry (one of %q):\n%s", c.names, r)
		}
		t.Logf("refused: %s", strings.TrimSpace(r.Stderr))
		return
	}
	t.Logf("unpacked inside the rootfs: %v", readDirNames(filepath.Join(dir, "rootfs")))
	if got := readFile(t, filepath.Join(dir, "rootfs", "safe-file")); got != "safe\n" {
		t.Errorf("bundle succeeded but /safe-file is %q", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "rootfs", c.inside)); err != nil {
		t.Errorf("bundle accepted the layer, but its entry is not inside the rootfs at /%s: %v", c.inside, err)
	}
}
