package image

import (
	"path/filepath"
	"testing"
)

func TestRmiAndGC(t *testing.T) {
	e := newEnv(t)
	// The same image under two names: rmi of one keeps what the other uses.
	a := pushBusybox(t)
	b := pushImage(t, openReg, uniqueRepo(t, "second"), "v2", busyboxImage())
	l := pushLayered(t)
	e.pull(a.Ref, a.Digest)
	e.pull(b.Ref, b.Digest)
	e.pull(l.Ref, l.Digest)
	for _, d := range append([]string{a.Config}, append(a.Layers, l.Layers...)...) {
		if len(pathsNaming(e.store, d)) == 0 {
			t.Fatalf("blob %s not in the store after the pulls", d)
		}
	}

	e.mustBerth("rmi", a.Ref)
	list := e.images()
	if _, ok := findImage(list, a.Ref); ok {
		t.Errorf("images lists %s after rmi: %+v", a.Ref, list)
	}
	if _, ok := findImage(list, b.Ref); !ok {
		t.Fatalf("rmi %s removed %s too: %+v", a.Ref, b.Ref, list)
	}
	e.mustBerth("gc")
	for _, d := range append([]string{a.Config}, a.Layers...) {
		if len(pathsNaming(e.store, d)) == 0 {
			t.Errorf("blob %s, still used by %s, is gone after rmi %s and gc", d, b.Ref, a.Ref)
		}
	}
	// What is left still makes a bundle.
	dir := e.path("bundle")
	e.mustBerth("bundle", b.Ref, dir)
	if got := readFile(t, filepath.Join(dir, "rootfs", "etc", "passwd")); got != basePasswd {
		t.Errorf("bundle after rmi of the other name: /etc/passwd %q", got)
	}

	// rmi of the last name and the three-layer image, then gc: nothing of
	// either is left (blobs, nor anything else named by their digests).
	e.mustBerth("rmi", b.Ref, l.Ref)
	e.mustBerth("gc")
	if list := e.images(); len(list) != 0 {
		t.Errorf("images after removing every image: %+v", list)
	}
	if left := pathsNaming(e.store, append(b.Blobs(), l.Blobs()...)...); len(left) != 0 {
		t.Errorf("rmi and gc left these in the store:\n%v", left)
	}
}

func TestRmiUnknown(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	e.pull(p.Ref, p.Digest)
	e.mustFail("rmi", openReg.Addr+"/no/such-image:latest")
	if _, ok := findImage(e.images(), p.Ref); !ok {
		t.Errorf("a failed rmi removed %s", p.Ref)
	}
}
