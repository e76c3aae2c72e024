package testkit

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

// CrictlVersion is the crictl that tests/e2e/install-deps.sh installs.
const CrictlVersion = "v1.37.0"

// FindCrictl looks for crictl: $CRICTL, PATH, then <repo>/.cache/tools.
// The error says what is missing and how to install it.
func FindCrictl(repo string) (string, error) {
	if p := os.Getenv("CRICTL"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("CRICTL=%s is not an executable", p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("crictl"); err == nil {
		return p, nil
	}
	p := filepath.Join(repo, ".cache", "tools", "crictl")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("crictl is not installed (GOBIN=%s go install sigs.k8s.io/cri-tools/cmd/crictl@%s)", filepath.Dir(p), CrictlVersion)
}

// Crictl is crictl talking to a Containerd's CRI plugin, with a config
// file of its own.
type Crictl struct {
	Path   string
	Config string // its crictl.yaml
	d      *Containerd
}

// Crictl writes a crictl config for the daemon's socket to Dir/crictl.yaml
// and returns the crictl at path that uses it.
func (d *Containerd) Crictl(path string) (*Crictl, error) {
	c := &Crictl{Path: path, Config: filepath.Join(d.Dir, "crictl.yaml"), d: d}
	ep := "unix://" + d.Sock
	conf := fmt.Sprintf("runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 30\ndebug: false\n", ep, ep)
	return c, os.WriteFile(c.Config, []byte(conf), 0o644)
}

// Run runs crictl to its end.
func (c *Crictl) Run(args ...string) Result {
	return Run(c.d.Client(c.Path, append([]string{"--config", c.Config}, args...)...))
}

// Must runs crictl, fails t unless it exits 0, and returns its stdout
// trimmed (an id, a list of ids).
func (c *Crictl) Must(t testing.TB, args ...string) string {
	t.Helper()
	r := c.Run(args...)
	if !r.OK() {
		t.Fatalf("crictl failed: %s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// RemovePods stops and removes every pod sandbox (with its containers):
// what a failed test left, before the daemon stops.
func (c *Crictl) RemovePods() {
	r := c.Run("pods", "-q")
	if !r.OK() {
		return
	}
	for _, id := range strings.Fields(r.Stdout) {
		c.Run("stopp", id)
		c.Run("rmp", "-f", id)
	}
}

// CRIConfig is the CRI plugin's part of a containerd config of the given
// version (2: containerd 1.6, 1.7; 3: 2.x): sandboxImage as the pod
// sandbox's image, no CNI (dir/cni/bin and dir/cni/net.d, made here, stay
// empty: the pods use the host network), the stream server on a free
// loopback port, and restrict_oom_score_adj where the test binary may not
// lower an oom_score_adj (RestrictOOM). A runtime handler's tables go
// beside it.
func CRIConfig(version int, dir, sandboxImage string) (string, error) {
	bin, conf := filepath.Join(dir, "cni", "bin"), filepath.Join(dir, "cni", "net.d")
	for _, d := range []string{bin, conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if version == 2 {
		return fmt.Sprintf(`
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = %v

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = %s
  conf_dir = %s
`, TOMLString(sandboxImage), RestrictOOM(), TOMLString(bin), TOMLString(conf)), nil
	}
	return fmt.Sprintf(`
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = %s

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = %v

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [%s]
  conf_dir = %s
`, TOMLString(sandboxImage), RestrictOOM(), TOMLString(bin), TOMLString(conf)), nil
}

// RestrictOOM reports whether the test binary lacks CAP_SYS_RESOURCE in
// its bounding set, and so may not lower an oom_score_adj below its own
// (machines such as the test VMs): the CRI plugin must then not try to
// give a sandbox -998.
func RestrictOOM() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			var caps uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &caps)
			return caps&(1<<24) == 0 // CAP_SYS_RESOURCE
		}
	}
	return false
}

// Snippet is a documented config file (path) with every occurrence of the
// first string of each pair replaced by the second, and without its
// `version = ` line (the generated config has one): the tests run the
// documentation's config with only paths swapped. It fails t when a first
// string is not in the file, so that the documentation and the tests
// cannot drift apart silently.
func Snippet(t testing.TB, path string, pairs ...string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the documented snippet: %v", err)
	}
	text := string(data)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("%s no longer contains %q, which the test substitutes", path, pairs[i])
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

// WriteJSON writes v, indented, to path (a crictl pod or container
// config), failing t on errors.
func WriteJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// PodConfig is a crictl pod sandbox config: a pod that uses the host
// network (network 2 = NODE: no CNI is needed) under cgroupParent, its
// containers' logs in logDir.
func PodConfig(name, namespace, uid, logDir, cgroupParent string) map[string]any {
	return map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": namespace, "uid": uid, "attempt": 0},
		"log_directory": logDir,
		"linux": map[string]any{
			"cgroup_parent":    cgroupParent,
			"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}},
		},
	}
}

// ContainerConfig is a crictl container config: image running command
// with a memory limit, its log at logPath in the pod's log directory.
func ContainerConfig(name, image, logPath string, memory int64, command ...string) map[string]any {
	return map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": image},
		"command":  command,
		"log_path": logPath,
		"linux":    map[string]any{"resources": map[string]any{"memory_limit_in_bytes": memory}},
	}
}

