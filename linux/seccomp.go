package linux

import (
	"fmt"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// statxMountIDMask is STATX_MNT_ID|STATX_MNT_ID_UNIQUE, the one statx(2)
// request libcontainer's init makes after the seccomp filter is loaded:
// its /proc safety checks (filepath-securejoin) compare mount ids, and fail
// the container ("get root mount id: statx ... function not implemented")
// when the profile denies statx, as profiles written before 2018 do.
const statxMountIDMask = 0x5000

// enosys is the errno of a syscall the kernel does not have.
const enosys = 38

// AdmitInitStatx lets berth's own init make its mount-id statx call under a
// seccomp profile that denies statx, without widening the profile for the
// container: statx stays denied, with the profile's own action, for every
// other request mask. A mount id tells the container nothing that
// /proc/self/mountinfo does not. Profiles that already allow statx are left
// alone. Naming statx also moves the end of the profile's syscall range,
// so the syscalls between the old end and statx, which libcontainer answered
// with ENOSYS, are answered with ENOSYS explicitly (see enosysGap).
//
// It returns an error naming the rule when statx has argument conditions
// berth cannot combine with its own.
func AdmitInitStatx(s *specs.LinuxSeccomp) error {
	if s == nil || (s.DefaultAction == "" && len(s.Syscalls) == 0) {
		return nil
	}
	action, errnoRet := s.DefaultAction, s.DefaultErrnoRet
	explicit := false
	for i, rule := range s.Syscalls {
		if !slices.Contains(rule.Names, "statx") {
			continue
		}
		if len(rule.Args) > 0 {
			return &FieldError{
				Field: fmt.Sprintf("linux.seccomp.syscalls[%d]", i),
				Msg: "statx rules with argument conditions are not supported: the container's init needs " +
					"statx(mask=STATX_MNT_ID|STATX_MNT_ID_UNIQUE) after the filter is loaded; allow statx, or deny it without conditions",
			}
		}
		action, errnoRet, explicit = rule.Action, rule.ErrnoRet, true
	}
	if action == specs.ActAllow || action == specs.ActLog {
		return nil
	}
	names := profileSyscalls(s)
	gap, beyond := enosysGap(names, "statx")
	stub := s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != enosys
	if !explicit && beyond && stub {
		// statx came after the profile's last syscall: libcontainer's
		// stub answered it with ENOSYS, and so does berth's rule.
		e := uint(enosys)
		action, errnoRet = specs.ActErrno, &e
	}
	if explicit {
		var kept []specs.LinuxSyscall
		for _, rule := range s.Syscalls {
			rule.Names = slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return n == "statx" })
			if len(rule.Names) > 0 {
				kept = append(kept, rule)
			}
		}
		s.Syscalls = kept
	}
	s.Syscalls = append(s.Syscalls,
		specs.LinuxSyscall{
			Names:  []string{"statx"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 3, Value: statxMountIDMask, Op: specs.OpEqualTo}},
		},
		specs.LinuxSyscall{
			Names:    []string{"statx"},
			Action:   action,
			ErrnoRet: errnoRet,
			Args:     []specs.LinuxSeccompArg{{Index: 3, Value: statxMountIDMask, Op: specs.OpNotEqual}},
		})
	if len(gap) > 0 && stub {
		e := uint(enosys)
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: gap, Action: specs.ActErrno, ErrnoRet: &e})
	}
	return nil
}

func profileSyscalls(s *specs.LinuxSeccomp) []string {
	var names []string
	for _, rule := range s.Syscalls {
		names = append(names, rule.Names...)
	}
	return names
}
