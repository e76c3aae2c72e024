package image

// Tests of the harness alone (no berth): the registries, the proxy's
// request log, the token server and the test images, read back with
// go-containerregistry.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-oci/berth/tests/testkit"
)

func harnessCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// readBack fetches ref from reg with go-containerregistry.
func readBack(t *testing.T, reg *testkit.Registry, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remoteOpts(harnessCtx(t), reg)...)
	if err != nil {
		t.Fatalf("reading back %s: %v", ref, err)
	}
	return img
}

// tarNames lists the entries of an uncompressed tar stream by name.
func tarNames(t *testing.T, rc io.ReadCloser) map[string]*testkit.TarEntry {
	t.Helper()
	defer rc.Close()
	entries, err := testkit.ReadTar(rc)
	if err != nil {
		t.Fatalf("reading layer tar: %v", err)
	}
	out := map[string]*testkit.TarEntry{}
	for i := range entries {
		out[entries[i].Name] = &entries[i]
	}
	return out
}

// checkImage compares what the registry serves for p with p, layer by
// layer: digests, media types, and diff_ids against the uncompressed
// bytes.
func checkImage(t *testing.T, img v1.Image, p pushedImage, mediaTypes ...types.MediaType) []v1.Layer {
	t.Helper()
	d, err := img.Digest()
	if err != nil || d.String() != p.Digest {
		t.Fatalf("manifest digest %v (%v), pushed %s", d, err, p.Digest)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(mediaTypes) {
		t.Fatalf("%d layers, want %d", len(layers), len(mediaTypes))
	}
	for i, l := range layers {
		mt, _ := l.MediaType()
		if mt != mediaTypes[i] {
			t.Errorf("layer %d media type %s, want %s", i, mt, mediaTypes[i])
		}
		dg, _ := l.Digest()
		if dg.String() != p.Layers[i] {
			t.Errorf("layer %d digest %s, pushed %s", i, dg, p.Layers[i])
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		got, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("layer %d: reading it back: %v", i, err)
		}
		if got.String() != p.DiffIDs[i] {
			t.Errorf("layer %d: uncompressed digest %s, config diff_id %s", i, got, p.DiffIDs[i])
		}
	}
	return layers
}

func TestHarness(t *testing.T) {
	gate.Check(t)

	t.Run("registries listen on 127.0.0.1 only", func(t *testing.T) {
		for _, r := range []*testkit.Registry{openReg, authReg} {
			addrs, err := testkit.ListenAddrs(r.Pid())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(addrs, r.Backend) {
				t.Errorf("docker-registry (pid %d) listens on %v, not on its configured %s", r.Pid(), addrs, r.Backend)
			}
			for _, a := range addrs {
				if !strings.HasPrefix(a, "127.0.0.1:") {
					t.Errorf("docker-registry (pid %d) listens on %s", r.Pid(), a)
				}
			}
			if !strings.HasPrefix(r.Addr, "127.0.0.1:") {
				t.Errorf("proxy listens on %s", r.Addr)
			}
		}
	})

	t.Run("busybox", func(t *testing.T) {
		t.Parallel()
		p := pushBusybox(t)
		if !strings.HasPrefix(p.Ref, openReg.Addr+"/") || !strings.HasSuffix(p.Ref, ":latest") {
			t.Errorf("ref %q", p.Ref)
		}
		img := readBack(t, openReg, p.Ref)
		layers := checkImage(t, img, p, types.OCILayer)
		rc, _ := layers[0].Uncompressed()
		names := tarNames(t, rc)
		if h := names["bin/busybox"]; h == nil || h.Mode&0o111 == 0 {
			t.Errorf("layer has no executable bin/busybox: %+v", h)
		}
		if h := names["bin/sh"]; h == nil || h.Type != tar.TypeSymlink || h.Link != "/bin/busybox" {
			t.Errorf("bin/sh is not a symlink to /bin/busybox: %+v", h)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"sh", "-c", "echo " + busyboxHello}; !slices.Equal(cf.Config.Cmd, want) {
			t.Errorf("Cmd %q, want %q", cf.Config.Cmd, want)
		}
		if cf.OS != "linux" || cf.Architecture != hostPlatform.arch {
			t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
		}
		// The blob really is in the registry's storage directory.
		if st, err := os.Stat(openReg.BlobDataPath(p.Layers[0])); err != nil || st.Size() == 0 {
			t.Errorf("layer not in the registry's storage: %v", err)
		}
	})

	t.Run("proxy counts blob fetches", func(t *testing.T) {
		t.Parallel()
		p := pushBusybox(t)
		if n := len(openReg.BlobGETs(p.Repo)); n != 0 {
			t.Fatalf("blob GETs counted before any pull: %v", openReg.BlobGETs(p.Repo))
		}
		img := readBack(t, openReg, p.Ref)
		if _, err := img.RawConfigFile(); err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		rc, err := layers[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
		got := openReg.BlobGETs(p.Repo)
		if got[p.Layers[0]] != 1 || got[p.Config] != 1 {
			t.Errorf("blob GETs %v, want one of config %s and layer %s", got, p.Config, p.Layers[0])
		}
	})

	t.Run("three layers", func(t *testing.T) {
		t.Parallel()
		p := pushLayered(t)
		img := readBack(t, openReg, p.Ref)
		layers := checkImage(t, img, p, types.OCILayer, types.OCIUncompressedLayer, types.OCILayerZStd)
		rc, _ := layers[1].Uncompressed()
		if h := tarNames(t, rc)["dir/.wh..wh..opq"]; h == nil {
			t.Error("layer 2 has no opaque marker dir/.wh..wh..opq")
		}
		rc, _ = layers[2].Uncompressed()
		l3 := tarNames(t, rc)
		for _, n := range []string{".wh.file", ".wh.gone", "zstd-marker"} {
			if l3[n] == nil {
				t.Errorf("zstd layer has no %s", n)
			}
		}
		// The zstd blob really is zstd (magic 28 b5 2f fd).
		rc, _ = layers[2].Compressed()
		head := make([]byte, 4)
		_, _ = io.ReadFull(rc, head)
		rc.Close()
		if !bytes.Equal(head, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Errorf("zstd layer starts with % x", head)
		}
		cf, _ := img.ConfigFile()
		c := cf.Config
		if !slices.Equal(c.Entrypoint, layeredEntrypoint) || !slices.Equal(c.Cmd, layeredCmd) ||
			!slices.Equal(c.Env, layeredEnv) || c.WorkingDir != layeredWorkdir || c.User != layeredUser ||
			c.Labels["org.example.berth.test"] != "layered" {
			t.Errorf("config %+v", c)
		}
	})

	t.Run("platform index", func(t *testing.T) {
		t.Parallel()
		p := pushPlatformIndex(t)
		ref, _ := name.ParseReference(p.Ref, name.Insecure)
		idx, err := remote.Index(ref, remoteOpts(harnessCtx(t), openReg)...)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := idx.Digest()
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != p.Digest || im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
			t.Fatalf("index %s %s with %d manifests; pushed %s", d, im.MediaType, len(im.Manifests), p.Digest)
		}
		other := otherPlatform()
		if a := im.Manifests[0].Platform.Architecture; a != other.arch {
			t.Errorf("first entry is %s, want %s (the host's must not be first)", a, other.arch)
		}
		if a := im.Manifests[1].Platform.Architecture; a != hostPlatform.arch {
			t.Errorf("second entry is %s, want the host's %s", a, hostPlatform.arch)
		}
		for i, desc := range im.Manifests {
			key := desc.Platform.OS + "/" + desc.Platform.Architecture
			if p.Platforms[key] != desc.Digest.String() {
				t.Errorf("entry %d: %s, recorded %s", i, desc.Digest, p.Platforms[key])
			}
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			layers, _ := img.Layers()
			rc, _ := layers[0].Uncompressed()
			if tarNames(t, rc)["platform"] == nil {
				t.Errorf("entry %d (%s) has no /platform marker", i, key)
			}
		}
	})

	t.Run("corrupt blob", func(t *testing.T) {
		t.Parallel()
		p := pushCorrupt(t)
		img := readBack(t, openReg, p.Ref) // manifest and config are intact
		layers, _ := img.Layers()
		rc, err := layers[0].Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(p.Layers[0], "sha256:")) {
			t.Fatalf("reading the corrupted layer %s: %v, want a digest mismatch", p.Layers[0], err)
		}
		// Same size as pushed.
		size, _ := layers[0].Size()
		if st, err := os.Stat(openReg.BlobDataPath(p.Layers[0])); err != nil || st.Size() != size {
			t.Errorf("corrupted blob: %v, size %d, want %d", err, st.Size(), size)
		}
	})

	t.Run("bad diff_id", func(t *testing.T) {
		t.Parallel()
		p, bad := pushBadDiffID(t)
		img := readBack(t, openReg, p.Ref)
		layers, _ := img.Layers()
		rc, _ := layers[0].Compressed()
		got, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || got.String() != p.Layers[0] {
			t.Errorf("layer blob %s (%v), want %s: its digest must match", got, err, p.Layers[0])
		}
		if p.DiffIDs[0] != bad {
			t.Errorf("config diff_id %s, want the wrong %s", p.DiffIDs[0], bad)
		}
	})

	t.Run("unsafe layer entries survive the push", func(t *testing.T) {
		t.Parallel()
		p := pushUnsafe(t, "unsafe", testkit.FileEntry("../escape-x", "x", 0o644), testkit.FileEntry("/abs-escape-x", "x", 0o644),
			testkit.SymlinkEntry("link", "/"), testkit.FileEntry("link/etc/escaped-x", "x", 0o644))
		img := readBack(t, openReg, p.Ref)
		layers, _ := img.Layers()
		rc, _ := layers[0].Uncompressed()
		names := tarNames(t, rc)
		for _, n := range []string{"../escape-x", "/abs-escape-x", "link", "link/etc/escaped-x", "safe-file"} {
			if names[n] == nil {
				t.Errorf("entry %q missing from the layer as served", n)
			}
		}
	})

	t.Run("token auth", func(t *testing.T) {
		t.Parallel()
		p := pushAuthBusybox(t)
		ref, _ := name.ParseReference(p.Ref, name.Insecure)
		ctx := harnessCtx(t)

		_, err := remote.Image(ref, remote.WithContext(ctx))
		var te *transport.Error
		if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous read: %v, want 401", err)
		}
		_, err = remote.Image(ref, remote.WithContext(ctx),
			remote.WithAuth(&authn.Basic{Username: tokenSrv.User, Password: "wrong"}))
		if err == nil {
			t.Error("read with a wrong password succeeded")
		}
		img, err := remote.Image(ref, remote.WithContext(ctx),
			remote.WithAuth(&authn.Basic{Username: tokenSrv.User, Password: tokenSrv.Password}))
		if err != nil {
			t.Fatalf("read with the right password: %v", err)
		}
		checkImage(t, img, p, types.OCILayer)

		granted := false
		for _, tr := range tokenSrv.Requests() {
			if tr.OK && slices.Contains(tr.Granted, "repository:"+p.Repo+":pull") {
				granted = true
			}
		}
		if !granted {
			t.Errorf("token server granted no pull on %s: %+v", p.Repo, tokenSrv.Requests())
		}
		bearer := false
		for _, q := range authReg.RequestsFor(p.Repo) {
			bearer = bearer || (q.Auth == "Bearer" && q.Status == http.StatusOK)
		}
		if !bearer {
			t.Error("no request with a bearer token succeeded through the proxy")
		}
	})

	t.Run("registry checks token signatures", func(t *testing.T) {
		t.Parallel()
		p := pushAuthBusybox(t)
		url := "http://" + authReg.Addr + "/v2/" + p.Repo + "/manifests/latest"
		claims := func() map[string]any {
			now := time.Now()
			return map[string]any{
				"iss": tokenSrv.Issuer, "sub": tokenSrv.User, "aud": tokenSrv.Service,
				"exp": now.Add(time.Minute).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix(),
				"jti":    testkit.RandomHex(8),
				"access": []map[string]any{{"type": "repository", "name": p.Repo, "actions": []string{"pull"}}},
			}
		}
		get := func(token string) int {
			req, _ := http.NewRequestWithContext(harnessCtx(t), http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept", string(types.OCIManifestSchema1))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		good, err := tokenSrv.Sign(claims())
		if err != nil {
			t.Fatal(err)
		}
		if code := get(good); code != http.StatusOK {
			t.Errorf("token from the token server: %d, want 200", code)
		}
		// The same claims and certificate, signed by another key.
		otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		forged, _ := testkit.SignJWT(otherKey, tokenSrv.CertDER, claims())
		if code := get(forged); code != http.StatusUnauthorized {
			t.Errorf("forged token: %d, want 401", code)
		}
	})

	t.Run("oci layout and archive", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "layout")
		p := writeOCILayout(t, dir, "v1")
		if p.Ref != "oci:"+dir+":v1" {
			t.Errorf("ref %q", p.Ref)
		}
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		im, _ := idx.IndexManifest()
		if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != p.Digest ||
			im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" {
			t.Fatalf("layout index %+v, want one manifest %s tagged v1", im.Manifests, p.Digest)
		}
		for _, b := range append([]string{p.Digest, p.Config}, p.Layers...) {
			if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(b, "sha256:"))); err != nil {
				t.Errorf("blob %s not in the layout: %v", b, err)
			}
		}

		file := filepath.Join(t.TempDir(), "busybox.tar")
		a := writeOCIArchive(t, file, "v2")
		if a.Ref != "oci-archive:"+file+":v2" || a.Digest != p.Digest {
			t.Errorf("archive ref %q digest %s", a.Ref, a.Digest)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		names := tarNames(t, f)
		for _, n := range []string{"oci-layout", "index.json", "blobs/sha256/" + strings.TrimPrefix(p.Digest, "sha256:")} {
			if names[n] == nil {
				t.Errorf("archive has no %s", n)
			}
		}
	})

	t.Run("auth file", func(t *testing.T) {
		p, err := writeAuthFile(t.TempDir(), "auth.json", "secret")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(p)
		// user:secret in base64, keyed by the proxy's host:port.
		want := `{"auths":{"` + authReg.Addr + `":{"auth":"`
		if !strings.HasPrefix(string(data), want) {
			t.Errorf("auth file %s, want it to start with %s", data, want)
		}
	})
}
