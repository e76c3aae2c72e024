package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berth-oci/berth/image/oci"
)

func descOf(data []byte) oci.Descriptor {
	return oci.Descriptor{Digest: oci.FromBytes(data), Size: int64(len(data))}
}

func fromBytes(data []byte, calls *atomic.Int32) Fetch {
	return func(off int64) (io.ReadCloser, int64, error) {
		if calls != nil {
			calls.Add(1)
		}
		return io.NopCloser(bytes.NewReader(data[off:])), off, nil
	}
}

func TestIngestVerifies(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := []byte("the real blob")
	desc := descOf(good)
	_, err = s.Ingest(desc, fromBytes([]byte("a damaged blob"), nil), nil)
	var mm *MismatchError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), desc.Digest.String()) {
		t.Fatalf("Ingest of wrong bytes: %v; want a MismatchError naming %s", err, desc.Digest)
	}
	if s.Has(desc.Digest, -1) {
		t.Fatal("a damaged blob was kept")
	}
	if entries, _ := os.ReadDir(s.Dir() + "/ingest"); len(entries) > 1 {
		t.Errorf("ingest dir after a damaged blob: %v", entries)
	}
	fetched, err := s.Ingest(desc, fromBytes(good, nil), nil)
	if err != nil || !fetched || !s.Has(desc.Digest, desc.Size) {
		t.Fatalf("Ingest: fetched %v, %v", fetched, err)
	}
	if data, err := s.ReadBlob(desc.Digest); err != nil || !bytes.Equal(data, good) {
		t.Fatalf("ReadBlob: %q, %v", data, err)
	}
}

func TestIngestResumes(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blob := bytes.Repeat([]byte("0123456789"), 1000)
	desc := descOf(blob)
	// A first attempt that breaks after 4000 bytes.
	_, err = s.Ingest(desc, func(off int64) (io.ReadCloser, int64, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(blob[:4000]), errReader{})), 0, nil
	}, nil)
	if err == nil {
		t.Fatal("broken download succeeded")
	}
	var asked int64 = -1
	_, err = s.Ingest(desc, func(off int64) (io.ReadCloser, int64, error) {
		asked = off
		return io.NopCloser(bytes.NewReader(blob[off:])), off, nil
	}, nil)
	if err != nil || asked != 4000 {
		t.Fatalf("resumed Ingest: offset asked %d (want 4000), %v", asked, err)
	}
	// A source that cannot resume (start 0) still gives the right blob.
	s2, _ := Open(t.TempDir())
	_, _ = s2.Ingest(desc, func(int64) (io.ReadCloser, int64, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(blob[:10]), errReader{})), 0, nil
	}, nil)
	if _, err := s2.Ingest(desc, fromBytes(blob, nil), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Ingest(desc, func(int64) (io.ReadCloser, int64, error) { return io.NopCloser(bytes.NewReader(blob)), 0, nil }, nil); err != nil {
		t.Fatal(err)
	}
}

func TestIngestCompletePartial(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("downloaded by a process that died before the rename")
	desc := descOf(blob)
	if err := os.WriteFile(s.Dir()+"/ingest/"+desc.Digest.Encoded()+".partial", blob, 0o600); err != nil {
		t.Fatal(err)
	}
	fetched, err := s.Ingest(desc, func(int64) (io.ReadCloser, int64, error) {
		t.Error("fetched a blob whose partial file was complete")
		return nil, 0, errors.New("no")
	}, nil)
	if err != nil || !fetched || !s.Has(desc.Digest, desc.Size) {
		t.Fatalf("Ingest: %v, %v", fetched, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestIngestOncePerDigest(t *testing.T) {
	dir := t.TempDir()
	blob := bytes.Repeat([]byte("x"), 1<<20)
	desc := descOf(blob)
	var calls atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir) // each as its own process would
			if err == nil {
				_, err = s.Ingest(desc, fromBytes(blob, &calls), nil)
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("blob fetched %d times, want 1", n)
	}
}

func TestTagAndGC(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layer := []byte("layer")
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + oci.FromBytes(layer).Encoded() + `"]}}`)
	other := []byte("unreferenced")
	for _, b := range [][]byte{layer, cfg, other} {
		if err := s.PutBlob(descOf(b), b); err != nil {
			t.Fatal(err)
		}
	}
	man := []byte(`{"schemaVersion":2,"config":{"digest":"` + oci.FromBytes(cfg).String() + `","size":1},"layers":[{"digest":"` + oci.FromBytes(layer).String() + `","size":5}]}`)
	mdesc := descOf(man)
	if err := s.Tag("img:1", mdesc); err == nil {
		t.Fatal("Tag of a manifest that is not in the store succeeded")
	}
	if err := s.PutBlob(mdesc, man); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"img:1", "img:2", "img:1"} {
		if err := s.Tag(name, mdesc); err != nil {
			t.Fatal(err)
		}
	}
	imgs, err := s.Images()
	if err != nil || len(imgs) != 2 || imgs[0].Name != "img:1" || imgs[1].Name != "img:2" {
		t.Fatalf("Images: %+v, %v", imgs, err)
	}
	res, err := s.GC()
	if err != nil || res.Blobs != 1 || s.Has(oci.FromBytes(other), -1) || !s.Has(oci.FromBytes(layer), -1) {
		t.Fatalf("GC with both tags: %+v, %v", res, err)
	}
	if err := s.Untag("img:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag("img:1"); err == nil || !strings.Contains(err.Error(), "img:1") {
		t.Fatalf("second Untag: %v", err)
	}
	if res, _ := s.GC(); res.Blobs != 0 {
		t.Fatalf("GC removed %d blobs still used by img:2", res.Blobs)
	}
	if err := s.Untag("img:2"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.GC(); err != nil || res.Blobs != 3 {
		t.Fatalf("GC after the last tag: %+v, %v; want 3 blobs", res, err)
	}
}
