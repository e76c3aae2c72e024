package linux

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

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
	Bundle          string // the absolute bundle directory
	SystemdCgroup   bool
	NoPivotRoot     bool
	NoNewKeyring    bool
	RootlessEUID    bool
	RootlessCgroups bool
}

// Convert turns a validated spec into a libcontainer configuration through
// specconv. specconv reads paths relative to the current directory, which
// it takes for the bundle (runc changes into it); Convert makes them
// absolute against o.Bundle first, and labels the config with o.Bundle, so
// that the caller's directory does not matter.
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
	if !filepath.IsAbs(o.Bundle) {
		return nil, fmt.Errorf("bundle %q: not an absolute path", o.Bundle)
	}
	absPaths(spec, o.Bundle)
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
	// specconv labels the config with its working directory as the
	// bundle, last: the bundle is o.Bundle.
	if n := len(cfg.Labels); n > 0 && strings.HasPrefix(cfg.Labels[n-1], "bundle=") {
		cfg.Labels[n-1] = "bundle=" + o.Bundle
	}
	delete(cfg.Hooks, configs.Poststart)
	delete(cfg.Hooks, configs.Poststop)
	for _, d := range cfg.Cgroups.Resources.Devices {
		// Letters beside r, w and m (Validate warned) mean nothing.
		d.Permissions = devconfig.Permissions(deviceAccess(string(d.Permissions)))
	}
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

// deviceAccess keeps the letters of a device cgroup access string that mean
// something: r, w and m, in that order, each once.
func deviceAccess(access string) string {
	var out string
	for _, l := range "rwm" {
		if strings.ContainsRune(access, l) {
			out += string(l)
		}
	}
	return out
}

// absPaths makes the spec's relative paths absolute: the root filesystem
// and the sources of bind mounts (as specconv tells them: a "bind" or
// "rbind" option) against the bundle, other sources naming no file
// ("proc", "tmpfs"); mount destinations against the container's "/", as
// the runtime spec reads them.
func absPaths(spec *specs.Spec, bundle string) {
	if spec.Root != nil && !filepath.IsAbs(spec.Root.Path) {
		spec.Root.Path = filepath.Join(bundle, spec.Root.Path)
	}
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		if m.Destination != "" && !filepath.IsAbs(m.Destination) {
			m.Destination = "/" + m.Destination
		}
		if m.Source != "" && !filepath.IsAbs(m.Source) && (slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")) {
			m.Source = filepath.Join(bundle, m.Source)
		}
	}
}
