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
// the task API, the events API, the bootstrap protocol and the options
// messages with this file instead: plain Go structs and protowire, field
// numbers from containerd's .proto files (api v1.12.0: task v2 and v3 have
// the same messages). ttrpc still needs a proto.Message on the wire:
// emptypb.Empty carries the bytes as its unknown fields. wire_test.go
// checks every message against containerd's generated code.

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"
)

// ---- decoding ----

type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // varint fields
	b   []byte // length-delimited fields
}

func (f field) str() string   { return string(f.b) }
func (f field) flag() bool    { return f.u != 0 }
func (f field) u32() uint32   { return uint32(f.u) }
func (f field) isBytes() bool { return f.typ == protowire.BytesType }

// walk calls fn for each field of a message, in wire order. Fields of a
// wire type the caller does not expect are the caller's to ignore.
func walk(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("protobuf: %w", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("protobuf: field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// anyMsg is google.protobuf.Any.
type anyMsg struct {
	TypeURL string
	Value   []byte
}

func decodeAny(b []byte) (*anyMsg, error) {
	a := &anyMsg{}
	return a, walk(b, func(f field) error {
		switch {
		case f.num == 1 && f.isBytes():
			a.TypeURL = f.str()
		case f.num == 2 && f.isBytes():
			a.Value = f.b
		}
		return nil
	})
}

// ---- encoding ----

type encoder []byte

func (e *encoder) str(n protowire.Number, s string) {
	if s != "" {
		*e = protowire.AppendTag(*e, n, protowire.BytesType)
		*e = protowire.AppendString(*e, s)
	}
}

func (e *encoder) bytes(n protowire.Number, b []byte) {
	if len(b) > 0 {
		*e = protowire.AppendTag(*e, n, protowire.BytesType)
		*e = protowire.AppendBytes(*e, b)
	}
}

// message writes a present sub-message, even an empty one.
func (e *encoder) message(n protowire.Number, b []byte) {
	*e = protowire.AppendTag(*e, n, protowire.BytesType)
	*e = protowire.AppendBytes(*e, b)
}

func (e *encoder) uint(n protowire.Number, v uint64) {
	if v != 0 {
		*e = protowire.AppendTag(*e, n, protowire.VarintType)
		*e = protowire.AppendVarint(*e, v)
	}
}

func (e *encoder) flag(n protowire.Number, b bool) {
	if b {
		e.uint(n, 1)
	}
}

func (e *encoder) any(n protowire.Number, a *anyMsg) {
	if a == nil {
		return
	}
	var m encoder
	m.str(1, a.TypeURL)
	m.bytes(2, a.Value)
	e.message(n, m)
}

// timestamp writes a google.protobuf.Timestamp; the zero time is left out.
func (e *encoder) timestamp(n protowire.Number, t time.Time) {
	if t.IsZero() {
		return
	}
	var m encoder
	m.uint(1, uint64(t.Unix()))
	m.uint(2, uint64(t.Nanosecond()))
	e.message(n, m)
}

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
	return m, walk(b, func(f field) error {
		if !f.isBytes() {
			return nil
		}
		switch f.num {
		case 1:
			m.Type = f.str()
		case 2:
			m.Source = f.str()
		case 3:
			m.Target = f.str()
		case 4:
			m.Options = append(m.Options, f.str())
		}
		return nil
	})
}

func (m mount) encode() []byte {
	var e encoder
	e.str(1, m.Type)
	e.str(2, m.Source)
	e.str(3, m.Target)
	for _, o := range m.Options {
		e.message(4, []byte(o))
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
	Options                      *anyMsg // also CheckpointTaskRequest's
	Spec                         *anyMsg // ExecProcessRequest
	Width, Height                uint32  // ResizePtyRequest
	Signal                       uint32  // KillRequest
	All                          bool    // KillRequest
	CloseStdin                   bool    // CloseIORequest
	Path                         string  // CheckpointTaskRequest
	Resources                    *anyMsg // UpdateTaskRequest
	Now                          bool    // ShutdownRequest
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
	err := walk(b, func(f field) error {
		if f.num == 1 && f.isBytes() {
			r.ID = f.str()
			return nil
		}
		var err error
		switch kind {
		case reqID:
			if f.num == 2 && f.isBytes() {
				r.ExecID = f.str()
			}
		case reqCreate:
			switch {
			case f.num == 2 && f.isBytes():
				r.Bundle = f.str()
			case f.num == 3 && f.isBytes():
				var m mount
				m, err = decodeMount(f.b)
				r.Rootfs = append(r.Rootfs, m)
			case f.num == 4:
				r.Terminal = f.flag()
			case f.num == 5:
				r.Stdin = f.str()
			case f.num == 6:
				r.Stdout = f.str()
			case f.num == 7:
				r.Stderr = f.str()
			case f.num == 8:
				r.Checkpoint = f.str()
			case f.num == 9:
				r.ParentCheckpoint = f.str()
			case f.num == 10 && f.isBytes():
				r.Options, err = decodeAny(f.b)
			}
		case reqExec:
			switch {
			case f.num == 2:
				r.ExecID = f.str()
			case f.num == 3:
				r.Terminal = f.flag()
			case f.num == 4:
				r.Stdin = f.str()
			case f.num == 5:
				r.Stdout = f.str()
			case f.num == 6:
				r.Stderr = f.str()
			case f.num == 7 && f.isBytes():
				r.Spec, err = decodeAny(f.b)
			}
		case reqResize:
			switch f.num {
			case 2:
				r.ExecID = f.str()
			case 3:
				r.Width = f.u32()
			case 4:
				r.Height = f.u32()
			}
		case reqKill:
			switch f.num {
			case 2:
				r.ExecID = f.str()
			case 3:
				r.Signal = f.u32()
			case 4:
				r.All = f.flag()
			}
		case reqCloseIO:
			switch f.num {
			case 2:
				r.ExecID = f.str()
			case 3:
				r.CloseStdin = f.flag()
			}
		case reqCheckpoint:
			switch {
			case f.num == 2:
				r.Path = f.str()
			case f.num == 3 && f.isBytes():
				r.Options, err = decodeAny(f.b)
			}
		case reqUpdate:
			if f.num == 2 && f.isBytes() {
				r.Resources, err = decodeAny(f.b)
			}
		case reqShutdown:
			if f.num == 2 {
				r.Now = f.flag()
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
	var e encoder
	e.uint(1, uint64(pid))
	return e
}

// exitResponse is DeleteResponse.
func exitResponse(pid, status int, at time.Time) []byte {
	var e encoder
	e.uint(1, uint64(pid))
	e.uint(2, uint64(status))
	e.timestamp(3, at)
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
	var e encoder
	e.str(1, s.ID)
	e.str(2, s.Bundle)
	e.uint(3, uint64(s.Pid))
	e.uint(4, uint64(s.Status))
	e.str(5, s.Stdin)
	e.str(6, s.Stdout)
	e.str(7, s.Stderr)
	e.flag(8, s.Terminal)
	e.uint(9, uint64(s.ExitStatus))
	e.timestamp(10, s.ExitedAt)
	e.str(11, s.ExecID)
	return e
}

// processInfo is containerd.v1.types.ProcessInfo, for PidsResponse.
type processInfo struct {
	Pid  int
	Info *anyMsg
}

func pidsResponse(ps []processInfo) []byte {
	var e encoder
	for _, p := range ps {
		var m encoder
		m.uint(1, uint64(p.Pid))
		m.any(2, p.Info)
		e.message(1, m)
	}
	return e
}

// processDetails is containerd.runc.v1.ProcessDetails, the Info of an exec.
func processDetails(execID string) *anyMsg {
	var e encoder
	e.str(1, execID)
	return &anyMsg{TypeURL: "containerd.runc.v1.ProcessDetails", Value: e}
}

func waitResponse(status int, at time.Time) []byte {
	var e encoder
	e.uint(1, uint64(status))
	e.timestamp(2, at)
	return e
}

func statsResponse(stats *anyMsg) []byte {
	var e encoder
	e.any(1, stats)
	return e
}

func connectResponse(shimPid, taskPid int) []byte {
	var e encoder
	e.uint(1, uint64(shimPid))
	e.uint(2, uint64(taskPid))
	return e
}

// ---- events (containerd.events.*) ----

// event is one of containerd's task events: its type name and its bytes.
type event struct {
	typeName string
	data     []byte
}

func taskEvent(name string, build func(e *encoder)) event {
	var e encoder
	build(&e)
	return event{typeName: "containerd.events." + name, data: e}
}

func evCreate(id, bundle string, rootfs []mount, sio stdio, checkpoint string, pid int) event {
	return taskEvent("TaskCreate", func(e *encoder) {
		e.str(1, id)
		e.str(2, bundle)
		for _, m := range rootfs {
			e.message(3, m.encode())
		}
		var io encoder
		io.str(1, sio.stdin)
		io.str(2, sio.stdout)
		io.str(3, sio.stderr)
		io.flag(4, sio.terminal)
		e.message(4, io)
		e.str(5, checkpoint)
		e.uint(6, uint64(pid))
	})
}

func evStart(id string, pid int) event {
	return taskEvent("TaskStart", func(e *encoder) { e.str(1, id); e.uint(2, uint64(pid)) })
}

func evExit(id, execID string, pid, status int, at time.Time) event {
	return taskEvent("TaskExit", func(e *encoder) {
		e.str(1, id)
		e.str(2, execID)
		e.uint(3, uint64(pid))
		e.uint(4, uint64(status))
		e.timestamp(5, at)
	})
}

func evDelete(id string, pid, status int, at time.Time) event {
	return taskEvent("TaskDelete", func(e *encoder) {
		e.str(1, id)
		e.uint(2, uint64(pid))
		e.uint(3, uint64(status))
		e.timestamp(4, at)
	})
}

func evExecAdded(id, execID string) event {
	return taskEvent("TaskExecAdded", func(e *encoder) { e.str(1, id); e.str(2, execID) })
}

func evExecStarted(id, execID string, pid int) event {
	return taskEvent("TaskExecStarted", func(e *encoder) { e.str(1, id); e.str(2, execID); e.uint(3, uint64(pid)) })
}

func evPaused(id string) event  { return taskEvent("TaskPaused", func(e *encoder) { e.str(1, id) }) }
func evResumed(id string) event { return taskEvent("TaskResumed", func(e *encoder) { e.str(1, id) }) }
func evOOM(id string) event     { return taskEvent("TaskOOM", func(e *encoder) { e.str(1, id) }) }

func evCheckpointed(id, checkpoint string) event {
	return taskEvent("TaskCheckpointed", func(e *encoder) { e.str(1, id); e.str(2, checkpoint) })
}

// forwardRequest is containerd.services.events.ttrpc.v1.ForwardRequest
// with its Envelope.
func forwardRequest(at time.Time, ns, topic string, ev event) []byte {
	var env encoder
	env.timestamp(1, at)
	env.str(2, ns)
	env.str(3, topic)
	env.any(4, &anyMsg{TypeURL: ev.typeName, Value: ev.data})
	var e encoder
	e.message(1, env)
	return e
}

// ---- bootstrap, options, runtime info ----

// bootstrapParams is containerd.runtime.bootstrap.v1.BootstrapParams (the
// fields the shim uses).
type bootstrapParams struct {
	InstanceID, Namespace string
	TTRPCAddress          string
	SocketDir             string
	Extensions            []*anyMsg
}

func decodeBootstrapParams(b []byte) (*bootstrapParams, error) {
	p := &bootstrapParams{}
	return p, walk(b, func(f field) error {
		if !f.isBytes() {
			return nil
		}
		switch f.num {
		case 1:
			p.InstanceID = f.str()
		case 2:
			p.Namespace = f.str()
		case 5:
			p.TTRPCAddress = f.str()
		case 8:
			return walk(f.b, func(x field) error {
				if x.num == 1 && x.isBytes() {
					a, err := decodeAny(x.b)
					p.Extensions = append(p.Extensions, a)
					return err
				}
				return nil
			})
		case 9:
			p.SocketDir = f.str()
		}
		return nil
	})
}

// bootstrapResult is containerd.runtime.bootstrap.v1.BootstrapResult.
func bootstrapResult(version int, address, protocol string) []byte {
	var e encoder
	e.uint(1, uint64(version))
	e.str(2, address)
	e.str(3, protocol)
	return e
}

// runcOptions decodes containerd.runc.v1.Options.
func decodeRuncOptions(b []byte, o *options) error {
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			o.NoPivotRoot = f.flag()
		case 2:
			o.NoNewKeyring = f.flag()
		case 3:
			o.ShimCgroup = f.str()
		case 4:
			o.IoUID = f.u32()
		case 5:
			o.IoGID = f.u32()
		case 7:
			o.Root = f.str()
		case 9:
			o.SystemdCgroup = f.flag()
		case 10:
			o.CriuImagePath = f.str()
		case 11:
			o.CriuWorkPath = f.str()
		}
		return nil
	})
}

// runtimeOptions is runtimeoptions.v1.Options.
type runtimeOptions struct {
	TypeURL, ConfigPath string
	ConfigBody          []byte
}

func decodeRuntimeOptions(b []byte) (*runtimeOptions, error) {
	o := &runtimeOptions{}
	return o, walk(b, func(f field) error {
		switch f.num {
		case 1:
			o.TypeURL = f.str()
		case 2:
			o.ConfigPath = f.str()
		case 3:
			o.ConfigBody = f.b
		}
		return nil
	})
}

// checkpointOptions is containerd.runc.v1.CheckpointOptions.
type checkpointOptions struct {
	Exit, OpenTCP, ExternalUnixSockets, Terminal, FileLocks bool
	EmptyNamespaces                                         []string
	CgroupsMode, ImagePath, WorkPath, ParentPath            string
}

func decodeCheckpointOptions(b []byte) (*checkpointOptions, error) {
	o := &checkpointOptions{}
	return o, walk(b, func(f field) error {
		switch f.num {
		case 1:
			o.Exit = f.flag()
		case 2:
			o.OpenTCP = f.flag()
		case 3:
			o.ExternalUnixSockets = f.flag()
		case 4:
			o.Terminal = f.flag()
		case 5:
			o.FileLocks = f.flag()
		case 6:
			o.EmptyNamespaces = append(o.EmptyNamespaces, f.str())
		case 7:
			o.CgroupsMode = f.str()
		case 8:
			o.ImagePath = f.str()
		case 9:
			o.WorkPath = f.str()
		case 10:
			o.ParentPath = f.str()
		}
		return nil
	})
}

// runtimeInfo is containerd.types.RuntimeInfo, the -info answer.
func runtimeInfo(name, version, revision string, opts, features *anyMsg) []byte {
	var v encoder
	v.str(1, version)
	v.str(2, revision)
	var e encoder
	e.str(1, name)
	e.message(2, v)
	e.any(3, opts)
	e.any(4, features)
	return e
}
