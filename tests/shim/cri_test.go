package shim

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func findCrictl(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CRICTL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("crictl"); err == nil {
		return p
	}
	p := filepath.Join(repoRoot, ".cache", "tools", "crictl")
	if _, err := os.Stat(p); err != nil {
		missing(t, "crictl is not installed (tests/e2e/install-deps.sh builds it into %s)", filepath.Dir(p))
	}
	return p
}

// snippet returns a contrib/containerd file with pairs of strings replaced
// (each must be there), without its version line: the tests run the
// documented configuration with only paths swapped.
func snippet(t *testing.T, name string, pairs ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "contrib", "containerd", name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("%s no longer contains %q", name, pairs[i])
		}
		text = strings.ReplaceAll(text, pairs[i], pairs[i+1])
	}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "version = ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// criConfig is the CRI part of a suite's containerd config: the documented
// runtime handler "berth" with its state root in the suite dir, no CNI
// (host-network pods), the pause image imported by the suite.
func criConfig(t *testing.T, fl flavor, dir string) (config, root string) {
	root = filepath.Join(dir, "berth-root")
	cni := filepath.Join(dir, "cni")
	for _, d := range []string{cni + "/bin", cni + "/net.d", dir + "/pod-logs"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if fl.version == 2 {
		opts := filepath.Join(dir, "berth-shim-options.toml")
		if err := os.WriteFile(opts, []byte(fmt.Sprintf("Root = %q\n", root)), 0o644); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf(`# cri
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = %v

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = %q
  conf_dir = %q
%s`, pauseRef, restrictOOM(), cni+"/bin", cni+"/net.d",
			snippet(t, "berth-shim.toml", `ConfigPath = "/etc/containerd/berth-shim-options.toml"`, fmt.Sprintf("ConfigPath = %q", opts))), root
	}
	return fmt.Sprintf(`# cri
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = %q

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = %v

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [%q]
  conf_dir = %q
%s`, pauseRef, restrictOOM(), cni+"/bin", cni+"/net.d",
		snippet(t, "berth-shim-v3.toml", "Root = '/run/containerd/berth'", fmt.Sprintf("Root = %q", root))), root
}

// restrictOOM: without CAP_SYS_RESOURCE (as in the test VMs) the sandbox's
// oom_score_adj cannot be lowered.
func restrictOOM() bool {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			var caps uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &caps)
			return caps&(1<<24) == 0
		}
	}
	return false
}

