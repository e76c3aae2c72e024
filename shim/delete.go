package shim

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/runtime"
)

// runDelete cleans up after a shim daemon that died: containerd runs it in
// the container's bundle. It removes berth's container (killing what is left
// of it), unmounts the rootfs and prints a DeleteResponse (the same message
// in task API v2 and v3).
func runDelete(f *flags) error {
	bundle := f.bundle
	if bundle == "" {
		var err error
		if bundle, err = os.Getwd(); err != nil {
			return err
		}
	}
	o, err := readOptions(bundle)
	if err != nil {
		logrus.WithError(err).Warn("read the shim's options from the bundle; using the defaults")
		o = &options{}
	}
	pid := 0
	// No state root: no container to remove (and none to make one for).
	if _, err := os.Stat(filepath.Join(o.stateRoot(f.namespace), f.id)); err == nil {
		rt, err := runtime.New(runtime.Options{Root: o.stateRoot(f.namespace), SystemdCgroup: o.SystemdCgroup})
		if err != nil {
			return err
		}
		if st, err := rt.State(context.Background(), f.id); err == nil {
			pid = st.Pid
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.Delete(ctx, f.id, runtime.DeleteOptions{Force: true}); err != nil && !errors.Is(err, libcontainer.ErrNotExist) {
			logrus.WithError(err).WithField("id", f.id).Warn("delete the container of a dead shim")
		}
	}
	unmountAll(filepath.Join(bundle, "rootfs"))
	// The dead daemon's socket, unless a daemon answers on it (one serving
	// the other containers of a group cannot be dead).
	if addr, err := os.ReadFile(filepath.Join(bundle, "address")); err == nil {
		path := socketPath(strings.TrimSpace(string(addr)))
		if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
			conn.Close()
		} else if errors.Is(err, unix.ECONNREFUSED) {
			_ = os.Remove(path)
		}
	}
	_ = os.Remove(filepath.Join(bundle, optionsFile))
	_, err = os.Stdout.Write(exitResponse(pid, 128+int(unix.SIGKILL), time.Now()))
	return err
}
