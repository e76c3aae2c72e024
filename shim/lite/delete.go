package lite

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Delete is the delete action: it cleans up after a shim daemon that died.
// containerd runs it in the container's bundle whenever a shim's
// connection closes, so mostly after a clean shutdown, when the daemon has
// deleted the container and nothing is left to do. When berth's state of
// the container is left under the state root, remove removes the
// container (killing what is left of it) and returns its init's pid. Then
// Delete unmounts the rootfs, removes the dead daemon's socket and the
// options file, and prints a DeleteResponse (the same message in task API
// v2 and v3).
func Delete(f *Flags, remove func(f *Flags, o *Options, root string) (pid int, err error)) error {
	bundle := f.Bundle
	if bundle == "" {
		var err error
		if bundle, err = os.Getwd(); err != nil {
			return err
		}
	}
	o, err := ReadOptions(bundle)
	if err != nil {
		fmt.Fprintf(os.Stderr, "level=warning msg=%q error=%q\n", "read the shim's options from the bundle; using the defaults", err)
		o = &Options{}
	}
	pid := 0
	// No state root: no container to remove (and none to make one for).
	root := o.StateRoot(f.Namespace)
	if _, err := os.Stat(filepath.Join(root, f.ID)); err == nil {
		if pid, err = remove(f, o, root); err != nil {
			return err
		}
	}
	UnmountAll(filepath.Join(bundle, "rootfs"))
	// The dead daemon's socket, unless a daemon answers on it (one serving
	// the other containers of a group cannot be dead).
	if addr, err := os.ReadFile(filepath.Join(bundle, "address")); err == nil {
		path := SocketPath(strings.TrimSpace(string(addr)))
		if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
			conn.Close()
		} else if errors.Is(err, unix.ECONNREFUSED) {
			_ = os.Remove(path)
		}
	}
	_ = os.Remove(filepath.Join(bundle, OptionsFile))
	_, err = os.Stdout.Write(ExitResponse(pid, 128+int(unix.SIGKILL), time.Now()))
	return err
}

// UnmountAll unmounts everything mounted on target.
func UnmountAll(target string) {
	for range 64 {
		err := unix.Unmount(target, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return // nothing (more) mounted there
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
