// Package lite is what the program containerd executes,
// containerd-shim-berth-v2, is made of: the shim's start and delete
// actions, the command line, the runtime options, the socket names and the
// wire encoding of the messages they speak.
//
// containerd executes containerd-shim-berth-v2 `start` for every container
// (in a CRI pod, for every container of the pod) and `delete` whenever a
// shim's connection closes, and waits for both: each is on the critical
// path of a container's start and removal. So that program links only this
// package, protowire and the standard library (no berth runtime, no
// libcontainer, no ttrpc, no protobuf runtime) and starts in about the time
// of a Go hello world. The shim daemon, berth-shim, is the full program
// (package shim): start executes it beside itself, and delete hands it the
// removal of a container whose daemon died. Both import this package, so
// the two programs agree on every name, file and message.
//
// Nothing in this package may import more than the standard library,
// golang.org/x/sys and protowire: `go list -deps ./cmd/containerd-shim-berth-v2`
// (lite_test.go checks it).
package lite

import (
	"flag"
	"fmt"
	"runtime"
	"strings"
)

// Flags are what containerd passes on the command line (the same flags for
// every containerd version the shim serves; containerd 2.3 and later also
// send the bootstrap parameters on stdin to start).
type Flags struct {
	Namespace     string
	ID            string
	Address       string // containerd's gRPC address
	PublishBinary string
	Bundle        string
	Socket        string
	Debug         bool
	Version       bool
	Info          bool
	Action        string
}

// ParseFlags parses the shim's command line (without the program name).
func ParseFlags(args []string) (*Flags, error) {
	f := &Flags{}
	fs := flag.NewFlagSet("containerd-shim-berth-v2", flag.ContinueOnError)
	fs.BoolVar(&f.Debug, "debug", false, "enable debug output in logs")
	fs.BoolVar(&f.Version, "v", false, "")
	fs.BoolVar(&f.Version, "version", false, "show the shim version and exit")
	fs.BoolVar(&f.Info, "info", false, "read runtime options from stdin, print the RuntimeInfo protobuf to stdout and exit")
	fs.StringVar(&f.Namespace, "namespace", "", "namespace that owns the shim")
	fs.StringVar(&f.ID, "id", "", "id of the task")
	fs.StringVar(&f.Socket, "socket", "", "socket path to serve")
	fs.StringVar(&f.Bundle, "bundle", "", "path to the bundle if not workdir")
	fs.StringVar(&f.Address, "address", "", "grpc address back to main containerd")
	fs.StringVar(&f.PublishBinary, "publish-binary", "", "path of containerd (events go to $TTRPC_ADDRESS instead)")
	var ignored string
	fs.StringVar(&ignored, "debug-socket", "", "debug socket path (unused)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	f.Action = strings.TrimSpace(fs.Arg(0))
	return f, nil
}

// VersionText is what -v prints.
func VersionText(version, commit string) string {
	return fmt.Sprintf("containerd-shim-berth-v2:\n  Version:  %s\n  Revision: %s\n  Go version: %s\n\n", version, commit, runtime.Version())
}
