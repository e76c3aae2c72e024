package linux

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrInvalidID is wrapped by every error ValidateID returns.
var ErrInvalidID = errors.New("invalid container id")

// maxIDLen is the longest container id ValidateID accepts, in bytes.
const maxIDLen = 1024

// ValidateID checks a container id: it must be non-empty, at most 1024
// bytes long, consist only of [A-Za-z0-9_+.-] and not be "." or "..".
// Errors wrap ErrInvalidID.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: must not be empty", ErrInvalidID)
	case len(id) > maxIDLen:
		return fmt.Errorf("%w %q...: %d bytes long, at most %d are allowed", ErrInvalidID, id[:32], len(id), maxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w %q: \".\" and \"..\" are not allowed", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '+', c == '.', c == '-':
		default:
			return fmt.Errorf("%w %q: only letters, digits and _ + . - are allowed", ErrInvalidID, id)
		}
	}
	return nil
}

// rlimits maps OCI rlimit names to their unix.RLIMIT_* numbers. Read-only.
var rlimits = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// RlimitType maps an OCI rlimit name such as "RLIMIT_NOFILE" to its
// unix.RLIMIT_* number; ok is false if the name is unknown.
func RlimitType(name string) (int, bool) {
	n, ok := rlimits[name]
	return n, ok
}

// knownCaps holds "CAP_*" names of every capability this build knows.
// Built once, read-only afterwards.
var knownCaps = func() map[string]struct{} {
	m := make(map[string]struct{})
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = struct{}{}
	}
	return m
}()

// KnownCapability reports whether name (e.g. "CAP_SYS_ADMIN") is a
// capability known to this build.
func KnownCapability(name string) bool {
	_, ok := knownCaps[name]
	return ok
}

// Read-only tables of the values the runtime spec (and runc) accept.
var (
	namespaceTypes = []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}
	propagations   = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}
	deviceTypes    = []string{"c", "b", "u", "p"}
	cgroupDevTypes = []string{"a", "b", "c"}
	seccompActions = []string{
		string(specs.ActKill), string(specs.ActKillProcess), string(specs.ActKillThread),
		string(specs.ActTrap), string(specs.ActErrno), string(specs.ActTrace),
		string(specs.ActAllow), string(specs.ActLog), string(specs.ActNotify),
	}
	seccompArchs = []string{
		string(specs.ArchX86), string(specs.ArchX86_64), string(specs.ArchX32),
		string(specs.ArchARM), string(specs.ArchAARCH64),
		string(specs.ArchMIPS), string(specs.ArchMIPS64), string(specs.ArchMIPS64N32),
		string(specs.ArchMIPSEL), string(specs.ArchMIPSEL64), string(specs.ArchMIPSEL64N32),
		string(specs.ArchPPC), string(specs.ArchPPC64), string(specs.ArchPPC64LE),
		string(specs.ArchS390), string(specs.ArchS390X),
		string(specs.ArchPARISC), string(specs.ArchPARISC64),
		string(specs.ArchRISCV64), string(specs.ArchLOONGARCH64),
		string(specs.ArchM68K), string(specs.ArchSH), string(specs.ArchSHEB),
	}
	seccompOps = []string{
		string(specs.OpNotEqual), string(specs.OpLessThan), string(specs.OpLessEqual),
		string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
		string(specs.OpMaskedEqual),
	}
	// SECCOMP_FILTER_FLAG_TSYNC is not in the runtime spec, but runc
	// accepts (and ignores) it, so configs in the wild carry it.
	seccompFlags = []string{
		string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow),
		string(specs.LinuxSeccompFlagWaitKillableRecv), "SECCOMP_FILTER_FLAG_TSYNC",
	}
	schedPolicies = []string{
		string(specs.SchedOther), string(specs.SchedFIFO), string(specs.SchedRR),
		string(specs.SchedBatch), string(specs.SchedISO), string(specs.SchedIdle),
		string(specs.SchedDeadline),
	}
	schedFlags = []string{
		string(specs.SchedFlagResetOnFork), string(specs.SchedFlagReclaim),
		string(specs.SchedFlagDLOverrun), string(specs.SchedFlagKeepPolicy),
		string(specs.SchedFlagKeepParams), string(specs.SchedFlagUtilClampMin),
		string(specs.SchedFlagUtilClampMax),
	}
	ioPrioClasses = []string{
		string(specs.IOPRIO_CLASS_RT), string(specs.IOPRIO_CLASS_BE), string(specs.IOPRIO_CLASS_IDLE),
	}
	personalityDomains = []string{string(specs.PerLinux), string(specs.PerLinux32)}
)

