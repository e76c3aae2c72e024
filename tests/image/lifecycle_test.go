package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// waitStatus polls berth state until the container has status want.
func (e *env) waitStatus(id, want string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.berth("state", id)
		if r.code == 0 && strings.Contains(r.stdout, `"status": "`+want+`"`) {
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
	}, newLayer(tarOf(append(busyboxEntries(basePasswd, baseGroup), fileE("marker", t.Name()+"\n", 0o644))...), gzipLayer))
	p := pushImage(t, openReg, uniqueRepo(t, "stopsignal"), "latest", img)

	id, r := e.runImage(p.Ref, []string{"--detach"})
	if r.code != 0 {
		t.Fatalf("run --image --detach: %s", r)
	}
	e.waitStatus(id, "running")
	bundles := bundleDirs(e.base)
	if len(bundles) != 1 {
		t.Fatalf("a detached run --image should have one bundle, found %v", bundles)
	}
	if m := mountsBelow(e.base); len(m) != 1 {
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
	if b := bundleDirs(e.base); len(b) != 0 {
		t.Errorf("delete left the image bundle: %v", b)
	}
	if m := mountsBelow(e.base); len(m) != 0 {
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
