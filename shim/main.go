// Package shim is berth's containerd shim: containerd's task service (task
// API v2 and v3 over ttrpc) implemented on berth's runtime library, in the
// shim process itself. Every lifecycle operation is a call into package
// runtime; the only processes a container costs are its own (libcontainer's
// init, a re-exec of this binary, and one setns process per exec).
//
// The binary is started by containerd in three ways:
//
//	<shim> -namespace NS -id ID -address A -publish-binary B start
//	    find or start the shim daemon for the container's group and print
//	    its socket address (see lite.Start)
//	<shim> -namespace NS -id ID -address A [-socket PATH]
//	    the daemon: serves the task API on fd 3 (see serve.go)
//	<shim> -namespace NS -id ID -bundle DIR delete
//	    clean up after a daemon that died (see lite.Delete and delete.go)
//
// and by libcontainer as "<shim> init" (package containerinit). Package
// lite has the start and delete actions and what they share with the
// daemon.
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
