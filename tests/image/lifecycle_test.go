package image

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-oci/berth/tests/testkit"
)

// waitStatus polls berth state until the container has status want.
func (e *env) waitStatus(id, want string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.berth("state", id)
		if r.Code == 0 && strings.Contains(r.Stdout, `"status": "`+want+`"`) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s did not become %s: %s", id, want, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A container run detached from an image keeps its bundle (and the
// image's unpacked layers, even through rmi and gc) until it is deleted;
// kill without a signal sends the image's StopSignal.
func TestRunImageDetachedStopSignalAndGC(t *testing.T) {
	e := newEnv(t)
	// The process traps USR1 (the image's StopSignal) and exits 42 on it;
	// TERM, kill's usual default, would not stop it (pid 1 ignores it).
	img := newImage(hostPlatform, v1.Config{
		Env:        []string{defaultPath},
		Cmd:        []string{"sh", "-c", "trap 'exit 42' USR1; echo ready >/tmp/ready; while :; do sleep 0.05; done"},
		StopSignal: "SIGUSR1",
	}, newLayer(tarOf(append(busyboxEntries(basePasswd, baseGroup), testkit.FileEntry("marker", t.Name()+"\n", 0o644))...), gzipLayer))
	p := pushImage(t, openReg, uniqueRepo(t, "stopsignal"), "latest", img)

	id, r := e.runImage(p.Ref, []string{"--detach"})
	if r.Code != 0 {
		t.Fatalf("run --image --detach: %s", r)
	}
	e.waitStatus(id, "running")
	bundles := bundleDirs(e.Dir)
	if len(bundles) != 1 {
		t.Fatalf("a detached run --image should have one bundle, found %v", bundles)
	}
	if m := mountsBelow(e.Dir); len(m) != 1 {
		t.Fatalf("a detached run --image should have its overlay mounted, mounts: %v", m)
	}

	// rmi and gc while the container runs: its image stays usable.
	e.mustBerth("rmi", p.Ref)
	e.mustBerth("gc")
	if _, ok := findImage(e.images(), p.Ref); ok {
		t.Errorf("rmi left the tag %s", p.Ref)
	}
	for _, l := range p.DiffIDs {
		if _, err := os.Stat(filepath.Join(e.store, "layers", strings.TrimPrefix(l, "sha256:"))); err != nil {
			t.Errorf("gc removed the unpacked layer %s of a running container: %v", l, err)
		}
	}
	if got := readFile(t, filepath.Join(bundles[0], "rootfs", "marker")); got != t.Name()+"\n" {
		t.Errorf("the running container's rootfs after gc: marker = %q", got)
	}

	// kill without a signal: the image's StopSignal (USR1).
	ready := filepath.Join(bundles[0], "rootfs", "tmp", "ready")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container never got ready")
		}
	}
	e.mustBerth("kill", id)
	e.waitStatus(id, "stopped")

	e.mustBerth("delete", id)
	if b := bundleDirs(e.Dir); len(b) != 0 {
		t.Errorf("delete left the image bundle: %v", b)
	}
	if m := mountsBelow(e.Dir); len(m) != 0 {
		t.Errorf("delete left mounts: %v", m)
	}
	// Nothing uses the image now: gc takes its layers and blobs.
	e.mustBerth("gc")
	if left := pathsNaming(e.store, p.Blobs()...); len(left) != 0 {
		t.Errorf("gc after delete left blobs of the image: %v", left)
	}
	if left, _ := readDirNamesErr(filepath.Join(e.store, "layers")); len(left) != 0 {
		t.Errorf("gc after delete left unpacked layers: %v", left)
	}
}

// A layer download broken half-way is resumed from where it stopped, with
// a Range request, and the pull succeeds with the right content.
func TestPullResumesBrokenDownload(t *testing.T) {
	e := newEnv(t)
	p := pushImage(t, openReg, uniqueRepo(t, "resume"), "latest", markedBusyboxImage(t.Name()))
	layerPath := "/v2/" + p.Repo + "/blobs/" + p.Layers[0]
	const cut = 200_000
	openReg.CutNextGET(layerPath, cut)
	e.pull(p.Ref, p.Digest)

	var gets []testkit.Request
	for _, q := range openReg.RequestsFor(p.Repo) {
		if q.Method == "GET" && q.Path == layerPath {
			gets = append(gets, q)
		}
	}
	if len(gets) != 2 {
		t.Fatalf("GETs of the layer: %+v; want the cut one and one resumed", gets)
	}
	if gets[0].Range != "" || gets[0].Bytes != cut {
		t.Errorf("first GET: %+v; want no Range and %d bytes sent", gets[0], cut)
	}
	var from int64
	if n, err := fmt.Sscanf(gets[1].Range, "bytes=%d-", &from); n != 1 || err != nil || from <= 0 || from > cut {
		t.Errorf("second GET: Range %q; want bytes=N- with 0 < N <= %d", gets[1].Range, cut)
	}
	if gets[1].Status != 206 {
		t.Errorf("second GET: status %d, want 206 Partial Content", gets[1].Status)
	}
	// The resumed blob is whole: a bundle of it has the marker.
	dir := e.path("bundle")
	e.mustBerth("bundle", p.Ref, dir)
	if got := readFile(t, filepath.Join(dir, "rootfs", "marker")); got != t.Name()+"\n" {
		t.Errorf("marker after a resumed pull = %q", got)
	}
}

// berth hands the image commands to berth-image beside it; alone, it says
// so rather than failing obscurely.
func TestImageCommandsWithoutCompanion(t *testing.T) {
	e := newEnv(t)
	solo := e.soloBerth()
	for _, args := range [][]string{{"pull", "127.0.0.1:1/x"}, {"--root", e.Root, "run", "--image", "127.0.0.1:1/x", e.NewID()}, {"images"}} {
		out, err := exec.Command(solo, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "berth-image") || !strings.Contains(string(out), "not installed") {
			t.Errorf("berth %v without berth-image: %v\n%s", args, err, out)
		}
	}
}

// An image in the store with its layers unpacked runs from berth itself:
// a berth without berth-image beside it runs it (the warm path costs the
// runtime nothing of the image code).
func TestRunImageWarmWithoutCompanion(t *testing.T) {
	e := newEnv(t)
	solo := e.soloBerth()
	p := pushBusybox(t)
	id, r := e.runImage(p.Ref, nil) // cold: pulls and unpacks through berth-image
	if r.Code != 0 {
		t.Fatalf("cold run --image: %s", r)
	}
	e.requireGone(id)

	id = e.NewID()
	cmd := exec.Command(solo, "--root", e.Root, "--image-store", e.store, "run", "--image", p.Ref, id, "--", "echo", "warm-"+id)
	cmd.Dir = e.cwd
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "warm-"+id) {
		t.Fatalf("warm run --image by a berth without berth-image: %v\n%s", err, out)
	}
	e.requireGone(id)
}

// soloBerth copies the berth binary into a directory of its own, without
// berth-image beside it. It skips the test when the binary under test has
// no companion (a build with everything in one binary).
func (e *env) soloBerth() string {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(filepath.Dir(binary), "berth-image")); err != nil {
		e.t.Skipf("%s has no berth-image beside it: nothing to check", binary)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		e.t.Fatal(err)
	}
	solo := filepath.Join(e.Dir, "solo", "berth")
	if err := os.MkdirAll(filepath.Dir(solo), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(solo, data, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return solo
}
