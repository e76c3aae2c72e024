// Package owned is what the container runtime needs to know about bundles
// berth made from images (run --image): the annotations it reads from
// their config.json and how such a bundle is taken apart when its
// container is deleted. It has no dependencies beyond the standard library
// and x/sys, so the runtime's commands and the container init do not pay
// for the image code (registry client, decompressors) at start-up.
package owned

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultStore is the image store's directory unless --image-store says
// otherwise.
const DefaultStore = "/var/lib/berth/images"

// Annotations of bundles made from images.
const (
	// AnnotationImage is the image's name in the store.
	AnnotationImage = "dev.berth.image.name"
	// AnnotationDigest is the image's manifest digest.
	AnnotationDigest = "dev.berth.image.digest"
	// AnnotationBundle is the bundle directory berth made for run --image
	// and removes when the container is deleted.
	AnnotationBundle = "dev.berth.image.bundle"
	// AnnotationStopSignal is the image's StopSignal (image spec
	// conversion); berth kill sends it when no signal is named.
	AnnotationStopSignal = "org.opencontainers.image.stopSignal"
)

// Marker is the file in a bundle berth made for run --image. It holds the
// manifest digest of the image, so that the store's gc keeps what the
// bundle mounts, and it tells delete the directory is berth's to remove.
const Marker = ".berth-image-bundle"

// Remove takes a bundle apart: the overlay root filesystem is unmounted if
// it is mounted, then the directory is removed.
func Remove(dir string) error {
	if err := unmount(filepath.Join(dir, "rootfs")); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	return nil
}

// RemoveIfOwned removes dir if it is a bundle berth made for run --image
// (it has the Marker), and does nothing otherwise.
func RemoveIfOwned(dir string) error {
	if dir == "" || !filepath.IsAbs(dir) {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(dir, Marker)); err != nil {
		return nil
	}
	return Remove(dir)
}

// unmount unmounts target until nothing is mounted there.
func unmount(target string) error {
	for {
		err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil:
			continue // a mount may hide another
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // not a mount point (any more)
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil {
				return fmt.Errorf("unmount %s: %w", target, err)
			}
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
}
