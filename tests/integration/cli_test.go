package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

func readSpec(t *testing.T, path string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading spec: %v", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s does not parse: %v\n%s", path, err, data)
	}
	return &s
}

func nsTypes(s *specs.Spec) []string {
	var out []string
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			out = append(out, string(ns.Type))
		}
	}
	return out
}

func TestSpec(t *testing.T) {
	e := newEnv(t)
	dir := e.mkdir("spec")
	e.mustRun("spec", "-b", dir)
	s := readSpec(t, filepath.Join(dir, "config.json"))
	if s.Version == "" {
		t.Errorf("spec: ociVersion is empty")
	}
	if s.Process == nil || !slices.Equal(s.Process.Args, []string{"sh"}) || !s.Process.Terminal {
		t.Errorf("spec: process = %+v, want args [sh] and terminal true", s.Process)
	}
	if s.Root == nil || s.Root.Path != "rootfs" {
		t.Errorf("spec: root = %+v, want path rootfs", s.Root)
	}
	ns := nsTypes(s)
	for _, want := range []string{"pid", "mount"} {
		if !slices.Contains(ns, want) {
			t.Errorf("spec: namespaces %v lack %s", ns, want)
		}
	}
	if slices.Contains(ns, "user") {
		t.Errorf("spec: the default spec has a user namespace: %v", ns)
	}

	// A second spec into the same dir refuses to overwrite.
	before, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	e.writeFile(filepath.Join(dir, "config.json"), string(before)+" ", 0o644)
	e.mustFail([]string{"spec", "--bundle", dir}, "exists")
	after, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if string(after) != string(before)+" " {
		t.Errorf("spec overwrote an existing config.json")
	}

	// Without -b: the current directory.
	cwd := e.mkdir("cwd")
	if r := e.exec(execOpts{dir: cwd}, "spec"); r.Code != 0 {
		t.Errorf("spec in cwd failed: %s", r)
	}
	readSpec(t, filepath.Join(cwd, "config.json"))
}

func TestSpecRootless(t *testing.T) {
	e := newEnv(t)
	dir := e.mkdir("spec")
	e.mustRun("spec", "--rootless", "-b", dir)
	s := readSpec(t, filepath.Join(dir, "config.json"))
	if !slices.Contains(nsTypes(s), "user") {
		t.Errorf("spec --rootless: namespaces %v lack user", nsTypes(s))
	}
	if s.Linux == nil || len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
		t.Errorf("spec --rootless: no uid/gid mappings: %+v", s.Linux)
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	r := e.mustRun("--version")
	lines := strings.Split(r.Stdout, "\n")
	if !strings.HasPrefix(lines[0], "berth version") {
		t.Errorf("--version: first line %q does not start with \"berth version\"", lines[0])
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "spec:") }) {
		t.Errorf("--version: no `spec:` line: %s", r)
	}
}

func TestGlobalFlags(t *testing.T) {
	e := newEnv(t)
	logFile := filepath.Join(e.Dir, "debug.log")
	for _, args := range [][]string{
		{"--debug", "list"},
		{"--log", logFile, "--debug", "list"},
		{"--log-format", "json", "list"},
		{"--log-format", "text", "list"},
		{"--rootless", "false", "list"},
		{"--rootless", "auto", "list"},
	} {
		if r := e.run(args...); r.Code != 0 {
			t.Errorf("global flags %v: %s", args, r)
		}
	}
	e.mustFail([]string{"--log-format", "bogus", "list"})
}

func TestRelativeRoot(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	cwd := e.mkdir("cwd")
	e.Root = filepath.Join(cwd, "rel", "state") // where the state must end up
	id := e.NewID()
	r := e.exec(execOpts{dir: cwd, noRoot: true}, "--root", "rel/state", "create", "--bundle", b.Dir, id)
	if r.Code != 0 {
		t.Fatalf("create with a relative --root: %s", r)
	}
	if st, err := os.Stat(filepath.Join(e.Root, id)); err != nil || !st.IsDir() {
		t.Errorf("no state dir %s: %v", filepath.Join(e.Root, id), err)
	}
	// The absolute form of the same root sees it, from any directory.
	if st := e.mustState(id); st.Status != "created" {
		t.Errorf("status %q, want created", st.Status)
	}
	r = e.exec(execOpts{dir: cwd, noRoot: true}, "--root", "rel/state", "state", id)
	if r.Code != 0 {
		t.Errorf("state with a relative --root: %s", r)
	}
}

// [berth] --root / is refused.
func TestRootSlashRefused(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	id := e.NewID()
	r := e.exec(execOpts{noRoot: true}, "--root", "/", "create", "--bundle", b.Dir, id)
	checkFailure(t, r, r.Output())
	if _, err := os.Stat(filepath.Join("/", id)); err == nil {
		t.Errorf("create with --root / made /%s", id)
		// Clean up with the same root; the leak checker reports the rest.
		e.exec(execOpts{noRoot: true}, "--root", "/", "delete", "--force", id)
	}
	r = e.exec(execOpts{noRoot: true}, "--root", "/", "list")
	checkFailure(t, r, r.Output())
}

