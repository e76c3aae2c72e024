package shim

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/shim/lite"
)

// mountRootfs mounts containerd's rootfs mounts (the snapshotter's: an
// overlay, or a bind of a directory) on target, in order.
func mountRootfs(mounts []mount, target string) error {
	for i, m := range mounts {
		if err := mountOne(m, target); err != nil {
			lite.UnmountAll(target)
			return fmt.Errorf("rootfs mount %d (%s %s): %w", i, m.Type, m.Source, err)
		}
	}
	return nil
}

// mountFlags are the mount options that are flags; the others are passed
// to the filesystem as data.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"async": {true, unix.MS_SYNCHRONOUS}, "atime": {true, unix.MS_NOATIME}, "bind": {false, unix.MS_BIND},
	"defaults": {false, 0}, "dev": {true, unix.MS_NODEV}, "diratime": {true, unix.MS_NODIRATIME},
	"dirsync": {false, unix.MS_DIRSYNC}, "exec": {true, unix.MS_NOEXEC}, "mand": {false, unix.MS_MANDLOCK},
	"noatime": {false, unix.MS_NOATIME}, "nodev": {false, unix.MS_NODEV}, "nodiratime": {false, unix.MS_NODIRATIME},
	"noexec": {false, unix.MS_NOEXEC}, "nomand": {true, unix.MS_MANDLOCK}, "norelatime": {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME}, "nosuid": {false, unix.MS_NOSUID}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"relatime": {false, unix.MS_RELATIME}, "remount": {false, unix.MS_REMOUNT}, "ro": {false, unix.MS_RDONLY},
	"rw": {true, unix.MS_RDONLY}, "strictatime": {false, unix.MS_STRICTATIME}, "suid": {true, unix.MS_NOSUID},
	"sync": {false, unix.MS_SYNCHRONOUS},
}

func mountOne(m mount, target string) error {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		data = append(data, o)
	}
	typ := m.Type
	if typ == "bind" || typ == "rbind" {
		flags |= unix.MS_BIND
		if typ == "rbind" {
			flags |= unix.MS_REC
		}
	}
	opts := strings.Join(data, ",")
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("mount options are %d bytes, more than a page (too many layers for one overlay mount)", len(opts))
	}
	// A read-only bind takes a remount: the bind itself ignores MS_RDONLY.
	first := flags
	if flags&unix.MS_BIND != 0 {
		first &^= unix.MS_RDONLY
	}
	if err := unix.Mount(m.Source, target, typ, first, opts); err != nil {
		return err
	}
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return err
		}
	}
	return nil
}
