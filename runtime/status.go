package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Status is a container's status as berth reports it and decides by: the
// runtime spec's statuses, plus paused.
type Status int

const (
	// Creating: a create is under way (its state is not written yet).
	Creating Status = iota
	// Created: the init waits for start.
	Created
	// Running: the user process runs.
	Running
	// Paused: every process is frozen.
	Paused
	// Stopped: the init has exited, or a create was killed half-way.
	Stopped
)

var statusNames = [...]string{Creating: "creating", Created: "created", Running: "running", Paused: "paused", Stopped: "stopped"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "unknown"
	}
	return statusNames[s]
}

// effectiveStatus is libcontainer's status with berth's one correction,
// decided here only: a container libcontainer calls created (its exec.fifo
// is still there) whose init no longer waits is running, because a start
// was killed after it released the init and before it removed the fifo.
// released is asked only for a created container.
func effectiveStatus(s libcontainer.Status, released func() bool) Status {
	switch s {
	case libcontainer.Created:
		if released() {
			return Running
		}
		return Created
	case libcontainer.Running:
		return Running
	case libcontainer.Paused:
		return Paused
	default:
		return Stopped
	}
}

// initComm is the name nsexec gives the container's init (prctl
// PR_SET_NAME); execve of the user process replaces it.
const initComm = "runc:[2:INIT]"

// initReleased reports whether pid, the init of a created container, has
// left its wait for start: it is alive and no longer berth's init.
func initReleased(pid int) bool {
	return pid > 0 && !initWaiting(pid) && unix.Kill(pid, 0) == nil
}

// initWaiting reports whether pid is still berth's init, waiting for start
// or setting up, rather than the user process it becomes.
func initWaiting(pid int) bool {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return err == nil && strings.TrimSpace(string(comm)) == initComm
}

// operation is a lifecycle call whose permission depends on the status.
type operation int

const (
	opStart operation = iota
	opExec
	opExecIgnorePaused
	opPause
	opResume
	opDelete
	opDeleteForce
	opCheckpoint
	opUpdate
	opStats
)

// statuses is a set of statuses.
type statuses uint8

const (
	inCreated statuses = 1 << Created
	inRunning statuses = 1 << Running
	inPaused  statuses = 1 << Paused
	inStopped statuses = 1 << Stopped
)

func (s statuses) has(st Status) bool { return s&(1<<st) != 0 }

// rules is the table of which operation may act on a container in which
// status, with the words of the refusal. Kill is not in it: libcontainer
// decides whether there is a process to signal, and kill --all tolerates a
// stopped container.
var rules = [...]struct {
	verb    string // "cannot <verb> a <status> container"
	allowed statuses
	hint    string            // what to do instead
	hints   map[Status]string // for some statuses, a better hint
}{
	opStart: {verb: "start", allowed: inCreated, hint: "only a created container can be started",
		hints: map[Status]string{Stopped: "it has exited; delete it and create it again"}},
	opExec: {verb: "exec in", allowed: inCreated | inRunning,
		hints: map[Status]string{Paused: "resume it first, or exec with ignore-paused"}},
	opExecIgnorePaused: {verb: "exec in", allowed: inCreated | inRunning | inPaused},
	opPause:            {verb: "pause", allowed: inCreated | inRunning},
	opResume:           {verb: "resume", allowed: inPaused, hint: "only a paused container can be resumed"},
	opDelete: {verb: "delete", allowed: inCreated | inStopped,
		hint: "stop it first (kill), or delete it with force"},
	opDeleteForce: {verb: "delete", allowed: inCreated | inRunning | inPaused | inStopped},
	opCheckpoint: {verb: "checkpoint", allowed: inRunning | inPaused,
		hint: "only a running or paused container can be checkpointed"},
	opUpdate: {verb: "update", allowed: inCreated | inRunning | inPaused},
	opStats:  {verb: "read the stats of", allowed: inCreated | inRunning | inPaused},
}

// check returns nil when op may act on container id in status s, and
// otherwise the *StatusError that says why not.
func check(op operation, id string, s Status) error {
	r := rules[op]
	if r.allowed.has(s) {
		return nil
	}
	hint := r.hint
	if h, ok := r.hints[s]; ok {
		hint = h
	}
	return &StatusError{ID: id, Verb: r.verb, Status: s, Hint: hint}
}

// StatusError is an operation refused because of the container's status.
// It wraps libcontainer's sentinel for that status (ErrNotRunning for a
// stopped container, ErrPaused, ErrRunning), whose words callers such as
// containerd's shim and CRI-O match.
type StatusError struct {
	ID     string
	Verb   string
	Status Status
	Hint   string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("cannot %s a %s container %q", e.Verb, e.Status, e.ID)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	if err := e.Unwrap(); err != nil {
		msg += ": " + err.Error()
	}
	return msg
}

func (e *StatusError) Unwrap() error {
	switch e.Status {
	case Stopped:
		return libcontainer.ErrNotRunning
	case Paused:
		return libcontainer.ErrPaused
	case Running:
		return libcontainer.ErrRunning
	}
	return nil
}