func TestConcurrentCreateSameID(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	id := e.NewID()
	const n = 8
	results := make([]result, n)
	testkit.Together(n, func(i int) { results[i] = e.run("create", "--bundle", b.Dir, id) })
	ok := 0
	for _, r := range results {
		if r.Code == 0 && r.Err == nil {
			ok++
			continue
		}
		if !strings.Contains(r.Output(), id) && !strings.Contains(r.Output(), "already exists") {
			t.Errorf("a losing concurrent create failed without naming the id or `already exists`: %s", r)
		}
	}
	if ok != 1 {
		for _, r := range results {
			t.Log(r)
		}
		t.Fatalf("%d of %d concurrent creates of one id succeeded, want exactly 1", ok, n)
	}
	st := e.mustState(id)
	if st.Status != "created" || !testkit.Alive(st.Pid) {
		t.Errorf("state after the concurrent creates: %+v", st)
	}
	r := e.mustRun("list", "-q")
	if strings.TrimSpace(r.Stdout) != id {
		t.Errorf("list -q after concurrent creates: %q, want just %s", r.Stdout, id)
	}
}

func TestConcurrentCreateDistinctIDs(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	const n = 8
	cids := e.NewIDs(n)
	results := make([]result, n)
	testkit.Together(n, func(i int) { results[i] = e.run("create", "--bundle", b.Dir, cids[i]) })
	pids := map[int]bool{}
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("concurrent create %s failed: %s", cids[i], r)
			continue
		}
		st := e.mustState(cids[i])
		if st.Status != "created" || pids[st.Pid] || !testkit.Alive(st.Pid) {
			t.Errorf("state of %s: %+v (pid reused or dead)", cids[i], st)
		}
		pids[st.Pid] = true
	}
	r := e.mustRun("list", "-q")
	got := strings.Fields(r.Stdout)
	slices.Sort(got)
	want := slices.Clone(cids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("list -q = %v, want %v", got, want)
	}
}

func TestSystemdCgroupWithoutSystemd(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs on this host: --systemd-cgroup works here")
	}
	e := newEnv(t)
	b := e.newBundle("true")
	b.Edit(func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:berth-test:x" })
	e.mustFail([]string{"--systemd-cgroup", "run", "--bundle", b.Dir, e.NewID()}, "systemd is not running", "cgroupfs")
}

// TestBashCompletion drives contrib/completions/berth.bash the way bash does.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
	e := newEnv(t)
	_, id := e.created("sleep", "100")
	script, err := filepath.Abs("../../contrib/completions/berth.bash")
	if err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := fmt.Sprintf(`source %q; COMP_WORDS=(%q --root %q %s); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _berth; printf '%%s\n' "${COMPREPLY[@]}"`,
			script, setup.Binary, e.Root, strings.Join(quoted, " "))
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash completion of %v: %v: %s", words, err, out)
		}
		return strings.Fields(string(out))
	}
	if got := complete("st"); !slices.Equal(got, []string{"start", "state"}) {
		t.Errorf("completing `st`: got %v, want [start state]", got)
	}
	if got := complete("kill", ""); !slices.Contains(got, id) {
		t.Errorf("completing `kill `: got %v, want the container id %s among them", got, id)
	}
	if got := complete("delete", "--fo"); !slices.Equal(got, []string{"--force"}) {
		t.Errorf("completing `delete --fo`: got %v, want [--force]", got)
	}
}

// TestNestedRootWarns: a --root inside the binary's directory makes
// libcontainer copy the binary for every container; berth says so.
func TestNestedRootWarns(t *testing.T) {
	e := newEnv(t)
	dir := e.mkdir("nested")
	data, err := os.ReadFile(setup.Binary)
	if err != nil {
		t.Fatal(err)
	}
	copyBin := filepath.Join(dir, "berth")
	if err := os.WriteFile(copyBin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	b := e.newBundle("true")
	root := filepath.Join(dir, "state")
	out, err := exec.Command(copyBin, "--root", root, "run", "--bundle", b.Dir, e.NewID()).CombinedOutput()
	if err != nil {
		t.Fatalf("run with a nested root: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "inside the berth binary's directory") {
		t.Errorf("want a warning about the nested --root, got: %s", out)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("run left %d entries in its --root", len(ents))
	}
}

// Flags may follow the container id, as runc takes them, except for exec,
// whose arguments after the id are the process's; a flag's value is one
// value, commas and all (--env A=b,c; --cgroup cpu,cpuacct:sub).
func TestFlagOrderAndCommas(t *testing.T) {
	e := newEnv(t)
	_, id := e.started("sleep", "1000")
	if r := e.mustRun("exec", "--env", "X=a,b", id, "sh", "-c", "echo $X"); strings.TrimSpace(r.Stdout) != "a,b" {
		t.Errorf("exec --env X=a,b: the process saw %q", r.Stdout)
	}
	if r := e.mustRun("exec", id, "echo", "--env", "-d"); strings.TrimSpace(r.Stdout) != "--env -d" {
		t.Errorf("exec ID echo --env -d: flags after the command are the command's, got %q", r.Stdout)
	}
	e.mustRun("kill", id, "KILL", "--all")
	e.waitStatus(id, "stopped", 10*time.Second)
	e.mustRun("delete", id, "--force")
	e.mustFail([]string{"state", id}, "does not exist")
}