// ValidateOptions carries the host facts Validate needs.
type ValidateOptions struct {
	// Bundle is the absolute bundle directory; root.path and relative
	// bind-mount sources are resolved against it.
	Bundle string
	// SystemdCgroup means cgroups are managed through systemd, so
	// linux.cgroupsPath must be empty or "slice:prefix:name".
	SystemdCgroup bool
	// NeedProcess makes process required (run starts it at once). For
	// create it is optional, as the runtime spec says; start then fails.
	NeedProcess bool
	// Warn, when set, receives what the runtime spec says to tolerate
	// with a warning: unknown capabilities, relative mount destinations.
	Warn func(*FieldError)
}

// Validate checks spec before anything touches the host and reports all
// problems at once. It returns nil when spec is fine; otherwise the error
// wraps ErrInvalidSpec and one *FieldError per problem, reachable with
// errors.Is and errors.As (its Unwrap method returns []error).
//
// Only problems the runtime spec or runc would reject anyway are reported,
// so the failure moves earlier and names the field. What the spec says to
// tolerate goes to opts.Warn, field and all: capability names this build
// does not know (the runtime ignores them; see DropUngrantable) and
// relative mount destinations (read as relative to "/").
func Validate(spec *specs.Spec, opts ValidateOptions) error {
	if spec == nil {
		spec = &specs.Spec{}
	}
	c := &checker{opts: opts}
	c.version(spec)
	c.root(spec.Root)
	c.process(spec.Process, opts.NeedProcess)
	c.mounts(spec.Mounts)
	c.hooks(spec.Hooks)
	c.linux(spec)
	return c.result()
}

// result passes the warnings on and returns the problems, if any.
func (c *checker) result() error {
	if c.opts.Warn != nil {
		for _, w := range c.warns {
			c.opts.Warn(w)
		}
	}
	if len(c.errs) == 0 {
		return nil
	}
	return &validationError{problems: c.errs}
}

// validationError is what Validate returns: ErrInvalidSpec plus one
// *FieldError per problem.
type validationError struct {
	problems []error
}

func (e *validationError) Error() string {
	if len(e.problems) == 1 {
		return ErrInvalidSpec.Error() + ": " + e.problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d problems):", ErrInvalidSpec, len(e.problems))
	for _, p := range e.problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *validationError) Unwrap() []error {
	return append([]error{ErrInvalidSpec}, e.problems...)
}

// checker accumulates field errors and warnings for one Validate call.
type checker struct {
	opts  ValidateOptions
	errs  []error
	warns []*FieldError
}

func (c *checker) add(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) warn(field, format string, args ...any) {
	c.warns = append(c.warns, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// oneOf checks that v is in allowed, reporting field otherwise.
func (c *checker) oneOf(field, what, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		c.add(field, "unknown %s %q (want one of: %s)", what, v, strings.Join(allowed, ", "))
	}
}

// absolute checks that p is set and absolute.
func (c *checker) absolute(field, p string) {
	switch {
	case p == "":
		c.add(field, "must be set")
	case !filepath.IsAbs(p):
		c.add(field, "must be absolute, got %q", p)
	}
}

func (c *checker) noNUL(field, v string) bool {
	if strings.IndexByte(v, 0) >= 0 {
		c.add(field, "must not contain a NUL byte")
		return false
	}
	return true
}

// resolve makes p absolute against the bundle directory.
func (c *checker) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.opts.Bundle, p)
}

