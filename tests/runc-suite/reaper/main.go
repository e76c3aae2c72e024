// Command reaper runs a command as a child subreaper: the processes its
// command leaves orphaned (a detached container's init once the runtime
// has exited) become its children, and it reaps each as soon as it exits.
// It exits with the command's status when the command ends.
//
// run.sh runs each bats file under it. Otherwise such orphans go to this
// machine's pid 1, which reaps its children late (0.5 s and more here), and
// the suite's tests that SIGKILL a host-pidns container's init and give it
// 2 s to be gone (kill.bats, delete.bats "[host pidns ...]") see the
// zombie and fail, for runc as for berth. On the hosts the suite is made
// for, pid 1 (systemd) reaps at once.
//
//	reaper COMMAND [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: reaper COMMAND [ARG...]")
		os.Exit(2)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "reaper: PR_SET_CHILD_SUBREAPER:", err)
		os.Exit(1)
	}
	// The signals a terminal or run.sh sends reach the command too (they
	// share the session): this process outlives it by handling them and
	// doing nothing (handled, not ignored, so that the command does not
	// inherit them ignored).
	signal.Notify(make(chan os.Signal, 1), unix.SIGINT, unix.SIGQUIT, unix.SIGHUP, unix.SIGTERM)

	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		os.Exit(127)
	}
	child := cmd.Process.Pid
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "reaper: wait4:", err)
			os.Exit(1)
		}
		if pid != child {
			continue // an orphan, reaped
		}
		switch {
		case ws.Exited():
			os.Exit(ws.ExitStatus())
		case ws.Signaled():
			os.Exit(128 + int(ws.Signal()))
		}
	}
}
