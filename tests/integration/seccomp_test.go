package integration

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// oldProfile is an allow-list written before statx existed (as the OCI
// validation suite's is): libcontainer's init calls statx for its /proc
// safety checks after the filter is loaded, so without berth's help every
// container fails with "get root mount id: statx ... function not
// implemented".
var oldProfileSyscalls = strings.Fields(`accept access arch_prctl brk capget capset chdir close
	close_range dup dup2 dup3 epoll_create1 epoll_ctl epoll_pwait epoll_wait execve execveat exit
	exit_group faccessat faccessat2 fchdir fchown fcntl fstat fstatfs futex getcwd getdents64 getegid
	geteuid getgid getpid getppid gettid getuid ioctl lseek mmap mprotect munmap nanosleep newfstatat
	open openat openat2 pipe2 prctl pread64 read readlink readlinkat rt_sigaction rt_sigprocmask
	rt_sigreturn sched_getaffinity sched_yield set_robust_list set_tid_address setgid setgroups setuid
	sigaltstack stat lstat tgkill uname wait4 write writev madvise clone clone3 fchmod getrandom rseq
	mknodat umask setsid kill keyctl copy_file_range`)

func TestSeccompProfileWithoutStatx(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		name := "noNewPrivileges"
		if !nnp {
			name = "newPrivileges"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			r, _ := e.runNew(func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActErrno,
					Architectures: []specs.Arch{specs.ArchX86_64},
					Syscalls:      []specs.LinuxSyscall{{Names: oldProfileSyscalls, Action: specs.ActAllow}},
				}
			}, "sh", "-c", "ls / >/dev/null && echo seccomp-ok")
			if r.Code != 0 || r.Stdout != "seccomp-ok\n" {
				t.Fatalf("container under a profile without statx: want exit 0 and seccomp-ok: %s", r)
			}
		})
	}
}

func TestSeccompStatxConditionRejected(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("true")
	b.Edit(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{
				{Names: oldProfileSyscalls, Action: specs.ActAllow},
				{Names: []string{"statx"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0, Op: specs.OpEqualTo}}},
			},
		}
	})
	e.mustFail([]string{"create", "--bundle", b.Dir, e.NewID()}, "linux.seccomp.syscalls[1]", "statx")
}