// The crictl checks that the engine suites share: the same steps, with
// berth under the runc shim (tests/e2e) or under its own (tests/shim).

// RunPod runs a pod sandbox of podJSON with the runtime handler, checks
// that it is ready and returns its id.
func (c *Crictl) RunPod(t testing.TB, handler, podJSON string) string {
	t.Helper()
	pod := c.Must(t, "runp", "--runtime", handler, podJSON)
	if out := c.Must(t, "pods", "--id", pod, "-q", "--state", "ready"); out != pod {
		t.Fatalf("the pod is not ready: %q", out)
	}
	return pod
}

// CheckStart starts the created container id and checks that it runs.
func (c *Crictl) CheckStart(t testing.TB, id string) {
	t.Helper()
	c.Must(t, "start", id)
	if out := c.Must(t, "ps", "--id", id, "--state", "running", "-q"); out != id {
		t.Fatalf("the container %s is not running: %q", id, out)
	}
}

// CheckExecSync checks `crictl exec -s` in the container id: the output
// of a command, and the exit code 4 of one that fails, which crictl
// reports in its error message.
func (c *Crictl) CheckExecSync(t testing.TB, id string) {
	t.Helper()
	r := c.Run("exec", "-s", id, "sh", "-c", "echo execsync-$((6*7))")
	if !r.OK() || !strings.Contains(r.Stdout, "execsync-42") {
		t.Fatalf("want execsync-42: %s", r)
	}
	r = c.Run("exec", "-s", id, "sh", "-c", "exit 4")
	if r.Code == 0 || !strings.Contains(r.Stderr, "exited with 4") {
		t.Fatalf("want the exec's exit code 4 reported: %s", r)
	}
}

// CheckExecStream checks a streaming `crictl exec` (through the CRI
// plugin's stream server) in the container id.
func (c *Crictl) CheckExecStream(t testing.TB, id string) {
	t.Helper()
	r := c.Run("exec", id, "sh", "-c", "echo execstream-$((6*7))")
	if !r.OK() || !strings.Contains(r.Stdout, "execstream-42") {
		t.Fatalf("want execstream-42: %s", r)
	}
}

// CheckLogs waits at most 10 s until `crictl logs` of the container id
// shows want.
func (c *Crictl) CheckLogs(t testing.TB, id, want string) {
	t.Helper()
	var out string
	err := PollEvery(10*time.Second, 100*time.Millisecond, func() error {
		if out = c.Run("logs", id).Stdout; !strings.Contains(out, want) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("crictl logs: want %s, got:\n%s", want, out)
	}
}

// CheckUpdateMemory sets the memory limit of the container id, in the pod
// under cgroupParent, to 64 MiB with `crictl update` and checks its cgroup
// (where it finds it: see MemoryLimit).
func (c *Crictl) CheckUpdateMemory(t testing.TB, cgroupParent, id string) {
	t.Helper()
	c.Must(t, "update", "--memory", fmt.Sprint(64<<20), id)
	if limit, ok := MemoryLimit(cgroupParent, id); ok && limit != fmt.Sprint(64<<20) {
		t.Errorf("memory limit after update: %s, want %d", limit, 64<<20)
	}
}

// MemoryLimit reads the memory limit of the cgroup parent/id, on cgroup
// v1 or v2; false when there is no such cgroup.
func MemoryLimit(parent, id string) (string, bool) {
	for _, p := range []string{
		filepath.Join(CgroupRoot, "memory", parent, id, "memory.limit_in_bytes"),
		filepath.Join(CgroupRoot, parent, id, "memory.max"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b)), true
		}
	}
	return "", false
}

// CheckStopRemove stops the container id (its command exits 0 on SIGTERM),
// checks that crictl inspect shows it exited with 0, and removes it.
func (c *Crictl) CheckStopRemove(t testing.TB, id string) {
	t.Helper()
	c.Must(t, "stop", "--timeout", "20", id)
	var st struct {
		Status struct {
			State    string `json:"state"`
			ExitCode int    `json:"exitCode"`
		} `json:"status"`
	}
	out := c.Must(t, "inspect", "-o", "json", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("crictl inspect: %v\n%s", err, out)
	}
	if st.Status.State != "CONTAINER_EXITED" || st.Status.ExitCode != 0 {
		t.Errorf("%s after stop: state %s exit code %d, want CONTAINER_EXITED 0 (the TERM trap)", id, st.Status.State, st.Status.ExitCode)
	}
	c.Must(t, "rm", id)
}
