package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// The images every suite uses. They share one layer: the host's static
// busybox with a symlink per applet.
const (
	busyboxRef = "localhost/busybox:berth-e2e"
	pauseRef   = "localhost/pause:berth-e2e"

	mtOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mtOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mtOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mtOCILayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"

	// imagePath is the PATH of every image.
	imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// pauseCmd is the pause image's command: it sleeps until SIGTERM/SIGINT.
var pauseCmd = []string{"sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 1; done"}

// imageSpec names one image of an archive.
type imageSpec struct {
	ref string
	cmd []string
}

var defaultImages = []imageSpec{
	{ref: busyboxRef, cmd: []string{"sh"}},
	{ref: pauseRef, cmd: pauseCmd},
}

// blob is one content-addressed file of an image.
type blob struct {
	digest string // "sha256:<hex>"
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

func (b blob) hex() string { return strings.TrimPrefix(b.digest, "sha256:") }

// builtImage is one image: its config and manifest blobs, plus the shared
// layer (gzip) and its diff id (digest of the uncompressed tar).
type builtImage struct {
	spec     imageSpec
	config   blob
	manifest blob
}

type imageSet struct {
	layerTar blob // uncompressed layer
	layerGz  blob // gzip of layerTar
	images   []builtImage
}

// busyboxApplets lists the names of the applets of the busybox binary at
// p (sh, ls...), sorted.
func busyboxApplets(p string) ([]string, error) {
	paths, err := testkit.BusyboxApplets(p)
	if err != nil {
		return nil, err
	}
	var applets []string
	for _, a := range paths {
		applets = append(applets, path.Base(a))
	}
	sort.Strings(applets)
	if len(applets) < 20 {
		return nil, fmt.Errorf("%s --list-full: only %d applets", p, len(applets))
	}
	return applets, nil
}

// buildLayer makes the rootfs tar: the FHS dirs, /bin/busybox, an applet
// symlink per applet in /bin, and minimal /etc files.
func buildLayer(busybox string) ([]byte, error) {
	applets, err := busyboxApplets(busybox)
	if err != nil {
		return nil, err
	}
	var es []testkit.TarEntry
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"bin/", 0o755}, {"dev/", 0o755}, {"etc/", 0o755}, {"home/", 0o755},
		{"proc/", 0o555}, {"root/", 0o700}, {"run/", 0o755}, {"sbin/", 0o755},
		{"sys/", 0o555}, {"tmp/", 0o1777}, {"usr/", 0o755}, {"usr/bin/", 0o755},
		{"usr/sbin/", 0o755}, {"var/", 0o755}, {"var/tmp/", 0o1777},
	} {
		es = append(es, testkit.DirEntry(d.name, d.mode))
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	es = append(es, testkit.TarEntry{Name: "bin/busybox", Type: tar.TypeReg, Mode: 0o755, Body: bin})
	for _, a := range applets {
		es = append(es, testkit.SymlinkEntry("bin/"+a, "busybox"))
	}
	for _, f := range []struct{ name, body string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
		{"etc/hostname", "berth-e2e\n"},
		{"etc/hosts", "127.0.0.1\tlocalhost\n"},
		{"etc/resolv.conf", ""},
	} {
		es = append(es, testkit.FileEntry(f.name, f.body, 0o644))
	}
	return testkit.Tar(es, time.Unix(1700000000, 0))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// buildImages builds the layer once and a config + manifest per image.
func buildImages(busybox string, specs []imageSpec) (*imageSet, error) {
	layer, err := buildLayer(busybox)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := zw.Write(layer); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	set := &imageSet{layerTar: newBlob(layer), layerGz: newBlob(gz.Bytes())}
	created := time.Unix(1700000000, 0).UTC().Format(time.RFC3339)
	for _, s := range specs {
		config := mustJSON(map[string]any{
			"created":      created,
			"architecture": runtime.GOARCH,
			"os":           "linux",
			"config": map[string]any{
				"Env":        []string{imagePath},
				"Cmd":        s.cmd,
				"WorkingDir": "/",
				"Labels":     map[string]string{"org.berth.e2e": "1"},
			},
			"rootfs": map[string]any{
				"type":     "layers",
				"diff_ids": []string{set.layerTar.digest},
			},
			"history": []map[string]any{{
				"created":    created,
				"created_by": "berth tests/e2e: host busybox-static with applet symlinks",
			}},
		})
		cb := newBlob(config)
		manifest := mustJSON(map[string]any{
			"schemaVersion": 2,
			"mediaType":     mtOCIManifest,
			"config":        map[string]any{"mediaType": mtOCIConfig, "digest": cb.digest, "size": len(cb.data)},
			"layers": []map[string]any{{
				"mediaType": mtOCILayerGz, "digest": set.layerGz.digest, "size": len(set.layerGz.data),
			}},
		})
		set.images = append(set.images, builtImage{spec: s, config: cb, manifest: newBlob(manifest)})
	}
	return set, nil
}

// tarFile is one regular file of an archive being written.
type tarFile struct {
	name string
	data []byte
}

func writeTar(dst string, files []tarFile) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	mtime := time.Unix(1700000000, 0)
	madeDirs := map[string]bool{}
	for _, file := range files {
		for dir := path.Dir(file.name); dir != "." && !madeDirs[dir]; dir = path.Dir(dir) {
			madeDirs[dir] = true
		}
	}
	var dirs []string
	for d := range madeDirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
			f.Close()
			return err
		}
	}
	for _, file := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: file.name, Mode: 0o644, Size: int64(len(file.data)), ModTime: mtime}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(file.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeOCIArchive writes an OCI image layout as a tar (what `ctr images
// import` and `podman load` take): oci-layout, index.json naming every image
// by both the containerd and the OCI ref-name annotation, and the blobs.
func (s *imageSet) writeOCIArchive(dst string) error {
	files := []tarFile{{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}}
	var manifests []map[string]any
	blobs := []blob{s.layerGz}
	for _, img := range s.images {
		manifests = append(manifests, map[string]any{
			"mediaType": mtOCIManifest,
			"digest":    img.manifest.digest,
			"size":      len(img.manifest.data),
			"platform":  map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
			"annotations": map[string]string{
				"io.containerd.image.name":          img.spec.ref,
				"org.opencontainers.image.ref.name": img.spec.ref,
			},
		})
		blobs = append(blobs, img.config, img.manifest)
	}
	files = append(files, tarFile{name: "index.json", data: mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": mtOCIIndex, "manifests": manifests,
	})})
	for _, b := range blobs {
		files = append(files, tarFile{name: "blobs/sha256/" + b.hex(), data: b.data})
	}
	return writeTar(dst, files)
}

