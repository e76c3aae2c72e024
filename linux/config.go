package linux

import (
	"fmt"

	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
	"github.com/sirupsen/logrus"
)

// ConvertOptions are the runtime's choices that shape the libcontainer
// configuration beside the spec itself.
type ConvertOptions struct {
	ID              string // the cgroup name when linux.cgroupsPath is empty
	SystemdCgroup   bool
	NoPivotRoot     bool
	NoNewKeyring    bool
	RootlessEUID    bool
	RootlessCgroups bool
}

// Convert turns a validated spec into a libcontainer configuration through
// specconv. specconv takes the bundle from the current directory, so the
// caller must have changed into the bundle first.
//
// The poststart and poststop hooks are left out: berth runs those itself
// (see package hooks), so that poststart follows the start of the user
// process and a failing one is a warning, as the runtime spec says.
//
// A seccomp profile that denies statx gets the one statx request berth's
// init needs (see AdmitInitStatx), and linux.mountLabel is dropped on a host
// without SELinux; spec is changed in place.
func Convert(spec *specs.Spec, o ConvertOptions) (*configs.Config, error) {
	if spec.Linux != nil {
		if err := AdmitInitStatx(spec.Linux.Seccomp); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
		if spec.Linux.MountLabel != "" && !selinux.GetEnabled() {
			// Labels of files mean nothing without SELinux (crun ignores
			// them too; libcontainer would fail the mounts).
			logrus.WithField("mountLabel", spec.Linux.MountLabel).Warn("SELinux is not enabled on this host: ignoring linux.mountLabel")
			spec.Linux.MountLabel = ""
		}
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       o.ID,
		UseSystemdCgroup: o.SystemdCgroup,
		NoPivotRoot:      o.NoPivotRoot,
		NoNewKeyring:     o.NoNewKeyring,
		Spec:             spec,
		RootlessEUID:     o.RootlessEUID,
		RootlessCgroups:  o.RootlessCgroups,
	})
	if err != nil {
		return nil, fmt.Errorf("convert config.json: %w", err)
	}
	delete(cfg.Hooks, configs.Poststart)
	delete(cfg.Hooks, configs.Poststop)
	for _, d := range cfg.Devices {
		if d.Type == devconfig.FifoDevice {
			// A fifo has no device number: the spec says major and
			// minor are ignored for "p", and libcontainer would compare
			// the new inode's 0:0 with them.
			d.Major, d.Minor = 0, 0
		}
	}
	for _, m := range cfg.Mounts {
		if m.IsBind() && m.Data != "" {
			// The kernel ignores filesystem options on a bind mount
			// (runc 1.1 and crun drop them; libcontainer now refuses).
			logrus.WithField("mount", m.Destination).Warnf("ignoring filesystem options %q of a bind mount", m.Data)
			m.Data = ""
		}
	}
	return cfg, nil
}