// statPath stats p; on failure msg says why p cannot be used and
// missing tells whether it simply does not exist.
func statPath(p string) (fi fs.FileInfo, msg string, missing bool) {
	fi, err := os.Stat(p)
	if err == nil {
		return fi, "", false
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, p + " does not exist", true
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return nil, fmt.Sprintf("cannot access %s: %v", p, err), false
}

func (c *checker) version(spec *specs.Spec) {
	if spec.Version == "" {
		c.add("ociVersion", "must be set, e.g. %q", specs.Version)
	}
}

func (c *checker) root(root *specs.Root) {
	if root == nil {
		c.add("root", "must be set (the container needs a root filesystem)")
		return
	}
	if root.Path == "" {
		c.add("root.path", "must be set, e.g. \"rootfs\"")
		return
	}
	if !c.noNUL("root.path", root.Path) {
		return
	}
	p := c.resolve(root.Path)
	fi, msg, missing := statPath(p)
	switch {
	case missing:
		c.add("root.path", "%s (create the rootfs or fix root.path)", msg)
	case msg != "":
		c.add("root.path", "%s", msg)
	case !fi.IsDir():
		c.add("root.path", "%s is not a directory", p)
	}
}

func (c *checker) process(p *specs.Process, need bool) {
	if p == nil {
		if need {
			c.add("process", "must be set to run a container (create accepts a config without one, but such a container cannot be started)")
		}
		return
	}
	if len(p.Args) == 0 {
		c.add("process.args", "must not be empty (give the program to run, e.g. [\"sh\"])")
	}
	switch {
	case p.Cwd == "":
		c.add("process.cwd", "must be set, e.g. \"/\"")
	case !filepath.IsAbs(p.Cwd):
		c.add("process.cwd", "must be absolute, got %q", p.Cwd)
	}
	for i, kv := range p.Env {
		field := fmt.Sprintf("process.env[%d]", i)
		switch eq := strings.IndexByte(kv, '='); {
		case eq < 0:
			c.add(field, "%q must have the form KEY=value", kv)
		case eq == 0:
			c.add(field, "%q has an empty name (want KEY=value)", kv)
		default:
			c.noNUL(field, kv)
		}
	}
	seen := make(map[string]int)
	for i, rl := range p.Rlimits {
		field := fmt.Sprintf("process.rlimits[%d]", i)
		if _, ok := RlimitType(rl.Type); !ok {
			c.add(field+".type", "unknown rlimit %q (want one of: %s)", rl.Type, strings.Join(slices.Sorted(maps.Keys(rlimits)), ", "))
		} else if j, dup := seen[rl.Type]; dup {
			c.add(field+".type", "duplicate %s, also at process.rlimits[%d]", rl.Type, j)
		} else {
			seen[rl.Type] = i
		}
		if rl.Soft > rl.Hard {
			c.add(field+".soft", "must be <= hard (%d), got %d", rl.Hard, rl.Soft)
		}
	}
	c.capabilities(p.Capabilities)
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		c.add("process.oomScoreAdj", "must be between -1000 and 1000, got %d", *p.OOMScoreAdj)
	}
	if s := p.Scheduler; s != nil {
		c.scheduler(s)
	}
	if prio := p.IOPriority; prio != nil {
		c.oneOf("process.ioPriority.class", "class", string(prio.Class), ioPrioClasses)
		if prio.Priority < 0 || prio.Priority > 7 {
			c.add("process.ioPriority.priority", "must be between 0 and 7, got %d", prio.Priority)
		}
	}
}

// capabilities warns about capability names this build does not know: the
// runtime spec says to log them and not to fail.
func (c *checker) capabilities(caps *specs.LinuxCapabilities) {
	if caps == nil {
		return
	}
	for _, set := range []struct {
		name string
		list []string
	}{
		{"bounding", caps.Bounding},
		{"effective", caps.Effective},
		{"inheritable", caps.Inheritable},
		{"permitted", caps.Permitted},
		{"ambient", caps.Ambient},
	} {
		for i, name := range set.list {
			if !KnownCapability(name) {
				c.warn(fmt.Sprintf("process.capabilities.%s[%d]", set.name, i),
					"unknown capability %q, ignored (names look like CAP_NET_ADMIN; see capabilities(7))", name)
			}
		}
	}
}

