package testkit

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
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// The media types of the OCI images the engine suites import.
const (
	MediaTypeOCIIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeOCILayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// imagePath is the PATH of every engine image.
const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// imageTime is the mtime of every file and the creation time of every
// image: the archives are reproducible.
var imageTime = time.Unix(1700000000, 0)

// PauseCmd is the command of a pause image: it sleeps until SIGTERM or
// SIGINT.
var PauseCmd = []string{"sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 1; done"}

// Image names one image of an archive and its command.
type Image struct {
	Ref string
	Cmd []string
}

// Blob is one content-addressed file of an image.
type Blob struct {
	Digest string // "sha256:<hex>"
	Data   []byte
}

// NewBlob is data with its digest.
func NewBlob(data []byte) Blob {
	sum := sha256.Sum256(data)
	return Blob{Digest: "sha256:" + hex.EncodeToString(sum[:]), Data: data}
}

// Hex is the digest without its algorithm.
func (b Blob) Hex() string { return strings.TrimPrefix(b.Digest, "sha256:") }

// BuiltImage is one image of an ImageSet: its config and manifest blobs.
type BuiltImage struct {
	Image
	Config   Blob
	Manifest Blob
}

// ImageSet is images for container engines that all share one layer: the
// host's static busybox with a symlink per applet in /bin.
type ImageSet struct {
	LayerTar Blob // the uncompressed layer
	LayerGz  Blob // gzip of LayerTar
	Images   []BuiltImage
}

// busyboxAppletNames lists the names of the applets of the busybox binary
// at p (sh, ls...), sorted.
func busyboxAppletNames(p string) ([]string, error) {
	paths, err := BusyboxApplets(p)
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

// engineLayer makes the rootfs tar of the engine images: the FHS dirs,
// /bin/busybox, an applet symlink per applet in /bin, and minimal /etc
// files (the hostname berth-<suite>).
func engineLayer(busybox, suite string) ([]byte, error) {
	applets, err := busyboxAppletNames(busybox)
	if err != nil {
		return nil, err
	}
	var es []TarEntry
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"bin/", 0o755}, {"dev/", 0o755}, {"etc/", 0o755}, {"home/", 0o755},
		{"proc/", 0o555}, {"root/", 0o700}, {"run/", 0o755}, {"sbin/", 0o755},
		{"sys/", 0o555}, {"tmp/", 0o1777}, {"usr/", 0o755}, {"usr/bin/", 0o755},
		{"usr/sbin/", 0o755}, {"var/", 0o755}, {"var/tmp/", 0o1777},
	} {
		es = append(es, DirEntry(d.name, d.mode))
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	es = append(es, TarEntry{Name: "bin/busybox", Type: tar.TypeReg, Mode: 0o755, Body: bin})
	for _, a := range applets {
		es = append(es, SymlinkEntry("bin/"+a, "busybox"))
	}
	for _, f := range []struct{ name, body string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
		{"etc/hostname", "berth-" + suite + "\n"},
		{"etc/hosts", "127.0.0.1\tlocalhost\n"},
		{"etc/resolv.conf", ""},
	} {
		es = append(es, FileEntry(f.name, f.body, 0o644))
	}
	return Tar(es, imageTime)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// BuildImages builds the layer once from busybox and a config and a
// manifest per image, labelled as the suite's.
func BuildImages(busybox, suite string, images ...Image) (*ImageSet, error) {
	layer, err := engineLayer(busybox, suite)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed) // a valid level: no error
	if _, err := zw.Write(layer); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	set := &ImageSet{LayerTar: NewBlob(layer), LayerGz: NewBlob(gz.Bytes())}
	created := imageTime.UTC().Format(time.RFC3339)
	for _, img := range images {
		config := NewBlob(mustJSON(map[string]any{
			"created":      created,
			"architecture": runtime.GOARCH,
			"os":           "linux",
			"config": map[string]any{
				"Env":        []string{imagePath},
				"Cmd":        img.Cmd,
				"WorkingDir": "/",
				"Labels":     map[string]string{"org.berth.tests": suite},
			},
			"rootfs": map[string]any{
				"type":     "layers",
				"diff_ids": []string{set.LayerTar.Digest},
			},
			"history": []map[string]any{{
				"created":    created,
				"created_by": "berth tests/" + suite + ": host busybox-static with applet symlinks",
			}},
		}))
		manifest := mustJSON(map[string]any{
			"schemaVersion": 2,
			"mediaType":     MediaTypeOCIManifest,
			"config":        map[string]any{"mediaType": MediaTypeOCIConfig, "digest": config.Digest, "size": len(config.Data)},
			"layers": []map[string]any{{
				"mediaType": MediaTypeOCILayerGz, "digest": set.LayerGz.Digest, "size": len(set.LayerGz.Data),
			}},
		})
		set.Images = append(set.Images, BuiltImage{Image: img, Config: config, Manifest: NewBlob(manifest)})
	}
	return set, nil
}

// tarFile is one regular file of an archive being written.
type tarFile struct {
	name string
	data []byte
}

// writeTar writes the files, with a directory entry for each of their
// directories first, as the tar dst.
func writeTar(dst string, files []tarFile) error {
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
	var es []TarEntry
	for _, d := range dirs {
		es = append(es, DirEntry(d+"/", 0o755))
	}
	for _, file := range files {
		es = append(es, TarEntry{Name: file.name, Type: tar.TypeReg, Mode: 0o644, Body: file.data})
	}
	data, err := Tar(es, imageTime)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// WriteOCIArchive writes an OCI image layout as a tar (what `ctr images
// import` and `podman load` take): oci-layout, index.json naming every image
// by both the containerd and the OCI ref-name annotation, and the blobs.
func (s *ImageSet) WriteOCIArchive(dst string) error {
	files := []tarFile{{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}}
	var manifests []map[string]any
	blobs := []Blob{s.LayerGz}
	for _, img := range s.Images {
		manifests = append(manifests, map[string]any{
			"mediaType": MediaTypeOCIManifest,
			"digest":    img.Manifest.Digest,
			"size":      len(img.Manifest.Data),
			"platform":  map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
			"annotations": map[string]string{
				"io.containerd.image.name":          img.Ref,
				"org.opencontainers.image.ref.name": img.Ref,
			},
		})
		blobs = append(blobs, img.Config, img.Manifest)
	}
	files = append(files, tarFile{name: "index.json", data: mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIIndex, "manifests": manifests,
	})})
	for _, b := range blobs {
		files = append(files, tarFile{name: "blobs/sha256/" + b.Hex(), data: b.Data})
	}
	return writeTar(dst, files)
}

