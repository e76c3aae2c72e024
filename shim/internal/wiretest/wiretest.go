// Package wiretest has the tests' helpers for checking the shim's
// hand-written protobuf encoding (package lite and shim/wire.go) against
// containerd's generated messages, which only the tests link. (It must not
// import lite, whose tests use it.)
package wiretest

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Marshal encodes m with the generated code.
func Marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Unmarshal decodes b into m with the generated code.
func Unmarshal(t testing.TB, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
}

// PbAny wraps a generated message as containerd's typeurl does (the bare
// message name).
func PbAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	return &anypb.Any{TypeUrl: string(m.ProtoReflect().Descriptor().FullName()), Value: Marshal(t, m)}
}
