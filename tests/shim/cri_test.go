package shim

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestCRI is the Kubernetes path: crictl against containerd's CRI plugin
// with the documented runtime handler "berth": a host-network pod with two
// containers (one shim for the pod), exec (sync and streaming), logs,
// update, stats, stop and removal.
func TestCRI(t *testing.T) {
	forEachFlavor(t, func(t *testing.T, fl flavor) {
		crictl, err := testkit.FindCrictl(repoRoot)
		if err != nil {
			missing(t, "%v (tests/e2e/install-deps.sh builds it)", err)
		}
		extra, root := criConfig(t, fl, suiteDir("cri", fl))
		s := newSuite(t, fl, "cri", extra)
		s.root = filepath.Join(root, "k8s.io")
		tok := testkit.RandomHex(3)
		cgroupParent := "/berth-shim-cri-" + tok
		s.parents = append(s.parents, cgroupParent)
		cri, err := s.Crictl(crictl)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cri.RemovePods)

		podJSON, ctrJSON, ctr2JSON := filepath.Join(s.dir, "pod.json"), filepath.Join(s.dir, "c1.json"), filepath.Join(s.dir, "c2.json")
		testkit.WriteJSON(t, podJSON, testkit.PodConfig("shim-"+tok, "berth-shim", "uid-"+tok, filepath.Join(s.dir, "pod-logs"), cgroupParent))
		for i, p := range []string{ctrJSON, ctr2JSON} {
			testkit.WriteJSON(t, p, testkit.ContainerConfig(fmt.Sprintf("box%d", i), busyboxRef, fmt.Sprintf("box%d.log", i), 128<<20,
				"sh", "-c", fmt.Sprintf("echo cri-hello-%d; trap 'exit 0' TERM; while :; do sleep 0.1; done", i)))
		}

		var pod, c1, c2 string
		t.Run("RunPodSandbox", func(t *testing.T) {
			pod = cri.Must(t, "runp", "--runtime", "berth", podJSON)
			s.ids = append(s.ids, pod)
			if out := cri.Must(t, "pods", "--id", pod, "-q", "--state", "ready"); out != pod {
				t.Fatalf("pod not ready: %q", out)
			}
		})
		if pod == "" {
			t.FailNow()
		}
		t.Run("CreateStart", func(t *testing.T) {
			c1 = cri.Must(t, "create", pod, ctrJSON, podJSON)
			c2 = cri.Must(t, "create", pod, ctr2JSON, podJSON)
			s.ids = append(s.ids, c1, c2)
			cri.CheckStart(t, c1)
			cri.CheckStart(t, c2)
			// One shim serves the pod: sandbox and both containers.
			if n := len(s.shimProcs()); n != 1 {
				t.Errorf("%d shims for namespace k8s.io, want 1 (the pod's)", n)
			}
			if r := berth("--root", s.root, "list", "-q"); !r.OK() || !strings.Contains(r.Stdout, c1) || !strings.Contains(r.Stdout, pod) {
				t.Errorf("berth --root %s list: %s", s.root, r)
			}
		})
		if c1 == "" || c2 == "" {
			t.FailNow()
		}
		t.Run("RestartContainerd", func(t *testing.T) {
			// The pod's containers share a shim; each bundle says where.
			s.Stop()
			s.startDaemon(t)
			for _, c := range []string{pod, c1, c2} {
				if err := eventually(20*time.Second, func() error {
					if out := cri.Run("ps", "-a", "--id", c, "--state", "running", "-q").Stdout + cri.Run("pods", "--id", c, "--state", "ready", "-q").Stdout; !strings.Contains(out, c) {
						return fmt.Errorf("%s not running", c)
					}
					return nil
				}); err != nil {
					t.Fatalf("after the restart: %v", err)
				}
			}
		})
		t.Run("ExecSync", func(t *testing.T) { cri.CheckExecSync(t, c1) })
		t.Run("ExecStream", func(t *testing.T) { cri.CheckExecStream(t, c2) })
		t.Run("Logs", func(t *testing.T) { cri.CheckLogs(t, c1, "cri-hello-0") })
		t.Run("UpdateResources", func(t *testing.T) { cri.CheckUpdateMemory(t, cgroupParent, c1) })
		t.Run("Stats", func(t *testing.T) {
			out := cri.Must(t, "stats", "-o", "json", "--id", c1)
			if !strings.Contains(out, c1) || !strings.Contains(out, "workingSetBytes") {
				t.Errorf("crictl stats:\n%s", out)
			}
		})
		t.Run("StopRemove", func(t *testing.T) {
			cri.CheckStopRemove(t, c1)
			cri.CheckStopRemove(t, c2)
		})
		t.Run("StopRemovePod", func(t *testing.T) {
			cri.Must(t, "stopp", pod)
			cri.Must(t, "rmp", pod)
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
