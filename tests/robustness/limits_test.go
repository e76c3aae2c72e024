package robustness

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestForkBombStopsAtPidsLimit: a container trying to start 100 processes
// under linux.resources.pids.limit 20 gets fork failures, its cgroup never
// holds more than 20 tasks, the host can still fork, and delete --force
// removes them all.
func TestForkBombStopsAtPidsLimit(t *testing.T) {
	w := newWorld(t)
	const limit = 20
	// The bombing shell dies at its first failed fork (busybox sh does);
	// the init outlives it without forking again.
	b := w.newBundle("sh", "-c", `sh -c 'i=0; while [ $i -lt 100 ]; do sleep 1000 & i=$((i+1)); done' 2>/errors; echo x > /spawned; exec sleep 1000`)
	b.Edit(func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		l := int64(limit)
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &l}
	})
	id := w.NewID()
	w.must("run", "--detach", "--bundle", b.Dir, id)
	if !waitUntil(20*time.Second, func() bool { return fileExists(b.Rootfs("spawned")) }) {
		t.Fatal("the fork bomb did not finish its loop")
	}
	max, err := cgroupFile(id, "pids", "pids.max")
	if err != nil || max != strconv.Itoa(limit) {
		t.Errorf("pids.max = %q (%v), want %d", max, err, limit)
	}
	cur, err := cgroupFile(id, "pids", "pids.current")
	if n, _ := strconv.Atoi(cur); err != nil || n > limit || n < limit/2 {
		t.Errorf("pids.current = %q (%v), want at most %d (and most of them used)", cur, err, limit)
	}
	if ev, err := cgroupFile(id, "pids", "pids.events"); err == nil && !strings.Contains(ev, "max") {
		t.Errorf("pids.events = %q, want a max count", ev)
	}
	errs, _ := os.ReadFile(b.Rootfs("errors"))
	if !strings.Contains(string(errs), "fork") {
		t.Errorf("the container saw no fork failure; its stderr:\n%s", errs)
	}
	if out, err := exec.Command("/bin/sh", "-c", "/bin/true & wait; echo ok").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("the host cannot fork while the container is at its limit: %v %s", err, out)
	}
	st, _ := w.state(id)
	w.must("delete", "--force", id)
	if st != nil && testkit.Alive(st.Pid) {
		t.Errorf("init %d alive after delete --force", st.Pid)
	}
	w.checkClean("fork bomb, then delete --force", id)
}

// TestOOMKilled: a container with a 16 MiB memory limit that allocates
// 64 MiB is OOM-killed: run exits 137, and events, started before the
// allocation, reports {"type":"oom"}.
func TestOOMKilled(t *testing.T) {
	w := newWorld(t)
	const limit = 16 << 20
	b := w.newBundle("sh", "-c", `while [ ! -e /go ]; do sleep 0.05; done; exec dd if=/dev/zero of=/dev/null bs=64M count=1`)
	b.Edit(func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		l := int64(limit)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &l}
		if fileExists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") || fileExists("/sys/fs/cgroup/cgroup.controllers") {
			s.Linux.Resources.Memory.Swap = &l // no swap to escape to
		}
	})
	id := w.NewID()
	run := w.start(opts{timeout: 40 * time.Second}, "run", "--bundle", b.Dir, id)
	w.waitStatus(id, "running", 10*time.Second)
	events := w.start(opts{timeout: 40 * time.Second}, "events", "--interval", "100ms", id)
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(events.StdoutSoFar(), `"type":"stats"`) }) {
		t.Fatalf("events printed no stats line: %s", events.Kill())
	}
	if err := os.WriteFile(b.Rootfs("go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run.Wait()
	if r.Code != 137 {
		t.Errorf("run of an OOM-killed container: want exit 137: %s", r)
	}
	er, done := events.WaitFor(10 * time.Second)
	if !done {
		t.Errorf("events did not end within 10s of the container's end")
		er = events.Kill()
	}
	if !strings.Contains(er.Stdout, `"type":"oom"`) {
		t.Errorf("events reported no oom: %s", er)
	}
	if er.Panicked() {
		t.Errorf("events: %s", er)
	}
	w.checkClean("OOM-killed container after run", id)
}
