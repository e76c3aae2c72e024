package robustness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestAllRecordsDamaged damages both of a container's records at once,
// libcontainer's state.json and berth's berth.json: list must still show
// the readable containers, warn about the damaged one and exit 0, and
// delete --force must kill every process of the damaged container (its
// init, and a process exec'd into it) and remove its cgroups and state,
// for a container with a pid namespace of its own and one without (whose
// processes only its cgroups find).
func TestAllRecordsDamaged(t *testing.T) {
	for _, status := range []string{"created", "running"} {
		for _, pidns := range []bool{true, false} {
			name := status + "/own-pidns"
			if !pidns {
				name = status + "/host-pidns"
			}
			t.Run(name, func(t *testing.T) {
				w := newWorld(t)
				b := w.newBundle("sleep", "1000")
				if !pidns {
					b.Edit(func(s *specs.Spec) {
						var keep []specs.LinuxNamespace
						for _, ns := range s.Linux.Namespaces {
							if ns.Type != specs.PIDNamespace {
								keep = append(keep, ns)
							}
						}
						s.Linux.Namespaces = keep
					})
				}
				healthy, id, st := w.besideHealthy(b, status)
				pids := []int{st.Pid}
				if status == "running" {
					pids = append(pids, w.execDetached(id, "sleep", "1000"))
				}
				for _, f := range []string{"state.json", "berth.json"} {
					if err := os.WriteFile(filepath.Join(w.Root, id, f), []byte("\x00\xff garbage {{{ \n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}

				lr := w.start(opts{timeout: 10 * time.Second}, "list", "--format", "json").Wait()
				var all []testkit.State
				switch {
				case !lr.OK() || lr.Panicked():
					t.Errorf("list beside a container whose records are all damaged: want exit 0: %s", lr)
				case json.Unmarshal([]byte(lr.Stdout), &all) != nil || len(all) != 1 || all[0].ID != healthy:
					t.Errorf("list: want only the healthy %s listed: %s", healthy, lr)
				case !strings.Contains(lr.Stderr, id):
					t.Errorf("list must warn about the damaged container %s: %s", id, lr)
				}

				if r := w.start(opts{timeout: 15 * time.Second}, "delete", "--force", id).Wait(); !r.OK() || r.Panicked() {
					t.Errorf("delete --force of a container whose records are all damaged: %s", r)
				}
				for _, pid := range pids {
					// The kernel tears a pid namespace down after its
					// init: give the others a moment to finish dying.
					if !waitUntil(2*time.Second, func() bool { return !testkit.Alive(pid) }) {
						t.Errorf("pid %d of the damaged container still alive after delete --force", pid)
					}
				}
				w.checkClean(fmt.Sprintf("%s container (%s) with both records damaged, then delete --force", status, name), id)
				if st, r := w.state(healthy); st == nil || st.Status != "created" {
					t.Errorf("the healthy container beside it: want created, got %+v: %s", st, r)
				}
			})
		}
	}
}

// TestListAllUnreadable: when no container under the root can be read,
// list still exits 0, lists nothing, and names each one in a warning.
func TestListAllUnreadable(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sleep", "1000")
	var ids []string
	for range 2 {
		id := w.NewID()
		w.must("create", "--bundle", b.Dir, id)
		ids = append(ids, id)
	}
	for _, id := range ids {
		if err := os.WriteFile(filepath.Join(w.Root, id, "state.json"), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := w.start(opts{timeout: 10 * time.Second}, "list", "--format", "json").Wait()
	if !r.OK() || strings.TrimSpace(r.Stdout) != "[]" {
		t.Errorf("list with every container unreadable: want exit 0 and []: %s", r)
	}
	for _, id := range ids {
		if !strings.Contains(r.Stderr, id) {
			t.Errorf("list must warn about %s: %s", id, r)
		}
	}
	for _, id := range ids {
		w.must("delete", "--force", id)
	}
	w.checkClean("containers with unreadable state, deleted with force", ids...)
}
