package image

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// cmdTimeout bounds every berth invocation.
const cmdTimeout = 2 * time.Minute

// env is one test's private world below a t.TempDir(): the --root and
// --image-store passed to every berth call, HOME, TMPDIR and the working
// directory of berth, so that whatever berth writes (temporary bundles
// included) lands below base.
type env struct {
	t              *testing.T
	*testkit.Space        // Dir, and Root: --root
	store          string // --image-store
	home           string // HOME, with an empty .docker/ (DOCKER_CONFIG)
	tmp            string // TMPDIR
	cwd            string // berth's working directory
}

// newEnv checks the suite and the berth binary, marks t parallel and makes
// the private dirs. Its cleanup force-deletes the test's containers and
// fails the test if anything of them, or a mount below base, remains.
func newEnv(t *testing.T) *env {
	t.Helper()
	gate.Check(t)
	if binaryErr != "" {
		t.Fatal(binaryErr)
	}
	t.Parallel()
	e := &env{t: t, Space: testkit.NewSpace(t, ids)}
	e.store = filepath.Join(e.Dir, "store")
	e.home = filepath.Join(e.Dir, "home")
	e.tmp = filepath.Join(e.Dir, "tmp")
	e.cwd = filepath.Join(e.Dir, "cwd")
	for _, d := range []string{filepath.Join(e.home, ".docker"), e.tmp, e.cwd} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.cleanup)
	return e
}

// ids makes the container ids of every test of the package.
var ids = testkit.NewIDs("img-")

// path returns a path below the test's base dir (not created).
func (e *env) path(elem ...string) string {
	return filepath.Join(append([]string{e.Dir}, elem...)...)
}

// ---------------------------------------------------------------------------
// Running berth

type result = testkit.Result

// opts changes how berth is run.
type opts struct {
	env     []string      // extra KEY=VALUE, applied last
	noStore bool          // do not pass --image-store
	timeout time.Duration // 0: cmdTimeout
}

// berth runs `berth --root ROOT --image-store STORE ARGS...` and waits.
func (e *env) berth(args ...string) result {
	return e.berthWith(opts{}, args...)
}

// scrubbedEnv is the environment berth runs with: the test binary's, less
// what would make it read credentials or a store other than the test's.
func (e *env) scrubbedEnv() []string {
	drop := map[string]bool{
		"REGISTRY_AUTH_FILE": true, "DOCKER_CONFIG": true, "BERTH_IMAGE_STORE": true,
		"HOME": true, "TMPDIR": true, "XDG_RUNTIME_DIR": true, "XDG_CONFIG_HOME": true,
		"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true, "NO_PROXY": true,
		"http_proxy": true, "https_proxy": true, "all_proxy": true, "no_proxy": true,
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out,
		"HOME="+e.home,
		"DOCKER_CONFIG="+filepath.Join(e.home, ".docker"),
		"XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"),
		"TMPDIR="+e.tmp,
	)
}

// cli is berth as the test runs it: its root, store, environment and
// working directory.
func (e *env) cli(o opts) testkit.Berth {
	b := e.Berth(binary, cmdTimeout)
	b.Dir, b.Env = e.cwd, append(e.scrubbedEnv(), o.env...)
	if !o.noStore {
		b.Globals = append(b.Globals, "--image-store", e.store)
	}
	if o.timeout != 0 {
		b.Timeout = o.timeout
	}
	return b
}

func (e *env) berthWith(o opts, args ...string) result {
	return e.cli(o).Run(args...)
}

// mustBerth runs berth and fails the test unless it exits 0.
func (e *env) mustBerth(args ...string) result {
	e.t.Helper()
	return e.cli(opts{}).Must(e.t, args...)
}

// mustFail runs berth and fails the test unless it exits non-zero.
func (e *env) mustFail(args ...string) result {
	e.t.Helper()
	r := e.berth(args...)
	if r.Code == 0 || r.Err != nil {
		e.t.Fatalf("expected a failure, got: %s", r)
	}
	return r
}

