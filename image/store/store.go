// Package store keeps images in an OCI image layout on the local disk:
// blobs addressed by their sha256 digest, each verified (digest and size)
// before it is kept, and tags as entries of the layout's index.json,
// updated under a lock.
//
// Layout of a store directory:
//
//	oci-layout, index.json        the OCI image layout
//	blobs/sha256/<hex>            verified blobs
//	ingest/<hex>.partial          a download in progress (kept for resuming)
//	ingest/<hex>.lock             held while one process fetches that blob
//	layers/<diff_id hex>/         unpacked layers for overlay mounts (package bundle)
//	bundles/                      bundles of containers run from images
//	index.lock                    held while index.json is read and rewritten
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-oci/berth/image/oci"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/state"
)

// DefaultDir is where images are kept unless --image-store says otherwise.
const DefaultDir = "/var/lib/berth/images"

// RefNameAnnotation names the reference an index.json entry was pulled as.
const RefNameAnnotation = oci.AnnotationRefName

// Store is an OCI image layout directory.
type Store struct {
	dir string
}

// Open opens the store in dir, making the layout if it is not there yet.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: abs}
	for _, d := range []string{"blobs/sha256", "ingest", "layers", "bundles"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store %s: %w", abs, err)
		}
	}
	// Concurrent first uses race to write oci-layout: one wins, the
	// others find it.
	layout := filepath.Join(abs, oci.ImageLayoutFile)
	f, err := os.OpenFile(layout, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	switch {
	case err == nil:
		data, _ := json.Marshal(oci.ImageLayout{Version: oci.ImageLayoutVersion})
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("image store %s: %w", abs, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("image store %s: %w", abs, err)
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// BlobPath is where the blob d is kept (whether or not it is there).
func (s *Store) BlobPath(d oci.Digest) string {
	return filepath.Join(s.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// Has reports whether blob d is in the store with the given size.
func (s *Store) Has(d oci.Digest, size int64) bool {
	if d.Validate() != nil {
		return false
	}
	fi, err := os.Stat(s.BlobPath(d))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// ReadBlob returns the content of a small blob (a manifest, index or
// config), checked against its digest.
func (s *Store) ReadBlob(d oci.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %w", d, err)
	}
	data, err := os.ReadFile(s.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	if got := oci.FromBytes(data); got != d {
		return nil, fmt.Errorf("blob %s in the store has digest %s: the store is damaged; remove the image and pull it again", d, got)
	}
	return data, nil
}

// OpenBlob opens blob d for reading. The caller verifies the content if it
// needs to (Verify).
func (s *Store) OpenBlob(d oci.Digest) (*os.File, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %w", d, err)
	}
	f, err := os.Open(s.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

// PutBlob stores data as a blob after checking it against the descriptor.
func (s *Store) PutBlob(desc oci.Descriptor, data []byte) error {
	_, err := s.Ingest(desc, func(int64) (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(data)), 0, nil
	}, nil)
	return err
}

// MismatchError is a blob whose content is not what its descriptor says.
type MismatchError struct {
	Digest   oci.Digest
	Got      oci.Digest
	Size     int64
	WantSize int64
}

func (e *MismatchError) Error() string {
	if e.Size != e.WantSize {
		return fmt.Sprintf("blob %s: got %d bytes, want %d: the source sent a damaged or different blob; nothing of it was kept", e.Digest, e.Size, e.WantSize)
	}
	return fmt.Sprintf("blob %s: digest mismatch (the content's digest is %s): the source sent a damaged or different blob; nothing of it was kept", e.Digest, e.Got)
}

// Verify checks a blob's size and digest against its descriptor; the error
// (a *MismatchError) names the digest.
func Verify(desc oci.Descriptor, size int64, got oci.Digest) error {
	if (desc.Size >= 0 && size != desc.Size) || got != desc.Digest {
		want := desc.Size
		if want < 0 {
			want = size
		}
		return &MismatchError{Digest: desc.Digest, Got: got, Size: size, WantSize: want}
	}
	return nil
}

// Fetch is how Ingest reads a blob: from offset on (for resuming a partial
// download). It returns the reader and the offset it really starts at (0
// when the source cannot resume).
type Fetch func(offset int64) (rc io.ReadCloser, start int64, err error)

// Ingest makes sure blob desc is in the store, fetching it if not. One
// process at a time fetches a given digest: others wait for it and then
// find the blob there. A failed download leaves its partial file for the
// next attempt to resume; a blob whose content does not match desc is
// thrown away, and the error names its digest. progress, if set, is told
// how many bytes arrived.
func (s *Store) Ingest(desc oci.Descriptor, fetch Fetch, progress func(n int64)) (fetched bool, err error) {
	if err := desc.Digest.Validate(); err != nil {
		return false, fmt.Errorf("blob %q: %w", desc.Digest, err)
	}
	if desc.Digest.Algorithm() != oci.SHA256 {
		return false, fmt.Errorf("blob %s: only sha256 digests are supported", desc.Digest)
	}
	if s.Has(desc.Digest, desc.Size) {
		return false, nil
	}
	hexd := desc.Digest.Encoded()
	lockPath := filepath.Join(s.dir, "ingest", hexd+".lock")
	unlock, err := lockFile(lockPath)
	if err != nil {
		return false, err
	}
	defer func() {
		_ = os.Remove(lockPath) // waiters notice and lock afresh
		unlock()
	}()
	if s.Has(desc.Digest, desc.Size) {
		return false, nil // another process fetched it while we waited
	}
	partial := filepath.Join(s.dir, "ingest", hexd+".partial")
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, err
	}
	if desc.Size >= 0 && have > desc.Size {
		have = 0
	}
	// A partial file of the full size was downloaded by a process that
	// died before renaming it: it only needs checking.
	var rc io.ReadCloser = io.NopCloser(strings.NewReader(""))
	start := have
	if desc.Size < 0 || have < desc.Size {
		if rc, start, err = fetch(have); err != nil {
			return false, err
		}
	}
	defer rc.Close()
	if start != have {
		if err := f.Truncate(start); err != nil {
			return false, err
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return false, err
	}
	var src io.Reader = rc
	if desc.Size >= 0 {
		src = io.LimitReader(rc, desc.Size-start+1) // one byte more shows a blob that is too long
	}
	if progress != nil {
		progress(start)
		src = &countingReader{r: src, add: progress}
	}
	if _, err := io.Copy(f, src); err != nil {
		return false, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	// The whole file is hashed again: a resumed download's first part came
	// from an earlier process.
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	n, err := io.Copy(h, f)
	if err != nil {
		return false, err
	}
	if err := Verify(desc, n, oci.NewDigestFromEncoded(oci.SHA256, hex.EncodeToString(h.Sum(nil)))); err != nil {
		_ = os.Remove(partial) // damaged: the next attempt starts over
		return false, err
	}
	if err := f.Sync(); err != nil {
		return false, err
	}
	if err := os.Rename(partial, s.BlobPath(desc.Digest)); err != nil {
		return false, err
	}
	return true, nil
}

// Image is one tag of the store.
type Image struct {
	// Name is the reference the image was pulled as.
	Name string
	// Manifest is the descriptor of its (platform) manifest.
	Manifest oci.Descriptor
}

// Images lists the tags of the store, sorted by name.
func (s *Store) Images() ([]Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, m := range idx.Manifests {
		out = append(out, Image{Name: m.Annotations[RefNameAnnotation], Manifest: m})
	}
	slices.SortFunc(out, func(a, b Image) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Resolve finds the manifest tagged name.
func (s *Store) Resolve(name string) (oci.Descriptor, bool, error) {
	idx, err := s.readIndex()
	if err != nil {
		return oci.Descriptor{}, false, err
	}
	for _, m := range idx.Manifests {
		if m.Annotations[RefNameAnnotation] == name {
			return m, true, nil
		}
	}
	return oci.Descriptor{}, false, nil
}

// Tag points name at the manifest desc, replacing what it pointed at. It
// fails if a blob of the image is missing (a garbage collection ran
// between the pull's fetch and its tag: pull again).
func (s *Store) Tag(name string, desc oci.Descriptor) error {
	return s.updateIndex(func(idx *oci.Index) error {
		if err := s.complete(desc); err != nil {
			return err
		}
		desc.Annotations = map[string]string{RefNameAnnotation: name}
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(m oci.Descriptor) bool {
			return m.Annotations[RefNameAnnotation] == name
		})
		idx.Manifests = append(idx.Manifests, desc)
		return nil
	})
}

// complete checks that the image desc and every blob it refers to are in
// the store.
func (s *Store) complete(desc oci.Descriptor) error {
	blobs := map[string]bool{}
	if err := s.walk(desc, blobs, map[string]bool{}); err != nil {
		return err
	}
	for h := range blobs {
		if !s.Has(oci.NewDigestFromEncoded(oci.SHA256, h), -1) {
			return fmt.Errorf("image %s: blob sha256:%s is missing from the store (removed by a concurrent gc?); pull again", desc.Digest, h)
		}
	}
	return nil
}

// Untag removes the tag name; it fails if there is no such tag.
func (s *Store) Untag(name string) error {
	return s.updateIndex(func(idx *oci.Index) error {
		n := len(idx.Manifests)
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(m oci.Descriptor) bool {
			return m.Annotations[RefNameAnnotation] == name
		})
		if len(idx.Manifests) == n {
			return fmt.Errorf("image %q is not in the store (see berth images)", name)
		}
		return nil
	})
}

// ImageSize is the size of an image's manifest, config and layers as
// stored (layers compressed).
func (s *Store) ImageSize(manifest oci.Descriptor) (int64, error) {
	data, err := s.ReadBlob(manifest.Digest)
	if err != nil {
		return 0, err
	}
	var m oci.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return 0, fmt.Errorf("manifest %s: %w", manifest.Digest, err)
	}
	size := manifest.Size + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}

func (s *Store) indexPath() string { return filepath.Join(s.dir, oci.ImageIndexFile) }

func (s *Store) readIndex() (*oci.Index, error) {
	idx := &oci.Index{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex}
	data, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("%s: %w", s.indexPath(), err)
	}
	return idx, nil
}

// updateIndex reads, changes and atomically rewrites index.json under the
// store's index lock, so concurrent tag updates are never lost.
func (s *Store) updateIndex(change func(*oci.Index) error) error {
	unlock, err := lockFile(filepath.Join(s.dir, "index.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := change(idx); err != nil {
		return err
	}
	if idx.Manifests == nil {
		idx.Manifests = []oci.Descriptor{}
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(s.indexPath(), data, 0o644)
}

// lockFile takes an exclusive flock on path (made if missing) and returns
// its release. The lock file may be removed by its holder (Ingest removes
// its lock when done): a waiter that then gets the lock on the removed
// file sees that path names another file or none, and tries again.
func lockFile(path string) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if now, err := os.Stat(path); err == nil && os.SameFile(held, now) {
			return func() { f.Close() }, nil
		}
		f.Close()
	}
}

// tryLockFile is lockFile without waiting: ok is false if the lock is held.
func tryLockFile(path string) (release func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() { f.Close() }, true, nil
}

type countingReader struct {
	r   io.Reader
	add func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.add(int64(n))
	}
	return n, err
}
