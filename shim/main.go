// Package shim is berth's containerd shim daemon: containerd's task service
// (task API v2 and v3 over ttrpc) implemented on berth's runtime library,
// in the shim process itself. Every lifecycle operation is a call into
// package runtime; the only processes a container costs are its own
// (libcontainer's init, a re-exec of this binary, and one setns process
// per exec).
//
// The program containerd executes, containerd-shim-berth-v2, is small (see
// package lite): it does the start action, and the delete action when no
// container is left, itself, and executes this one, berth-shim, beside it
// for everything else:
//
//	berth-shim -namespace NS -id ID -address A [-socket PATH]
//	    the daemon, started by start: serves the task API on fd 3 (or
//	    PATH), see serve.go
//	berth-shim -namespace NS -id ID -bundle DIR delete
//	    clean up after a daemon that died, its container included (see
//	    lite.Delete and delete.go)
//	berth-shim -info
//	    the runtime's features (info.go)
//
// and by libcontainer as "berth-shim init" (the container inits). It does
// the start action too (starting itself as the daemon), so that it still
// serves when installed as containerd-shim-berth-v2.
package shim

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-oci/berth/shim/lite"
)

// Main runs the shim; it does not return.
func Main(version, commit string) {
	name := filepath.Base(os.Args[0])
	f, err := lite.ParseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, err)
		os.Exit(2)
	}
	switch {
	case f.Version:
		fmt.Print(lite.VersionText(version, commit))
		os.Exit(0)
	case f.Info:
		err = runInfo(version, commit)
	case f.Namespace == "":
		err = fmt.Errorf("shim namespace cannot be empty")
	case f.Action == "start":
		var self string
		if self, err = os.Executable(); err == nil {
			err = lite.Start(f, self)
		}
	case f.Action == "delete":
		err = lite.Delete(f, removeContainer)
	case f.Action == "":
		err = runDaemon(f)
	default:
		err = fmt.Errorf("unknown action %q (want start or delete)", f.Action)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}
