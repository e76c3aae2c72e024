package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-oci/berth/image/oci"
)

// GCResult says what a garbage collection removed.
type GCResult struct {
	Blobs  int
	Layers int
	Bytes  int64
}

// GC removes the blobs and unpacked layers no tag refers to, and partial
// downloads nobody is working on. It holds the index lock, so no tag can
// be added while it decides what is unreferenced; a pull that has fetched
// blobs but not yet tagged them takes the same lock before it tags, and
// checks its blobs are still there (Pull does).
func (s *Store) GC() (GCResult, error) {
	var res GCResult
	unlock, err := lockFile(filepath.Join(s.dir, "index.lock"))
	if err != nil {
		return res, err
	}
	defer unlock()
	keepBlobs, keepLayers, err := s.referenced()
	if err != nil {
		return res, err
	}
	blobDir := filepath.Join(s.dir, "blobs", "sha256")
	entries, err := os.ReadDir(blobDir)
	if err != nil {
		return res, err
	}
	for _, e := range entries {
		if keepBlobs[e.Name()] {
			continue
		}
		if fi, err := e.Info(); err == nil {
			res.Bytes += fi.Size()
		}
		if err := os.Remove(filepath.Join(blobDir, e.Name())); err != nil {
			return res, err
		}
		res.Blobs++
	}
	layerDir := filepath.Join(s.dir, "layers")
	entries, err = os.ReadDir(layerDir)
	if err != nil {
		return res, err
	}
	for _, e := range entries {
		if keepLayers[e.Name()] || unpackInProgress(e) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(layerDir, e.Name())); err != nil {
			return res, err
		}
		res.Layers++
	}
	return res, s.removeIdlePartials()
}

// unpackInProgress reports whether e is a layer being unpacked (a
// ".unpack-" directory renamed into place when done) by a process that may
// still be at work: one touched in the last hour. Older ones were left by
// a process that died, and go.
func unpackInProgress(e os.DirEntry) bool {
	if !strings.HasPrefix(e.Name(), ".unpack-") {
		return false
	}
	fi, err := e.Info()
	return err == nil && time.Since(fi.ModTime()) < time.Hour
}

// referenced walks every tag: its manifest, config and layers (blobs by
// hex digest), and the layers' diff_ids (unpacked layer directories).
func (s *Store) referenced() (blobs, layers map[string]bool, err error) {
	blobs, layers = map[string]bool{}, map[string]bool{}
	idx, err := s.readIndex()
	if err != nil {
		return nil, nil, err
	}
	for _, m := range idx.Manifests {
		if err := s.walk(m, blobs, layers); err != nil {
			return nil, nil, fmt.Errorf("image %q: %w", m.Annotations[RefNameAnnotation], err)
		}
	}
	// Bundles of containers run from images mount unpacked layers: what
	// they use stays, tagged or not, until the container is deleted.
	inUse, err := s.bundleImages()
	if err != nil {
		return nil, nil, err
	}
	for _, d := range inUse {
		if err := s.walk(oci.Descriptor{Digest: d}, blobs, layers); err != nil {
			return nil, nil, err
		}
	}
	return blobs, layers, nil
}

// BundleMarker is the file in a bundle under BundlesDir that holds the
// manifest digest of the image the bundle was made from.
const BundleMarker = ".berth-image-bundle"

// BundlesDir is where bundles of containers run from images are made.
func (s *Store) BundlesDir() string { return filepath.Join(s.dir, "bundles") }

// bundleImages lists the manifest digests the bundles under BundlesDir
// were made from.
func (s *Store) bundleImages() ([]oci.Digest, error) {
	entries, err := os.ReadDir(s.BundlesDir())
	if err != nil {
		return nil, err
	}
	var out []oci.Digest
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(s.BundlesDir(), e.Name(), BundleMarker))
		if err != nil {
			continue // not (yet) a bundle of an image
		}
		d := oci.Digest(strings.TrimSpace(string(data)))
		if d.Validate() == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

func (s *Store) walk(desc oci.Descriptor, blobs, layers map[string]bool) error {
	blobs[desc.Digest.Encoded()] = true
	data, err := s.ReadBlob(desc.Digest)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a broken tag keeps nothing else
	}
	if err != nil {
		return err
	}
	var m struct {
		Manifests []oci.Descriptor `json:"manifests"`
		Config    oci.Descriptor   `json:"config"`
		Layers    []oci.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	for _, sub := range m.Manifests {
		if err := s.walk(sub, blobs, layers); err != nil {
			return err
		}
	}
	for _, l := range m.Layers {
		blobs[l.Digest.Encoded()] = true
	}
	if m.Config.Digest == "" {
		return nil
	}
	blobs[m.Config.Digest.Encoded()] = true
	cfg, err := s.ReadBlob(m.Config.Digest)
	if err != nil {
		return nil // no config yet: no unpacked layers to keep
	}
	var c oci.Image
	if err := json.Unmarshal(cfg, &c); err == nil {
		for _, d := range c.RootFS.DiffIDs {
			layers[d.Encoded()] = true
		}
	}
	return nil
}

// removeIdlePartials removes partial downloads whose lock nobody holds.
func (s *Store) removeIdlePartials() error {
	dir := filepath.Join(s.dir, "ingest")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if filepath.Ext(name) != ".partial" {
			continue
		}
		hexd := name[:len(name)-len(".partial")]
		if oci.NewDigestFromEncoded(oci.SHA256, hexd).Validate() != nil {
			continue
		}
		release, ok, err := tryLockFile(filepath.Join(dir, hexd+".lock"))
		if err != nil || !ok {
			continue
		}
		_ = os.Remove(filepath.Join(dir, name))
		_ = os.Remove(filepath.Join(dir, hexd+".lock"))
		release()
	}
	return nil
}
