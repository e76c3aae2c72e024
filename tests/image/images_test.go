package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/berth-oci/berth/tests/testkit"
)

// ---------------------------------------------------------------------------
// Tar layers

// layerTime is every entry's mtime, so that layers are reproducible.
var layerTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// tarOf writes entries, in order, as an uncompressed tar. Names are
// written as given (no cleaning: the unsafe-layer tests need "../x").
func tarOf(entries ...testkit.TarEntry) []byte {
	data, err := testkit.Tar(entries, layerTime)
	if err != nil {
		panic(err) // entries of the tests' own making
	}
	return data
}

// compression of a test layer and its OCI media type.
type compression string

const (
	gzipLayer         compression = "gzip"
	zstdLayer         compression = "zstd"
	uncompressedLayer compression = "none"
)

// layer is a v1.Layer over bytes held in memory, compressed as asked, with
// the media type that says so. DiffID is the uncompressed tar's digest
// unless overridden (the bad-diff_id image lies there on purpose).
type layer struct {
	compressed, uncompressed []byte
	mediaType                types.MediaType
	digest, diffID           v1.Hash
}

var _ v1.Layer = (*layer)(nil)

func newLayer(tarBytes []byte, c compression) *layer {
	l := &layer{uncompressed: tarBytes}
	switch c {
	case gzipLayer:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(tarBytes)
		_ = zw.Close()
		l.compressed, l.mediaType = buf.Bytes(), types.OCILayer
	case zstdLayer:
		zw, err := zstd.NewWriter(nil)
		if err != nil {
			panic(err)
		}
		l.compressed, l.mediaType = zw.EncodeAll(tarBytes, nil), types.OCILayerZStd
		_ = zw.Close()
	case uncompressedLayer:
		l.compressed, l.mediaType = tarBytes, types.OCIUncompressedLayer
	default:
		panic("unknown compression " + string(c))
	}
	l.digest = sha256Hash(l.compressed)
	l.diffID = sha256Hash(tarBytes)
	return l
}

func sha256Hash(b []byte) v1.Hash {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	return h
}

func (l *layer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *layer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncompressed)), nil
}
func (l *layer) Size() (int64, error)                { return int64(len(l.compressed)), nil }
func (l *layer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// ---------------------------------------------------------------------------
// Images

// platform is an image's os/architecture[/variant].
type platform struct{ os, arch, variant string }

func (p platform) String() string {
	s := p.os + "/" + p.arch
	if p.variant != "" {
		s += "/" + p.variant
	}
	return s
}

var hostPlatform = platform{os: "linux", arch: runtime.GOARCH}

// otherPlatform is the index's other entry: arm64 on an amd64 host, amd64
// anywhere else. It comes first in the index.
func otherPlatform() platform {
	if runtime.GOARCH == "amd64" {
		return platform{os: "linux", arch: "arm64", variant: "v8"}
	}
	return platform{os: "linux", arch: "amd64"}
}

// newImage makes an OCI image (OCI manifest and config media types) with
// config cfg for p and the layers, base first.
func newImage(p platform, cfg v1.Config, layers ...*layer) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: p.arch,
		OS:           p.os,
		Variant:      p.variant,
		Created:      v1.Time{Time: layerTime},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		panic(err)
	}
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{
			Layer:   l,
			History: v1.History{Created: v1.Time{Time: layerTime}, CreatedBy: "berth image tests"},
		})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		panic(err)
	}
	return img
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// busyboxEntries is a busybox root filesystem like contrib/mkbundle.sh's:
// the directories, the static binary, one symlink per applet and the given
// /etc/passwd and /etc/group.
func busyboxEntries(passwd, group string) []testkit.TarEntry {
	es, err := testkit.BusyboxEntries(busyboxPath, passwd, group)
	if err != nil {
		panic(err) // TestMain checked the busybox
	}
	return es
}

const (
	basePasswd = testkit.BusyboxPasswd
	baseGroup  = testkit.BusyboxGroup
)

