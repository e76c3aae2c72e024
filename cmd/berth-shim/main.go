// The Go runtime must not open the host's cgroup CPU files to size
// GOMAXPROCS: in "berth-shim init" (a container's init) they would stay
// open inside the container (see package containerinit).

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command berth-shim is the daemon of berth's containerd shim (runtime type
// io.containerd.berth.v2): containerd's task API served by one process per
// pod that runs berth's runtime library in-process. containerd executes
// containerd-shim-berth-v2 (cmd/containerd-shim-berth-v2, package
// shim/lite), a small program that starts this one beside it. See package
// shim.
package main

import (
	_ "github.com/berth-oci/berth/cmd/internal/containerinit" // "berth-shim init": libcontainer's container init
	"github.com/berth-oci/berth/shim"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	shim.Main(version, commit)
}