// TestCRI is the Kubernetes path: crictl against containerd's CRI plugin
// with the documented runtime handler "berth": a host-network pod with two
// containers (one shim for the pod), exec (sync and streaming), logs,
// update, stats, stop and removal.
func TestCRI(t *testing.T) {
	forEachFlavor(t, func(t *testing.T, fl flavor) {
		crictl := findCrictl(t)
		dir := filepath.Join(workDir, "cri-"+fl.name)
		_ = os.MkdirAll(dir, 0o755)
		extra, root := criConfig(t, fl, dir)
		s := newSuite(t, fl, "cri", extra)
		s.ns = "k8s.io"
		s.markDefaultRoot()
		s.root = filepath.Join(root, "k8s.io")
		s.importImages(t)
		tok := token()
		cgroupParent := "/berth-shim-cri-" + tok
		s.parents = append(s.parents, cgroupParent)

		conf := filepath.Join(s.dir, "crictl.yaml")
		ep := "unix://" + s.sock
		if err := os.WriteFile(conf, []byte(fmt.Sprintf("runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 30\n", ep, ep)), 0o644); err != nil {
			t.Fatal(err)
		}
		cri := func(args ...string) result {
			return s.run(cmdTimeout, "", crictl, append([]string{"--config", conf}, args...)...)
		}
		must := func(t *testing.T, args ...string) string {
			t.Helper()
			r := cri(args...)
			if r.code != 0 {
				t.Fatalf("crictl failed:\n%s", r)
			}
			return strings.TrimSpace(r.stdout)
		}
		t.Cleanup(func() {
			for _, id := range strings.Fields(cri("pods", "-q").stdout) {
				cri("stopp", id)
				cri("rmp", "-f", id)
			}
		})

		podJSON, ctrJSON, ctr2JSON := filepath.Join(s.dir, "pod.json"), filepath.Join(s.dir, "c1.json"), filepath.Join(s.dir, "c2.json")
		writeJSON(t, podJSON, map[string]any{
			"metadata":      map[string]any{"name": "shim-" + tok, "namespace": "berth-shim", "uid": "uid-" + tok},
			"log_directory": filepath.Join(s.dir, "pod-logs"),
			"linux": map[string]any{
				"cgroup_parent":    cgroupParent,
				"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}},
			},
		})
		for i, p := range []string{ctrJSON, ctr2JSON} {
			writeJSON(t, p, map[string]any{
				"metadata": map[string]any{"name": fmt.Sprintf("box%d", i)},
				"image":    map[string]any{"image": busyboxRef},
				"command":  []string{"sh", "-c", fmt.Sprintf("echo cri-hello-%d; trap 'exit 0' TERM; while :; do sleep 0.1; done", i)},
				"log_path": fmt.Sprintf("box%d.log", i),
				"linux":    map[string]any{"resources": map[string]any{"memory_limit_in_bytes": 128 << 20}},
			})
		}

		var pod, c1, c2 string
		t.Run("RunPodSandbox", func(t *testing.T) {
			pod = must(t, "runp", "--runtime", "berth", podJSON)
			s.ids = append(s.ids, pod)
			if out := must(t, "pods", "--id", pod, "-q", "--state", "ready"); out != pod {
				t.Fatalf("pod not ready: %q", out)
			}
		})
		if pod == "" {
			t.FailNow()
		}
		t.Run("CreateStart", func(t *testing.T) {
			c1 = must(t, "create", pod, ctrJSON, podJSON)
			must(t, "start", c1)
			c2 = must(t, "create", pod, ctr2JSON, podJSON)
			s.ids = append(s.ids, c1, c2)
			must(t, "start", c2)
			for _, c := range []string{c1, c2} {
				if out := must(t, "ps", "--id", c, "--state", "running", "-q"); out != c {
					t.Fatalf("container %s not running: %q", c, out)
				}
			}
			// One shim serves the pod: sandbox and both containers.
			if n := len(s.shimProcs()); n != 1 {
				t.Errorf("%d shims for namespace k8s.io, want 1 (the pod's)", n)
			}
			out, err := berth("--root", s.root, "list", "-q")
			if err != nil || !strings.Contains(out, c1) || !strings.Contains(out, pod) {
				t.Errorf("berth --root %s list: %v\n%s", s.root, err, out)
			}
		})
		if c1 == "" || c2 == "" {
			t.FailNow()
		}
		t.Run("RestartContainerd", func(t *testing.T) {
			// The pod's containers share a shim; each bundle says where.
			s.stopDaemon()
			s.startDaemon()
			for _, c := range []string{pod, c1, c2} {
				if err := eventually(20*time.Second, func() error {
					if out := cri("ps", "-a", "--id", c, "--state", "running", "-q").stdout + cri("pods", "--id", c, "--state", "ready", "-q").stdout; !strings.Contains(out, c) {
						return fmt.Errorf("%s not running", c)
					}
					return nil
				}); err != nil {
					t.Fatalf("after the restart: %v", err)
				}
			}
		})
		t.Run("ExecSync", func(t *testing.T) {
			r := cri("exec", "-s", c1, "sh", "-c", "echo execsync-$((6*7))")
			if r.code != 0 || !strings.Contains(r.stdout, "execsync-42") {
				t.Fatalf("want execsync-42:\n%s", r)
			}
			r = cri("exec", "-s", c1, "sh", "-c", "exit 4")
			if r.code == 0 || !strings.Contains(r.stderr, "exited with 4") {
				t.Fatalf("want exit code 4 reported:\n%s", r)
			}
		})
		t.Run("ExecStream", func(t *testing.T) {
			r := cri("exec", c2, "sh", "-c", "echo execstream-$((6*7))")
			if r.code != 0 || !strings.Contains(r.stdout, "execstream-42") {
				t.Fatalf("want execstream-42:\n%s", r)
			}
		})
		t.Run("Logs", func(t *testing.T) {
			var out string
			if err := eventually(10*time.Second, func() error {
				out = cri("logs", c1).stdout
				if !strings.Contains(out, "cri-hello-0") {
					return fmt.Errorf("not yet")
				}
				return nil
			}); err != nil {
				t.Fatalf("crictl logs: want cri-hello-0:\n%s", out)
			}
		})
		t.Run("UpdateResources", func(t *testing.T) {
			must(t, "update", "--memory", fmt.Sprint(64<<20), c1)
			if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cgroupParent, c1, "memory.limit_in_bytes")); err == nil && strings.TrimSpace(string(b)) != fmt.Sprint(64<<20) {
				t.Errorf("memory limit after update: %s", b)
			}
		})
		t.Run("Stats", func(t *testing.T) {
			out := must(t, "stats", "-o", "json", "--id", c1)
			if !strings.Contains(out, c1) || !strings.Contains(out, "workingSetBytes") {
				t.Errorf("crictl stats:\n%s", out)
			}
		})
		t.Run("StopRemove", func(t *testing.T) {
			for _, c := range []string{c1, c2} {
				must(t, "stop", "--timeout", "20", c)
				var st struct {
					Status struct {
						State    string `json:"state"`
						ExitCode int    `json:"exitCode"`
					} `json:"status"`
				}
				out := must(t, "inspect", "-o", "json", c)
				if err := json.Unmarshal([]byte(out), &st); err != nil {
					t.Fatal(err)
				}
				if st.Status.State != "CONTAINER_EXITED" || st.Status.ExitCode != 0 {
					t.Errorf("%s after stop: %s exit %d, want CONTAINER_EXITED 0", c, st.Status.State, st.Status.ExitCode)
				}
				must(t, "rm", c)
			}
		})
		t.Run("StopRemovePod", func(t *testing.T) {
			must(t, "stopp", pod)
			must(t, "rmp", pod)
			if err := eventually(10*time.Second, func() error {
				if n := len(s.shimProcs()); n > 0 {
					return fmt.Errorf("%d shims left", n)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	})
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
