package linux

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func ptr[T any](v T) *T { return &v }

// newBundle makes a bundle directory holding an empty "rootfs" directory
// and a regular file "notadir".
func newBundle(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notadir"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBaseSpec returns a valid spec shaped like `runc spec` output.
func newBaseSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0},
			Args: []string{"sh"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "berth",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "cgroup"},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

func specJSON(s *specs.Spec) string {
	b, err := json.Marshal(s)
	if err != nil {
		return "<unmarshalable: " + err.Error() + ">"
	}
	return string(b)
}

// fieldErrors returns every *FieldError inside err.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

func TestValidateBaseSpec(t *testing.T) {
	bundle := newBundle(t)
	if err := Validate(newBaseSpec(), ValidateOptions{Bundle: bundle}); err != nil {
		t.Fatalf("base spec rejected: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	withSeccomp := func(s *specs.Spec) *specs.LinuxSeccomp {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}},
		}
		return s.Linux.Seccomp
	}
	addNS := func(s *specs.Spec, ns ...specs.LinuxNamespace) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, ns...)
	}
	tests := []struct {
		name      string
		systemd   bool
		edit      func(*specs.Spec)
		wantField string
		wantMsg   string
	}{
		{"no ociVersion", false, func(s *specs.Spec) { s.Version = "" }, "ociVersion", `must be set, e.g. "`},
		{"no root", false, func(s *specs.Spec) { s.Root = nil }, "root", "must be set"},
		{"empty root path", false, func(s *specs.Spec) { s.Root.Path = "" }, "root.path", "must be set"},
		{"missing rootfs", false, func(s *specs.Spec) { s.Root.Path = "nope" }, "root.path", "does not exist (create the rootfs or fix root.path)"},
		{"rootfs not a dir", false, func(s *specs.Spec) { s.Root.Path = "notadir" }, "root.path", "is not a directory"},
		{"no args", false, func(s *specs.Spec) { s.Process.Args = nil }, "process.args", "must not be empty"},
		{"no cwd", false, func(s *specs.Spec) { s.Process.Cwd = "" }, "process.cwd", "must be set"},
		{"relative cwd", false, func(s *specs.Spec) { s.Process.Cwd = "home" }, "process.cwd", "must be absolute"},
		{"env without =", false, func(s *specs.Spec) { s.Process.Env[1] = "TERM" }, "process.env[1]", `"TERM" must have the form KEY=value`},
		{"env empty key", false, func(s *specs.Spec) { s.Process.Env[1] = "=x" }, "process.env[1]", "empty name"},
		{"env NUL", false, func(s *specs.Spec) { s.Process.Env[0] = "A=b\x00c" }, "process.env[0]", "NUL byte"},
		{"unknown rlimit", false, func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FOO"})
		}, "process.rlimits[1].type", `unknown rlimit "RLIMIT_FOO" (want one of: RLIMIT_AS,`},
		{"duplicate rlimit", false, func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1, Soft: 1})
		}, "process.rlimits[1].type", "duplicate RLIMIT_NOFILE, also at process.rlimits[0]"},
		{"rlimit soft above hard", false, func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 }, "process.rlimits[0].soft", "must be <= hard (1024)"},
		{"oomScoreAdj too big", false, func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(1001) }, "process.oomScoreAdj", "between -1000 and 1000"},
		{"oomScoreAdj too small", false, func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(-1001) }, "process.oomScoreAdj", "between -1000 and 1000"},
		{"ioPriority class", false, func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_X"}
		}, "process.ioPriority.class", `unknown class "IOPRIO_CLASS_X"`},
		{"ioPriority priority", false, func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}
		}, "process.ioPriority.priority", "between 0 and 7"},
		{"scheduler no policy", false, func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{} }, "process.scheduler.policy", "must be set"},
		{"scheduler nice", false, func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: 20}
		}, "process.scheduler.nice", "between -20 and 19"},
		{"scheduler flag", false, func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_X"}}
		}, "process.scheduler.flags[0]", `unknown flag "SCHED_FLAG_X"`},
		{"hostname without uts", false, func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:3] }, "hostname", "requires a uts namespace in linux.namespaces"},
		{"domainname without uts", false, func(s *specs.Spec) {
			s.Hostname = ""
			s.Domainname = "example.org"
			s.Linux.Namespaces = s.Linux.Namespaces[:3]
		}, "domainname", "requires a uts namespace"},
		{"hostname without linux", false, func(s *specs.Spec) { s.Linux = nil }, "hostname", "requires a uts namespace"},
		{"empty mount destination", false, func(s *specs.Spec) { s.Mounts[2].Destination = "" }, "mounts[2].destination", "must be set"},
		{"mount type missing", false, func(s *specs.Spec) { s.Mounts[1].Type = "" }, "mounts[1].type", `must be set unless options contain "bind" or "rbind"`},
		{"bind without source", false, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Options: []string{"rbind"}})
		}, "mounts[7].source", "must be set for a bind mount"},
		{"relative bind source missing", false, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "data", Options: []string{"bind", "ro"}})
		}, "mounts[7].source", "data does not exist"},
		{"mount destination NUL", false, func(s *specs.Spec) { s.Mounts[0].Destination = "/pr\x00oc" }, "mounts[0].destination", "NUL byte"},
		{"unknown namespace", false, func(s *specs.Spec) { addNS(s, specs.LinuxNamespace{Type: "foo"}) },
			"linux.namespaces[6].type", `unknown namespace type "foo" (want one of: cgroup, ipc, mount, network, pid, time, user, uts)`},
		{"duplicate namespace", false, func(s *specs.Spec) { addNS(s, specs.LinuxNamespace{Type: "pid", Path: "/proc/1/ns/pid"}) },
			"linux.namespaces[6].type", `duplicate namespace type "pid", also at linux.namespaces[0]`},
		{"relative namespace path", false, func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "ns/net" }, "linux.namespaces[1].path", "must be absolute"},
		{"uidMappings without userns", false, func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.uidMappings", "requires a user namespace"},
		{"gidMappings without userns", false, func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.gidMappings", "requires a user namespace"},
		{"new userns without uidMappings", false, func(s *specs.Spec) {
			addNS(s, specs.LinuxNamespace{Type: "user"})
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.uidMappings", "required with a new user namespace"},
		{"new userns without gidMappings", false, func(s *specs.Spec) {
			addNS(s, specs.LinuxNamespace{Type: "user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.gidMappings", "required with a new user namespace"},
		{"mapping size zero", false, func(s *specs.Spec) {
			addNS(s, specs.LinuxNamespace{Type: "user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 0}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.uidMappings[0].size", "must be greater than 0"},
		{"timeOffsets without time ns", false, func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "linux.timeOffsets", "requires a time namespace"},
		{"timeOffsets joining time ns", false, func(s *specs.Spec) {
			addNS(s, specs.LinuxNamespace{Type: "time", Path: "/proc/1/ns/time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "linux.timeOffsets", "existing time namespace (linux.namespaces[6].path)"},
		{"relative device path", false, func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/fuse", Type: "c", Major: 10, Minor: 229}}
		}, "linux.devices[0].path", "must be absolute"},
		{"unknown device type", false, func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "x", Major: 10, Minor: 229}}
		}, "linux.devices[0].type", `unknown device type "x" (want one of: c, b, u, p)`},
		{"cgroup device type", false, func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Type: "u", Access: "r"})
		}, "linux.resources.devices[1].type", `unknown type "u"`},
		{"cgroup device access letters", false, func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "xyz" },
			"linux.resources.devices[0].access", `"xyz" has none of r, w and m`},
		{"cgroup device access empty", false, func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "" },
			"linux.resources.devices[0].access", "must be set"},
		{"memory limit negative", false, func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr[int64](-2)}
		}, "linux.resources.memory.limit", "must be -1 (unlimited) or >= 0"},
		{"memory reservation negative", false, func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Reservation: ptr[int64](-5)}
		}, "linux.resources.memory.reservation", "must be -1 (unlimited) or >= 0"},
		{"swap below limit", false, func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](1 << 20)}
		}, "linux.resources.memory.swap", "must be >= limit (swap counts memory plus swap)"},
		{"cpu period too small", false, func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Period: ptr[uint64](10)}
		}, "linux.resources.cpu.period", "between 1000 and 1000000"},
		{"cpu period too big", false, func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Period: ptr[uint64](2000000)}
		}, "linux.resources.cpu.period", "between 1000 and 1000000"},
		{"bad cpus", false, func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "0-3;5"} },
			"linux.resources.cpu.cpus", `"0-3;5" is not a valid cpu list`},
		{"backwards cpus", false, func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "3-1"} },
			"linux.resources.cpu.cpus", "backwards"},
		{"empty cpus element", false, func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "1,,2"} },
			"linux.resources.cpu.cpus", "empty element"},
		{"bad mems", false, func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Mems: "a"} },
			"linux.resources.cpu.mems", "not a valid memory node list"},
		{"systemd cgroupsPath", true, func(s *specs.Spec) { s.Linux.CgroupsPath = "/default/abc" },
			"linux.cgroupsPath", `must be "slice:prefix:name" with --systemd-cgroup, e.g. "system.slice:berth:mycontainer"`},
		{"systemd cgroupsPath two parts", true, func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:abc" },
			"linux.cgroupsPath", `got "system.slice:abc"`},
		{"empty sysctl key", false, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"": "1"} }, "linux.sysctl", "empty key"},
		{"bad rootfsPropagation", false, func(s *specs.Spec) { s.Linux.RootfsPropagation = "bogus" },
			"linux.rootfsPropagation", `unknown propagation "bogus" (want one of: private, rprivate,`},
		{"relative maskedPath", false, func(s *specs.Spec) { s.Linux.MaskedPaths[2] = "proc/kcore" }, "linux.maskedPaths[2]", "must be absolute"},
		{"relative readonlyPath", false, func(s *specs.Spec) { s.Linux.ReadonlyPaths[0] = "proc/bus" }, "linux.readonlyPaths[0]", "must be absolute"},
		{"maskedPaths without mount ns", false, func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] },
			"linux.maskedPaths", "requires a mount namespace"},
		{"seccomp default action", false, func(s *specs.Spec) { withSeccomp(s).DefaultAction = "SCMP_ACT_BOGUS" },
			"linux.seccomp.defaultAction", `unknown action "SCMP_ACT_BOGUS" (want one of: SCMP_ACT_KILL,`},
		{"seccomp default action missing", false, func(s *specs.Spec) { withSeccomp(s).DefaultAction = "" },
			"linux.seccomp.defaultAction", "must be set"},
		{"seccomp arch", false, func(s *specs.Spec) {
			sc := withSeccomp(s)
			sc.Architectures = append(sc.Architectures, "SCMP_ARCH_Z80")
		}, "linux.seccomp.architectures[1]", `unknown architecture "SCMP_ARCH_Z80"`},
		{"seccomp flag", false, func(s *specs.Spec) { withSeccomp(s).Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_X"} },
			"linux.seccomp.flags[0]", `unknown flag "SECCOMP_FILTER_FLAG_X"`},
		{"seccomp empty names", false, func(s *specs.Spec) { withSeccomp(s).Syscalls[0].Names = nil },
			"linux.seccomp.syscalls[0].names", "must not be empty"},
		{"seccomp empty name", false, func(s *specs.Spec) { withSeccomp(s).Syscalls[0].Names = []string{"read", ""} },
			"linux.seccomp.syscalls[0].names[1]", "must not be empty"},
		{"seccomp syscall action", false, func(s *specs.Spec) { withSeccomp(s).Syscalls[0].Action = "ALLOW" },
			"linux.seccomp.syscalls[0].action", `unknown action "ALLOW"`},
		{"seccomp arg op", false, func(s *specs.Spec) {
			withSeccomp(s).Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Op: "SCMP_CMP_XX"}}
		}, "linux.seccomp.syscalls[0].args[1].op", `unknown operator "SCMP_CMP_XX"`},
		{"relative hook path", false, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}, {Path: "hook.sh"}}}
		}, "hooks.createRuntime[1].path", "must be absolute"},
		{"empty hook path", false, func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{}}} },
			"hooks.poststop[0].path", "must be set"},
		{"hook timeout zero", false, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true", Timeout: ptr(0)}}}
		}, "hooks.poststart[0].timeout", "must be greater than 0"},
		{"personality domain", false, func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"} },
			"linux.personality.domain", `unknown domain "LINUX64" (want one of: LINUX, LINUX32)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := newBundle(t)
			spec := newBaseSpec()
			tt.edit(spec)
			err := Validate(spec, ValidateOptions{Bundle: bundle, SystemdCgroup: tt.systemd})
			fail := func(why string) {
				t.Helper()
				t.Fatalf("%s\ninput: %s\ngot:   %v\nwant:  %s: ...%s...", why, specJSON(spec), err, tt.wantField, tt.wantMsg)
			}
			if err == nil {
				fail("no error")
			}
			if !errors.Is(err, ErrInvalidSpec) {
				fail("error does not wrap ErrInvalidSpec")
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				fail("error holds no *FieldError")
			}
			for _, fe := range fieldErrors(err) {
				if fe.Field == tt.wantField && strings.Contains(fe.Msg, tt.wantMsg) {
					if !strings.Contains(err.Error(), fe.Error()) {
						fail("error text lacks the field error")
					}
					return
				}
			}
			fail("no matching field error")
		})
	}
}

// TestValidateAccepts holds configurations containerd, podman and others
// send, which must pass.
func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name    string
		systemd bool
		edit    func(*specs.Spec)
	}{
		{"containerd cgroupsPath", false, func(s *specs.Spec) { s.Linux.CgroupsPath = "/default/abc123" }},
		{"podman systemd cgroupsPath", true, func(s *specs.Spec) { s.Linux.CgroupsPath = "machine.slice:libpod:abc123" }},
		{"systemd empty cgroupsPath", true, func(s *specs.Spec) { s.Linux.CgroupsPath = "" }},
		{"cgroupfs path with colon", false, func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:docker:abc" }},
		{"bind mounts", false, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/nonexistent/hosts", Options: []string{"rbind", "rprivate", "ro"}},
				specs.Mount{Destination: "/data", Source: "/nonexistent/data", Options: []string{"bind"}},
				specs.Mount{Destination: "/rootfs-again", Source: "rootfs", Options: []string{"rbind"}},
			)
		}},
		{"more mount types", false, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}},
				specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup2"},
			)
		}},
		{"deny-all then allow device rules", false, func(s *specs.Spec) {
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{
				{Allow: false, Type: "a", Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr[int64](136), Access: "rw"},
				{Allow: true, Type: "b", Access: "m"},
			}
		}},
		{"devices", false, func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: ptr[os.FileMode](0o666), UID: ptr[uint32](0), GID: ptr[uint32](0)},
				{Path: "/dev/sda", Type: "b", Major: 8},
				{Path: "/dev/ttyX", Type: "u", Major: 4, Minor: 1},
				{Path: "/dev/fifo", Type: "p"},
			}
		}},
		{"resources", false, func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr[int64](-1), Reservation: ptr[int64](0), Swap: ptr[int64](-1)}
			s.Linux.Resources.CPU = &specs.LinuxCPU{
				Shares: ptr[uint64](1024), Quota: ptr[int64](-1), Period: ptr[uint64](0),
				Cpus: "0-3,5,7-15:2/4", Mems: "0\n",
			}
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr[int64](0)}
		}},
		{"memory swap equal limit", false, func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](1 << 30)}
		}},
		{"cpus with N", false, func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "1-N"} }},
		{"user namespace", false, func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}},
		{"joined user namespace without mappings", false, func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/1/ns/user"})
		}},
		{"joined namespaces and uts path", false, func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/var/run/netns/cni-1234"
			s.Linux.Namespaces[3].Path = "/proc/1/ns/uts"
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time", Path: "/proc/1/ns/time"})
		}},
		{"time namespace with offsets", false, func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 10}}
		}},
		{"no hostname no uts", false, func(s *specs.Spec) {
			s.Hostname = ""
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "pid"}, {Type: "mount"}}
		}},
		{"seccomp profile", false, func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction:   specs.ActErrno,
				DefaultErrnoRet: ptr[uint](1),
				Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
				Flags:           []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC"},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"accept", "accept4", "access", "read", "write", "clone3"}, Action: specs.ActAllow},
					{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
					{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 2114060288, Op: specs.OpMaskedEqual}}},
					{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: ptr[uint](1)},
				},
			}
		}},
		{"seccomp disabled by empty profile", false, func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{"whatever"}}
		}},
		{"hooks", false, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{
				Prestart:        []specs.Hook{{Path: "/usr/bin/nvidia-container-runtime-hook", Args: []string{"prestart"}}},
				CreateRuntime:   []specs.Hook{{Path: "/bin/true", Timeout: ptr(5)}},
				CreateContainer: []specs.Hook{{Path: "/bin/true"}},
				StartContainer:  []specs.Hook{{Path: "/bin/true"}},
				Poststart:       []specs.Hook{{Path: "/bin/true"}},
				Poststop:        []specs.Hook{{Path: "/bin/true"}},
			}
		}},
		{"misc linux", false, func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
			s.Linux.RootfsPropagation = "rslave"
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
			s.Process.OOMScoreAdj = ptr(-999)
			s.Process.User.Umask = ptr[uint32](0o22)
			s.Process.ConsoleSize = &specs.Box{Height: 10, Width: 10}
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 10, Deadline: 20, Period: 30}
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 7}
			s.Process.Env = append(s.Process.Env, "EMPTY=", "EQ=a=b")
		}},
		{"absolute root path", false, func(s *specs.Spec) { s.Root.Path = "/" }},
		{"rlimits", false, func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits,
				specs.POSIXRlimit{Type: "RLIMIT_CORE", Hard: ^uint64(0), Soft: ^uint64(0)},
				specs.POSIXRlimit{Type: "RLIMIT_RTTIME", Hard: 10, Soft: 5},
			)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newBaseSpec()
			tt.edit(spec)
			if err := Validate(spec, ValidateOptions{Bundle: newBundle(t), SystemdCgroup: tt.systemd}); err != nil {
				t.Fatalf("input: %s\ngot:  %v\nwant: no error", specJSON(spec), err)
			}
		})
	}
}

// What the runtime spec says to tolerate is accepted, with a warning that
// names the field: unknown capabilities, relative mount destinations.
func TestValidateWarns(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*specs.Spec)
		wantField string
		wantMsg   string
	}{
		{"unknown bounding capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append([]string{"CAP_TEST"}, s.Process.Capabilities.Bounding...)
		}, "process.capabilities.bounding[0]", `unknown capability "CAP_TEST"`},
		{"capability without CAP_ prefix", func(s *specs.Spec) {
			s.Process.Capabilities.Ambient = []string{"CAP_KILL", "sys_admin"}
		}, "process.capabilities.ambient[1]", `unknown capability "sys_admin"`},
		{"relative mount destination", func(s *specs.Spec) { s.Mounts[0].Destination = "proc" },
			"mounts[0].destination", `relative destination "proc" is read as "/proc"`},
		{"cgroup device access letters beside rwm", func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "rwa" },
			"linux.resources.devices[0].access", `"rwa": only r, w and m mean something; read as "rw"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newBaseSpec()
			tt.edit(spec)
			var warned []*FieldError
			err := Validate(spec, ValidateOptions{Bundle: newBundle(t), Warn: func(w *FieldError) { warned = append(warned, w) }})
			if err != nil {
				t.Fatalf("input: %s\ngot:  %v\nwant: accepted with a warning", specJSON(spec), err)
			}
			if len(warned) != 1 || warned[0].Field != tt.wantField || !strings.Contains(warned[0].Msg, tt.wantMsg) {
				t.Fatalf("warnings %v, want one for %s containing %q", warned, tt.wantField, tt.wantMsg)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	spec := newBaseSpec()
	spec.Version = ""
	spec.Process.Cwd = "relative"
	spec.Mounts[3].Destination = ""
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
	err := Validate(spec, ValidateOptions{Bundle: newBundle(t)})
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("got %v, want an error wrapping ErrInvalidSpec", err)
	}
	want := []string{"ociVersion", "process.cwd", "mounts[3].destination", "linux.namespaces[6].type"}
	var got []string
	for _, fe := range fieldErrors(err) {
		got = append(got, fe.Field)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("fields: got %q, want %q\nerror: %v", got, want, err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "invalid configuration (4 problems):\n  ociVersion: ") {
		t.Fatalf("error text: %q", msg)
	}
}

func TestValidateSingleProblemText(t *testing.T) {
	spec := newBaseSpec()
	spec.Process.Args = nil
	err := Validate(spec, ValidateOptions{Bundle: newBundle(t)})
	want := "invalid configuration: process.args: must not be empty"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want prefix %q", err, want)
	}
}