// WriteDockerArchive writes a docker-archive (`docker save` format:
// manifest.json with RepoTags, config and uncompressed layer files), which
// `podman load` takes with all of its tags.
func (s *ImageSet) WriteDockerArchive(dst string) error {
	layerName := s.LayerTar.Hex() + "/layer.tar"
	files := []tarFile{{name: layerName, data: s.LayerTar.Data}}
	var manifest []map[string]any
	for _, img := range s.Images {
		files = append(files, tarFile{name: img.Config.Hex() + ".json", data: img.Config.Data})
		manifest = append(manifest, map[string]any{
			"Config":   img.Config.Hex() + ".json",
			"RepoTags": []string{img.Ref},
			"Layers":   []string{layerName},
		})
	}
	files = append(files, tarFile{name: "manifest.json", data: mustJSON(manifest)})
	return writeTar(dst, files)
}

// Archives are a suite's image archives, built once on first use.
type Archives struct {
	OCI    string // an OCI image layout tar with every image
	Docker string // a docker-archive tar with every image
	once   sync.Once
	err    error
}

// Build builds the images from the host's static busybox (Busybox) and
// writes both archives into dir, the first time; later calls return what
// the first one did. An error that names busybox means there is none.
func (a *Archives) Build(dir, suite string, images ...Image) error {
	a.once.Do(func() {
		a.err = a.build(dir, suite, images)
	})
	return a.err
}

func (a *Archives) build(dir, suite string, images []Image) error {
	bb, err := Busybox()
	if err != nil {
		return err
	}
	set, err := BuildImages(bb, suite, images...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	oci, docker := filepath.Join(dir, "oci.tar"), filepath.Join(dir, "docker.tar")
	if err := set.WriteOCIArchive(oci); err != nil {
		return err
	}
	if err := set.WriteDockerArchive(docker); err != nil {
		return err
	}
	a.OCI, a.Docker = oci, docker
	return nil
}
