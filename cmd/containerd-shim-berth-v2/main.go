// The Go runtime need not size GOMAXPROCS from the host's cgroup CPU
// files: this program lives for a few milliseconds.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command containerd-shim-berth-v2 is the program containerd executes for
// berth's containerd shim (runtime type io.containerd.berth.v2): for every
// container's `start`, and for `delete` whenever a shim's connection
// closes, and it waits for both. It does them itself (package shim/lite):
// start starts the shim daemon, berth-shim, installed beside this program
// (cmd/berth-shim), and delete answers itself when no container is left.
// Everything else (a dead daemon's container to remove, -info, the daemon
// itself) it hands on to berth-shim, same arguments.
//
// It links only package lite, protowire and the standard library, and so
// starts in about the time of a Go hello world; berth-shim, which links
// berth's runtime and libcontainer, takes about twice that.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/shim/lite"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// daemonName is the shim daemon's program, looked up beside this one.
const daemonName = "berth-shim"

func main() {
	f, err := lite.ParseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "containerd-shim-berth-v2:", err)
		os.Exit(2)
	}
	switch {
	case f.Version:
		fmt.Print(lite.VersionText(version, commit))
	case f.Namespace != "" && !f.Info && f.Action == "start":
		err = start(f)
	case f.Namespace != "" && !f.Info && f.Action == "delete":
		err = lite.Delete(f, func(*lite.Flags, *lite.Options, string) (int, error) {
			return 0, execDaemon() // berth-shim removes the container
		})
	default:
		err = execDaemon()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "containerd-shim-berth-v2: %s", err)
		os.Exit(1)
	}
}

// daemon is the path of berth-shim beside this program.
func daemon() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", daemonName, err)
	}
	return filepath.Join(filepath.Dir(exe), daemonName), nil
}

func errNoDaemon(path string) error {
	return fmt.Errorf("the shim daemon is %s, which is not installed beside containerd-shim-berth-v2 (make build and make install put both in place)", path)
}

func start(f *lite.Flags) error {
	path, err := daemon()
	if err != nil {
		return err
	}
	if err := unix.Access(path, unix.X_OK); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return errNoDaemon(path)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return lite.Start(f, path)
}

// execDaemon replaces this process with berth-shim, same arguments.
func execDaemon() error {
	path, err := daemon()
	if err != nil {
		return err
	}
	err = unix.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
	if errors.Is(err, unix.ENOENT) {
		return errNoDaemon(path)
	}
	return fmt.Errorf("run %s: %w", path, err)
}
