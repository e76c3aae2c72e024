package shim

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/opencontainers/runc/types"
	"google.golang.org/protobuf/proto"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
)

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
