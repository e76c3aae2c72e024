package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// hookLogger is a hook script in a host dir that is bind-mounted at the same
// path inside the container, so the script and its log resolve both in the
// runtime namespace and in the container mount namespace. Each run appends
// "<kind> status=<status from stdin> arg=<$2> env=<$HOOK_ENV> ns=<mnt ns>".
type hookLogger struct {
	dir    string
	script string
	log    string
}

func (e *env) newHookLogger(b *testkit.Bundle) *hookLogger {
	e.t.Helper()
	h := &hookLogger{dir: e.mkdir("hooks")}
	h.script = filepath.Join(h.dir, "hook.sh")
	h.log = filepath.Join(h.dir, "log")
	e.writeFile(h.script, fmt.Sprintf(`#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
status=$(sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p' | head -n 1)
ns=$(readlink /proc/self/ns/mnt)
echo "$1 status=$status arg=$2 env=$HOOK_ENV ns=$ns" >> %s
`, h.log), 0o755)
	b.Edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: h.dir, Type: "bind", Source: h.dir, Options: []string{"rbind", "rw"},
		})
	})
	return h
}

// hook returns a logging hook for kind.
func (h *hookLogger) hook(kind string) specs.Hook {
	return specs.Hook{
		Path: h.script,
		Args: []string{"hook.sh", kind, "arg-" + kind},
		Env:  []string{"HOOK_ENV=env-" + kind},
	}
}

type hookLine struct {
	kind, status, arg, env, ns string
}

func (h *hookLogger) lines(t *testing.T) []hookLine {
	t.Helper()
	data, err := os.ReadFile(h.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []hookLine
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		var hl hookLine
		hl.kind = f[0]
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "status":
				hl.status = v
			case "arg":
				hl.arg = v
			case "env":
				hl.env = v
			case "ns":
				hl.ns = v
			}
		}
		out = append(out, hl)
	}
	return out
}

func kinds(ls []hookLine) string {
	var k []string
	for _, l := range ls {
		k = append(k, l.kind)
	}
	return strings.Join(k, ",")
}

func mntNS(t *testing.T, pid string) string {
	t.Helper()
	ns, err := os.Readlink("/proc/" + pid + "/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestHooks(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	h := e.newHookLogger(b)
	b.Edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{h.hook("prestart")},
			CreateRuntime:   []specs.Hook{h.hook("createRuntime")},
			CreateContainer: []specs.Hook{h.hook("createContainer")},
			StartContainer:  []specs.Hook{h.hook("startContainer")},
			Poststart:       []specs.Hook{h.hook("poststart")},
			Poststop:        []specs.Hook{h.hook("poststop")},
		}
	})
	id := e.NewID()
	hostNS := mntNS(t, "self")

	check := func(l hookLine, status string, wantNS string, where string) {
		t.Helper()
		if status != "" && l.status != status {
			t.Errorf("%s hook saw status %q on stdin, want %q", l.kind, l.status, status)
		}
		if l.arg != "arg-"+l.kind || l.env != "env-"+l.kind {
			t.Errorf("%s hook: args/env not passed: arg=%q env=%q", l.kind, l.arg, l.env)
		}
		if l.ns != wantNS {
			t.Errorf("%s hook ran in mount namespace %s, want %s (%s)", l.kind, l.ns, wantNS, where)
		}
	}

	e.create(b, id)
	ctrNS := mntNS(t, itoa(e.mustState(id).Pid))
	ls := h.lines(t)
	if got := kinds(ls); got != "prestart,createRuntime,createContainer" {
		t.Fatalf("hooks run by create: %s, want prestart,createRuntime,createContainer (no poststart before start)", got)
	}
	check(ls[0], "creating", hostNS, "the runtime namespace")
	check(ls[1], "creating", hostNS, "the runtime namespace")
	check(ls[2], "", ctrNS, "the container namespace")

	e.mustRun("start", id)
	ls = h.lines(t)
	found := false
	for _, l := range ls {
		found = found || l.kind == "poststart"
	}
	if !found {
		t.Errorf("no poststart hook had run when start returned: %s", kinds(ls))
	}
	waitFor(t, 10*time.Second, "the startContainer and poststart hooks", func() (bool, string) {
		ls = h.lines(t)
		return len(ls) >= 5, kinds(ls)
	})
	if got := kinds(ls); got != "prestart,createRuntime,createContainer,startContainer,poststart" {
		t.Fatalf("hooks after start: %s", got)
	}
	check(ls[3], "", ctrNS, "the container namespace")
	check(ls[4], "running", hostNS, "the runtime namespace")

	e.mustRun("kill", id, "KILL")
	e.waitStatus(id, "stopped", 10*time.Second)
	if got := kinds(h.lines(t)); strings.Contains(got, "poststop") {
		t.Errorf("poststop ran before delete: %s", got)
	}
	e.mustRun("delete", id)
	ls = h.lines(t)
	if got := kinds(ls); got != "prestart,createRuntime,createContainer,startContainer,poststart,poststop" {
		t.Fatalf("hooks after delete: %s", got)
	}
	check(ls[5], "stopped", hostNS, "the runtime namespace")
}

