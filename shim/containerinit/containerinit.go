// Package containerinit turns the shim binary into libcontainer's container
// init when libcontainer re-executes it as "<shim> init" (every container's
// init and every exec's setns process is such a re-exec of the sealed shim
// binary).
//
// It is a package of its own, imported by the shim's main package, so that
// Init runs as early as Go's package initialisation allows: packages are
// initialised in the order of their import paths among those whose imports
// are done (the Go spec's rule since Go 1.21), and this package needs only
// libcontainer and what libcontainer needs. The shim's own dependencies
// (ttrpc, protobuf and containerd's API types, whose init functions register
// message descriptors) sort after "github.com/berth-oci/..." and do not
// depend on this package, so they are never initialised in a container's
// init: Init does not return (it executes the container's process). `make
// shim-inittrace` shows the init functions that do run.
package containerinit

import (
	"os"

	_ "github.com/opencontainers/cgroups/devices" // device rules for the cgroup managers
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec, run before the Go runtime in "<shim> init"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}
