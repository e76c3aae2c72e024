package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

// findCrictl looks for crictl (see testkit.FindCrictl), or skips/fails.
func findCrictl(t *testing.T) string {
	t.Helper()
	p, err := testkit.FindCrictl(repoRoot)
	if err != nil {
		missing(t, "%v", err)
	}
	return p
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
	tok := testkit.RandomHex(3)
	cgroupParent := "/berth-e2e-cri-" + tok
	s.addEmpty(filepath.Join(s.runtimeRoot(), ns))
	for _, h := range testkit.Hierarchies() {
		s.tidy(false, filepath.Join(h, cgroupParent))
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "pod-logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	// No CNI: the pod uses the host network. The stream server (for
	// `crictl exec` without -s) listens on a free loopback port.
	extra, err := testkit.CRIConfig(2, s.dir, pauseRef)
	if err != nil {
		t.Fatal(err)
	}
	d := startContainerd(s, ns, true, extra)
	importImages(t, d)
	cri, err := d.Crictl(crictl)
	if err != nil {
		t.Fatal(err)
	}
	// Remove whatever a failed test left, before containerd stops.
	t.Cleanup(cri.RemovePods)

	if out := cri.Must(t, "images", "-q"); out == "" {
		t.Fatalf("crictl lists no images after the import")
	}

	podJSON := filepath.Join(s.dir, "pod.json")
	ctrJSON := filepath.Join(s.dir, "container.json")
	testkit.WriteJSON(t, podJSON, testkit.PodConfig("e2e-"+tok+"-pod", "berth-e2e", "uid-"+tok, filepath.Join(s.dir, "pod-logs"), cgroupParent))
	testkit.WriteJSON(t, ctrJSON, testkit.ContainerConfig("box", busyboxRef, "box.log", 128<<20,
		"sh", "-c", "echo cri-hello-$((6*7)); trap 'exit 0' TERM; while :; do sleep 0.1; done"))

	var podID, cid string
	t.Run("RunPodSandbox", func(t *testing.T) {
		podID = cri.RunPod(t, "berth", podJSON)
	})
	if podID == "" {
		t.FailNow()
	}

	t.Run("CreateStart", func(t *testing.T) {
		cid = cri.Must(t, "create", podID, ctrJSON, podJSON)
		cri.CheckStart(t, cid)
	})
	if cid == "" {
		t.FailNow()
	}

	t.Run("ExecSync", func(t *testing.T) { cri.CheckExecSync(t, cid) })
	t.Run("ExecStream", func(t *testing.T) { cri.CheckExecStream(t, cid) })
	t.Run("Logs", func(t *testing.T) { cri.CheckLogs(t, cid, "cri-hello-42") })
	t.Run("UpdateResources", func(t *testing.T) { cri.CheckUpdateMemory(t, cgroupParent, cid) })

	t.Run("Stats", func(t *testing.T) {
		if out := cri.Must(t, "stats", "--id", cid); !strings.Contains(out, cid[:12]) {
			t.Errorf("crictl stats does not list the container:\n%s", out)
		}
	})

	t.Run("StopRemove", func(t *testing.T) { cri.CheckStopRemove(t, cid) })

	t.Run("StopRemovePod", func(t *testing.T) {
		cri.Must(t, "stopp", podID)
		cri.Must(t, "rmp", podID)
	})

	t.Run("NothingLeft", func(t *testing.T) {
		if out := cri.Must(t, "pods", "-q"); out != "" {
			t.Errorf("pods left: %s", out)
		}
		if out := cri.Must(t, "ps", "-a", "-q"); out != "" {
			t.Errorf("containers left: %s", out)
		}
		if r := d.Ctr("task", "ls", "-q"); strings.TrimSpace(r.Stdout) != "" {
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
