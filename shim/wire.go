package shim

// containerd's messages, encoded and decoded by hand with protowire.
//
// The shim binary is also every container's init and every exec's setns
// process (libcontainer re-executes it), so every package it links has its
// init functions run there. containerd's generated API packages import
// github.com/containerd/containerd/api/types, whose init builds the
// descriptors of descriptor.proto (its fieldpath option) and compiles
// go-digest's regular expressions: measured, about 6 ms of CPU in every
// container init, nearly half of the binary's start-up. So the shim speaks
// the task API and the events API with this file instead, on package
// lite's protowire primitives (lite/wire.go, which has the bootstrap,
// options and DeleteResponse messages): plain Go structs and protowire,
// field numbers from containerd's .proto files (api v1.12.0: task v2 and v3
// have the same messages). ttrpc still needs a proto.Message on the wire:
// emptypb.Empty carries the bytes as its unknown fields. wire_test.go
// checks every message against containerd's generated code.

import (
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/berth-oci/berth/shim/lite"
)

// wireMsg carries encoded bytes through ttrpc, which wants a proto.Message:
// an Empty whose unknown fields are the message.
func wireMsg(b []byte) *emptypb.Empty {
	m := &emptypb.Empty{}
	if len(b) > 0 {
		m.ProtoReflect().SetUnknown(protoreflect.RawFields(b))
	}
	return m
}

func wireBytes(m *emptypb.Empty) []byte { return m.ProtoReflect().GetUnknown() }

// ---- the task API (containerd.task.v2.Task, containerd.task.v3.Task) ----

type mount struct {
	Type, Source, Target string
	Options              []string
}

func decodeMount(b []byte) (mount, error) {
	var m mount
	return m, lite.Walk(b, func(f lite.Field) error {
		if !f.IsBytes() {
			return nil
		}
		switch f.Num {
		case 1:
			m.Type = f.Str()
		case 2:
			m.Source = f.Str()
		case 3:
			m.Target = f.Str()
		case 4:
			m.Options = append(m.Options, f.Str())
		}
		return nil
	})
}

func (m mount) encode() []byte {
	var e lite.Encoder
	e.Str(1, m.Type)
	e.Str(2, m.Source)
	e.Str(3, m.Target)
	for _, o := range m.Options {
		e.Message(4, []byte(o))
	}
	return e
}

// taskRequest is every request of the task API: each decodes the fields it
// has (id 1 and exec_id 2 are common to most).
type taskRequest struct {
	ID, ExecID string

	// CreateTaskRequest
	Bundle                       string
	Rootfs                       []mount
	Terminal                     bool
	Stdin, Stdout, Stderr        string
	Checkpoint, ParentCheckpoint string
	Options                      *lite.Any // also CheckpointTaskRequest's
	Spec                         *lite.Any // ExecProcessRequest
	Width, Height                uint32    // ResizePtyRequest
	Signal                       uint32    // KillRequest
	All                          bool      // KillRequest
	CloseStdin                   bool      // CloseIORequest
	Path                         string    // CheckpointTaskRequest
	Resources                    *lite.Any // UpdateTaskRequest
	Now                          bool      // ShutdownRequest
}

// The messages' field layouts, by request type.
type requestKind int

const (
	reqID         requestKind = iota // id, exec_id: State, Start, Delete, Wait, Pids, Pause, Resume, Stats, Connect
	reqCreate                        // CreateTaskRequest
	reqExec                          // ExecProcessRequest
	reqResize                        // ResizePtyRequest
	reqKill                          // KillRequest
	reqCloseIO                       // CloseIORequest
	reqCheckpoint                    // CheckpointTaskRequest
	reqUpdate                        // UpdateTaskRequest
	reqShutdown                      // ShutdownRequest
)