// scheduler applies the sched_setattr(2) rules runc enforces.
func (c *checker) scheduler(s *specs.Scheduler) {
	const f = "process.scheduler"
	if s.Policy == "" {
		c.add(f+".policy", "must be set (want one of: %s)", strings.Join(schedPolicies, ", "))
	} else {
		c.oneOf(f+".policy", "policy", string(s.Policy), schedPolicies)
	}
	for i, fl := range s.Flags {
		c.oneOf(fmt.Sprintf("%s.flags[%d]", f, i), "flag", string(fl), schedFlags)
	}
	if (s.Policy == specs.SchedOther || s.Policy == specs.SchedBatch) && (s.Nice < -20 || s.Nice > 19) {
		c.add(f+".nice", "must be between -20 and 19 for %s, got %d", s.Policy, s.Nice)
	}
	if s.Priority != 0 && s.Policy != specs.SchedFIFO && s.Policy != specs.SchedRR {
		c.add(f+".priority", "only allowed with SCHED_FIFO or SCHED_RR")
	}
	if s.Policy != specs.SchedDeadline && (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0) {
		c.add(f, "runtime, deadline and period are only allowed with SCHED_DEADLINE")
	}
}

func (c *checker) mounts(mounts []specs.Mount) {
	for i, m := range mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		switch {
		case !c.noNUL(field+".destination", m.Destination):
		case m.Destination == "":
			c.add(field+".destination", "must be set")
		case !filepath.IsAbs(m.Destination):
			c.warn(field+".destination", "relative destination %q is read as %q (relative destinations are deprecated; make it absolute)",
				m.Destination, "/"+m.Destination)
		}
		c.noNUL(field+".type", m.Type)
		bind := slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if m.Type == "" && !bind {
			c.add(field+".type", "must be set unless options contain \"bind\" or \"rbind\"")
		}
		if !c.noNUL(field+".source", m.Source) || !bind {
			continue
		}
		switch {
		case m.Source == "":
			c.add(field+".source", "must be set for a bind mount")
		case !filepath.IsAbs(m.Source):
			// Absolute sources are left alone: hooks may create them later.
			if _, msg, _ := statPath(c.resolve(m.Source)); msg != "" {
				c.add(field+".source", "%s", msg)
			}
		}
	}
}

func (c *checker) hooks(h *specs.Hooks) {
	if h == nil {
		return
	}
	for _, kind := range []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, //nolint:staticcheck // deprecated but still honoured
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	} {
		for i, hook := range kind.hooks {
			field := fmt.Sprintf("hooks.%s[%d]", kind.name, i)
			c.absolute(field+".path", hook.Path)
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				c.add(field+".timeout", "must be greater than 0, got %d", *hook.Timeout)
			}
		}
	}
}