// pull runs `berth pull REF`, requires success and that the last stdout
// line is the digest want; it returns the result.
func (e *env) pull(ref, want string, extra ...string) result {
	e.t.Helper()
	r := e.mustBerth(append(append([]string{"pull"}, extra...), ref)...)
	if got := r.LastLine(); got != want {
		e.t.Fatalf("pull %s printed %q as its last line, want the manifest digest %s\n%s", ref, got, want, r)
	}
	return r
}

// ---------------------------------------------------------------------------
// The store, seen through berth and through the file system

// imageInfo is one entry of `berth images --format json`.
type imageInfo struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// images lists the store with `berth images --format json`.
func (e *env) images() []imageInfo {
	e.t.Helper()
	r := e.mustBerth("images", "--format", "json")
	var out []imageInfo
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &out); err != nil {
		e.t.Fatalf("images --format json: not a JSON array of images: %v\n%s", err, r)
	}
	return out
}

// findImage returns the entry of images() named name, if any.
func findImage(list []imageInfo, name string) (imageInfo, bool) {
	for _, im := range list {
		if im.Name == name {
			return im, true
		}
	}
	return imageInfo{}, false
}

// pathsNaming walks root (not following symlinks) and returns the paths
// whose base name contains the hex part of one of digests: blobs, and
// whatever else a store keys by digest (unpacked layers, temp files).
func pathsNaming(root string, digests ...string) []string {
	hexes := map[string]bool{}
	for _, d := range digests {
		_, h, ok := strings.Cut(d, ":")
		if ok && len(h) >= 12 {
			hexes[h] = true
		}
	}
	var found []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		for h := range hexes {
			if strings.Contains(d.Name(), h) {
				found = append(found, p)
				break
			}
		}
		return nil
	})
	sort.Strings(found)
	return found
}

// bundleDirs walks root for directories that look like bundles (holding
// config.json and rootfs/), without descending into rootfs dirs.
func bundleDirs(root string) []string {
	var found []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == "rootfs" {
			return filepath.SkipDir
		}
		_, e1 := os.Stat(filepath.Join(p, "config.json"))
		st, e2 := os.Lstat(filepath.Join(p, "rootfs"))
		if e1 == nil && e2 == nil && st.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// readFile returns a file's content, failing the test on error.
func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return string(data)
}

// ---------------------------------------------------------------------------
// Cleanup and leak checks

// cleanup force-deletes the test's containers, then fails the test if
// anything of them is left (state, a cgroup, a process) or a mount below
// its base dir, and removes it.
func (e *env) cleanup() {
	scope := e.Scope(binary)
	for _, r := range e.cli(opts{}).ForceDelete(scope.IDs...) {
		if !strings.Contains(r.Output(), "not exist") {
			e.t.Logf("cleanup: %s", r)
		}
	}
	leaks := scope.Settle(testkit.LeakGrace)
	for _, l := range leaks {
		e.t.Errorf("left by the test below %s: %s", e.Dir, l)
	}
	if err := testkit.Remove(leaks); err != nil {
		e.t.Errorf("cleanup: %v", err)
	}
}

// mountsBelow returns the mounts at or below dir.
func mountsBelow(dir string) []testkit.Mount {
	ms, _ := testkit.MountsUnder(dir) // no mountinfo: nothing to see
	return ms
}

// readDirNamesErr returns the sorted names in dir.
func readDirNamesErr(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	return names, nil
}

// readDirNames returns the sorted names in dir; none when it is missing.
func readDirNames(dir string) []string {
	names, _ := readDirNamesErr(dir)
	return names
}

// loadSpec reads dir/config.json.
func loadSpec(t *testing.T, dir string) *specs.Spec {
	t.Helper()
	s, err := testkit.ReadSpec(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeAuthFile writes an auth file for the token-auth registry with the
// given password (the right one: tokenSrv.Password) to dir/name and
// returns its path.
func writeAuthFile(dir, name, password string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, testkit.AuthFileJSON(authReg.Addr, tokenSrv.User, password), 0o600); err != nil {
		return "", err
	}
	return p, nil
}