func decodeRequest(kind requestKind, b []byte) (*taskRequest, error) {
	r := &taskRequest{}
	err := lite.Walk(b, func(f lite.Field) error {
		if f.Num == 1 && f.IsBytes() {
			r.ID = f.Str()
			return nil
		}
		var err error
		switch kind {
		case reqID:
			if f.Num == 2 && f.IsBytes() {
				r.ExecID = f.Str()
			}
		case reqCreate:
			switch {
			case f.Num == 2 && f.IsBytes():
				r.Bundle = f.Str()
			case f.Num == 3 && f.IsBytes():
				var m mount
				m, err = decodeMount(f.B)
				r.Rootfs = append(r.Rootfs, m)
			case f.Num == 4:
				r.Terminal = f.Flag()
			case f.Num == 5:
				r.Stdin = f.Str()
			case f.Num == 6:
				r.Stdout = f.Str()
			case f.Num == 7:
				r.Stderr = f.Str()
			case f.Num == 8:
				r.Checkpoint = f.Str()
			case f.Num == 9:
				r.ParentCheckpoint = f.Str()
			case f.Num == 10 && f.IsBytes():
				r.Options, err = lite.DecodeAny(f.B)
			}
		case reqExec:
			switch {
			case f.Num == 2:
				r.ExecID = f.Str()
			case f.Num == 3:
				r.Terminal = f.Flag()
			case f.Num == 4:
				r.Stdin = f.Str()
			case f.Num == 5:
				r.Stdout = f.Str()
			case f.Num == 6:
				r.Stderr = f.Str()
			case f.Num == 7 && f.IsBytes():
				r.Spec, err = lite.DecodeAny(f.B)
			}
		case reqResize:
			switch f.Num {
			case 2:
				r.ExecID = f.Str()
			case 3:
				r.Width = f.U32()
			case 4:
				r.Height = f.U32()
			}
		case reqKill:
			switch f.Num {
			case 2:
				r.ExecID = f.Str()
			case 3:
				r.Signal = f.U32()
			case 4:
				r.All = f.Flag()
			}
		case reqCloseIO:
			switch f.Num {
			case 2:
				r.ExecID = f.Str()
			case 3:
				r.CloseStdin = f.Flag()
			}
		case reqCheckpoint:
			switch {
			case f.Num == 2:
				r.Path = f.Str()
			case f.Num == 3 && f.IsBytes():
				r.Options, err = lite.DecodeAny(f.B)
			}
		case reqUpdate:
			if f.Num == 2 && f.IsBytes() {
				r.Resources, err = lite.DecodeAny(f.B)
			}
		case reqShutdown:
			if f.Num == 2 {
				r.Now = f.Flag()
			}
		}
		return err
	})
	return r, err
}

// Task status values (containerd.v1.types.Status).
type taskStatus uint64

const (
	statusUnknown taskStatus = iota
	statusCreated
	statusRunning
	statusStopped
	statusPaused
	statusPausing
)

// pidResponse is CreateTaskResponse and StartResponse.
func pidResponse(pid int) []byte {
	var e lite.Encoder
	e.Uint(1, uint64(pid))
	return e
}

type stateResponse struct {
	ID, Bundle            string
	Pid                   int
	Status                taskStatus
	Stdin, Stdout, Stderr string
	Terminal              bool
	ExitStatus            int
	ExitedAt              time.Time
	ExecID                string
}

func (s *stateResponse) encode() []byte {
	var e lite.Encoder
	e.Str(1, s.ID)
	e.Str(2, s.Bundle)
	e.Uint(3, uint64(s.Pid))
	e.Uint(4, uint64(s.Status))
	e.Str(5, s.Stdin)
	e.Str(6, s.Stdout)
	e.Str(7, s.Stderr)
	e.Flag(8, s.Terminal)
	e.Uint(9, uint64(s.ExitStatus))
	e.Timestamp(10, s.ExitedAt)
	e.Str(11, s.ExecID)
	return e
}

// processInfo is containerd.v1.types.ProcessInfo, for PidsResponse.
type processInfo struct {
	Pid  int
	Info *lite.Any
}

func pidsResponse(ps []processInfo) []byte {
	var e lite.Encoder
	for _, p := range ps {
		var m lite.Encoder
		m.Uint(1, uint64(p.Pid))
		m.Any(2, p.Info)
		e.Message(1, m)
	}
	return e
}

// processDetails is containerd.runc.v1.ProcessDetails, the Info of an exec.
func processDetails(execID string) *lite.Any {
	var e lite.Encoder
	e.Str(1, execID)
	return &lite.Any{TypeURL: "containerd.runc.v1.ProcessDetails", Value: e}
}

func waitResponse(status int, at time.Time) []byte {
	var e lite.Encoder
	e.Uint(1, uint64(status))
	e.Timestamp(2, at)
	return e
}

func statsResponse(stats *lite.Any) []byte {
	var e lite.Encoder
	e.Any(1, stats)
	return e
}

func connectResponse(shimPid, taskPid int) []byte {
	var e lite.Encoder
	e.Uint(1, uint64(shimPid))
	e.Uint(2, uint64(taskPid))
	return e
}

// ---- events (containerd.events.*) ----

// event is one of containerd's task events: its type name and its bytes.
type event struct {
	typeName string
	data     []byte
}