// busyboxHello is the single-layer busybox image's output.
const busyboxHello = "hello-from-image"

// busyboxImage: one gzip layer (busybox), Cmd sh -c 'echo hello-from-image'.
var busyboxImage = sync.OnceValue(func() v1.Image {
	l := newLayer(tarOf(busyboxEntries(basePasswd, baseGroup)...), gzipLayer)
	return newImage(hostPlatform, v1.Config{
		Env: []string{defaultPath},
		Cmd: []string{"sh", "-c", "echo " + busyboxHello},
	}, l)
})

// markedBusyboxImage is the busybox image with one more file in its only
// layer, /marker (content marker), so that its layer digest is its own:
// corrupting that blob in the registry touches no other image.
func markedBusyboxImage(marker string) v1.Image {
	es := append(busyboxEntries(basePasswd, baseGroup), testkit.FileEntry("marker", marker+"\n", 0o644))
	return newImage(hostPlatform, v1.Config{
		Env: []string{defaultPath},
		Cmd: []string{"sh", "-c", "cat /marker"},
	}, newLayer(tarOf(es...), gzipLayer))
}

// The three-layer image. Layer 1 (gzip): busybox with user app (1234) in
// group appgrp (2345) and in the supplementary group extra (3456), plus
// /file, /gone/x, /dir/{lower1,sub/lower2}, /keep, /owned (1234:2345,
// 0640), /home/app (1234:2345, 0750). Layer 2 (uncompressed): /dir made
// opaque, /dir/upper, /uncompressed-marker. Layer 3 (zstd): whiteouts of
// /file and /gone, /dir/from-zstd, /zstd-marker.
const (
	layeredUser     = "app"
	layeredUID      = 1234
	layeredGID      = 2345
	layeredExtraGID = 3456
	layeredWorkdir  = "/srv/work" // in no layer: must be created
	layeredPasswd   = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	layeredGroup    = "root:x:0:\nappgrp:x:2345:\nextra:x:3456:app\nnobody:x:65534:\n"
	// layeredScript prints what the container sees, one key:value a line.
	layeredScript = `echo "args:$*"; echo "uid:$(id -u) gid:$(id -g) groups:$(id -G)"; echo "pwd:$(pwd)"; echo "greeting:$GREETING"`
)

var (
	layeredEntrypoint = []string{"/bin/sh", "-c", layeredScript, "entry"}
	layeredCmd        = []string{"default-a", "default-b"}
	layeredEnv        = []string{defaultPath, "GREETING=hello layered", "LAYERED=1"}
	layeredLabels     = map[string]string{
		"org.example.berth.test":         "layered",
		"org.opencontainers.image.title": "layered-test",
	}
	// layeredDirEntries is what /dir holds after the three layers.
	layeredDirEntries = []string{"from-zstd", "upper"}
)

var layeredImage = sync.OnceValue(func() v1.Image {
	owned := testkit.TarEntry{Name: "owned", Type: tar.TypeReg, Mode: 0o640, UID: layeredUID, GID: layeredGID, Body: []byte("owned\n")}
	home := testkit.TarEntry{Name: "home/app/", Type: tar.TypeDir, Mode: 0o750, UID: layeredUID, GID: layeredGID}
	l1 := append(busyboxEntries(layeredPasswd, layeredGroup),
		testkit.FileEntry("file", "lower-file\n", 0o644),
		testkit.DirEntry("gone/", 0o755), testkit.FileEntry("gone/x", "x\n", 0o644),
		testkit.DirEntry("dir/", 0o755), testkit.FileEntry("dir/lower1", "lower1\n", 0o644),
		testkit.DirEntry("dir/sub/", 0o755), testkit.FileEntry("dir/sub/lower2", "lower2\n", 0o644),
		testkit.FileEntry("keep", "kept\n", 0o644),
		owned, testkit.DirEntry("home/", 0o755), home,
	)
	l2 := []testkit.TarEntry{
		testkit.DirEntry("dir/", 0o755),
		testkit.FileEntry("dir/.wh..wh..opq", "", 0o644),
		testkit.FileEntry("dir/upper", "upper\n", 0o644),
		testkit.FileEntry("uncompressed-marker", "from-uncompressed-layer\n", 0o644),
	}
	l3 := []testkit.TarEntry{
		testkit.FileEntry(".wh.file", "", 0o644),
		testkit.FileEntry(".wh.gone", "", 0o644),
		testkit.FileEntry("dir/from-zstd", "from-zstd\n", 0o644),
		testkit.FileEntry("zstd-marker", "from-zstd-layer\n", 0o644),
	}
	return newImage(hostPlatform, v1.Config{
		Entrypoint: layeredEntrypoint,
		Cmd:        layeredCmd,
		Env:        layeredEnv,
		WorkingDir: layeredWorkdir,
		User:       layeredUser,
		Labels:     layeredLabels,
	},
		newLayer(tarOf(l1...), gzipLayer),
		newLayer(tarOf(l2...), uncompressedLayer),
		newLayer(tarOf(l3...), zstdLayer),
	)
})

