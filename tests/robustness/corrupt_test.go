package robustness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// corruptions are what a state.json can turn into: lost writes, a full
// disk, a stray editor, a bit flip.
// The last ones still parse, but lie: the init pid or the cgroup paths are
// gone.
var corruptions = []struct {
	name   string
	mess   func(old []byte) []byte
	parses bool
}{
	{"empty", func([]byte) []byte { return nil }, false},
	{"truncated", func(old []byte) []byte { return old[:len(old)/2] }, false},
	{"garbage", func([]byte) []byte { return []byte("\x00\xff garbage {{{ \n") }, false},
	{"null", func([]byte) []byte { return []byte("null") }, false},
	{"emptyObject", func([]byte) []byte { return []byte("{}") }, false},
	{"wrongTypes", func([]byte) []byte { return []byte(`{"init_process_pid": "x", "config": 7}`) }, false},
	{"noConfig", func(old []byte) []byte { return withoutKeys(old, "config") }, false},
	{"noInit", func(old []byte) []byte { return withoutKeys(old, "init_process_pid", "init_process_start") }, true},
	{"noCgroups", func(old []byte) []byte { return withoutKeys(old, "cgroup_paths") }, true},
}

// withoutKeys drops top-level keys from a JSON object.
func withoutKeys(data []byte, keys ...string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		panic(err)
	}
	for _, k := range keys {
		delete(m, k)
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// TestCorruptState corrupts the state.json of a created and of a running
// container: state must fail with an error naming the container and how to
// remove it (no panic, no hang), list must keep working, and delete --force
// must still kill the container's processes and remove its cgroups and
// state.
func TestCorruptState(t *testing.T) {
	for _, status := range []string{"created", "running"} {
		for _, c := range corruptions {
			t.Run(status+"/"+c.name, func(t *testing.T) {
				w := newWorld(t)
				b := w.newBundle("sleep", "1000")
				healthy, id, st := w.besideHealthy(b, status)
				file := filepath.Join(w.Root, id, "state.json")
				old, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, c.mess(old), 0o600); err != nil {
					t.Fatal(err)
				}

				if c.parses {
					// Whatever berth makes of it, it must not crash or hang.
					for _, op := range [][]string{{"state", id}, {"list"}, {"kill", id, "CONT"}} {
						if r := w.start(opts{timeout: 10 * time.Second}, op...).Wait(); r.TimedOut || r.Panicked() {
							t.Errorf("%s: hung or panicked: %s", op[0], r)
						}
					}
				} else {
					checkUnreadable(w, id, healthy)
				}
				if r := w.start(opts{timeout: 15 * time.Second}, "delete", "--force", id).Wait(); !r.OK() || r.Panicked() {
					t.Errorf("delete --force of a container with a %s state.json: %s", c.name, r)
				}
				if testkit.Alive(st.Pid) {
					t.Errorf("init pid %d still alive after delete --force", st.Pid)
				}
				w.checkClean(fmt.Sprintf("%s container with a %s state.json, then delete --force", status, c.name), id)
				if st, r := w.state(healthy); st == nil || st.Status != "created" {
					t.Errorf("the healthy container beside it: want created, got %+v: %s", st, r)
				}
			})
		}
	}
}

// TestMissingIDLeavesNoLock: commands that lock a container leave no lock
// file behind for an id that does not exist.
func TestMissingIDLeavesNoLock(t *testing.T) {
	w := newWorld(t)
	id := w.NewID()
	for _, op := range [][]string{
		{"start", id}, {"kill", id}, {"kill", "--all", id, "KILL"}, {"pause", id}, {"resume", id},
		{"update", "--memory", "10m", id}, {"delete", id}, {"delete", "--force", id}, {"state", id},
		{"exec", id, "true"}, {"ps", id}, {"events", "--stats", id},
	} {
		r := w.start(opts{timeout: 10 * time.Second}, op...).Wait()
		if r.TimedOut || r.Panicked() {
			t.Errorf("%s on a missing id hung or panicked: %s", op[0], r)
		}
		if op[0] != "delete" || op[1] != "--force" {
			if r.OK() || !strings.Contains(r.Stderr, "does not exist") {
				t.Errorf("%s on a missing id: want \"does not exist\": %s", op[0], r)
			}
		}
		if ents, _ := os.ReadDir(w.Root); len(ents) > 0 {
			t.Errorf("`%s` on a missing id left %s in the root", strings.Join(op, " "), ents[0].Name())
			_ = os.RemoveAll(filepath.Join(w.Root, ents[0].Name()))
		}
	}
}

// checkUnreadable checks berth's answers about container id, whose state
// cannot be read, beside the healthy container.
func checkUnreadable(w *world, id, healthy string) {
	t := w.t
	t.Helper()
	got, r := w.state(id)
	switch {
	case got != nil:
		t.Errorf("state of a container with an unreadable state.json succeeded: %+v", *got)
	case r.Panicked():
		// reported by w.state
	case !strings.Contains(r.Stderr, id) || !strings.Contains(r.Stderr, "delete --force"):
		t.Errorf("state's error must name the container and `delete --force`: %s", r)
	}
	lr := w.start(opts{timeout: 10 * time.Second}, "list", "--format", "json").Wait()
	var all []testkit.State
	if !lr.OK() || lr.Panicked() || json.Unmarshal([]byte(lr.Stdout), &all) != nil || len(all) != 1 || all[0].ID != healthy {
		t.Errorf("list beside an unreadable container: want the healthy one %s listed: %s", healthy, lr)
	} else if !strings.Contains(lr.Stderr, id) {
		t.Errorf("list must warn about the unreadable container %s: %s", id, lr)
	}
	for _, op := range [][]string{{"kill", id, "KILL"}, {"start", id}, {"pause", id}, {"exec", id, "true"}, {"delete", id}} {
		if r := w.start(opts{timeout: 10 * time.Second}, op...).Wait(); r.OK() || r.TimedOut || r.Panicked() {
			t.Errorf("%s on an unreadable container: want a clean failure: %s", op[0], r)
		}
	}
}