func taskEvent(name string, build func(e *lite.Encoder)) event {
	var e lite.Encoder
	build(&e)
	return event{typeName: "containerd.events." + name, data: e}
}

func evCreate(id, bundle string, rootfs []mount, sio stdio, checkpoint string, pid int) event {
	return taskEvent("TaskCreate", func(e *lite.Encoder) {
		e.Str(1, id)
		e.Str(2, bundle)
		for _, m := range rootfs {
			e.Message(3, m.encode())
		}
		var io lite.Encoder
		io.Str(1, sio.stdin)
		io.Str(2, sio.stdout)
		io.Str(3, sio.stderr)
		io.Flag(4, sio.terminal)
		e.Message(4, io)
		e.Str(5, checkpoint)
		e.Uint(6, uint64(pid))
	})
}

func evStart(id string, pid int) event {
	return taskEvent("TaskStart", func(e *lite.Encoder) { e.Str(1, id); e.Uint(2, uint64(pid)) })
}

func evExit(id, execID string, pid, status int, at time.Time) event {
	return taskEvent("TaskExit", func(e *lite.Encoder) {
		e.Str(1, id)
		e.Str(2, execID)
		e.Uint(3, uint64(pid))
		e.Uint(4, uint64(status))
		e.Timestamp(5, at)
	})
}

func evDelete(id string, pid, status int, at time.Time) event {
	return taskEvent("TaskDelete", func(e *lite.Encoder) {
		e.Str(1, id)
		e.Uint(2, uint64(pid))
		e.Uint(3, uint64(status))
		e.Timestamp(4, at)
	})
}

func evExecAdded(id, execID string) event {
	return taskEvent("TaskExecAdded", func(e *lite.Encoder) { e.Str(1, id); e.Str(2, execID) })
}

func evExecStarted(id, execID string, pid int) event {
	return taskEvent("TaskExecStarted", func(e *lite.Encoder) { e.Str(1, id); e.Str(2, execID); e.Uint(3, uint64(pid)) })
}

func evPaused(id string) event {
	return taskEvent("TaskPaused", func(e *lite.Encoder) { e.Str(1, id) })
}
func evResumed(id string) event {
	return taskEvent("TaskResumed", func(e *lite.Encoder) { e.Str(1, id) })
}
func evOOM(id string) event { return taskEvent("TaskOOM", func(e *lite.Encoder) { e.Str(1, id) }) }

func evCheckpointed(id, checkpoint string) event {
	return taskEvent("TaskCheckpointed", func(e *lite.Encoder) { e.Str(1, id); e.Str(2, checkpoint) })
}

// forwardRequest is containerd.services.events.ttrpc.v1.ForwardRequest
// with its Envelope.
func forwardRequest(at time.Time, ns, topic string, ev event) []byte {
	var env lite.Encoder
	env.Timestamp(1, at)
	env.Str(2, ns)
	env.Str(3, topic)
	env.Any(4, &lite.Any{TypeURL: ev.typeName, Value: ev.data})
	var e lite.Encoder
	e.Message(1, env)
	return e
}

// ---- checkpoint options, runtime info ----

// checkpointOptions is containerd.runc.v1.CheckpointOptions.
type checkpointOptions struct {
	Exit, OpenTCP, ExternalUnixSockets, Terminal, FileLocks bool
	EmptyNamespaces                                         []string
	CgroupsMode, ImagePath, WorkPath, ParentPath            string
}

func decodeCheckpointOptions(b []byte) (*checkpointOptions, error) {
	o := &checkpointOptions{}
	return o, lite.Walk(b, func(f lite.Field) error {
		switch f.Num {
		case 1:
			o.Exit = f.Flag()
		case 2:
			o.OpenTCP = f.Flag()
		case 3:
			o.ExternalUnixSockets = f.Flag()
		case 4:
			o.Terminal = f.Flag()
		case 5:
			o.FileLocks = f.Flag()
		case 6:
			o.EmptyNamespaces = append(o.EmptyNamespaces, f.Str())
		case 7:
			o.CgroupsMode = f.Str()
		case 8:
			o.ImagePath = f.Str()
		case 9:
			o.WorkPath = f.Str()
		case 10:
			o.ParentPath = f.Str()
		}
		return nil
	})
}

// runtimeInfo is containerd.types.RuntimeInfo, the -info answer.
func runtimeInfo(name, version, revision string, opts, features *lite.Any) []byte {
	var v lite.Encoder
	v.Str(1, version)
	v.Str(2, revision)
	var e lite.Encoder
	e.Str(1, name)
	e.Message(2, v)
	e.Any(3, opts)
	e.Any(4, features)
	return e
}