func (c *checker) linux(spec *specs.Spec) {
	l := spec.Linux
	if l == nil {
		l = &specs.Linux{}
	}
	// Namespaces first: other checks depend on which ones exist.
	nsIndex := make(map[specs.LinuxNamespaceType]int)
	for i, ns := range l.Namespaces {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		if !slices.Contains(namespaceTypes, string(ns.Type)) {
			c.add(field+".type", "unknown namespace type %q (want one of: %s)", ns.Type, strings.Join(namespaceTypes, ", "))
		} else if j, dup := nsIndex[ns.Type]; dup {
			c.add(field+".type", "duplicate namespace type %q, also at linux.namespaces[%d]", ns.Type, j)
		} else {
			nsIndex[ns.Type] = i
		}
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			c.add(field+".path", "must be absolute, got %q", ns.Path)
		}
	}
	has := func(t specs.LinuxNamespaceType) bool { _, ok := nsIndex[t]; return ok }
	nsPath := func(t specs.LinuxNamespaceType) string {
		if i, ok := nsIndex[t]; ok {
			return l.Namespaces[i].Path
		}
		return ""
	}

	if spec.Hostname != "" && !has(specs.UTSNamespace) {
		c.add("hostname", "requires a uts namespace in linux.namespaces")
	}
	if spec.Domainname != "" && !has(specs.UTSNamespace) {
		c.add("domainname", "requires a uts namespace in linux.namespaces")
	}

	c.idMappings("linux.uidMappings", l.UIDMappings, has(specs.UserNamespace), nsPath(specs.UserNamespace))
	c.idMappings("linux.gidMappings", l.GIDMappings, has(specs.UserNamespace), nsPath(specs.UserNamespace))

	if len(l.TimeOffsets) > 0 {
		switch {
		case !has(specs.TimeNamespace):
			c.add("linux.timeOffsets", "requires a time namespace in linux.namespaces")
		case nsPath(specs.TimeNamespace) != "":
			c.add("linux.timeOffsets", "cannot be set when joining an existing time namespace (linux.namespaces[%d].path)", nsIndex[specs.TimeNamespace])
		}
	}

	for i, d := range l.Devices {
		field := fmt.Sprintf("linux.devices[%d]", i)
		c.absolute(field+".path", d.Path)
		c.oneOf(field+".type", "device type", d.Type, deviceTypes)
	}

	c.resources(l.Resources)

	if l.CgroupsPath != "" && c.opts.SystemdCgroup && len(strings.Split(l.CgroupsPath, ":")) != 3 {
		c.add("linux.cgroupsPath", "must be \"slice:prefix:name\" with --systemd-cgroup, e.g. \"system.slice:berth:mycontainer\" (got %q)", l.CgroupsPath)
	}

	if _, ok := l.Sysctl[""]; ok {
		c.add("linux.sysctl", "contains an empty key")
	}

	if l.RootfsPropagation != "" {
		c.oneOf("linux.rootfsPropagation", "propagation", l.RootfsPropagation, propagations)
	}

	for i, p := range l.MaskedPaths {
		c.absolute(fmt.Sprintf("linux.maskedPaths[%d]", i), p)
	}
	for i, p := range l.ReadonlyPaths {
		c.absolute(fmt.Sprintf("linux.readonlyPaths[%d]", i), p)
	}
	if !has(specs.MountNamespace) {
		if len(l.MaskedPaths) > 0 {
			c.add("linux.maskedPaths", "requires a mount namespace in linux.namespaces")
		}
		if len(l.ReadonlyPaths) > 0 {
			c.add("linux.readonlyPaths", "requires a mount namespace in linux.namespaces")
		}
	}

	c.seccomp(l.Seccomp)

	if l.Personality != nil {
		c.oneOf("linux.personality.domain", "domain", string(l.Personality.Domain), personalityDomains)
	}
}

func (c *checker) idMappings(field string, maps []specs.LinuxIDMapping, userns bool, usernsPath string) {
	switch {
	case !userns && len(maps) > 0:
		c.add(field, "requires a user namespace in linux.namespaces")
		return
	case userns && usernsPath == "" && len(maps) == 0:
		c.add(field, "required with a new user namespace")
		return
	}
	for i, m := range maps {
		if m.Size == 0 {
			c.add(fmt.Sprintf("%s[%d].size", field, i), "must be greater than 0")
		}
	}
}

