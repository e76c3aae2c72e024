package bundle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-oci/berth/image/oci"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/image/store"
)

// ApplyFunc applies a layer (its compressed blob, of mediaType) to dir,
// checking its uncompressed digest against diffID: with whiteouts removing
// what they name, or, for overlay, turned into overlayfs whiteouts. The
// image commands pass package unpack's; the runtime passes none and makes
// bundles only of images whose layers are unpacked already (ErrNotUnpacked
// otherwise), so that it does not link the decompressors.
type ApplyFunc func(dir, mediaType string, layer io.Reader, diffID oci.Digest, overlay bool) error

// ErrNotUnpacked is returned when a bundle needs a layer applied and no
// ApplyFunc was given.
var ErrNotUnpacked = errors.New("the image's layers are not unpacked in the store")

// applyBlob applies the layer blob l to dir, checking it against diffID.
func applyBlob(st *store.Store, apply ApplyFunc, l oci.Descriptor, diffID oci.Digest, dir string, overlay bool) error {
	if apply == nil {
		return ErrNotUnpacked
	}
	f, err := st.OpenBlob(l.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := apply(dir, l.MediaType, f, diffID, overlay); err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return nil
}

// cacheLayer makes sure layer l is unpacked in the store (for overlay
// lower directories). It unpacks into a temporary directory and renames
// it into place, so a half-unpacked layer is never used, and two
// processes unpacking the same layer both succeed.
func cacheLayer(st *store.Store, apply ApplyFunc, l oci.Descriptor, diffID oci.Digest) (string, error) {
	dst := layerDir(st, diffID)
	if exists(dst) {
		return dst, nil
	}
	if apply == nil {
		return "", ErrNotUnpacked
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".unpack-"+diffID.Encoded()[:12]+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := applyBlob(st, apply, l, diffID, tmp, true); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil && !exists(dst) {
		return "", err
	}
	return dst, nil
}

// mountLayers mounts the image's layers as an overlay at dir/rootfs, with
// dir/upper and dir/work for the container's writes.
func mountLayers(st *store.Store, apply ApplyFunc, m *oci.Manifest, cfg *oci.Image, dir string) error {
	var lower []string
	for i, l := range m.Layers {
		d, err := cacheLayer(st, apply, l, cfg.RootFS.DiffIDs[i])
		if err != nil {
			return err
		}
		lower = append(lower, d)
	}
	if len(lower) == 0 {
		// overlayfs needs a lower directory: an image without layers gets
		// an empty one.
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return err
		}
		lower = append(lower, empty)
	}
	slices.Reverse(lower) // overlayfs lists the topmost layer first
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range lower {
		if strings.ContainsAny(d, ":,") {
			return fmt.Errorf("layer directory %s: overlayfs cannot take a path with ':' or ','; use an image store path without them", d)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"),
		filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if len(opts) > unix.Getpagesize()-1 {
		return fmt.Errorf("%d layers are too many for one overlay mount with these paths; use berth bundle for a plain directory", len(lower))
	}
	if err := unix.Mount("overlay", filepath.Join(dir, "rootfs"), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount the image's layers (overlay): %w", err)
	}
	return nil
}
