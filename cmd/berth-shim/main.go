// The Go runtime must not open the host's cgroup CPU files to size
// GOMAXPROCS: in "<shim> init" (a container's init) they would stay open
// inside the container (see cmd/berth/main.go).

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
	"os"

	_ "github.com/opencontainers/cgroups/devices" // device rules for the cgroup managers
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec, run before the Go runtime in "<shim> init"

	"github.com/berth-oci/berth/shim"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// init turns this binary into libcontainer's container init when
// libcontainer re-executes it as "<shim> init" (every container's init and
// every exec's setns process is such a re-exec of the sealed shim binary):
// by then nsexec has set up the namespaces, and Init never returns.
//
// Every package the shim links is initialised before this runs, the
// shim's own (ttrpc, protobuf and containerd's API types) too: Go
// initialises packages in import-path order among those whose imports are
// done, and libcontainer needs package net, which needs
// vendor/golang.org/x/net/dns/dnsmessage, last in that order. So no package
// layout keeps them out of a container's init; `make shim-inittrace` lists
// them, and README.md has what they cost.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}

func main() {
	shim.Main(version, commit)
}
