package cgroup2

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// devicesScript writes to /dev/null (allowed), reads /dev/zero (a default
// device) and writes to /dev/full; its last line tells whether the shell
// could open /dev/full at all.
const devicesScript = `echo x > /dev/null && echo null-ok
head -c 4 /dev/zero | wc -c | sed 's/^ */zero-read=/'
if echo x > /dev/full; then echo full-written; fi
echo done`

// fullDevice adds /dev/full (char 1:7) to linux.devices, so berth makes the
// node in the container's /dev. Listing it there also drops libcontainer's
// built-in allow rule for /dev/full, which is appended after the user's
// rules and would override a deny: with the node in linux.devices, the
// rules of linux.resources.devices alone decide.
func fullDevice(s *specs.Spec) {
	s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
		Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: ptr[os.FileMode](0o666),
	})
}

// runDevicesScript runs devicesScript in a container with /dev/full (see
// fullDevice) and the device rules given, and fails the test unless the
// script exits 0.
func runDevicesScript(e *env, rules ...specs.LinuxDeviceCgroup) result {
	e.t.Helper()
	id := e.NewID()
	b := e.newBundle(id, func(s *specs.Spec) {
		fullDevice(s)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rules...)
	}, "sh", "-c", devicesScript)
	r := e.run("run", "--bundle", b.Dir, id)
	if r.Code != 0 {
		e.t.Fatalf("run: %s", r)
	}
	return r
}

// TestDevices: on cgroup v2 the device rules are an eBPF program attached
// to the container's cgroup. Allowed devices open, a denied one fails with
// EPERM ("Operation not permitted").
func TestDevices(t *testing.T) {
	e := newEnv(t)

	t.Run("denied", func(t *testing.T) {
		r := runDevicesScript(e.sub(t),
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
			specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](7), Access: "rwm"},
		)
		for _, want := range []string{"null-ok", "zero-read=4", "done"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("stdout lacks %q: %s", want, r)
			}
		}
		if strings.Contains(r.Stdout, "full-written") {
			t.Errorf("/dev/full (c 1:7, denied rwm) could be opened for writing: %s", r)
		}
		if !strings.Contains(r.Stderr, "/dev/full") || !strings.Contains(r.Stderr, "Operation not permitted") {
			t.Errorf("opening the denied /dev/full did not fail with EPERM (Operation not permitted): %s", r)
		}
	})

	// The same node, allowed: it opens, and writing fails the way /dev/full
	// does (ENOSPC). So the EPERM above came from the device rules.
	t.Run("allowed", func(t *testing.T) {
		r := runDevicesScript(e.sub(t),
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](7), Access: "rwm"},
		)
		if !strings.Contains(r.Stdout, "null-ok") || !strings.Contains(r.Stdout, "done") {
			t.Errorf("unexpected output: %s", r)
		}
		if strings.Contains(r.Stderr, "Operation not permitted") {
			t.Errorf("an allowed device was denied: %s", r)
		}
		if !strings.Contains(r.Stderr, "No space left on device") {
			t.Errorf("writing the allowed /dev/full did not fail with ENOSPC: %s", r)
		}
	})
}

// TestCgroupNamespace: with a cgroup namespace the container sees its own
// cgroup as the root, "0::/"; without one it sees its path in the host's
// hierarchy, which is linux.cgroupsPath. On cgroup v2 /proc/self/cgroup has
// the single line "0::<path>".
func TestCgroupNamespace(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		cgroup bool
	}{{"private", true}, {"host", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.NewID()
			b := e.newBundle(id, func(s *specs.Spec) {
				var nss []specs.LinuxNamespace
				for _, ns := range s.Linux.Namespaces {
					if ns.Type != specs.CgroupNamespace {
						nss = append(nss, ns)
					}
				}
				if tc.cgroup {
					nss = append(nss, specs.LinuxNamespace{Type: specs.CgroupNamespace})
				}
				s.Linux.Namespaces = nss
			}, "cat", "/proc/self/cgroup")
			r := e.run("run", "--bundle", b.Dir, id)
			if r.Code != 0 {
				t.Fatalf("run: %s", r)
			}
			want := "0::/"
			if !tc.cgroup {
				want = "0::" + b.cgroup
			}
			if got := strings.TrimSpace(r.Stdout); got != want {
				t.Errorf("/proc/self/cgroup in the container: got %q, want %q", got, want)
			}
		})
	}
}

// TestSpecCgroupNamespace: on cgroup v2, `berth spec` (like runc spec) puts
// a cgroup namespace in the default config; on v1 it does not.
func TestSpecCgroupNamespace(t *testing.T) {
	newEnv(t)
	var s specs.Spec
	if err := json.Unmarshal(baseSpec, &s); err != nil {
		t.Fatal(err)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			return
		}
	}
	t.Errorf("berth spec on cgroup v2: linux.namespaces %v lacks cgroup", s.Linux.Namespaces)
}