// platformImage is busybox plus /platform holding "os/arch" of p.
func platformImage(p platform) v1.Image {
	es := append(busyboxEntries(basePasswd, baseGroup), testkit.FileEntry("platform", p.os+"/"+p.arch+"\n", 0o644))
	return newImage(p, v1.Config{Env: []string{defaultPath}, Cmd: []string{"cat", "/platform"}},
		newLayer(tarOf(es...), gzipLayer))
}

// platformIndex is an OCI index of two images, the host's platform second
// so that a puller taking the first entry gets the wrong one.
var platformIndex = sync.OnceValue(func() v1.ImageIndex {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []platform{otherPlatform(), hostPlatform} {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: platformImage(p),
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: p.os, Architecture: p.arch, Variant: p.variant},
			},
		})
	}
	return idx
})

// unsafeImage has a single gzip layer with entries: the unsafe ones given,
// followed by the regular file /safe-file. Cmd is /bin/sh (there is no
// shell in it: it is for bundle, not run).
func unsafeImage(entries ...testkit.TarEntry) v1.Image {
	es := append(append([]testkit.TarEntry(nil), entries...), testkit.FileEntry("safe-file", "safe\n", 0o644))
	return newImage(hostPlatform, v1.Config{Env: []string{defaultPath}, Cmd: []string{"/bin/sh"}},
		newLayer(tarOf(es...), gzipLayer))
}

// badDiffIDImage is busybox whose config lists a wrong diff_id for its
// layer: blob digests all match, the uncompressed layer does not.
func badDiffIDImage(marker string) (v1.Image, v1.Hash) {
	es := append(busyboxEntries(basePasswd, baseGroup), testkit.FileEntry("marker", marker+"\n", 0o644))
	l := newLayer(tarOf(es...), gzipLayer)
	l.diffID = sha256Hash([]byte("not the layer " + marker))
	return newImage(hostPlatform, v1.Config{Env: []string{defaultPath}, Cmd: []string{"true"}}, l), l.diffID
}

// ---------------------------------------------------------------------------
// Pushing

// pushedImage describes an image (or index) as the tests expect berth to
// see it.
type pushedImage struct {
	Ref    string // what berth is given: HOST:PORT/REPO:TAG, oci:DIR:TAG, oci-archive:FILE:TAG
	Digest string // the manifest digest (of the index, for an index)
	Repo   string // repository on the registry ("" for oci sources)
	Tag    string
	Config string   // config blob digest ("" for an index)
	Layers []string // layer blob digests, base first ("" for an index)
	// DiffIDs are the config's diff_ids, base first.
	DiffIDs []string
	// Platforms maps "os/arch" to the platform manifest's digest (index).
	Platforms map[string]string
	// PlatformImages holds the index's images by "os/arch".
	PlatformImages map[string]pushedImage
}