func TestValidateNilAndEmpty(t *testing.T) {
	for _, spec := range []*specs.Spec{nil, {}} {
		err := Validate(spec, ValidateOptions{NeedProcess: true})
		if !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("Validate(%v): got %v, want ErrInvalidSpec", spec, err)
		}
		var fields []string
		for _, fe := range fieldErrors(err) {
			fields = append(fields, fe.Field)
		}
		if got, want := strings.Join(fields, " "), "ociVersion root process"; got != want {
			t.Fatalf("Validate(%v): fields %q, want %q", spec, got, want)
		}
	}
}

func TestValidateID(t *testing.T) {
	tests := []struct {
		id      string
		wantErr string // "" means valid
	}{
		{"abc", ""},
		{"a", ""},
		{"A-b_c+d.e", ""},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""},
		{"...", ""},
		{strings.Repeat("x", 1024), ""},
		{"", "must not be empty"},
		{".", `invalid container id ".": "." and ".." are not allowed`},
		{"..", `".." are not allowed`},
		{"a/b", `invalid container id "a/b": only letters, digits and _ + . - are allowed`},
		{"a b", "only letters, digits"},
		{"ä", "only letters, digits"},
		{"a\x00", "only letters, digits"},
		{"../x", "only letters, digits"},
		{strings.Repeat("x", 1025), "1025 bytes long, at most 1024"},
	}
	for _, tt := range tests {
		err := ValidateID(tt.id)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateID(%q): got %v, want nil", tt.id, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ValidateID(%q): got nil, want error containing %q", tt.id, tt.wantErr)
		case tt.wantErr != "" && (!errors.Is(err, ErrInvalidID) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidateID(%q): got %v, want ErrInvalidID containing %q", tt.id, err, tt.wantErr)
		}
	}
}

