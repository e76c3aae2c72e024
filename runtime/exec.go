package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/linux"
)

// ExecOptions describe a process to run in an existing container.
type ExecOptions struct {
	// Process is the process to run. When nil, it is read from
	// ProcessFile (a runtime-spec process.json), or else it is the
	// bundle's process with Overrides.Args.
	Process     *specs.Process
	ProcessFile string
	// Overrides change the process; set fields win over ProcessFile and
	// the bundle.
	Overrides ProcessOverrides
	// Detach leaves the process running on its own with the caller's
	// stdio.
	Detach        bool
	PidFile       string
	ConsoleSocket string
	PidfdSocket   string
	PreserveFDs   int
	// SubCgroups places the process in sub-cgroups of the container's
	// cgroup: controller (or "" for all, or the v2 unified path) → path.
	SubCgroups map[string]string
	// IgnorePaused allows exec into a paused container.
	IgnorePaused bool
	Stdio        Stdio
	// IOOwner owns the stdio pipes made for an attached process.
	IOOwner *IOOwner
}

// ProcessOverrides are exec's flags that change the process: each set field
// replaces (Env: extends) the process's own.
type ProcessOverrides struct {
	Args            []string
	Cwd             string
	Env             []string
	Terminal        *bool
	UID, GID        *uint32
	AdditionalGids  []uint32
	Caps            []string
	NoNewPrivileges *bool
	SelinuxLabel    string
	ApparmorProfile string
}

// Exec starts a new process in the running (or created) container id. A
// stopped container is refused, and a paused one unless IgnorePaused.
func (r *Runtime) Exec(ctx context.Context, id string, o ExecOptions) (*Process, error) {
	return r.exec(ref{id: id}, o)
}

func (r *Runtime) exec(x ref, o ExecOptions) (*Process, error) {
	id := x.id
	for _, p := range []*string{&o.PidFile, &o.ConsoleSocket, &o.PidfdSocket, &o.ProcessFile} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, err
			}
			*p = abs
		}
	}
	op := opExec
	if o.IgnorePaused {
		op = opExecIgnorePaused
	}
	// No lock: exec does not change the container, and an exec into a
	// paused container waits inside its frozen cgroup until resume, which
	// needs the lock.
	ct, err := r.open(x, op, false)
	if err != nil {
		return nil, err
	}
	c := ct.Container
	spec, err := execProcess(c, o)
	if err != nil {
		return nil, err
	}
	if err := r.dropUngrantable(spec); err != nil {
		return nil, err
	}
	p, err := linux.NewProcess(spec)
	if err != nil {
		return nil, err
	}
	p.SubCgroupPaths = o.SubCgroups
	proc, err := launch(c, p, spec.Terminal, launchOptions{
		PidFile:       o.PidFile,
		ConsoleSocket: o.ConsoleSocket,
		PidfdSocket:   o.PidfdSocket,
		PreserveFDs:   o.PreserveFDs,
		Detach:        o.Detach,
		Stdio:         o.Stdio,
		IOOwner:       o.IOOwner,
	}, c.Run)
	if err != nil {
		return nil, fmt.Errorf("exec in %q: %w", id, err)
	}
	return proc, nil
}

// execProcess builds the process to exec: from the process file, or from the
// bundle's config.json, then with the overrides applied, then validated.
func execProcess(c *libcontainer.Container, o ExecOptions) (*specs.Process, error) {
	p := o.Process
	switch {
	case p != nil:
		p = copyProcess(p)
	case o.ProcessFile != "":
		data, err := os.ReadFile(o.ProcessFile)
		if err != nil {
			return nil, fmt.Errorf("process file: %w", err)
		}
		p = new(specs.Process)
		if err := json.Unmarshal(data, p); err != nil {
			return nil, fmt.Errorf("process file %s: %w: %w", o.ProcessFile, linux.ErrInvalidSpec, err)
		}
	default:
		bundle, ok := utils.SearchLabels(c.Config().Labels, "bundle")
		if !ok {
			return nil, errors.New("the container's bundle is unknown; give the process in a process file")
		}
		spec, err := linux.LoadSpec(bundle, nil)
		if err != nil {
			return nil, err
		}
		if spec.Process == nil {
			return nil, fmt.Errorf("%s has no process; give one in a process file", filepath.Join(bundle, "config.json"))
		}
		p = spec.Process
		// The container's terminal is its init's: another process gets
		// one only when asked for (Overrides.Terminal), as with runc.
		p.Terminal = false
		if len(o.Overrides.Args) == 0 {
			return nil, errors.New("exec: no command given (name the command and its arguments, or give a process file)")
		}
	}
	applyOverrides(p, o.Overrides)
	if err := linux.ValidateProcess(p, warnField); err != nil {
		return nil, err
	}
	return p, nil
}

func applyOverrides(p *specs.Process, ov ProcessOverrides) {
	if len(ov.Args) > 0 {
		p.Args = ov.Args
	}
	if ov.Cwd != "" {
		p.Cwd = ov.Cwd
	}
	p.Env = append(p.Env, ov.Env...)
	if ov.Terminal != nil {
		p.Terminal = *ov.Terminal
	}
	if ov.UID != nil {
		p.User.UID = *ov.UID
	}
	if ov.GID != nil {
		p.User.GID = *ov.GID
	}
	p.User.AdditionalGids = append(p.User.AdditionalGids, ov.AdditionalGids...)
	if len(ov.Caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := p.Capabilities
		c.Bounding = append(c.Bounding, ov.Caps...)
		c.Effective = append(c.Effective, ov.Caps...)
		c.Permitted = append(c.Permitted, ov.Caps...)
		if c.Inheritable != nil {
			c.Ambient = append(c.Ambient, ov.Caps...)
		}
	}
	if ov.NoNewPrivileges != nil {
		p.NoNewPrivileges = *ov.NoNewPrivileges
	}
	if ov.SelinuxLabel != "" {
		p.SelinuxLabel = ov.SelinuxLabel
	}
	if ov.ApparmorProfile != "" {
		p.ApparmorProfile = ov.ApparmorProfile
	}
}

// copyProcess copies p deeply enough that applying overrides leaves the
// caller's process as it was.
func copyProcess(p *specs.Process) *specs.Process {
	c := *p
	c.Args = slices.Clone(p.Args)
	c.Env = slices.Clone(p.Env)
	c.User.AdditionalGids = slices.Clone(p.User.AdditionalGids)
	if p.Capabilities != nil {
		caps := *p.Capabilities
		c.Capabilities = &caps
	}
	return &c
}