// Blobs returns every digest the image consists of: manifest(s), config(s)
// and layers, with their diff_ids (all that a store may name files by).
func (p pushedImage) Blobs() []string {
	out := []string{p.Digest}
	if p.Config != "" {
		out = append(out, p.Config)
	}
	out = append(out, p.Layers...)
	out = append(out, p.DiffIDs...)
	for _, sub := range p.PlatformImages {
		out = append(out, sub.Blobs()...)
	}
	return out
}

// describe fills the digests of img into a pushedImage.
func describe(img v1.Image) (pushedImage, error) {
	var p pushedImage
	d, errD := img.Digest()
	m, errM := img.Manifest()
	cf, errC := img.ConfigFile()
	if err := errors.Join(errD, errM, errC); err != nil {
		return p, err
	}
	p.Digest, p.Config = d.String(), m.Config.Digest.String()
	for _, l := range m.Layers {
		p.Layers = append(p.Layers, l.Digest.String())
	}
	for _, h := range cf.RootFS.DiffIDs {
		p.DiffIDs = append(p.DiffIDs, h.String())
	}
	return p, nil
}

var repoCounter atomic.Int64

var repoBadChars = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueRepo names a fresh repository for t: "<test>/<what>-<n>", lower
// case, valid for the distribution spec.
func uniqueRepo(t *testing.T, what string) string {
	n := strings.Trim(repoBadChars.ReplaceAllString(strings.ToLower(strings.TrimPrefix(t.Name(), "Test")), "-"), "-")
	if len(n) > 40 {
		n = strings.Trim(n[:40], "-")
	}
	w := strings.Trim(repoBadChars.ReplaceAllString(strings.ToLower(what), "-"), "-")
	return fmt.Sprintf("%s/%s-%d", n, w, repoCounter.Add(1))
}

// remoteOpts are go-containerregistry's options for reg: basic auth with
// the token server's user for the token-auth registry.
func remoteOpts(ctx context.Context, reg *testkit.Registry) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx)}
	if reg.Auth != nil {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: reg.Auth.User, Password: reg.Auth.Password}))
	}
	return opts
}

// pushRef writes an image or an index (what, for messages) to reg as
// repo:tag with write (remote.Write or remote.WriteIndex), through the
// proxy, and returns the reference "HOST:PORT/REPO:TAG".
func pushRef(t *testing.T, reg *testkit.Registry, repo, tag, what string, write func(name.Tag, ...remote.Option) error) name.Tag {
	t.Helper()
	ref, err := name.NewTag(reg.Addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := write(ref, remoteOpts(ctx, reg)...); err != nil {
		t.Fatalf("pushing %s%s: %v", what, ref, err)
	}
	return ref
}

// pushImage pushes img to reg as repo:tag (through the proxy) and returns
// its description, Ref being "HOST:PORT/REPO:TAG".
func pushImage(t *testing.T, reg *testkit.Registry, repo, tag string, img v1.Image) pushedImage {
	t.Helper()
	ref := pushRef(t, reg, repo, tag, "", func(ref name.Tag, o ...remote.Option) error { return remote.Write(ref, img, o...) })
	p, err := describe(img)
	if err != nil {
		t.Fatal(err)
	}
	p.Ref, p.Repo, p.Tag = ref.String(), repo, tag
	return p
}

// pushIndex pushes idx (its images first) to reg as repo:tag.
func pushIndex(t *testing.T, reg *testkit.Registry, repo, tag string, idx v1.ImageIndex) pushedImage {
	t.Helper()
	ref := pushRef(t, reg, repo, tag, "index ", func(ref name.Tag, o ...remote.Option) error { return remote.WriteIndex(ref, idx, o...) })
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	p := pushedImage{Ref: ref.String(), Digest: d.String(), Repo: repo, Tag: tag,
		Platforms: map[string]string{}, PlatformImages: map[string]pushedImage{}}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := describe(img)
		if err != nil {
			t.Fatal(err)
		}
		key := desc.Platform.OS + "/" + desc.Platform.Architecture
		p.Platforms[key] = desc.Digest.String()
		p.PlatformImages[key] = sub
	}
	return p
}

