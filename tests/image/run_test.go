package image

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runImage runs `berth run --image REF [FLAGS...] ID [-- ARGS...]` with a
// fresh id, returning the id and the result.
func (e *env) runImage(ref string, flags []string, args ...string) (string, result) {
	id := e.NewID()
	cmd := append(append([]string{"run", "--image", ref}, flags...), id)
	if len(args) > 0 {
		cmd = append(append(cmd, "--"), args...)
	}
	return id, e.berth(cmd...)
}

// requireGone checks that the container is deleted after `run` and that
// no bundle (a dir with config.json and rootfs/) is left below the test's
// dir: berth's temp bundles go to TMPDIR, the store, the state dir or the
// working directory, all below it.
func (e *env) requireGone(id string) {
	e.t.Helper()
	if r := e.berth("state", id); r.Code == 0 {
		e.t.Errorf("container %s still exists after run:\n%s", id, r)
	}
	if b := bundleDirs(e.Dir); len(b) != 0 {
		e.t.Errorf("run --image left bundles behind: %v", b)
	}
}

func TestRunImageBusybox(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	id, r := e.runImage(p.Ref, nil)
	if r.Code != 0 || r.Err != nil {
		t.Fatalf("run --image: %s", r)
	}
	if !strings.Contains(r.Stdout, busyboxHello) {
		t.Errorf("run --image printed no %q:\n%s", busyboxHello, r)
	}
	e.requireGone(id)
	// It pulled: the image is in the store now.
	if im, ok := findImage(e.images(), p.Ref); !ok || im.Digest != p.Digest {
		t.Errorf("after run --image, images lists %+v, want %s at %s", e.images(), p.Ref, p.Digest)
	}
	// A second run uses the stored image: no blob is fetched again.
	before := openReg.BlobGETs(p.Repo)
	id, r = e.runImage(p.Ref, nil)
	if r.Code != 0 || !strings.Contains(r.Stdout, busyboxHello) {
		t.Errorf("second run --image: %s", r)
	}
	for b, n := range openReg.BlobGETs(p.Repo) {
		if n != before[b] {
			t.Errorf("second run --image fetched %s again", b)
		}
	}
	e.requireGone(id)
}

func TestRunImageExitCode(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	for _, code := range []int{7, 0, 1} {
		id, r := e.runImage(p.Ref, nil, "sh", "-c", "exit "+strconv.Itoa(code))
		if r.Code != code || r.Err != nil {
			t.Errorf("run --image -- sh -c 'exit %d' exited %d:\n%s", code, r.Code, r)
		}
		e.requireGone(id)
	}
}

func TestRunImageArgsReplaceCmd(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	id, r := e.runImage(p.Ref, nil, "sh", "-c", "echo replaced")
	if r.Code != 0 || !strings.Contains(r.Stdout, "replaced") || strings.Contains(r.Stdout, busyboxHello) {
		t.Errorf("run --image with args: want only the args' output:\n%s", r)
	}
	e.requireGone(id)
}

func TestRunImageLayered(t *testing.T) {
	e := newEnv(t)
	p := pushLayered(t)
	id, r := e.runImage(p.Ref, nil)
	if r.Code != 0 {
		t.Fatalf("run --image of the three-layer image: %s", r)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(r.Stdout, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			lines[k] = v
		}
	}
	if got, want := lines["args"], strings.Join(layeredCmd, " "); got != want {
		t.Errorf("the entrypoint got args %q, want Cmd %q", got, want)
	}
	if !strings.HasPrefix(lines["uid"], "1234 gid:2345") {
		t.Errorf("the process runs as uid %q, want 1234 gid:2345 (user %s)", lines["uid"], layeredUser)
	}
	if !strings.Contains(" "+lines["uid"]+" ", " 3456 ") {
		t.Errorf("the process's groups (%q) lack the supplementary group 3456", lines["uid"])
	}
	if lines["pwd"] != layeredWorkdir {
		t.Errorf("the process runs in %q, want %q", lines["pwd"], layeredWorkdir)
	}
	if lines["greeting"] != "hello layered" {
		t.Errorf("GREETING is %q in the process, want the image's %q", lines["greeting"], "hello layered")
	}
	e.requireGone(id)

	id, r = e.runImage(p.Ref, nil, "x", "y")
	if r.Code != 0 || !strings.Contains(r.Stdout, "args:x y\n") {
		t.Errorf("run --image with args: want the entrypoint to get them:\n%s", r)
	}
	e.requireGone(id)
}

func TestRunImageKeep(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	_, r := e.runImage(p.Ref, []string{"--keep"})
	if r.Code != 0 || !strings.Contains(r.Stdout, busyboxHello) {
		t.Fatalf("run --image --keep: %s", r)
	}
	kept := bundleDirs(e.Dir)
	if len(kept) != 1 {
		t.Fatalf("run --image --keep: %d bundles below the test's dir, want 1: %v", len(kept), kept)
	}
	if _, err := os.Stat(filepath.Join(kept[0], "rootfs", "bin", "busybox")); err != nil {
		t.Errorf("kept bundle %s: %v", kept[0], err)
	}
	if !strings.Contains(r.Output(), kept[0]) {
		t.Logf("note: run --keep did not print where the bundle is (%s)", kept[0])
	}
}

func TestRunImagePlatformIndex(t *testing.T) {
	e := newEnv(t)
	p := pushPlatformIndex(t)
	id, r := e.runImage(p.Ref, nil)
	want := hostPlatform.os + "/" + hostPlatform.arch
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != want {
		t.Errorf("run --image of the index printed %q, want %q:\n%s", strings.TrimSpace(r.Stdout), want, r)
	}
	e.requireGone(id)

	id, r = e.runImage(p.Ref, []string{"--platform", "linux/s390x"})
	if r.Code == 0 || !strings.Contains(r.Output(), "linux/s390x") {
		t.Errorf("run --image --platform linux/s390x: want a failure naming the platform:\n%s", r)
	}
	e.requireGone(id)
}

func TestRunImageOCILayout(t *testing.T) {
	e := newEnv(t)
	p := writeOCILayout(t, e.path("layout"), "v1")
	id, r := e.runImage(p.Ref, nil)
	if r.Code != 0 || !strings.Contains(r.Stdout, busyboxHello) {
		t.Errorf("run --image %s: %s", p.Ref, r)
	}
	e.requireGone(id)
}

func TestRunImageCorruptBlob(t *testing.T) {
	e := newEnv(t)
	p := pushCorrupt(t)
	id, r := e.runImage(p.Ref, nil)
	if r.Code == 0 {
		t.Fatalf("run --image of an image with a corrupt layer succeeded: %s", r)
	}
	if !strings.Contains(r.Output(), strings.TrimPrefix(p.Layers[0], "sha256:")) {
		t.Errorf("run --image does not name the corrupt layer %s:\n%s", p.Layers[0], r)
	}
	e.requireGone(id)
}
