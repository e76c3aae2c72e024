package linux

import (
	"fmt"
	"os"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/apparmor"
	"github.com/opencontainers/runc/libcontainer/capabilities"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/intelrdt"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"
)

// Annotation keys berth sets in its features document.
const (
	AnnotationVersion           = "dev.berth.version"
	AnnotationCommit            = "dev.berth.commit"
	AnnotationLibseccompVersion = "dev.berth.libseccomp.version"
	AnnotationCheckpointEnabled = "dev.berth.checkpoint.enabled"
)

// Features describes what berth supports on this host, in the runtime
// spec's features format: what the build knows, narrowed to what the kernel
// and the host's setup provide (namespaces present in /proc/self/ns, the
// cgroup hierarchies mounted, systemd running, LSMs enabled, id-mapped mounts
// from Linux 5.12).
func Features(version, commit string) *features.Features {
	yes, no := true, false
	flag := func(b bool) *bool {
		if b {
			return &yes
		}
		return &no
	}
	unified := cgroups.IsCgroup2UnifiedMode()
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         configs.KnownHookNames(),
		MountOptions:  specconv.KnownMountOptions(),
		Annotations: map[string]string{
			AnnotationVersion:           version,
			AnnotationCommit:            commit,
			AnnotationCheckpointEnabled: "true",
		},
		PotentiallyUnsafeConfigAnnotations: []string{
			// Read by libcontainer itself: the bundle label, systemd
			// unit properties and CRIU's configuration file.
			"bundle",
			"org.systemd.property.",
			"org.criu.config",
		},
		Linux: &features.Linux{
			Namespaces:   hostNamespaces(),
			Capabilities: capabilities.KnownCapabilities(),
			Cgroup: &features.Cgroup{
				V1:          flag(!unified),
				V2:          flag(unified),
				Systemd:     flag(systemdRunning()),
				SystemdUser: flag(systemdRunning()),
				Rdma:        flag(hasController("rdma")),
			},
			Apparmor: &features.Apparmor{Enabled: flag(apparmor.IsEnabled())},
			Selinux:  &features.Selinux{Enabled: flag(selinux.GetEnabled())},
			IntelRdt: &features.IntelRdt{
				Enabled:    flag(intelrdt.IsEnabled()),
				Schemata:   flag(intelrdt.IsEnabled()),
				Monitoring: flag(intelrdt.IsEnabled()),
			},
			MemoryPolicy: &features.MemoryPolicy{
				Modes: specconv.KnownMemoryPolicyModes(),
				Flags: specconv.KnownMemoryPolicyFlags(),
			},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: flag(kernelAtLeast(5, 12))},
			},
			NetDevices: &features.NetDevices{Enabled: &yes},
		},
	}
	if seccomp.Enabled {
		f.Linux.Seccomp = &features.Seccomp{
			Enabled:        &yes,
			Actions:        seccomp.KnownActions(),
			Operators:      seccomp.KnownOperators(),
			Archs:          seccomp.KnownArchs(),
			KnownFlags:     seccomp.KnownFlags(),
			SupportedFlags: seccomp.SupportedFlags(),
		}
		major, minor, micro := seccomp.Version()
		f.Annotations[AnnotationLibseccompVersion] = fmt.Sprintf("%d.%d.%d", major, minor, micro)
	} else {
		f.Linux.Seccomp = &features.Seccomp{Enabled: &no}
	}
	return f
}

// hostNamespaces lists the namespace types libcontainer knows that this
// kernel has.
func hostNamespaces() []string {
	nsFile := map[string]string{
		string(specs.CgroupNamespace):  "cgroup",
		string(specs.IPCNamespace):     "ipc",
		string(specs.MountNamespace):   "mnt",
		string(specs.NetworkNamespace): "net",
		string(specs.PIDNamespace):     "pid",
		string(specs.TimeNamespace):    "time",
		string(specs.UserNamespace):    "user",
		string(specs.UTSNamespace):     "uts",
	}
	var out []string
	for _, ns := range specconv.KnownNamespaces() {
		if name, ok := nsFile[ns]; ok {
			if _, err := os.Stat("/proc/self/ns/" + name); err != nil {
				continue
			}
		}
		out = append(out, ns)
	}
	return out
}

func systemdRunning() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

func hasController(name string) bool {
	if cgroups.IsCgroup2UnifiedMode() {
		data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		return err == nil && containsWord(string(data), name)
	}
	_, err := os.Stat("/sys/fs/cgroup/" + name)
	return err == nil
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// kernelAtLeast compares the running kernel's release with major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
