package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// RemoveBundle takes apart a bundle directory berth made: its root
// filesystem is unmounted if it is a mount (an overlay of image layers),
// then the directory is removed.
func RemoveBundle(dir string) error {
	if err := unmountAll(filepath.Join(dir, "rootfs")); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	return nil
}

// unmountAll unmounts target until nothing is mounted there.
func unmountAll(target string) error {
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