func (c *checker) resources(r *specs.LinuxResources) {
	if r == nil {
		return
	}
	for i, d := range r.Devices {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		if d.Type != "" {
			c.oneOf(field+".type", "type", d.Type, cgroupDevTypes)
		}
		switch {
		case d.Access == "":
			c.add(field+".access", "must be set, e.g. \"rwm\"")
		case deviceAccess(d.Access) == "":
			c.add(field+".access", "%q has none of r, w and m", d.Access)
		case deviceAccess(d.Access) != d.Access:
			// The spec's access is made of r, w and m; runc hands other
			// letters on, and the cgroup v1 rules ignore them.
			c.warn(field+".access", "%q: only r, w and m mean something; read as %q", d.Access, deviceAccess(d.Access))
		}
	}
	if m := r.Memory; m != nil {
		for _, v := range []struct {
			name string
			val  *int64
		}{{"limit", m.Limit}, {"reservation", m.Reservation}, {"swap", m.Swap}} {
			if v.val != nil && *v.val < -1 {
				c.add("linux.resources.memory."+v.name, "must be -1 (unlimited) or >= 0, got %d", *v.val)
			}
		}
		if m.Limit != nil && m.Swap != nil && *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
			c.add("linux.resources.memory.swap", "must be >= limit (swap counts memory plus swap), got %d < %d", *m.Swap, *m.Limit)
		}
	}
	if cpu := r.CPU; cpu != nil {
		// 0 means unset; the kernel takes 1ms..1s.
		if cpu.Period != nil && *cpu.Period != 0 && (*cpu.Period < 1000 || *cpu.Period > 1000000) {
			c.add("linux.resources.cpu.period", "must be between 1000 and 1000000 (microseconds), got %d", *cpu.Period)
		}
		if err := checkList(cpu.Cpus); err != nil {
			c.add("linux.resources.cpu.cpus", "%q is not a valid cpu list, e.g. \"0-3,5\": %v", cpu.Cpus, err)
		}
		if err := checkList(cpu.Mems); err != nil {
			c.add("linux.resources.cpu.mems", "%q is not a valid memory node list, e.g. \"0-1\": %v", cpu.Mems, err)
		}
	}
}

// checkList checks a kernel cpu/node list such as "0-3,5" or "0-15:2/4"
// ("N" stands for the last one). An empty list means unset.
func checkList(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	num := func(x string) (uint64, bool, error) {
		x = strings.TrimSpace(x)
		if x == "N" {
			return 0, true, nil
		}
		n, err := strconv.ParseUint(x, 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%q is not a number", x)
		}
		return n, false, nil
	}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			return errors.New("empty element")
		}
		rng, group, hasGroup := strings.Cut(part, ":")
		lo, hi, isRange := strings.Cut(rng, "-")
		l, lN, err := num(lo)
		if err != nil {
			return err
		}
		if isRange {
			h, hN, err := num(hi)
			if err != nil {
				return err
			}
			if !lN && !hN && l > h {
				return fmt.Errorf("range %q is backwards", strings.TrimSpace(rng))
			}
		}
		if hasGroup {
			used, size, ok := strings.Cut(group, "/")
			if !ok {
				return fmt.Errorf("group %q must look like used/size", group)
			}
			u, _, err := num(used)
			if err != nil {
				return err
			}
			g, _, err := num(size)
			if err != nil {
				return err
			}
			if g == 0 || u > g {
				return fmt.Errorf("group %q must have 0 < used <= size", group)
			}
		}
	}
	return nil
}

func (c *checker) seccomp(s *specs.LinuxSeccomp) {
	// runc treats a profile with neither a default action nor rules as
	// "no seccomp", so such a profile is fine whatever else it holds.
	if s == nil || (s.DefaultAction == "" && len(s.Syscalls) == 0) {
		return
	}
	const f = "linux.seccomp"
	if s.DefaultAction == "" {
		c.add(f+".defaultAction", "must be set, e.g. %q", specs.ActErrno)
	} else {
		c.oneOf(f+".defaultAction", "action", string(s.DefaultAction), seccompActions)
	}
	for i, a := range s.Architectures {
		c.oneOf(fmt.Sprintf("%s.architectures[%d]", f, i), "architecture", string(a), seccompArchs)
	}
	for i, fl := range s.Flags {
		c.oneOf(fmt.Sprintf("%s.flags[%d]", f, i), "flag", string(fl), seccompFlags)
	}
	for i, sc := range s.Syscalls {
		field := fmt.Sprintf("%s.syscalls[%d]", f, i)
		if len(sc.Names) == 0 {
			c.add(field+".names", "must not be empty")
		}
		for j, n := range sc.Names {
			if n == "" {
				c.add(fmt.Sprintf("%s.names[%d]", field, j), "must not be empty")
			}
		}
		if sc.Action == "" {
			c.add(field+".action", "must be set, e.g. %q", specs.ActErrno)
		} else {
			c.oneOf(field+".action", "action", string(sc.Action), seccompActions)
		}
		for j, a := range sc.Args {
			c.oneOf(fmt.Sprintf("%s.args[%d].op", field, j), "operator", string(a.Op), seccompOps)
		}
	}
}
