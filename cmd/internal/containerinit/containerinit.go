// Package containerinit makes the program that imports it libcontainer's
// container init: libcontainer starts every container's init, and every
// exec's setns process, by re-executing the sealed copy of the running
// program as "<program> init". nsexec (package nsenter, C run before the
// Go runtime) has set up the namespaces by then, and this package's init
// function hands over to libcontainer.Init, which never returns: it execs
// the container's process.
//
// bin/berth and the shim daemon bin/berth-shim import it for its effect:
//
//	import _ "github.com/berth-oci/berth/cmd/internal/containerinit"
//
// Go initialises a package after everything it imports, and among the
// packages that are ready in import-path order; libcontainer needs package
// net, whose vendored dependency sorts last, so nearly every package of the
// program is initialised before this runs whatever its name
// (`GODEBUG=inittrace=1 <program> init` lists them).
//
// The programs must also set `//go:debug containermaxprocs=0` and
// `//go:debug updatemaxprocs=0` in their main package (go:debug lines count
// only there): otherwise the Go runtime opens the host's cgroup CPU files
// to size GOMAXPROCS, and in the init they would stay open inside the
// container, where a process exec'd into it could raise its own CPU limit
// through /proc/1/fd.
package containerinit

import (
	"os"

	_ "github.com/opencontainers/cgroups/devices" // device rules for the cgroup managers
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec, run before the Go runtime in "<program> init"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}
