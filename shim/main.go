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
//	    its socket address (see start.go)
//	<shim> -namespace NS -id ID -address A [-socket PATH]
//	    the daemon: serves the task API on fd 3 (see serve.go)
//	<shim> -namespace NS -id ID -bundle DIR delete
//	    clean up after a daemon that died (see delete.go)
//
// and by libcontainer as "<shim> init" (package containerinit).
package shim

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// flags are what containerd passes on the command line (the same flags for
// every containerd version this shim serves; containerd 2.3 and later also
// send the bootstrap parameters on stdin to start).
type flags struct {
	namespace     string
	id            string
	address       string // containerd's gRPC address
	publishBinary string
	bundle        string
	socket        string
	debug         bool
	version       bool
	info          bool
	action        string
}

// Main runs the shim; it does not return.
func Main(version, commit string) {
	f, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "containerd-shim-berth-v2:", err)
		os.Exit(2)
	}
	switch {
	case f.version:
		fmt.Printf("containerd-shim-berth-v2:\n  Version:  %s\n  Revision: %s\n  Go version: %s\n\n", version, commit, runtime.Version())
		os.Exit(0)
	case f.info:
		err = runInfo(version, commit)
	case f.namespace == "":
		err = fmt.Errorf("shim namespace cannot be empty")
	case f.action == "start":
		err = runStart(f)
	case f.action == "delete":
		err = runDelete(f)
	case f.action == "":
		err = runDaemon(f)
	default:
		err = fmt.Errorf("unknown action %q (want start or delete)", f.action)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "containerd-shim-berth-v2: %s", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func parseFlags(args []string) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("containerd-shim-berth-v2", flag.ContinueOnError)
	fs.BoolVar(&f.debug, "debug", false, "enable debug output in logs")
	fs.BoolVar(&f.version, "v", false, "")
	fs.BoolVar(&f.version, "version", false, "show the shim version and exit")
	fs.BoolVar(&f.info, "info", false, "read runtime options from stdin, print the RuntimeInfo protobuf to stdout and exit")
	fs.StringVar(&f.namespace, "namespace", "", "namespace that owns the shim")
	fs.StringVar(&f.id, "id", "", "id of the task")
	fs.StringVar(&f.socket, "socket", "", "socket path to serve")
	fs.StringVar(&f.bundle, "bundle", "", "path to the bundle if not workdir")
	fs.StringVar(&f.address, "address", "", "grpc address back to main containerd")
	fs.StringVar(&f.publishBinary, "publish-binary", "", "path of containerd (events go to $TTRPC_ADDRESS instead)")
	var ignored string
	fs.StringVar(&ignored, "debug-socket", "", "debug socket path (unused)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	f.action = strings.TrimSpace(fs.Arg(0))
	return f, nil
}
