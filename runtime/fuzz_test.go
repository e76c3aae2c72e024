package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-oci/berth/linux"
)

// FuzzExecProcessFile runs exec's --process handling on arbitrary bytes:
// read, decode, apply the overrides, validate. No panic; a rejection is a
// readable error that names --process or wraps ErrInvalidSpec.
func FuzzExecProcessFile(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"args":`, `{"args": ["sh"], "cwd": "/"}`,
		`{"args": ["sh"], "cwd": "/", "env": ["A"], "user": {"uid": 1, "gid": 2}}`,
		`{"args": [], "cwd": "relative", "capabilities": {"bounding": ["CAP_NOPE"]}}`,
		`{"args": ["sh"], "cwd": "/", "rlimits": [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 2}]}`,
		`{"args": ["sh"], "cwd": "/", "terminal": "yes"}`,
		`{"args": ["sh"], "cwd": "/", "user": {"uid": -1}}`,
		"\xff\xfe{}",
	} {
		f.Add([]byte(s), "", false)
	}
	f.Add([]byte(`{"args": ["sh"], "cwd": "/"}`), "rel", true)
	f.Fuzz(func(t *testing.T, data []byte, cwd string, addCap bool) {
		file := filepath.Join(t.TempDir(), "process.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		o := ExecOptions{ProcessFile: file, Overrides: ProcessOverrides{Cwd: cwd, Env: []string{"FUZZ=1"}}}
		if addCap {
			o.Overrides.Caps = []string{"CAP_CHOWN"}
		}
		p, err := execProcess(nil, o)
		if err != nil {
			msg := err.Error()
			if p != nil || msg == "" || !(strings.Contains(msg, "--process") || errors.Is(err, linux.ErrInvalidSpec)) {
				t.Fatalf("execProcess: %v (process %+v): a rejection must name --process or be an invalid spec", err, p)
			}
			return
		}
		if len(p.Args) == 0 || !strings.HasPrefix(p.Cwd, "/") {
			t.Fatalf("execProcess accepted %+v", p)
		}
		if _, err := linux.NewProcess(p); err != nil && err.Error() == "" {
			t.Fatal("NewProcess failed without a message")
		}
	})
}

// FuzzLoadState puts arbitrary bytes in a container's state.json and asks
// for its state and the list: berth must not panic (libcontainer's loader
// dereferences nil for some inputs), an error must name the container, and
// the light read (lightState) must say what libcontainer.Load says.
// Only read-only operations are fuzzed: a fuzzed state names arbitrary
// pids and cgroups, which delete or kill would act on.
func FuzzLoadState(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"config": null}`, `{"config": {}}`, `{"config": {"cgroups": null}}`,
		`{"config": {"cgroups": {}}}`, `{"id": "x", "init_process_pid": 0, "config": {"cgroups": {"name": "x"}}}`,
		`{"init_process_pid": "x", "config": 7}`, `{"config": {"cgroups": {"systemd": true}}}`,
		`{"config": {"cgroups": {}}, "cgroup_paths": {"freezer": "/nonexistent"}, "init_process_pid": 1, "init_process_start": 1}`,
		`{"config": {"rootfs": "/", "labels": ["bundle=/x", "nolabel"], "cgroups": {"path": "/"}}}`,
		`{"init_process_pid": 1, "init_process_start": 0, "created": "2026-01-02T03:04:05Z", "cgroup_paths": {"freezer": "/nonexistent"},
		  "config": {"version": "1.3.0", "rootfs": "/r", "labels": ["bundle=/b", "a=b"], "cgroups": {"name": "x"}}}`,
		`{"init_process_pid": 1, "init_process_start": 0, "created": "2026-01-02T03:04:05Z", "cgroup_paths": {"": "/sys/fs/cgroup/x"},
		  "config": {"cgroups": {"systemd": true, "resources": {"unified": {"a": "b"}}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := New(Options{Root: t.TempDir(), Rootless: "true"})
		if err != nil {
			t.Fatal(err)
		}
		const id = "fuzzed"
		dir := r.root.ContainerDir(id)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		// The light read must agree with libcontainer.Load wherever both
		// answer (the light read leaves the rest to Load).
		if light, err := r.lightState(id); err == nil {
			if full, err := r.loadState(id); err == nil {
				a, _ := json.Marshal(light)
				b, _ := json.Marshal(full)
				if !bytes.Equal(a, b) {
					t.Fatalf("light read differs from Load:\nlight %s\nload  %s", a, b)
				}
			}
		}
		if _, err := r.State(context.Background(), id); err != nil && !strings.Contains(err.Error(), id) {
			t.Fatalf("State: error does not name the container: %v", err)
		}
		_, unreadable, err := r.List(context.Background())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, err := range unreadable {
			if !strings.Contains(err.Error(), id) {
				t.Fatalf("List: error does not name the container: %v", err)
			}
		}
	})
}
