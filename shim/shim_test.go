package shim

import (
	"testing"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	runcopts "github.com/containerd/containerd/api/types/runc/options"
	runtimeopts "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/opencontainers/runc/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
)

// anyOf wraps a generated message as containerd's typeurl does (the bare
// message name).
func anyOf(t *testing.T, m proto.Message) *anyMsg {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return &anyMsg{TypeURL: string(m.ProtoReflect().Descriptor().FullName()), Value: data}
}

// pbAny is anyOf as a generated Any.
func pbAny(t *testing.T, m proto.Message) *anypb.Any {
	a := anyOf(t, m)
	return &anypb.Any{TypeUrl: a.TypeURL, Value: a.Value}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(anyOf(t, &runcopts.Options{Root: "/r", SystemdCgroup: true, NoPivotRoot: true, IoUid: 7}))
	if err != nil || o.Root != "/r" || !o.SystemdCgroup || !o.NoPivotRoot || o.IoUID != 7 {
		t.Fatalf("runc options: %+v %v", o, err)
	}
	if got := o.stateRoot("k8s.io"); got != "/r/k8s.io" {
		t.Errorf("stateRoot = %s", got)
	}
	// containerd 2.x's CRI passes the handler's table as TOML (go-toml
	// writes single-quoted strings).
	body := "Root = '/run/x'\nSystemdCgroup = true\nIoGid = 5\nBinaryName = 'ignored'\n[Other]\nKey = 1\n"
	o, err = parseOptions(anyOf(t, &runtimeopts.Options{ConfigBody: []byte(body)}))
	if err != nil || o.Root != "/run/x" || !o.SystemdCgroup || o.IoGID != 5 {
		t.Fatalf("ConfigBody: %+v %v", o, err)
	}
	if _, err := parseOptions(anyOf(t, &runtimeopts.Options{ConfigBody: []byte("SystemdCgroup = maybe\n")})); err == nil {
		t.Error("a bad boolean was accepted")
	}
	if _, err := parseOptions(&anyMsg{TypeURL: "some.Other"}); err == nil {
		t.Error("foreign options were accepted")
	}
	if o, err := parseOptions(nil); err != nil || o.stateRoot("ns") != DefaultRoot+"/ns" {
		t.Errorf("no options: %+v %v", o, err)
	}
}

func TestReadStartParams(t *testing.T) {
	f := &flags{id: "c1", namespace: "ns"}
	// containerd 2.3+: bootstrap parameters with the options as an extension.
	bp := &bootapi.BootstrapParams{InstanceID: "c1", Namespace: "ns", ContainerdTtrpcAddress: "/x.ttrpc"}
	bp.Extensions = append(bp.Extensions, &bootapi.Extension{Value: pbAny(t, &runcopts.Options{Root: "/r"})})
	data, _ := proto.Marshal(bp)
	p, err := readStartParams(f, data)
	if err != nil || !p.bootstrap || p.ttrpcAddress != "/x.ttrpc" || p.options == nil {
		t.Fatalf("bootstrap: %+v %v", p, err)
	}
	// Older containerd: the options Any itself.
	data, _ = proto.Marshal(pbAny(t, &runcopts.Options{Root: "/r"}))
	p, err = readStartParams(f, data)
	if err != nil || p.bootstrap || p.options == nil {
		t.Fatalf("legacy: %+v %v", p, err)
	}
	if o, err := parseOptions(p.options); err != nil || o.Root != "/r" {
		t.Fatalf("legacy options: %+v %v", o, err)
	}
	p, err = readStartParams(f, nil)
	if err != nil || p.bootstrap || p.options != nil {
		t.Fatalf("empty: %+v %v", p, err)
	}
}

func TestMetrics(t *testing.T) {
	s := &types.Stats{}
	s.CPU.Usage.Total, s.CPU.Usage.User = 3000, 1000
	s.Memory.Usage = types.MemoryEntry{Usage: 10, Limit: 64 << 20}
	s.Memory.Raw = map[string]uint64{"rss": 5, "anon": 6, "file": 7}
	s.Pids.Current = 3
	s.Blkio.IoServiceBytesRecursive = []types.BlkioEntry{{Major: 8, Op: "Read", Value: 100}, {Major: 8, Op: "Write", Value: 200}}
	a, err := metrics(s, false)
	if err != nil || a.TypeURL != "io.containerd.cgroups.v1.Metrics" {
		t.Fatalf("v1: %v %v", a, err)
	}
	m1 := &v1.Metrics{}
	if err := proto.Unmarshal(a.Value, m1); err != nil {
		t.Fatal(err)
	}
	if m1.Memory.Usage.Limit != 64<<20 || m1.Memory.RSS != 5 || m1.CPU.Usage.Total != 3000 || m1.Pids.Current != 3 {
		t.Errorf("v1: %v", m1)
	}
	a, err = metrics(s, true)
	if err != nil || a.TypeURL != "io.containerd.cgroups.v2.Metrics" {
		t.Fatalf("v2: %v %v", a, err)
	}
	m2 := &v2.Metrics{}
	if err := proto.Unmarshal(a.Value, m2); err != nil {
		t.Fatal(err)
	}
	if m2.Memory.UsageLimit != 64<<20 || m2.Memory.Anon != 6 || m2.CPU.UsageUsec != 3 || len(m2.Io.Usage) != 1 || m2.Io.Usage[0].Rbytes != 100 || m2.Io.Usage[0].Wbytes != 200 {
		t.Errorf("v2: %v", m2)
	}
}

func TestSocketAddress(t *testing.T) {
	a := socketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "k8s.io", "pod1")
	if a != socketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "k8s.io", "pod1") {
		t.Error("not stable")
	}
	for _, b := range []string{
		socketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "k8s.io", "pod2"),
		socketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "default", "pod1"),
		socketAddress("/run/containerd/s", "/other.sock", "k8s.io", "pod1"),
	} {
		if a == b {
			t.Errorf("%s shared", a)
		}
	}
	if len(socketPath(a)) >= 108 {
		t.Errorf("socket path too long: %s", a)
	}
}