// scriptHook writes a host hook script with body and returns the hook.
func (e *env) scriptHook(body string, timeout int) specs.Hook {
	e.t.Helper()
	p := filepath.Join(e.mkdir("hook"), "hook.sh")
	e.writeFile(p, "#!/bin/sh\n"+body+"\n", 0o755)
	h := specs.Hook{Path: p}
	if timeout > 0 {
		h.Timeout = &timeout
	}
	return h
}

// hookBundle makes a `sleep 1000` bundle whose only hook is a scriptHook of
// kind (prestart, poststart or poststop), and returns it with the hook and
// a new container id.
func (e *env) hookBundle(kind, body string, timeout int) (*testkit.Bundle, specs.Hook, string) {
	e.t.Helper()
	hook := e.scriptHook(body, timeout)
	hooks := &specs.Hooks{}
	switch kind {
	case "prestart":
		hooks.Prestart = []specs.Hook{hook} //nolint:staticcheck // what is tested
	case "poststart":
		hooks.Poststart = []specs.Hook{hook}
	case "poststop":
		hooks.Poststop = []specs.Hook{hook}
	default:
		e.t.Fatalf("hookBundle: no hook kind %q", kind)
	}
	b := e.newBundle("sleep", "1000")
	b.Edit(func(s *specs.Spec) { s.Hooks = hooks })
	return b, hook, e.NewID()
}

func TestHookPrestartFails(t *testing.T) {
	e := newEnv(t)
	b, _, id := e.hookBundle("prestart", "cat >/dev/null; echo prestart-says-no >&2; exit 1", 0)
	e.mustFail([]string{"create", "--bundle", b.Dir, id})
	e.mustFail([]string{"state", id}, "does not exist")
	// The leak checker asserts no state dir, cgroup or process is left.
}

func TestHookTimeout(t *testing.T) {
	e := newEnv(t)
	b, hook, id := e.hookBundle("prestart", "exec sleep 10", 1)
	r := e.run("create", "--bundle", b.Dir, id)
	checkFailure(t, r, r.Output())
	if r.Dur > 5*time.Second {
		t.Errorf("create with a hook timing out after 1s took %v, want < 5s", r.Dur)
	}
	if !strings.Contains(r.Output(), "prestart") && !strings.Contains(r.Output(), hook.Path) {
		t.Errorf("the error does not name the hook (kind prestart or path %s): %s", hook.Path, r)
	}
	e.mustFail([]string{"state", id}, "does not exist")
}

// A failing poststart hook fails start, and the container is stopped and
// destroyed, its poststop hooks run (runtime spec 1.3.0, lifecycle steps 9,
// 12 and 13); the same for run.
func TestHookPoststartFails(t *testing.T) {
	for _, how := range []string{"start", "run"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			b, hook, id := e.hookBundle("poststart", "cat >/dev/null; exit 1", 0)
			stopped := filepath.Join(e.Dir, "poststop-ran")
			b.Edit(func(s *specs.Spec) {
				s.Hooks.Poststop = []specs.Hook{e.scriptHook("cat >/dev/null; touch "+stopped, 0)}
			})
			var r result
			pid := 0
			if how == "start" {
				e.create(b, id)
				pid = e.mustState(id).Pid
				r = e.run("start", id)
			} else {
				r = e.run("run", "--detach", "--bundle", b.Dir, id)
			}
			checkFailure(t, r, r.Output(), "poststart", hook.Path)
			e.mustFail([]string{"state", id}, "does not exist")
			if pid > 0 && testkit.Alive(pid) {
				t.Errorf("the init %d lives on after its poststart hook failed", pid)
			}
			if _, err := os.Stat(stopped); err != nil {
				t.Errorf("the poststop hook did not run after the failed poststart hook: %v", err)
			}
		})
	}
}

// [berth] A failing poststop hook does not fail delete.
func TestHookPoststopFails(t *testing.T) {
	e := newEnv(t)
	b, _, id := e.hookBundle("poststop", "cat >/dev/null; exit 1", 0)
	e.create(b, id)
	e.mustRun("start", id)
	e.mustRun("kill", id, "KILL")
	e.waitStatus(id, "stopped", 10*time.Second)
	e.mustRun("delete", id)
	e.mustFail([]string{"state", id}, "does not exist")
}
