package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// An address-space limit below what berth's Go init has already reserved
// (over 1 GiB of heap metadata) must still reach the container's program:
// the OCI suite's process_rlimits asks for RLIMIT_AS 1 GiB with a seccomp
// profile, and libcontainer alone fails there building the filter.
func TestRlimitAddressSpace(t *testing.T) {
	const limit = 64 << 20
	limits := []specs.POSIXRlimit{
		{Type: "RLIMIT_AS", Soft: limit, Hard: limit},
		{Type: "RLIMIT_DATA", Soft: limit / 2, Hard: limit},
		{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024},
	}
	want := fmt.Sprintf("%d %d\n%d %d\n512 1024\n", limit, limit, limit/2, limit)
	script := `for l in "Max address space" "Max data size" "Max open files"; do
		grep "^$l" /proc/self/limits | awk '{print $(NF-2), $(NF-1)}'; done`
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{Names: append(oldProfileSyscalls,
			"awk", "getegid32", "getpgrp", "fstat64", "sysinfo"), Action: specs.ActAllow}},
	}
	for _, tc := range []struct {
		name    string
		seccomp *specs.LinuxSeccomp
		nnp     bool
		detach  bool
	}{
		{"run", nil, false, false},
		{"run/seccomp", profile, false, false},
		{"run/seccomp+noNewPrivileges", profile, true, false},
		{"create+start/seccomp", profile, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			out := "/limits.out"
			args := []string{"sh", "-c", script}
			if tc.detach {
				args = []string{"sh", "-c", "(" + script + ") >" + out}
			}
			b := e.newBundle(args...)
			b.Edit(func(s *specs.Spec) {
				s.Process.Rlimits = limits
				s.Process.NoNewPrivileges = tc.nnp
				s.Linux.Seccomp = tc.seccomp
			})
			id := e.NewID()
			got := ""
			if tc.detach {
				e.create(b, id)
				e.mustRun("start", id)
				e.waitStatus(id, "stopped", 10*time.Second)
				data, err := os.ReadFile(b.Rootfs(out))
				if err != nil {
					t.Fatalf("read the container's output: %v", err)
				}
				got = string(data)
			} else {
				r := e.run("run", "--bundle", b.Dir, id)
				if r.Code != 0 {
					t.Fatalf("run with RLIMIT_AS %d: %s", limit, r)
				}
				got = r.Stdout
			}
			if got != want {
				t.Errorf("limits seen by the container:\n%s\nwant (soft hard for AS, DATA, NOFILE):\n%s", got, want)
			}
			if strings.Contains(got, "unlimited") {
				t.Errorf("a limit was not applied: %q", got)
			}
		})
	}
}
