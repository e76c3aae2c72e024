package main

import (
	"strings"
	"testing"

	"github.com/berth-oci/berth/image/pull"
)

// The runtime finds images in the store by the name berth-image gives
// them; the two normalisations must agree wherever the runtime answers.
func TestLocalImageNameMatchesPull(t *testing.T) {
	for _, ref := range []string{
		"busybox", "busybox:1.36", "library/busybox", "docker.io/busybox", "docker.io/library/busybox:latest",
		"index.docker.io/library/busybox", "registry-1.docker.io/x/y:z", "user/app", "user/app:v1",
		"127.0.0.1:5000/busybox", "127.0.0.1:5000/a/b:Tag_1", "localhost/x", "localhost:5000/x:1",
		"quay.io/org/repo", "ghcr.io/o/r:v1.2.3", "example.com:443/deep/er/path:t",
		"busybox@sha256:" + strings.Repeat("ab", 32), "127.0.0.1:5000/x@sha256:" + strings.Repeat("0", 64),
		"oci:/srv/layout", "oci:/srv/layout:v1", "oci:relative/dir:t", "oci-archive:/srv/a.tar:latest",
	} {
		want, err := pull.ParseRef(ref, false)
		if err != nil {
			t.Fatalf("pull.ParseRef(%q): %v", ref, err)
		}
		got, ok := localImageName(ref)
		if ok && got != want.Name {
			t.Errorf("localImageName(%q) = %q, berth-image names it %q", ref, got, want.Name)
		}
		if !ok {
			t.Errorf("localImageName(%q): not handled", ref)
		}
	}
}
