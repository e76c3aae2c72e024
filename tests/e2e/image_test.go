package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestImageBuilder checks the archives without any engine: digests match
// contents and the layer holds busybox and its applets.
func TestImageBuilder(t *testing.T) {
	bb, err := testkit.Busybox()
	if err != nil {
		if ciMode {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	set, err := testkit.BuildImages(bb, "e2e", defaultImages...)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir() + "/oci.tar"
	if err := set.WriteOCIArchive(dst); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := testkit.ReadTar(f)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]byte{}
	for _, e := range entries {
		seen[e.Name] = e.Body
		if strings.HasPrefix(e.Name, "blobs/sha256/") && e.Type == tar.TypeReg {
			sum := sha256.Sum256(e.Body)
			if hex.EncodeToString(sum[:]) != path.Base(e.Name) {
				t.Errorf("blob %s: content digest %x", e.Name, sum)
			}
		}
	}
	var idx struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(seen["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != len(defaultImages) {
		t.Fatalf("index.json has %d manifests, want %d", len(idx.Manifests), len(defaultImages))
	}
	for i, m := range idx.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] != defaultImages[i].Ref {
			t.Errorf("manifest %d ref.name = %q", i, m.Annotations["org.opencontainers.image.ref.name"])
		}
		if seen["blobs/sha256/"+strings.TrimPrefix(m.Digest, "sha256:")] == nil {
			t.Errorf("manifest %s missing", m.Digest)
		}
	}
	layer, err := testkit.ReadTar(bytes.NewReader(set.LayerTar.Data))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, e := range layer {
		names[e.Name] = e.Link
	}
	if _, ok := names["bin/busybox"]; !ok {
		t.Error("layer has no bin/busybox")
	}
	for _, a := range []string{"sh", "sleep", "echo", "cat"} {
		if names["bin/"+a] != "busybox" {
			t.Errorf("layer: bin/%s -> %q, want busybox", a, names["bin/"+a])
		}
	}
}
