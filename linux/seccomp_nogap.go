//go:build !seccomp

package linux

// enosysGap needs libseccomp's syscall tables; without seccomp support
// there is no filter whose range could move.
func enosysGap(names []string, added string) (gap []string, beyond bool) { return nil, false }
