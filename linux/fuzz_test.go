package linux

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadAndValidate writes the input as config.json into a fresh bundle
// and runs LoadSpec and Validate on it: neither may panic, and every error
// must wrap ErrInvalidSpec and hold well-formed field errors.
func FuzzLoadAndValidate(f *testing.F) {
	valid, err := json.Marshal(newBaseSpec())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, s := range []string{
		``,
		`null`,
		`{}`,
		`[]`,
		`{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"`,
		`{"ociVersion": 1}`,
		`{"mounts": [{"destination": "/a"}, {"destination": 5}]}`,
		`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "rel", "env": ["X"]},
		  "mounts": [{"destination": "rel"}, {"destination": "/b", "options": ["bind"], "source": "../missing"}],
		  "hostname": "h", "linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}, {"type": "user"}],
		  "resources": {"memory": {"limit": 10, "swap": 5}, "cpu": {"cpus": "3-1", "period": 1}},
		  "seccomp": {"defaultAction": "X", "syscalls": [{"names": [], "args": [{"op": "Y"}]}]}},
		  "hooks": {"poststop": [{"path": "x", "timeout": -1}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bundle := t.TempDir()
		if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		spec, err := LoadSpec(bundle, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("LoadSpec error does not wrap ErrInvalidSpec: %v", err)
			}
			return
		}
		for _, systemd := range []bool{false, true} {
			err := Validate(spec, ValidateOptions{Bundle: bundle, SystemdCgroup: systemd})
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate error does not wrap ErrInvalidSpec: %v", err)
			}
			fes := fieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("Validate error holds no *FieldError: %v", err)
			}
			for _, fe := range fes {
				if fe.Field == "" || fe.Msg == "" {
					t.Fatalf("malformed field error %#v in %v", fe, err)
				}
			}
		}
	})
}
