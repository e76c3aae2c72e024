package shim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test images, built from the host's static busybox (nothing is
// downloaded): busybox, and a pause image for the CRI sandboxes.
const (
	busyboxRef = "localhost/busybox:berth-shim"
	pauseRef   = "localhost/pause:berth-shim"
)

var (
	imagesOnce sync.Once
	imagesTar  string
	imagesErr  error
)

// needImages builds the OCI archive once per test run.
func needImages(t *testing.T) string {
	t.Helper()
	imagesOnce.Do(func() {
		imagesTar = filepath.Join(workDir, "images", "oci.tar")
		if err := os.MkdirAll(filepath.Dir(imagesTar), 0o755); err != nil {
			imagesErr = err
			return
		}
		imagesErr = buildArchive(imagesTar)
	})
	if imagesErr != nil {
		if strings.Contains(imagesErr.Error(), "busybox") {
			missing(t, "%v", imagesErr)
		}
		t.Fatal(imagesErr)
	}
	return imagesTar
}

func staticBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			static = static && prog.Type != elf.PT_INTERP
		}
		f.Close()
		if static {
			return p, nil
		}
	}
	return "", fmt.Errorf("no statically linked busybox (install busybox-static)")
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{"sha256:" + hex.EncodeToString(sum[:]), data}
}

func jsonBytes(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// buildArchive writes an OCI image layout tar (what `ctr images import`
// takes) with both images, which share one busybox layer.
func buildArchive(dst string) error {
	bb, err := staticBusybox()
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	mtime := time.Unix(1700000000, 0)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(body)
	}
	for _, d := range []string{"bin/", "dev/", "etc/", "proc/", "root/", "run/", "sys/", "tmp/", "usr/", "var/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bin)
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !strings.Contains(a, "/") {
			add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644}, []byte("root:x:0:\nnogroup:x:65534:\n"))
	if err := tw.Close(); err != nil {
		return err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	_, _ = zw.Write(layer.Bytes())
	_ = zw.Close()
	layerTar, layerGz := newBlob(layer.Bytes()), newBlob(gz.Bytes())

	blobs := []blob{layerGz}
	var manifests []map[string]any
	for _, img := range []struct {
		ref string
		cmd []string
	}{
		{busyboxRef, []string{"sh"}},
		{pauseRef, []string{"sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 1; done"}},
	} {
		config := newBlob(jsonBytes(map[string]any{
			"architecture": runtime.GOARCH, "os": "linux",
			"config": map[string]any{"Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "Cmd": img.cmd, "WorkingDir": "/"},
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerTar.digest}},
		}))
		manifest := newBlob(jsonBytes(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.digest, "size": len(config.data)},
			"layers":        []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layerGz.digest, "size": len(layerGz.data)}},
		}))
		blobs = append(blobs, config, manifest)
		manifests = append(manifests, map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest.digest, "size": len(manifest.data),
			"platform":    map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
			"annotations": map[string]string{"io.containerd.image.name": img.ref, "org.opencontainers.image.ref.name": img.ref},
		})
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	put := func(name string, data []byte) {
		_ = aw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime})
		_, _ = aw.Write(data)
	}
	_ = aw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "blobs/", Mode: 0o755, ModTime: mtime})
	_ = aw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "blobs/sha256/", Mode: 0o755, ModTime: mtime})
	put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	put("index.json", jsonBytes(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}))
	seen := map[string]bool{}
	var names []string
	for _, b := range blobs {
		if !seen[b.digest] {
			seen[b.digest] = true
			names = append(names, b.digest)
			put("blobs/sha256/"+strings.TrimPrefix(b.digest, "sha256:"), b.data)
		}
	}
	sort.Strings(names)
	return aw.Close()
}
