package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// checkList asserts that the three forms of `list` show id with status.
func (e *env) checkList(id, status string, b *testkit.Bundle) {
	e.t.Helper()
	t := e.t

	// Table.
	r := e.mustRun("list")
	lines := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(strings.Fields(lines[0])[0], "ID") {
		t.Errorf("list: want a header line and a row: %s", r)
	}
	found := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == id {
			found = true
			if f[2] != status {
				t.Errorf("list: row %q: status column is %q, want %q", l, f[2], status)
			}
			if !strings.Contains(l, b.Dir) {
				t.Errorf("list: row %q does not show bundle %s", l, b.Dir)
			}
		}
	}
	if !found {
		t.Errorf("list: no row for %s: %s", id, r)
	}

	// JSON, both flag spellings.
	for _, flag := range []string{"--format", "-f"} {
		r = e.mustRun("list", flag, "json")
		var raw []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.Stdout), &raw); err != nil {
			t.Errorf("list %s json: not a JSON array: %v: %s", flag, err, r)
			continue
		}
		var entries []testkit.State // one object of `list --format json` each
		_ = json.Unmarshal([]byte(r.Stdout), &entries)
		found = false
		for i, ent := range entries {
			if ent.ID != id {
				continue
			}
			found = true
			for _, k := range []string{"id", "pid", "status", "bundle", "rootfs", "created", "owner"} {
				if _, ok := raw[i][k]; !ok {
					t.Errorf("list json: entry has no %q key: %s", k, r.Stdout)
				}
			}
			if string(ent.Status) != status || ent.Bundle != b.Dir || ent.Rootfs != filepath.Join(b.Dir, "rootfs") || ent.Created.IsZero() {
				t.Errorf("list json: entry %+v: want status %s, bundle %s, rootfs %s/rootfs, created set", ent, status, b.Dir, b.Dir)
			}
			if ent.Owner == "" {
				t.Errorf("list json: entry has an empty owner: %s", r.Stdout)
			}
			if status != "stopped" && ent.Pid <= 0 {
				t.Errorf("list json: pid %d for a %s container", ent.Pid, status)
			}
		}
		if !found {
			t.Errorf("list json: no entry for %s: %s", id, r)
		}
	}

	// Quiet.
	r = e.mustRun("list", "-q")
	if strings.TrimSpace(r.Stdout) != id {
		t.Errorf("list -q: want exactly %q, got: %s", id, r)
	}
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	b.Edit(func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.example.key": "value", "org.example.other": "2"}
	})
	id := e.NewID()

	// Empty list first.
	if r := e.mustRun("list", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("list -q with no containers printed something: %s", r)
	}

	// create with a relative --bundle from the bundle's parent dir.
	r := e.exec(execOpts{dir: filepath.Dir(b.Dir)}, "create", "--bundle", filepath.Base(b.Dir), id)
	if r.Code != 0 {
		t.Fatalf("create failed: %s", r)
	}
	st := e.mustState(id)
	if st.Status != "created" || st.ID != id || st.Version == "" {
		t.Errorf("state after create: %+v", st)
	}
	if st.Pid <= 0 || !testkit.Alive(st.Pid) {
		t.Errorf("state after create: pid %d is not a live process", st.Pid)
	}
	if st.Bundle != b.Dir {
		t.Errorf("state bundle = %q, want the absolute bundle path %q", st.Bundle, b.Dir)
	}
	if st.Rootfs != filepath.Join(b.Dir, "rootfs") {
		t.Errorf("state rootfs = %q, want %q", st.Rootfs, filepath.Join(b.Dir, "rootfs"))
	}
	if st.Annotations["org.example.key"] != "value" || st.Annotations["org.example.other"] != "2" {
		t.Errorf("state annotations = %v", st.Annotations)
	}
	if st.Created.IsZero() || time.Since(st.Created) > time.Minute || time.Until(st.Created) > time.Minute {
		t.Errorf("state created = %v, want about now", st.Created)
	}
	var raw map[string]json.RawMessage
	_, sr := e.state(id)
	if err := json.Unmarshal([]byte(sr.Stdout), &raw); err == nil {
		for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle", "rootfs", "created", "owner", "annotations"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("state JSON has no %q key: %s", k, sr.Stdout)
			}
		}
	}
	e.checkList(id, "created", b)

	// start.
	e.mustRun("start", id)
	st2 := e.mustState(id)
	if st2.Status != "running" || st2.Pid != st.Pid || !testkit.Alive(st2.Pid) {
		t.Errorf("state after start: %+v (pid after create %d)", st2, st.Pid)
	}
	e.checkList(id, "running", b)

	// kill.
	e.mustRun("kill", id, "KILL")
	st3 := e.waitStatus(id, "stopped", 10*time.Second)
	if st3.Pid != 0 {
		t.Errorf("stopped container has pid %d, want 0", st3.Pid)
	}
	e.checkList(id, "stopped", b)

	// delete.
	e.mustRun("delete", id)
	e.mustFail([]string{"state", id}, "does not exist")
	if r := e.mustRun("list", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("list -q after delete: %s", r)
	}
}

