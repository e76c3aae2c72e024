package linux

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
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
// init needs (see AdmitInitStatx); spec is changed in place.
func Convert(spec *specs.Spec, o ConvertOptions) (*configs.Config, error) {
	if spec.Linux != nil {
		if err := AdmitInitStatx(spec.Linux.Seccomp); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
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
	return cfg, nil
}
