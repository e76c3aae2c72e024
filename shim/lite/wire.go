package lite

// containerd's messages, encoded and decoded by hand with protowire.
//
// The shim's daemon binary is also every container's init and every exec's
// setns process (libcontainer re-executes it), so every package it links
// has its init functions run there; containerd's generated API packages and
// protobuf's registry would cost several ms of CPU in each (see
// shim/wire.go). And containerd-shim-berth-v2, which containerd executes
// for every start and delete, links nothing but this package, protowire and
// the standard library. So the shim speaks containerd's protocols with
// these primitives: plain Go structs and protowire, field numbers from
// containerd's .proto files (api v1.12.0). This file has the primitives and
// the messages of start and delete (bootstrap, options, DeleteResponse);
// shim/wire.go the task API and the events. The tests check every message
// against containerd's generated code.

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// ---- decoding ----

// Field is one field of a message on the wire.
type Field struct {
	Num protowire.Number
	Typ protowire.Type
	U   uint64 // varint fields
	B   []byte // length-delimited fields
}

func (f Field) Str() string   { return string(f.B) }
func (f Field) Flag() bool    { return f.U != 0 }
func (f Field) U32() uint32   { return uint32(f.U) }
func (f Field) IsBytes() bool { return f.Typ == protowire.BytesType }

// Walk calls fn for each field of a message, in wire order. Fields of a
// wire type the caller does not expect are the caller's to ignore.
func Walk(b []byte, fn func(f Field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("protobuf: %w", protowire.ParseError(n))
		}
		b = b[n:]
		f := Field{Num: num, Typ: typ}
		switch typ {
		case protowire.VarintType:
			f.U, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.B, n = protowire.ConsumeBytes(b)
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

// Any is google.protobuf.Any.
type Any struct {
	TypeURL string
	Value   []byte
}

func DecodeAny(b []byte) (*Any, error) {
	a := &Any{}
	return a, Walk(b, func(f Field) error {
		switch {
		case f.Num == 1 && f.IsBytes():
			a.TypeURL = f.Str()
		case f.Num == 2 && f.IsBytes():
			a.Value = f.B
		}
		return nil
	})
}

// ---- encoding ----

// Encoder appends fields to a message; proto3's defaults (zero values)
// are left out.
type Encoder []byte

func (e *Encoder) Str(n protowire.Number, s string) {
	if s != "" {
		*e = protowire.AppendTag(*e, n, protowire.BytesType)
		*e = protowire.AppendString(*e, s)
	}
}

func (e *Encoder) Bytes(n protowire.Number, b []byte) {
	if len(b) > 0 {
		*e = protowire.AppendTag(*e, n, protowire.BytesType)
		*e = protowire.AppendBytes(*e, b)
	}
}

// Message writes a present sub-message, even an empty one.
func (e *Encoder) Message(n protowire.Number, b []byte) {
	*e = protowire.AppendTag(*e, n, protowire.BytesType)
	*e = protowire.AppendBytes(*e, b)
}

func (e *Encoder) Uint(n protowire.Number, v uint64) {
	if v != 0 {
		*e = protowire.AppendTag(*e, n, protowire.VarintType)
		*e = protowire.AppendVarint(*e, v)
	}
}

func (e *Encoder) Flag(n protowire.Number, b bool) {
	if b {
		e.Uint(n, 1)
	}
}

func (e *Encoder) Double(n protowire.Number, v float64) {
	if v != 0 {
		*e = protowire.AppendTag(*e, n, protowire.Fixed64Type)
		*e = protowire.AppendFixed64(*e, math.Float64bits(v))
	}
}

// Packed writes a repeated uint64 field in proto3's packed form.
func (e *Encoder) Packed(n protowire.Number, vs []uint64) {
	if len(vs) == 0 {
		return
	}
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, v)
	}
	e.Message(n, b)
}

func (e *Encoder) Any(n protowire.Number, a *Any) {
	if a == nil {
		return
	}
	var m Encoder
	m.Str(1, a.TypeURL)
	m.Bytes(2, a.Value)
	e.Message(n, m)
}

// Timestamp writes a google.protobuf.Timestamp; the zero time is left out.
func (e *Encoder) Timestamp(n protowire.Number, t time.Time) {
	if t.IsZero() {
		return
	}
	var m Encoder
	m.Uint(1, uint64(t.Unix()))
	m.Uint(2, uint64(t.Nanosecond()))
	e.Message(n, m)
}

// ---- the messages of start and delete ----

// ExitResponse is the task API's DeleteResponse (the same message in task
// API v2 and v3), also what the delete action prints.
func ExitResponse(pid, status int, at time.Time) []byte {
	var e Encoder
	e.Uint(1, uint64(pid))
	e.Uint(2, uint64(status))
	e.Timestamp(3, at)
	return e
}

// bootstrapParams is containerd.runtime.bootstrap.v1.BootstrapParams (the
// fields the shim uses).
type bootstrapParams struct {
	InstanceID, Namespace string
	TTRPCAddress          string
	SocketDir             string
	Extensions            []*Any
}

func decodeBootstrapParams(b []byte) (*bootstrapParams, error) {
	p := &bootstrapParams{}
	return p, Walk(b, func(f Field) error {
		if !f.IsBytes() {
			return nil
		}
		switch f.Num {
		case 1:
			p.InstanceID = f.Str()
		case 2:
			p.Namespace = f.Str()
		case 5:
			p.TTRPCAddress = f.Str()
		case 8:
			return Walk(f.B, func(x Field) error {
				if x.Num == 1 && x.IsBytes() {
					a, err := DecodeAny(x.B)
					p.Extensions = append(p.Extensions, a)
					return err
				}
				return nil
			})
		case 9:
			p.SocketDir = f.Str()
		}
		return nil
	})
}

// bootstrapResult is containerd.runtime.bootstrap.v1.BootstrapResult.
func bootstrapResult(version int, address, protocol string) []byte {
	var e Encoder
	e.Uint(1, uint64(version))
	e.Str(2, address)
	e.Str(3, protocol)
	return e
}

// decodeRuncOptions decodes containerd.runc.v1.Options.
func decodeRuncOptions(b []byte, o *Options) error {
	return Walk(b, func(f Field) error {
		switch f.Num {
		case 1:
			o.NoPivotRoot = f.Flag()
		case 2:
			o.NoNewKeyring = f.Flag()
		case 3:
			o.ShimCgroup = f.Str()
		case 4:
			o.IoUID = f.U32()
		case 5:
			o.IoGID = f.U32()
		case 7:
			o.Root = f.Str()
		case 9:
			o.SystemdCgroup = f.Flag()
		case 10:
			o.CriuImagePath = f.Str()
		case 11:
			o.CriuWorkPath = f.Str()
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
	return o, Walk(b, func(f Field) error {
		switch f.Num {
		case 1:
			o.TypeURL = f.Str()
		case 2:
			o.ConfigPath = f.Str()
		case 3:
			o.ConfigBody = f.B
		}
		return nil
	})
}
