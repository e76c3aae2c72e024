// The Go runtime must not open the host's cgroup CPU files to size
// GOMAXPROCS: in "<shim> init" (a container's init) they would stay open
// inside the container (see cmd/berth/main.go).

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command containerd-shim-berth-v2 is berth's containerd shim (runtime type
// io.containerd.berth.v2): containerd's task API served by one process per
// pod that runs berth's runtime library in-process. See package shim.
package main

import (
	"github.com/berth-oci/berth/shim"
	// First among the shim's imports in initialisation order: as a
	// container's init, the binary becomes libcontainer's init before the
	// shim's own packages are initialised (see the package).
	_ "github.com/berth-oci/berth/shim/containerinit"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	shim.Main(version, commit)
}
