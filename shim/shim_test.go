package shim

import (
	"reflect"
	"strconv"
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

// The hand-encoded metrics decode, with containerd/cgroups' generated
// code, into the same messages as the conversion through that code
// (stats_ref_test.go), for stats with every field set.
func TestMetrics(t *testing.T) {
	s := &types.Stats{}
	fill(reflect.ValueOf(s).Elem(), new(uint64))
	s.Memory.Raw = map[string]uint64{}
	for i, k := range append(v1MemoryKeys[:], v2MemoryKeys[:]...) {
		s.Memory.Raw[k] = uint64(1000 + i)
	}
	s.Hugetlb = map[string]types.Hugetlb{"2MB": {Usage: 1, Max: 2, Failcnt: 3}}
	s.Blkio.IoServiceBytesRecursive = []types.BlkioEntry{{Major: 8, Op: "Read", Value: 100}, {Major: 8, Op: "Write", Value: 200}, {Major: 9, Minor: 1, Op: "read", Value: 7}}
	s.Blkio.IoServicedRecursive = []types.BlkioEntry{{Major: 8, Op: "Read", Value: 10}, {Major: 8, Op: "Write", Value: 20}}
	for _, tc := range []struct {
		unified bool
		url     string
		want    proto.Message
		got     proto.Message
	}{
		{false, "io.containerd.cgroups.v1.Metrics", metricsV1Ref(s), &v1.Metrics{}},
		{true, "io.containerd.cgroups.v2.Metrics", metricsV2Ref(s), &v2.Metrics{}},
	} {
		a, err := metrics(s, tc.unified)
		if err != nil || a.TypeURL != tc.url {
			t.Fatalf("metrics: %v %v", a, err)
		}
		if err := proto.Unmarshal(a.Value, tc.got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(tc.got, tc.want) {
			t.Errorf("%s:\ngot  %v\nwant %v", tc.url, tc.got, tc.want)
		}
	}
}

// fill sets every number, string and float in v to a value of its own, and
// makes slices of one element and pointers to filled values.
func fill(v reflect.Value, next *uint64) {
	switch v.Kind() {
	case reflect.Uint64, reflect.Uint32, reflect.Uint16:
		*next++
		v.SetUint(*next)
	case reflect.Int64, reflect.Int:
		*next++
		v.SetInt(int64(*next))
	case reflect.Float64:
		*next++
		v.SetFloat(float64(*next) + 0.5)
	case reflect.String:
		*next++
		v.SetString("s" + strconv.FormatUint(*next, 10))
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), next)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), next)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), next)
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
