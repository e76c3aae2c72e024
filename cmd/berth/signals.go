package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/runtime"
)

// forwarder relays the signals berth receives to a container process it
// runs in the foreground, and reaps berth's children until that process
// exits.
type forwarder struct {
	signals chan os.Signal
}

// newForwarder starts catching every signal; as a subreaper, berth also
// adopts the container's orphans (when its pid namespace is shared) and
// reaps them.
func newForwarder(subreaper bool) (*forwarder, error) {
	if subreaper {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("become subreaper: %w", err)
		}
	}
	f := &forwarder{signals: make(chan os.Signal, 2048)}
	signal.Notify(f.signals)
	return f, nil
}

func (f *forwarder) stop() { signal.Stop(f.signals) }

// forward relays signals to proc until it exits, keeps the terminal size in
// step, and returns proc's exit status (128+n when killed by signal n).
func (f *forwarder) forward(proc *runtime.Process, t *attachment) (int, error) {
	t.resize()
	// The init may have exited before SIGCHLD was caught; reap once first.
	if status, done := f.reap(proc); done {
		return status, proc.Release()
	}
	for s := range f.signals {
		switch s {
		case unix.SIGWINCH:
			t.resize()
		case unix.SIGCHLD:
			if status, done := f.reap(proc); done {
				return status, proc.Release()
			}
		case unix.SIGURG:
			// The Go runtime's own preemption signal, not the user's.
		default:
			logrus.WithFields(logrus.Fields{"signal": s, "pid": proc.Pid}).Debug("forwarding signal")
			if err := proc.Signal(s); err != nil {
				logrus.WithError(err).WithField("signal", s).Warn("forward signal")
			}
		}
	}
	return -1, fmt.Errorf("signal channel closed before %s exited", proc.ID)
}

// reap collects every exited child of berth and reports whether the
// container init was among them, with its exit status.
func (f *forwarder) reap(proc *runtime.Process) (int, bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return 0, false
		}
		if pid == proc.Pid {
			return utils.ExitStatus(ws), true
		}
	}
}
