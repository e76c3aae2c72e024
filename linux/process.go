package linux

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NewProcess converts the spec's process into a libcontainer process.
// specconv does not do this part: args, env, cwd, user, console size,
// capabilities, rlimits and the LSM labels all come from here.
func NewProcess(p *specs.Process) (*libcontainer.Process, error) {
	nnp := p.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &nnp,
		AppArmorProfile: p.ApparmorProfile,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth = uint16(p.ConsoleSize.Width)
		lp.ConsoleHeight = uint16(p.ConsoleSize.Height)
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding:    c.Bounding,
			Effective:   c.Effective,
			Inheritable: c.Inheritable,
			Permitted:   c.Permitted,
			Ambient:     c.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for i, rl := range p.Rlimits {
		typ, ok := RlimitType(rl.Type)
		if !ok {
			return nil, &FieldError{Field: fmt.Sprintf("process.rlimits[%d].type", i), Msg: fmt.Sprintf("unknown rlimit %q", rl.Type)}
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: typ, Hard: rl.Hard, Soft: rl.Soft})
	}
	aff, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, fmt.Errorf("process.execCPUAffinity: %w", err)
	}
	lp.CPUAffinity = aff
	return lp, nil
}

// PlaceholderProcess is the init of a container created from a config
// without process (the runtime spec makes it optional for create; start
// then fails): it waits for a start that never comes, with no
// capabilities, no new privileges, and as its program the init's own
// binary (/proc/self/exe), which libcontainer's create-time lookup finds
// in any root filesystem that has /proc mounted.
func PlaceholderProcess() *libcontainer.Process {
	nnp := true
	return &libcontainer.Process{
		Args:            []string{"/proc/self/exe"},
		Env:             []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Cwd:             "/",
		Capabilities:    &configs.Capabilities{},
		NoNewPrivileges: &nnp,
		Init:            true,
	}
}

// LateRlimits takes RLIMIT_AS and RLIMIT_DATA out of p.Rlimits and returns
// them, for the caller to apply when the init executes the container's
// program. libcontainer applies a process's rlimits as soon as the init
// reports ready, and berth's init is a Go program that has already
// reserved more than a gigabyte of address space (the Go runtime's heap
// metadata): under a lower address-space limit it cannot map anything
// more, and it fails loading the seccomp filter, growing its heap or
// starting a thread. The container's own program is executed under the
// limits either way.
func LateRlimits(p *libcontainer.Process) []configs.Rlimit {
	var late, early []configs.Rlimit
	for _, rl := range p.Rlimits {
		if rl.Type == unix.RLIMIT_AS || rl.Type == unix.RLIMIT_DATA {
			late = append(late, rl)
		} else {
			early = append(early, rl)
		}
	}
	p.Rlimits = early
	return late
}

// RlimitName is the OCI name of a unix.RLIMIT_* number, for messages.
func RlimitName(typ int) string {
	for name, n := range rlimits {
		if n == typ {
			return name
		}
	}
	return fmt.Sprintf("rlimit %d", typ)
}
