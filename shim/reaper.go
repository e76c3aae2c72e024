package shim

import (
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// reaper reaps the shim's children. The shim is a child subreaper, and
// libcontainer starts each container's init and each exec with
// CLONE_PARENT, so they are all its children; so are libcontainer's own
// short-lived helpers (the bootstrap process of nsexec, hooks, CRIU), which
// libcontainer waits for itself, by pid, and must not lose to a wait4(-1).
//
// So there are two kinds of reaping:
//
//   - the processes the shim registered (container inits, execs, logging
//     binaries) are reaped by pid, at once, whenever SIGCHLD arrives;
//   - any other child (orphans reparented to the subreaper) is reaped by
//     wait4(-1), but only while no runtime call is under way: each runtime
//     call that may start a child holds gate for reading, and the sweep
//     takes it for writing without waiting. A sweep that finds the gate held
//     is done when the last call leaves it.
//
// A process started inside a runtime call is registered before the call
// releases the gate, so the sweep can never take its exit from the shim.
type reaper struct {
	mu    sync.Mutex
	procs map[int]func(status int, at time.Time) // registered pids

	gate    sync.RWMutex
	pending atomic.Bool
	poke    chan struct{}
}

func newReaper() *reaper {
	r := &reaper{procs: map[int]func(int, time.Time){}, poke: make(chan struct{}, 1)}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD)
	go func() {
		for {
			select {
			case <-sigs:
			case <-r.poke:
			}
			r.reap()
		}
	}()
	return r
}

// enter marks a runtime call that may start children; the returned function
// ends it.
func (r *reaper) enter() func() {
	r.gate.RLock()
	return func() {
		r.gate.RUnlock()
		if r.pending.Load() {
			select {
			case r.poke <- struct{}{}:
			default:
			}
		}
	}
}

// register makes the reaper call exited with pid's wait status (128+n for
// signal n) once it has exited. The caller registers a process it started
// before leaving its runtime call (see enter).
func (r *reaper) register(pid int, exited func(status int, at time.Time)) {
	r.mu.Lock()
	r.procs[pid] = exited
	r.mu.Unlock()
	// It may have exited already, while the runtime call held the gate.
	r.pending.Store(true)
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// forget stops watching pid (a process whose start failed).
func (r *reaper) forget(pid int) {
	r.mu.Lock()
	delete(r.procs, pid)
	r.mu.Unlock()
}

type exit struct {
	fn     func(int, time.Time)
	status int
	at     time.Time
}

func (r *reaper) reap() {
	var exits []exit
	r.mu.Lock()
	for pid, fn := range r.procs {
		var ws unix.WaitStatus
		n, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		switch {
		case n == pid:
			exits = append(exits, exit{fn, exitStatus(ws), time.Now()})
			delete(r.procs, pid)
		case err == unix.ECHILD:
			// Not (or no longer) our child: nothing will ever report
			// it. Say it died of SIGKILL rather than waiting forever.
			exits = append(exits, exit{fn, 128 + int(unix.SIGKILL), time.Now()})
			delete(r.procs, pid)
		}
	}
	r.mu.Unlock()

	r.pending.Store(true)
	if r.gate.TryLock() {
		r.pending.Store(false)
		for {
			var ws unix.WaitStatus
			n, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if n <= 0 {
				break
			}
			r.mu.Lock()
			if fn, ok := r.procs[n]; ok {
				exits = append(exits, exit{fn, exitStatus(ws), time.Now()})
				delete(r.procs, n)
			}
			r.mu.Unlock()
		}
		r.gate.Unlock()
	}
	for _, e := range exits {
		e.fn(e.status, e.at)
	}
}

// exitStatus is a wait status as a shell reports it: the exit code, or
// 128+n for a process killed by signal n.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
