package runtime

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"time"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/linux"
)

// releaseWithLimits releases a created container's init (release is
// libcontainer's Container.Exec) and applies the address-space limits that
// berth keeps from libcontainer (linux.LateRlimits) at the one moment they
// can neither break berth's Go init nor miss the container's program: when
// the init has executed that program and it has not run an instruction
// yet. berth traces the init for that single step: PTRACE_SEIZE with
// PTRACE_O_TRACEEXEC, release, wait for the exec stop, prlimit, detach.
//
// If the init cannot be traced (an unprivileged berth, yama's
// ptrace_scope 3), the limits are set before the release instead, which
// works unless the init needs fresh memory on its last steps.
func releaseWithLimits(pid int, limits []configs.Rlimit, release func() error) error {
	if len(limits) == 0 {
		return release()
	}
	// Every ptrace request must come from the thread that attached.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if err := ptraceSeize(pid, unix.PTRACE_O_TRACEEXEC); err != nil {
		logrus.WithError(err).Debug("cannot trace the init to its exec; setting its address-space limits before releasing it")
		if err := setLimits(pid, limits); err != nil {
			return err
		}
		return release()
	}
	// The release waits for the init to write the exec fifo, and the init
	// stops for the tracer at each signal it gets on its way there (the
	// Go runtime preempts with SIGURG): the tracer keeps answering while a
	// goroutine releases.
	released := make(chan error, 1)
	go func() { released <- release() }()
	return waitExecStop(pid, released, func() error { return setLimits(pid, limits) })
}

func setLimits(pid int, limits []configs.Rlimit) error {
	for _, rl := range limits {
		if err := unix.Prlimit(pid, rl.Type, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}, nil); err != nil {
			return fmt.Errorf("process.rlimits: set %s of the container process: %w", linux.RlimitName(rl.Type), err)
		}
	}
	return nil
}

func ptraceSeize(pid, options int) error {
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, uintptr(options), 0, 0)
	if errno != 0 {
		return fmt.Errorf("ptrace seize %d: %w", pid, errno)
	}
	return nil
}

// cldTrapped is siginfo's si_code for a ptrace stop (CLD_TRAPPED).
const cldTrapped = 4

// childInfo is the SIGCHLD part of siginfo_t, which x/sys/unix leaves
// opaque: waitid fills si_pid, si_uid and si_status after the common
// header.
type childInfo struct {
	Signo, Errno, Code, _ int32
	Pid                   int32
	UID                   uint32
	Status                int32
	_                     [100]byte
}

// waitExecStop waits for the traced init to stop at its execve, calls at
// it, and detaches. Signals the init receives meanwhile are passed on. The
// init's exit is only looked at (WNOWAIT), never reaped: its parent (berth
// run, or nobody for a separate start) keeps its status. A failed release
// ends the wait.
func waitExecStop(pid int, released <-chan error, at func() error) error {
	delay := 20 * time.Microsecond
	for {
		var info childInfo
		_, _, errno := unix.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT|unix.WNOHANG|unix.WALL, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errors.Join(fmt.Errorf("wait for the container process to start: %w", errno), detach(pid))
		}
		if info.Pid == 0 {
			// Nothing yet.
			select {
			case err := <-released:
				if err != nil {
					return errors.Join(err, detach(pid))
				}
				released = nil // the exec comes next
			case <-time.After(delay):
				delay = min(2*delay, 2*time.Millisecond)
			}
			continue
		}
		if info.Code != cldTrapped {
			// Exited or killed before its exec: not ours to reap.
			return errors.New("the container's init ended before it executed the container's program")
		}
		// Consume the stop.
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil); err != nil {
			return fmt.Errorf("wait for the container process to start: %w", err)
		}
		sig := unix.Signal(info.Status & 0xff)
		event := info.Status >> 8
		switch {
		case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_EXEC:
			if released != nil {
				if err := <-released; err != nil {
					return errors.Join(err, detach(pid))
				}
			}
			err := at()
			if derr := detach(pid); derr != nil {
				err = errors.Join(err, derr)
			}
			if err != nil {
				_ = unix.Kill(pid, unix.SIGKILL) // it must not run without its limits
			}
			return err
		case event == unix.PTRACE_EVENT_STOP:
			// A group stop (SIGSTOP and friends) under PTRACE_SEIZE: let
			// it go on; the stop itself takes effect once detached.
			if err := unix.PtraceCont(pid, 0); err != nil {
				return fmt.Errorf("continue the container process: %w", err)
			}
		default:
			// A signal for the init: deliver it.
			if err := unix.PtraceCont(pid, int(sig)); err != nil {
				return fmt.Errorf("continue the container process: %w", err)
			}
		}
	}
}

// detach ends the trace; a tracee that is gone is no error.
func detach(pid int) error {
	if err := unix.PtraceDetach(pid); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("detach from the container process: %w", err)
	}
	return nil
}