// pushBusybox pushes the single-layer busybox image to a fresh repository
// of the open registry (tag "latest").
func pushBusybox(t *testing.T) pushedImage {
	t.Helper()
	return pushImage(t, openReg, uniqueRepo(t, "busybox"), "latest", busyboxImage())
}

// pushLayered pushes the three-layer image (tag "v1").
func pushLayered(t *testing.T) pushedImage {
	t.Helper()
	return pushImage(t, openReg, uniqueRepo(t, "layered"), "v1", layeredImage())
}

// pushPlatformIndex pushes the two-platform index (tag "multi").
func pushPlatformIndex(t *testing.T) pushedImage {
	t.Helper()
	return pushIndex(t, openReg, uniqueRepo(t, "multi"), "multi", platformIndex())
}

// pushCorrupt pushes an image with a layer of its own and then corrupts
// that layer's blob in the registry's storage (same size, other bytes).
// Layers[0] is the digest the registry no longer serves correctly.
func pushCorrupt(t *testing.T) pushedImage {
	t.Helper()
	p := pushImage(t, openReg, uniqueRepo(t, "corrupt"), "latest", markedBusyboxImage("corrupt-"+testkit.RandomHex(8)))
	if err := openReg.CorruptBlob(p.Layers[0]); err != nil {
		t.Fatalf("corrupting %s: %v", p.Layers[0], err)
	}
	return p
}

// pushBadDiffID pushes busybox whose config has a wrong diff_id; it
// returns the image and that wrong diff_id.
func pushBadDiffID(t *testing.T) (pushedImage, string) {
	t.Helper()
	img, bad := badDiffIDImage("baddiff-" + testkit.RandomHex(8))
	return pushImage(t, openReg, uniqueRepo(t, "baddiffid"), "latest", img), bad.String()
}

// pushUnsafe pushes unsafeImage(entries...) (tag "latest").
func pushUnsafe(t *testing.T, what string, entries ...testkit.TarEntry) pushedImage {
	t.Helper()
	return pushImage(t, openReg, uniqueRepo(t, what), "latest", unsafeImage(entries...))
}

// pushAuthBusybox pushes the busybox image to the token-auth registry.
func pushAuthBusybox(t *testing.T) pushedImage {
	t.Helper()
	return pushImage(t, authReg, uniqueRepo(t, "private"), "latest", busyboxImage())
}

// writeOCILayout writes the busybox image into a new OCI image layout at
// dir, its index entry annotated org.opencontainers.image.ref.name=tag.
// Ref is "oci:DIR:TAG".
func writeOCILayout(t *testing.T, dir, tag string) pushedImage {
	t.Helper()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img := busyboxImage()
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		t.Fatal(err)
	}
	p, err := describe(img)
	if err != nil {
		t.Fatal(err)
	}
	p.Ref, p.Tag = "oci:"+dir+":"+tag, tag
	return p
}

// writeOCIArchive writes the busybox image as an OCI layout into a tar
// file (the layout's files at the archive's root). Ref is
// "oci-archive:FILE:TAG".
func writeOCIArchive(t *testing.T, file, tag string) pushedImage {
	t.Helper()
	dir := t.TempDir()
	p := writeOCILayout(t, dir, tag)
	if err := tarDir(dir, file); err != nil {
		t.Fatal(err)
	}
	p.Ref = "oci-archive:" + file + ":" + tag
	return p
}

// tarDir writes the tree under dir (regular files and directories) as an
// uncompressed tar to file, names relative to dir.
func tarDir(dir, file string) error {
	var es []testkit.TarEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			es = append(es, testkit.DirEntry(name+"/", 0o755))
			return nil
		}
		body, err := os.ReadFile(p)
		es = append(es, testkit.TarEntry{Name: name, Type: tar.TypeReg, Mode: 0o644, Body: body})
		return err
	})
	if err != nil {
		return err
	}
	data, err := testkit.Tar(es, layerTime)
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}