func TestRlimitType(t *testing.T) {
	tests := []struct {
		name string
		want int
		ok   bool
	}{
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, true},
		{"RLIMIT_AS", unix.RLIMIT_AS, true},
		{"RLIMIT_CORE", unix.RLIMIT_CORE, true},
		{"RLIMIT_RTTIME", unix.RLIMIT_RTTIME, true},
		{"RLIMIT_SIGPENDING", unix.RLIMIT_SIGPENDING, true},
		{"rlimit_nofile", 0, false},
		{"NOFILE", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := RlimitType(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RlimitType(%q) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if len(rlimits) != 16 {
		t.Errorf("got %d rlimits, want the 16 the runtime spec lists", len(rlimits))
	}
}

func TestKnownCapability(t *testing.T) {
	for _, name := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_READ", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"} {
		if !KnownCapability(name) {
			t.Errorf("KnownCapability(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"CAP_TEST", "sys_admin", "SYS_ADMIN", "cap_sys_admin", ""} {
		if KnownCapability(name) {
			t.Errorf("KnownCapability(%q) = true, want false", name)
		}
	}
}

func TestCheckList(t *testing.T) {
	good := []string{"", "0", "0-3", "0-3,5", "0,1,2", " 1-2 \n", "0-15:2/4", "N", "0-N", "1 , 2"}
	bad := []string{",", "1,", "a", "-1", "1-", "3-1", "0-3;5", "0-15:2", "0-15:5/4", "0-15:1/0", "0x1", "1--2"}
	for _, s := range good {
		if err := checkList(s); err != nil {
			t.Errorf("checkList(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range bad {
		if err := checkList(s); err == nil {
			t.Errorf("checkList(%q) = nil, want error", s)
		}
	}
}

// The runtime spec makes process optional for create (start then fails);
// run needs it.
func TestValidateProcessOptional(t *testing.T) {
	bundle := newBundle(t)
	spec := newBaseSpec()
	spec.Process = nil
	if err := Validate(spec, ValidateOptions{Bundle: bundle}); err != nil {
		t.Errorf("create without process: %v", err)
	}
	err := Validate(spec, ValidateOptions{Bundle: bundle, NeedProcess: true})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "process" || !strings.Contains(fe.Msg, "must be set") {
		t.Errorf("run without process: %v; want a process field error", err)
	}
}
