package state

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzReadRecord reads arbitrary bytes as a container's berth.json: no
// panic; an error names the container; and whatever was read is written
// back and read again unchanged.
func FuzzReadRecord(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"poststop": null}`, `{"poststart": [{"path": "/bin/true", "timeout": -1}]}`,
		`{"pid": -5, "pidStart": 18446744073709551615, "cgroupPaths": {"": "/sys/fs/cgroup/x", "cpu": ""}}`,
		`{"poststop": [{"path": "", "args": null, "env": ["A"]}], "unknown": 1}`, `{"pid": 1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		const id = "fuzzed"
		if err := os.Mkdir(r.ContainerDir(id), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.ContainerDir(id), recordFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		rec, err := r.ReadRecord(id)
		if err != nil {
			if !strings.Contains(err.Error(), id) {
				t.Fatalf("ReadRecord error does not name the container: %v", err)
			}
			return
		}
		if err := r.WriteRecord(id, rec); err != nil {
			t.Fatalf("WriteRecord of what ReadRecord returned: %v", err)
		}
		again, err := r.ReadRecord(id)
		if err != nil || !reflect.DeepEqual(normal(again), normal(rec)) {
			t.Fatalf("record changed over a write and read: %+v, then %+v (%v)", rec, again, err)
		}
	})
}

// normal makes empty and nil slices and maps compare equal.
func normal(r Record) Record {
	if len(r.Poststart) == 0 {
		r.Poststart = []specs.Hook(nil)
	}
	if len(r.Poststop) == 0 {
		r.Poststop = []specs.Hook(nil)
	}
	if len(r.CgroupPaths) == 0 {
		r.CgroupPaths = nil
	}
	return r
}
