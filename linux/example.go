package linux

import (
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Example is the config.json that `berth spec` writes: runc's default
// (busybox-friendly, sh on a terminal, private namespaces), made suitable for
// an unprivileged user with a user namespace when rootless is set.
func Example(rootless bool) *specs.Spec {
	spec := specconv.Example()
	spec.Hostname = "berth"
	if rootless {
		specconv.ToRootless(spec)
	}
	return spec
}