// writeDockerArchive writes a docker-archive (`docker save` format:
// manifest.json with RepoTags, config and uncompressed layer files), which
// `podman load` takes with all of its tags.
func (s *imageSet) writeDockerArchive(dst string) error {
	layerName := s.layerTar.hex() + "/layer.tar"
	files := []tarFile{{name: layerName, data: s.layerTar.data}}
	var manifest []map[string]any
	for _, img := range s.images {
		files = append(files, tarFile{name: img.config.hex() + ".json", data: img.config.data})
		manifest = append(manifest, map[string]any{
			"Config":   img.config.hex() + ".json",
			"RepoTags": []string{img.spec.ref},
			"Layers":   []string{layerName},
		})
	}
	files = append(files, tarFile{name: "manifest.json", data: mustJSON(manifest)})
	return writeTar(dst, files)
}

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
	set, err := buildImages(bb, defaultImages)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir() + "/oci.tar"
	if err := set.writeOCIArchive(dst); err != nil {
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
		if m.Annotations["org.opencontainers.image.ref.name"] != defaultImages[i].ref {
			t.Errorf("manifest %d ref.name = %q", i, m.Annotations["org.opencontainers.image.ref.name"])
		}
		if seen["blobs/sha256/"+strings.TrimPrefix(m.Digest, "sha256:")] == nil {
			t.Errorf("manifest %s missing", m.Digest)
		}
	}
	layer, err := testkit.ReadTar(bytes.NewReader(set.layerTar.data))
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