func TestStartRunningFails(t *testing.T) {
	e := newEnv(t)
	_, id := e.started("sleep", "1000")
	e.mustFail([]string{"start", id})
	if st := e.mustState(id); st.Status != "running" {
		t.Errorf("after a failed second start the status is %q, want running", st.Status)
	}
}

func TestStartStoppedFails(t *testing.T) {
	e := newEnv(t)
	_, id := e.started("true")
	e.waitStatus(id, "stopped", 10*time.Second)
	e.mustFail([]string{"start", id})
	if st := e.mustState(id); st.Status != "stopped" {
		t.Errorf("status %q after start of a stopped container, want stopped", st.Status)
	}
}

func TestCreateDuplicateID(t *testing.T) {
	e := newEnv(t)
	b, id := e.created("sleep", "1000")
	pid := e.mustState(id).Pid
	e.mustFail([]string{"create", "--bundle", b.Dir, id}, "already exists")
	st := e.mustState(id)
	if st.Status != "created" || st.Pid != pid || !testkit.Alive(pid) {
		t.Errorf("the first container changed after a duplicate create: %+v (pid was %d)", st, pid)
	}
}

func TestDeleteRunning(t *testing.T) {
	e := newEnv(t)
	_, id := e.started("sleep", "1000")
	pid := e.mustState(id).Pid

	e.mustFail([]string{"delete", id})
	if st := e.mustState(id); st.Status != "running" || !testkit.Alive(pid) {
		t.Errorf("after delete without --force: %+v, want still running", st)
	}

	e.mustRun("delete", "--force", id)
	e.mustFail([]string{"state", id}, "does not exist")
	waitFor(t, 5*time.Second, "the container process to be gone", func() (bool, string) {
		return !testkit.Alive(pid), "still alive"
	})
}

func TestDeleteForceShort(t *testing.T) {
	e := newEnv(t)
	_, id := e.started("sleep", "1000")
	e.mustRun("delete", "-f", id)
	e.mustFail([]string{"state", id}, "does not exist")
}

func TestDeleteCreated(t *testing.T) {
	e := newEnv(t)
	_, id := e.created("sleep", "1000")
	pid := e.mustState(id).Pid
	e.mustRun("delete", id)
	e.mustFail([]string{"state", id}, "does not exist")
	waitFor(t, 5*time.Second, "the container process to be gone", func() (bool, string) {
		return !testkit.Alive(pid), "still alive"
	})
}

func TestKillStopped(t *testing.T) {
	e := newEnv(t)
	_, id := e.started("true")
	e.waitStatus(id, "stopped", 10*time.Second)
	e.mustFail([]string{"kill", id, "KILL"}, "container not running")
	e.mustRun("kill", "--all", id, "KILL")
	e.mustRun("kill", "-a", id)
	e.mustRun("delete", id)
}

func TestKillAll(t *testing.T) {
	e := newEnv(t)
	b, id := e.started("sh", "-c", "sleep 1000 & sleep 1000 & touch /ready; wait")
	waitFile(t, b.Rootfs("ready"), "", 10*time.Second)
	e.mustRun("kill", "--all", id, "KILL")
	e.waitStatus(id, "stopped", 10*time.Second)
}

func TestMissingID(t *testing.T) {
	e := newEnv(t)
	id := e.NewID() // never created
	for _, args := range [][]string{
		{"state", id},
		{"kill", id},
		{"kill", id, "KILL"},
		{"start", id},
		{"delete", id},
	} {
		e.mustFail(args, "does not exist")
	}
	e.mustRun("delete", "--force", id)
}

// trapScript makes pid 1 trap TERM (and USR1), record it and exit 3; it
// touches /tmp/ready once the traps are set.
const trapScript = `trap "echo got TERM >/tmp/x; exit 3" TERM; trap "echo got USR1 >/tmp/x; exit 4" USR1; touch /tmp/ready; while :; do sleep 0.1; done`

