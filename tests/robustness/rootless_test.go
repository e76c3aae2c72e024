package robustness

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// rootlessPreconditions says why this machine cannot run rootless
// containers at all, or "".
func rootlessPreconditions() string {
	for _, tool := range []string{"useradd", "userdel", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed (Debian: passwd, util-linux)"
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(data)) == "0" {
		return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
	}
	if data, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(data)) == "0" {
		return "user namespaces are disabled (user.max_user_namespaces = 0)"
	}
	return ""
}

// TestRootless runs containers as a throwaway unprivileged user, with
// --rootless true and with the default (auto: euid is not 0), from a bundle
// of `berth spec --rootless`: the container runs as uid 0 in its user
// namespace, its lifecycle works under the user's own --root, and nothing
// is left.
func TestRootless(t *testing.T) {
	newWorld(t) // preconditions, parallel, and the leak check of its (no) ids
	if why := rootlessPreconditions(); why != "" {
		t.Skip("rootless: " + why)
	}
	name := fmt.Sprintf("rb%d%d", os.Getpid()%100000, setup.IDs.Next())
	if out, err := exec.Command("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// The user must reach its bundle: not below the test's 0700 temp dir.
	dir, err := os.MkdirTemp("", "robust-rootless")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("cp", "-a", filepath.Join(setup.Base, "rootfs"), filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A world of the user's: its --root lives in the user's directory,
	// and is the user's too (made before the chown).
	uw := &world{t: t, Space: testkit.SpaceAt(t, dir, setup.IDs)}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	asUser := opts{
		wrap: []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups"},
		env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir},
		dir:  dir,
	}
	t.Cleanup(func() {
		for _, id := range uw.IDs() {
			if r := uw.start(asUser, "delete", "--force", id).Wait(); !r.OK() {
				t.Logf("final delete --force %s as %s: %s", id, name, r)
			}
		}
		uw.checkClean("rootless containers after delete --force", uw.IDs()...)
	})

	spec := asUser
	spec.noRoot = true
	if r := uw.start(spec, "spec", "--rootless").Wait(); !r.OK() {
		t.Fatalf("berth spec --rootless as %s: %s", name, r)
	}
	var cfg map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || json.Unmarshal(data, &cfg) != nil {
		t.Fatalf("config.json of spec --rootless: %v %s", err, data)
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sh", "-c", "id; cat /proc/self/uid_map"}
	data, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, mode := range []string{"true", "auto"} {
		id := uw.NewID()
		args := []string{"run", "--bundle", dir, id}
		if mode == "true" {
			args = append([]string{"--rootless", "true"}, args...)
		}
		o := asUser
		r := uw.start(o, args...).Wait()
		if !r.OK() {
			t.Errorf("rootless run (--rootless %s) as %s: %s", mode, name, r)
			continue
		}
		if !strings.Contains(r.Stdout, "uid=0(root)") {
			t.Errorf("rootless run (--rootless %s): want uid 0 in the container: %s", mode, r)
		}
		if f := strings.Fields(r.Stdout); len(f) < 3 || !strings.Contains(r.Stdout, " "+u.Uid+" ") {
			t.Errorf("rootless run (--rootless %s): uid_map does not map the user %s: %s", mode, u.Uid, r)
		}
	}

	// The lifecycle, detached, under the user's root.
	proc["args"] = []string{"sleep", "1000"}
	data, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	id := uw.NewID()
	for _, args := range [][]string{{"create", "--bundle", dir, id}, {"start", id}} {
		if r := uw.start(asUser, args...).Wait(); !r.OK() {
			t.Fatalf("rootless %s: %s", args[0], r)
		}
	}
	r := uw.start(asUser, "state", id).Wait()
	var st testkit.State
	if !r.OK() || json.Unmarshal([]byte(r.Stdout), &st) != nil || st.Status != "running" || !testkit.Alive(st.Pid) {
		t.Fatalf("rootless state: want running with a live pid: %s", r)
	}
	uw.trackPid(st.Pid) // no cgroup to find it by: rootless on cgroup v1 has none
	if status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid)); !strings.Contains(string(status), "Uid:\t"+u.Uid+"\t") {
		t.Errorf("the rootless container's init does not run as %s on the host:\n%s", u.Uid, status)
	}
	if r := uw.start(asUser, "kill", id, "KILL").Wait(); !r.OK() {
		t.Errorf("rootless kill: %s", r)
	}
	if !waitUntil(5*time.Second, func() bool { return !testkit.Alive(st.Pid) }) {
		t.Errorf("rootless init %d still alive after kill KILL", st.Pid)
	}
	if r := uw.start(asUser, "delete", id).Wait(); !r.OK() {
		t.Errorf("rootless delete: %s", r)
	}
	uw.checkClean("rootless create/start/kill/delete", id)
}
