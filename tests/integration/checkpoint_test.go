package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckpointRestore round-trips a running container through CRIU. It
// needs a CRIU that works with this kernel: `criu check` says.
func TestCheckpointRestore(t *testing.T) {
	if out, err := exec.Command("criu", "check").CombinedOutput(); err != nil {
		t.Skipf("CRIU cannot checkpoint on this machine (`criu check`: %v: %s)", err, lastLine(string(out)))
	}
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done")
	id := e.NewID()
	e.mustRun("run", "-d", "--bundle", b.Dir, id)
	e.waitStatus(id, "running", 10*time.Second)
	images := filepath.Join(e.mkdir("ckpt"), "images")
	e.mustRun("checkpoint", "--image-path", images, id)
	e.mustFail([]string{"state", id}, "does not exist")
	e.mustRun("restore", "-d", "--bundle", b.Dir, "--image-path", images, id)
	st := e.waitStatus(id, "running", 10*time.Second)
	if st.Pid <= 0 {
		t.Fatalf("restored container has no pid: %+v", st)
	}
}

// TestCheckpointNotRunning: only running or paused containers can be
// checkpointed; a created one is refused before CRIU is asked.
func TestCheckpointNotRunning(t *testing.T) {
	e := newEnv(t)
	_, id := e.created("true")
	e.mustFail([]string{"checkpoint", "--image-path", filepath.Join(e.mkdir("ckpt"), "images"), id}, "cannot checkpoint", "created")
	if st := e.mustState(id); st.Status != "created" {
		t.Errorf("a refused checkpoint changed the container: %+v", st)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
