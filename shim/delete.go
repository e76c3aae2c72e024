package shim

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"

	"github.com/berth-oci/berth/runtime"
	"github.com/berth-oci/berth/shim/lite"
)

// removeContainer is the delete action's removal of the container f.ID of
// a dead shim under root (see lite.Delete), killing what is left of it; it
// returns its init's pid (0: unknown). containerd-shim-berth-v2 does the
// delete action itself when no container is left, and executes this
// binary's otherwise.
func removeContainer(f *lite.Flags, o *lite.Options, root string) (int, error) {
	rt, err := runtime.New(runtime.Options{Root: root, SystemdCgroup: o.SystemdCgroup})
	if err != nil {
		return 0, err
	}
	pid := 0
	if st, err := rt.State(context.Background(), f.ID); err == nil {
		pid = st.Pid
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.Delete(ctx, f.ID, runtime.DeleteOptions{Force: true}); err != nil && !errors.Is(err, libcontainer.ErrNotExist) {
		logrus.WithError(err).WithField("id", f.ID).Warn("delete the container of a dead shim")
	}
	return pid, nil
}
