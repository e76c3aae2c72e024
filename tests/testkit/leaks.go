package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LeakGrace is how long a leak check waits (see Scope.Settle) for the
// kernel to reap processes and tear down mounts after a delete returned.
const LeakGrace = 3 * time.Second

// Scope is what a test made that must be gone from the host when it is
// done with it. The leak checker looks for what is left of it: state
// entries, cgroups, mounts and processes. Every field is optional.
type Scope struct {
	// IDs are the test's containers (ids, or an engine's names): no
	// entry of Roots, no cgroup and no process's cgroup may name one
	// (see Names), and no live process of Binary may name one in its
	// arguments.
	IDs []string
	// Roots are state directories (--root) that may hold the ids'
	// state.
	Roots []string
	// EmptyDirs must be empty, or absent.
	EmptyDirs []string
	// Gone are paths that must not exist (a socket the test's daemon
	// made elsewhere, a directory it must not have made).
	Gone []string
	// Dir is the test's own directory: nothing may be mounted at or
	// below it, or mention it (see Mount.Mentions), and no process may
	// mention it in its arguments.
	Dir string
	// AllowedMounts are mount points that may stay (an engine's own
	// mounts while it has no container).
	AllowedMounts []string
	// Inside: no process may have its working directory or its root
	// directory at or below this directory (a container's processes
	// have their root in its rootfs).
	Inside string
	// Pids are host processes the test started that must be gone.
	Pids []int
	// Binary is the berth binary under test.
	Binary string
}

// Leak is one thing of a Scope still on the host.
type Leak struct {
	Kind string // "state", "cgroup", "mount" or "process"
	What string // a description: path, mountinfo line, pid and command line

	path  string // state entry or cgroup directory
	mount Mount
	pid   int
}

func (l Leak) String() string { return l.Kind + " " + l.What }

// Find lists what of s is on the host now.
func (s Scope) Find() []Leak {
	var leaks []Leak
	for _, root := range s.Roots {
		ents, _ := os.ReadDir(root) // absent: nothing left
		for _, e := range ents {
			if namesAny(e.Name(), s.IDs) {
				p := filepath.Join(root, e.Name())
				leaks = append(leaks, Leak{Kind: "state", What: p, path: p})
			}
		}
	}
	for _, dir := range s.EmptyDirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			leaks = append(leaks, Leak{Kind: "state", What: p, path: p})
		}
	}
	for _, p := range s.Gone {
		if _, err := os.Lstat(p); err == nil {
			leaks = append(leaks, Leak{Kind: "state", What: p, path: p})
		}
	}
	for _, cg := range CgroupsNamed(s.IDs...) {
		leaks = append(leaks, Leak{Kind: "cgroup", What: cg, path: cg})
	}
	if s.Dir != "" {
		ms, _ := MountsMentioning(s.Dir) // no mountinfo: no mounts to see
		for _, m := range ms {
			if !slices.Contains(s.AllowedMounts, m.Point) {
				leaks = append(leaks, Leak{Kind: "mount", What: m.Line, mount: m})
			}
		}
	}
	return append(leaks, s.processes()...)
}

// Settle calls Find until nothing is left or grace has passed (the kernel
// reaps processes and tears down mounts a moment after a delete returns),
// and returns what is left.
func (s Scope) Settle(grace time.Duration) []Leak {
	deadline := time.Now().Add(grace)
	for {
		leaks := s.Find()
		if len(leaks) == 0 || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processes lists the live processes of s (see Scope), never the test
// binary itself.
func (s Scope) processes() []Leak {
	var out []Leak
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !Alive(pid) {
			continue
		}
		cmdline := commandLine(pid)
		if why := s.why(pid, cmdline); why != "" {
			out = append(out, Leak{Kind: "process", What: fmt.Sprintf("pid %d %q (%s)", pid, cmdline, why), pid: pid})
		}
	}
	return out
}

// why says why process pid belongs to s, or "".
func (s Scope) why(pid int, cmdline string) string {
	if slices.Contains(s.Pids, pid) {
		return "started by the test"
	}
	if mentionsPath(cmdline, s.Dir) {
		return "its command line mentions " + s.Dir
	}
	proc := "/proc/" + strconv.Itoa(pid)
	if s.Inside != "" {
		for _, link := range []string{"cwd", "root"} {
			if target, err := os.Readlink(proc + "/" + link); err == nil && (target == s.Inside || strings.HasPrefix(target, s.Inside+"/")) {
				return "its " + link + " is " + target
			}
		}
	}
	if len(s.IDs) == 0 {
		return ""
	}
	cg, _ := os.ReadFile(proc + "/cgroup")
	for _, line := range strings.Split(string(cg), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && namesAny(parts[2], s.IDs) {
			return "in cgroup " + line
		}
	}
	if s.Binary != "" && namesAny(cmdline, s.IDs) {
		if exe, _ := os.Readlink(proc + "/exe"); exe == s.Binary {
			return "the runtime under test, for one of the test's containers"
		}
	}
	return ""
}

// commandLine is the process's arguments joined by spaces.
func commandLine(pid int) string {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)) // gone: ""
	return strings.TrimSpace(string(bytes.ReplaceAll(raw, []byte{0}, []byte{' '})))
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state letter follows the command name, which may hold spaces
	// and parentheses: look after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	return data[i+2] != 'Z' && data[i+2] != 'X'
}

// ReadPid reads a pid file (what --pid-file or a hook wrote).
func ReadPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	return pid, nil
}

// Remove removes what Find reported, so that the machine stays clean after
// a test that leaked: it thaws the cgroups and kills the processes, then
// unmounts the mounts, removes the cgroups and the state entries. It
// returns what it could not remove.
func Remove(leaks []Leak) error {
	var cgroups, paths []string
	var mounts []Mount
	for _, l := range leaks {
		switch l.Kind {
		case "cgroup":
			cgroups = append(cgroups, l.path)
		case "state":
			paths = append(paths, l.path)
		case "mount":
			mounts = append(mounts, l.mount)
		}
	}
	thawCgroups(cgroups)
	for _, l := range leaks {
		if l.Kind == "process" {
			_ = syscall.Kill(l.pid, syscall.SIGKILL) // it may be gone already
		}
	}
	errs := []error{Unmount(mounts), RemoveCgroups(cgroups, 3*time.Second)}
	for _, p := range paths {
		errs = append(errs, os.RemoveAll(p))
	}
	return errors.Join(errs...)
}