func TestKillSignals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		signal []string
		want   string
	}{
		{"TERM", []string{"TERM"}, "got TERM"},
		{"SIGTERM", []string{"SIGTERM"}, "got TERM"},
		{"15", []string{"15"}, "got TERM"},
		{"sigterm", []string{"sigterm"}, "got TERM"},
		{"term", []string{"term"}, "got TERM"},
		{"default", nil, "got TERM"},
		{"USR1", []string{"USR1"}, "got USR1"},
		{"10", []string{"10"}, "got USR1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b, id := e.started("sh", "-c", trapScript)
			waitFile(t, b.Rootfs("tmp/ready"), "", 10*time.Second)
			e.mustRun(append([]string{"kill", id}, tc.signal...)...)
			waitFile(t, b.Rootfs("tmp/x"), tc.want, 10*time.Second)
			e.waitStatus(id, "stopped", 10*time.Second)
		})
	}
}

func TestKillUnknownSignal(t *testing.T) {
	e := newEnv(t)
	_, id := e.started("sleep", "1000")
	e.mustFail([]string{"kill", id, "NOSUCHSIG"}, "NOSUCHSIG")
	if st := e.mustState(id); st.Status != "running" {
		t.Errorf("status %q after an unknown signal, want running", st.Status)
	}
}

func TestPidFile(t *testing.T) {
	for _, abs := range []bool{false, true} {
		name := "relative"
		if abs {
			name = "absolute"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sleep", "1000")
			id := e.NewID()
			cwd := e.mkdir("cwd")
			pidArg := "ctr.pid"
			want := filepath.Join(cwd, "ctr.pid")
			if abs {
				pidArg = filepath.Join(e.mkdir("piddir"), "abs.pid")
				want = pidArg
			}
			r := e.exec(execOpts{dir: cwd}, "create", "--bundle", b.Dir, "--pid-file", pidArg, id)
			if r.Code != 0 {
				t.Fatalf("create failed: %s", r)
			}
			data, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("pid file right after create: %v", err)
			}
			if _, err := os.ReadFile(filepath.Join(b.Dir, "ctr.pid")); err == nil && !abs {
				t.Errorf("pid file was written relative to the bundle, not the caller's cwd")
			}
			st := e.mustState(id)
			if string(data) != strconv.Itoa(st.Pid) {
				t.Errorf("pid file holds %q, want %q (state pid, decimal, no newline)", data, strconv.Itoa(st.Pid))
			}
			if err := syscall.Kill(st.Pid, 0); err != nil {
				t.Errorf("pid %d from pid file: %v", st.Pid, err)
			}
		})
	}
}

// The runtime spec makes process optional for create and requires start to
// fail without one; run needs it at once.
func TestCreateWithoutProcess(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("true")
	b.Edit(func(s *specs.Spec) { s.Process = nil })
	id := e.NewID()
	e.create(b, id)
	if st := e.mustState(id); st.Status != "created" || st.Pid <= 0 || !testkit.Alive(st.Pid) {
		t.Fatalf("state of a container without process: %+v", st)
	}
	e.mustFail([]string{"start", id}, id, "no process")
	if st := e.mustState(id); st.Status != "created" {
		t.Errorf("start without process changed the container: status %s", st.Status)
	}
	e.mustRun("delete", id)
	e.mustFail([]string{"state", id}, "does not exist")

	e.mustFail([]string{"run", "--bundle", b.Dir, e.NewID()}, "process", "must be set")
}

// TestAnnotationOwnsNothing: which bundle delete removes is decided by the
// call that made the container (berth run --image), never by config.json.
// A config.json annotated as an image bundle and naming another directory
// that holds the image-bundle marker leaves that directory untouched after
// create and delete, and its own bundle too.
func TestAnnotationOwnsNothing(t *testing.T) {
	e := newEnv(t)
	victim := e.mkdir("victim")
	e.writeFile(filepath.Join(victim, ".berth-image-bundle"), "sha256:0\n", 0o600)
	e.writeFile(filepath.Join(victim, "precious"), "keep me\n", 0o600)
	b := e.newBundle("true")
	b.Edit(func(s *specs.Spec) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations["dev.berth.image.bundle"] = victim
	})
	e.writeFile(filepath.Join(b.Dir, ".berth-image-bundle"), "sha256:0\n", 0o600)
	id := e.NewID()
	e.create(b, id)
	e.mustRun("delete", "--force", id)
	for _, p := range []string{filepath.Join(victim, "precious"), filepath.Join(victim, ".berth-image-bundle"), filepath.Join(b.Dir, "config.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after create and delete of a container annotated with dev.berth.image.bundle=%s: %v", victim, err)
		}
	}
}
