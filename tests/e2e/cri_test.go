package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// crictlVersion is the version tests/e2e/install-deps.sh installs.
const crictlVersion = "v1.37.0"

// findCrictl looks for crictl: $CRICTL, PATH, then <repo>/.cache/tools.
func findCrictl(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CRICTL"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			missing(t, "CRICTL=%s is not an executable", p)
		}
		return p
	}
	if p, err := exec.LookPath("crictl"); err == nil {
		return p
	}
	p := filepath.Join(repoRoot, ".cache", "tools", "crictl")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	missing(t, "crictl is not installed (GOBIN=%s go install sigs.k8s.io/cri-tools/cmd/crictl@%s)",
		filepath.Dir(p), crictlVersion)
	return ""
}

// TestCRI drives berth as containerd's CRI runtime handler "berth" (the
// documented snippet) with crictl: a host-network pod sandbox and a
// container in it, through their whole life.
func TestCRI(t *testing.T) {
	s := newSuite(t, "cri")
	needTool(t, "containerd", "ctr", "containerd-shim-runc-v2")
	crictl := findCrictl(t)
	needImages(t)

	const ns = "k8s.io"
	tok := randToken()
	cgroupParent := "/berth-e2e-cri-" + tok
	s.addEmpty(filepath.Join(s.runtimeRoot(), ns))
	for _, h := range testkit.Hierarchies() {
		s.tidy(false, filepath.Join(h, cgroupParent))
	}
	cniDir := filepath.Join(s.dir, "cni")
	for _, d := range []string{filepath.Join(cniDir, "bin"), filepath.Join(cniDir, "net.d"), filepath.Join(s.dir, "pod-logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// No CNI: the pod uses the host network. The stream server (for
	// `crictl exec` without -s) listens on a free loopback port. Machines
	// whose root lacks CAP_SYS_RESOURCE (such as the VMs this suite runs on)
	// cannot lower oom_score_adj to the sandbox's -998: restrict_oom_score_adj
	// keeps it at containerd's own score or above, as for rootless.
	extra := fmt.Sprintf(`
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = %s

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = %s
  conf_dir = %s
`, tomlString(pauseRef), restrictOOM(), tomlString(filepath.Join(cniDir, "bin")), tomlString(filepath.Join(cniDir, "net.d")))
	d := startContainerd(s, ns, true, extra)
	d.importImages(t)

	crictlConf := filepath.Join(s.dir, "crictl.yaml")
	endpoint := "unix://" + d.sock
	if err := os.WriteFile(crictlConf, []byte(fmt.Sprintf("runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 30\ndebug: false\n", endpoint, endpoint)), 0o644); err != nil {
		t.Fatal(err)
	}
	cri := func(args ...string) result {
		return s.run(crictl, append([]string{"--config", crictlConf}, args...)...)
	}
	mustCRI := func(t *testing.T, args ...string) string {
		t.Helper()
		r := cri(args...)
		if r.Code != 0 {
			t.Fatalf("crictl failed:\n%s", r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	// Remove whatever a failed test left, before containerd stops.
	t.Cleanup(func() {
		if r := cri("pods", "-q"); r.Code == 0 {
			for _, id := range strings.Fields(r.Stdout) {
				cri("stopp", id)
				cri("rmp", "-f", id)
			}
		}
	})

	if out := mustCRI(t, "images", "-q"); out == "" {
		t.Fatalf("crictl lists no images after the import")
	}

	podJSON := filepath.Join(s.dir, "pod.json")
	ctrJSON := filepath.Join(s.dir, "container.json")
	writeJSON(t, podJSON, map[string]any{
		"metadata":      map[string]any{"name": "e2e-" + tok + "-pod", "namespace": "berth-e2e", "uid": "uid-" + tok, "attempt": 0},
		"log_directory": filepath.Join(s.dir, "pod-logs"),
		"linux": map[string]any{
			"cgroup_parent": cgroupParent,
			// network 2 = NODE: host network, so no CNI is needed.
			"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}},
		},
	})
	writeJSON(t, ctrJSON, map[string]any{
		"metadata": map[string]any{"name": "box"},
		"image":    map[string]any{"image": busyboxRef},
		"command":  []string{"sh", "-c", "echo cri-hello-$((6*7)); trap 'exit 0' TERM; while :; do sleep 0.1; done"},
		"log_path": "box.log",
		"linux": map[string]any{
			"resources": map[string]any{"memory_limit_in_bytes": 128 << 20},
		},
	})

	var podID, cid string
	t.Run("RunPodSandbox", func(t *testing.T) {
		podID = mustCRI(t, "runp", "--runtime", "berth", podJSON)
		if out := mustCRI(t, "pods", "--id", podID, "-q", "--state", "ready"); out != podID {
			t.Fatalf("the pod is not ready: %q", out)
		}
	})
	if podID == "" {
		t.FailNow()
	}

	t.Run("CreateStart", func(t *testing.T) {
		cid = mustCRI(t, "create", podID, ctrJSON, podJSON)
		mustCRI(t, "start", cid)
		if out := mustCRI(t, "ps", "--id", cid, "--state", "running", "-q"); out != cid {
			t.Fatalf("the container is not running: %q", out)
		}
	})
	if cid == "" {
		t.FailNow()
	}

	t.Run("ExecSync", func(t *testing.T) {
		r := cri("exec", "-s", cid, "sh", "-c", "echo execsync-$((6*7))")
		if r.Code != 0 || !strings.Contains(r.Stdout, "execsync-42") {
			t.Fatalf("want execsync-42:\n%s", r)
		}
		// crictl reports a failed exec's code in its error message.
		r = cri("exec", "-s", cid, "sh", "-c", "exit 4")
		if r.Code == 0 || !strings.Contains(r.Stderr, "exited with 4") {
			t.Fatalf("want the exec's exit code 4 reported:\n%s", r)
		}
	})

	t.Run("ExecStream", func(t *testing.T) {
		r := cri("exec", cid, "sh", "-c", "echo execstream-$((6*7))")
		if r.Code != 0 || !strings.Contains(r.Stdout, "execstream-42") {
			t.Fatalf("want execstream-42:\n%s", r)
		}
	})

	t.Run("Logs", func(t *testing.T) {
		var out string
		err := eventually(10*time.Second, func() error {
			out = cri("logs", cid).Stdout
			if !strings.Contains(out, "cri-hello-42") {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("crictl logs: want cri-hello-42, got:\n%s", out)
		}
	})

	t.Run("UpdateResources", func(t *testing.T) {
		mustCRI(t, "update", "--memory", fmt.Sprint(64<<20), cid)
		if limit, ok := memoryLimit(cgroupParent, cid); ok && limit != fmt.Sprint(64<<20) {
			t.Errorf("memory limit after update: %s, want %d", limit, 64<<20)
		}
	})

	t.Run("Stats", func(t *testing.T) {
		if out := mustCRI(t, "stats", "--id", cid); !strings.Contains(out, cid[:12]) {
			t.Errorf("crictl stats does not list the container:\n%s", out)
		}
	})

	t.Run("StopRemove", func(t *testing.T) {
		mustCRI(t, "stop", "--timeout", "20", cid)
		var st struct {
			Status struct {
				State    string `json:"state"`
				ExitCode int    `json:"exitCode"`
			} `json:"status"`
		}
		out := mustCRI(t, "inspect", "-o", "json", cid)
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("crictl inspect: %v\n%s", err, out)
		}
		if st.Status.State != "CONTAINER_EXITED" || st.Status.ExitCode != 0 {
			t.Errorf("after stop: state %s exit code %d, want CONTAINER_EXITED 0 (the TERM trap)", st.Status.State, st.Status.ExitCode)
		}
		mustCRI(t, "rm", cid)
	})

	t.Run("StopRemovePod", func(t *testing.T) {
		mustCRI(t, "stopp", podID)
		mustCRI(t, "rmp", podID)
	})

	t.Run("NothingLeft", func(t *testing.T) {
		if out := mustCRI(t, "pods", "-q"); out != "" {
			t.Errorf("pods left: %s", out)
		}
		if out := mustCRI(t, "ps", "-a", "-q"); out != "" {
			t.Errorf("containers left: %s", out)
		}
		if r := d.run("task", "ls", "-q"); strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("tasks left:\n%s", r)
		}
	})

	byBundle := func(id string) func(c call) bool {
		return func(c call) bool {
			for i, a := range c.args {
				if (a == "--bundle" && i+1 < len(c.args) && filepath.Base(c.args[i+1]) == id) ||
					a == "--bundle="+id || strings.HasSuffix(a, "/"+id) {
					return true
				}
			}
			return false
		}
	}
	lastArg := func(id string) func(c call) bool {
		return func(c call) bool { return len(c.args) > 0 && c.args[len(c.args)-1] == id }
	}
	root := "--root=" + filepath.Join(s.runtimeRoot(), ns)
	s.assertForms([]form{
		{cmd: "create", flags: []string{"--bundle", "--pid-file"}, globals: []string{root, "--log", "--log-format=json"}, match: byBundle(podID)},
		{cmd: "create", flags: []string{"--bundle", "--pid-file"}, globals: []string{root}, match: byBundle(cid)},
		{cmd: "start", match: lastArg(podID)},
		{cmd: "start", match: lastArg(cid)},
		{cmd: "exec", flags: []string{"--process", "--detach", "--pid-file"}, match: lastArg(cid)},
		{cmd: "update", flags: []string{"--resources=-"}, match: lastArg(cid)},
		{cmd: "kill", match: func(c call) bool { return len(c.args) > 0 && c.args[0] == cid || strings.Contains(c.line, " "+cid+" ") }},
		{cmd: "delete", match: lastArg(cid)},
		{cmd: "delete", match: lastArg(podID)},
	})
}

// restrictOOM tells whether this process lacks CAP_SYS_RESOURCE in its
// bounding set (so may not lower an oom_score_adj).
func restrictOOM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "false"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			var caps uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &caps)
			if caps&(1<<24) == 0 { // CAP_SYS_RESOURCE
				return "true"
			}
		}
	}
	return "false"
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// memoryLimit reads the container's memory limit from cgroup v1 (or v2).
func memoryLimit(parent, id string) (string, bool) {
	for _, p := range []string{
		filepath.Join("/sys/fs/cgroup/memory", parent, id, "memory.limit_in_bytes"),
		filepath.Join("/sys/fs/cgroup", parent, id, "memory.max"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b)), true
		}
	}
	return "", false
}
