package image

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cmdTimeout bounds every berth invocation.
const cmdTimeout = 2 * time.Minute

// env is one test's private world below a t.TempDir(): the --root and
// --image-store passed to every berth call, HOME, TMPDIR and the working
// directory of berth, so that whatever berth writes (temporary bundles
// included) lands below base.
type env struct {
	t     *testing.T
	base  string
	root  string // --root
	store string // --image-store
	home  string // HOME, with an empty .docker/ (DOCKER_CONFIG)
	tmp   string // TMPDIR
	cwd   string // berth's working directory

	mu  sync.Mutex
	ids []string
}

// newEnv checks the suite and the berth binary, marks t parallel and makes
// the private dirs. Its cleanup force-deletes the test's containers and
// fails the test if a mount below base remains.
func newEnv(t *testing.T) *env {
	t.Helper()
	requireSuite(t)
	if binaryErr != "" {
		t.Fatal(binaryErr)
	}
	t.Parallel()
	e := &env{t: t, base: t.TempDir()}
	e.root = filepath.Join(e.base, "state")
	e.store = filepath.Join(e.base, "store")
	e.home = filepath.Join(e.base, "home")
	e.tmp = filepath.Join(e.base, "tmp")
	e.cwd = filepath.Join(e.base, "cwd")
	for _, d := range []string{filepath.Join(e.home, ".docker"), e.tmp, e.cwd} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.cleanup)
	return e
}

var idCounter atomic.Int64

// newID returns a fresh container id and registers it for cleanup.
func (e *env) newID() string {
	n := strings.TrimPrefix(e.t.Name(), "Test")
	n = regexp.MustCompile(`[^A-Za-z0-9_.-]`).ReplaceAllString(n, "_")
	if len(n) > 20 {
		n = n[:20]
	}
	id := fmt.Sprintf("img-%s-%d-%03d", n, os.Getpid(), idCounter.Add(1))
	e.mu.Lock()
	e.ids = append(e.ids, id)
	e.mu.Unlock()
	return id
}

// path returns a path below the test's base dir (not created).
func (e *env) path(elem ...string) string {
	return filepath.Join(append([]string{e.base}, elem...)...)
}

// ---------------------------------------------------------------------------
// Running berth

// result of one berth invocation.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int   // exit status; -1 when it did not exit normally
	err    error // start failure or timeout
	dur    time.Duration
}

func (r result) String() string {
	s := fmt.Sprintf("`%s` exited %d after %v", strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond))
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	return s + fmt.Sprintf("\n--- stdout:\n%s\n--- stderr:\n%s", r.stdout, r.stderr)
}

// output is stdout and stderr together, for message assertions.
func (r result) output() string { return r.stdout + "\n" + r.stderr }

// lastLine is the last non-empty line of stdout, trimmed.
func (r result) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

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

func (e *env) berthWith(o opts, args ...string) result {
	full := []string{"--root", e.root}
	if !o.noStore {
		full = append(full, "--image-store", e.store)
	}
	full = append(full, args...)
	timeout := o.timeout
	if timeout == 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, full...)
	cmd.Dir = e.cwd
	cmd.Env = append(e.scrubbedEnv(), o.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A container process that outlives berth must not hold Wait.
	cmd.WaitDelay = 5 * time.Second
	res := result{args: append([]string{"berth"}, full...)}
	start := time.Now()
	err := cmd.Run()
	res.dur = time.Since(start)
	res.stdout, res.stderr = stdout.String(), stderr.String()
	res.code = -1
	if cmd.ProcessState != nil {
		res.code = cmd.ProcessState.ExitCode()
	}
	switch {
	case ctx.Err() != nil:
		res.err = fmt.Errorf("killed after timeout %v", timeout)
	case err != nil && !errors.As(err, new(*exec.ExitError)):
		res.err = err
	}
	return res
}

// mustBerth runs berth and fails the test unless it exits 0.
func (e *env) mustBerth(args ...string) result {
	e.t.Helper()
	r := e.berth(args...)
	if r.code != 0 || r.err != nil {
		e.t.Fatalf("%s", r)
	}
	return r
}

// mustFail runs berth and fails the test unless it exits non-zero.
func (e *env) mustFail(args ...string) result {
	e.t.Helper()
	r := e.berth(args...)
	if r.code == 0 || r.err != nil {
		e.t.Fatalf("expected a failure, got: %s", r)
	}
	return r
}

// pull runs `berth pull REF`, requires success and that the last stdout
// line is the digest want; it returns the result.
func (e *env) pull(ref, want string, extra ...string) result {
	e.t.Helper()
	r := e.mustBerth(append(append([]string{"pull"}, extra...), ref)...)
	if got := r.lastLine(); got != want {
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
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &out); err != nil {
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
		t.Fatal(err)
	}
	return string(data)
}

// ---------------------------------------------------------------------------
// Cleanup and leak checks

// cleanup force-deletes the test's containers, then fails the test if a
// mount below its base dir remains (and unmounts it), or a state dir entry
// of one of its containers.
func (e *env) cleanup() {
	t := e.t
	e.mu.Lock()
	ids := append([]string(nil), e.ids...)
	e.mu.Unlock()
	for _, id := range ids {
		r := e.berth("delete", "--force", id)
		if r.code != 0 && !strings.Contains(r.output(), "does not exist") && !strings.Contains(r.output(), "not exist") {
			t.Logf("cleanup: %s", r)
		}
	}
	var mounts []string
	deadline := time.Now().Add(3 * time.Second)
	for {
		mounts = mountsBelow(e.base)
		if len(mounts) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(mounts) > 0 {
		t.Errorf("mounts left below the test's dir %s:\n%s", e.base, strings.Join(mounts, "\n"))
		// Deepest first, so that the tree can be removed.
		sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
		for _, m := range mounts {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
	}
	if ents, err := os.ReadDir(e.root); err == nil {
		for _, ent := range ents {
			for _, id := range ids {
				if strings.HasPrefix(ent.Name(), id) {
					t.Errorf("state of container %s left in %s", id, filepath.Join(e.root, ent.Name()))
				}
			}
		}
	}
}

// mountsBelow returns the mount points in /proc/self/mountinfo at or below
// dir.
func mountsBelow(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space...).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(byte(c))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s/config.json: %v", dir, err)
	}
	return &s
}
