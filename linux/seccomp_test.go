//go:build seccomp

package linux

import (
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

func statxRules(s *specs.LinuxSeccomp) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range s.Syscalls {
		if slices.Contains(r.Names, "statx") {
			out = append(out, r)
		}
	}
	return out
}

func TestAdmitInitStatxOldProfile(t *testing.T) {
	// A 2018-style allow-list: statx (332 on x86_64) comes after its last
	// syscall, so libcontainer's stub answered it with ENOSYS.
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "write", "openat", "copy_file_range"}, Action: specs.ActAllow}},
	}
	if err := AdmitInitStatx(s); err != nil {
		t.Fatal(err)
	}
	rules := statxRules(s)
	if len(rules) != 2 {
		t.Fatalf("statx rules: got %+v, want an allow and a deny rule", rules)
	}
	allow, deny := rules[0], rules[1]
	if allow.Action != specs.ActAllow || len(allow.Args) != 1 || allow.Args[0] != (specs.LinuxSeccompArg{Index: 3, Value: 0x5000, Op: specs.OpEqualTo}) {
		t.Errorf("allow rule: got %+v", allow)
	}
	if deny.Action != specs.ActErrno || deny.ErrnoRet == nil || *deny.ErrnoRet != enosys || deny.Args[0].Op != specs.OpNotEqual {
		t.Errorf("deny rule: got %+v, want ENOSYS for every other mask", deny)
	}
	if arch := nativeArchName(t); arch == "amd64" {
		// preadv2 (327) .. pkey_free (331) keep their ENOSYS.
		last := s.Syscalls[len(s.Syscalls)-1]
		for _, name := range []string{"preadv2", "pwritev2", "pkey_mprotect", "pkey_alloc", "pkey_free"} {
			if !slices.Contains(last.Names, name) || last.ErrnoRet == nil || *last.ErrnoRet != enosys {
				t.Errorf("gap rule %+v lacks %s with ENOSYS", last, name)
			}
		}
	}
}

func TestAdmitInitStatxExplicitDeny(t *testing.T) {
	eperm := uint(1)
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"statx", "mkdir"}, Action: specs.ActErrno, ErrnoRet: &eperm}},
	}
	if err := AdmitInitStatx(s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Syscalls[0].Names, []string{"mkdir"}) {
		t.Errorf("the user's rule should keep mkdir only, got %v", s.Syscalls[0].Names)
	}
	rules := statxRules(s)
	if len(rules) != 2 || rules[1].Action != specs.ActErrno || *rules[1].ErrnoRet != 1 {
		t.Errorf("statx rules: got %+v, want the user's EPERM for other masks", rules)
	}
}

func TestAdmitInitStatxLeavesAllowingProfiles(t *testing.T) {
	for name, s := range map[string]*specs.LinuxSeccomp{
		"default allow": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}},
		"statx allowed": {DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "statx"}, Action: specs.ActAllow}}},
		"no seccomp":    {},
	} {
		before := len(s.Syscalls)
		if err := AdmitInitStatx(s); err != nil || len(s.Syscalls) != before {
			t.Errorf("%s: got %v, %d rules; want no change", name, err, len(s.Syscalls))
		}
	}
}

func TestAdmitInitStatxConditionalRule(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow},
			{Names: []string{"statx"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, Op: specs.OpEqualTo}}},
		},
	}
	err := AdmitInitStatx(s)
	fe, ok := err.(*FieldError)
	if !ok || fe.Field != "linux.seccomp.syscalls[1]" {
		t.Fatalf("got %v, want a FieldError at linux.seccomp.syscalls[1]", err)
	}
}

func nativeArchName(t *testing.T) string {
	t.Helper()
	arch, err := libseccomp.GetNativeArch()
	if err != nil {
		t.Skipf("no native seccomp arch: %v", err)
	}
	return arch.String()
}
