//go:build seccomp

package linux

import (
	"slices"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// enosysGap reports whether the native syscall added comes after every
// syscall in names, and lists the syscalls in between that names lacks.
// libcontainer answers syscalls beyond a profile's last one with ENOSYS (so
// that programs fall back from syscalls the profile predates); naming added
// moves that end.
func enosysGap(names []string, added string) (gap []string, beyond bool) {
	arch, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, false
	}
	addedNr, err := libseccomp.GetSyscallFromNameByArch(added, arch)
	if err != nil {
		return nil, false
	}
	last := libseccomp.ScmpSyscall(-1)
	for _, n := range names {
		if nr, err := libseccomp.GetSyscallFromNameByArch(n, arch); err == nil && nr > last {
			last = nr
		}
	}
	if addedNr <= last {
		return nil, false
	}
	for nr := last + 1; nr < addedNr; nr++ {
		name, err := nr.GetNameByArch(arch)
		if err != nil || slices.Contains(names, name) {
			continue
		}
		gap = append(gap, name)
	}
	return gap, true
}
