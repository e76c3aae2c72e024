package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/linux"
)

// stateFile is the part of libcontainer's state.json (libcontainer.State,
// runc v1.5.2) that state and list print or need for the status. Decoding
// the whole file, config included, is most of what libcontainer.Load costs.
//
// Pointers tell a missing field from a zero one: a state.json without one
// of them is not an ordinary one, and libcontainer.Load decides what it
// means.
type stateFile struct {
	InitProcessPid   *int       `json:"init_process_pid"`
	InitProcessStart *uint64    `json:"init_process_start"`
	Created          *time.Time `json:"created"`
	Config           *struct {
		Rootfs  string   `json:"rootfs"`
		Labels  []string `json:"labels"`
		Version string   `json:"version"`
		// The whole cgroup config, so that the freezer is read by the
		// cgroup manager libcontainer.Load would build.
		Cgroups *cgroups.Cgroup `json:"cgroups"`
	} `json:"config"`
	CgroupPaths map[string]string `json:"cgroup_paths"`
}

// lightState is what describe reports for a container loaded with
// libcontainer.Load, read without Load: only the fields printed are
// decoded, and the status is decided once, by libcontainer's rules
// (Container.refreshState) and berth's:
//
//   - the container's freezer cgroup is frozen: paused;
//   - its init process is gone (no such pid, another process's start time,
//     a zombie): stopped, pid 0;
//   - exec.fifo is still there: created, unless the init has been released
//     already (initReleased): running;
//   - otherwise running.
//
// Any error means the light read cannot decide for this container (no
// state.json, fields missing or of the wrong type, a freezer or
// /proc/<pid>/stat that cannot be read as usual): the caller goes through
// libcontainer.Load, which reports that case as it always has. What the
// light read does not decode, it does not check: a state.json that is valid
// JSON but has a wrongly typed field outside stateFile is shown here where
// Load would refuse it.
func (r *Runtime) lightState(id string) (_ *ContainerState, err error) {
	// The cgroup managers can panic on odd configs (a process may not mix
	// rootless and rootful systemd connections); r.load recovers from the
	// same panic in libcontainer.Load and reports it.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("light read of %q: %v", id, p)
		}
	}()
	if err := linux.ValidateID(id); err != nil {
		return nil, err
	}
	// libcontainer.Load resolves symlinks under the root (SecureJoin); a
	// directory or state.json that is one is left to it.
	dir := r.root.ContainerDir(id)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("state directory %s: not a plain directory (%v)", dir, err)
	}
	data, err := readStateJSON(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode state.json of %q: %w", id, err)
	}
	switch {
	case f.InitProcessPid == nil || f.InitProcessStart == nil || f.Created == nil:
		return nil, fmt.Errorf("state.json of %q: no init_process_pid, init_process_start or created", id)
	case *f.InitProcessPid <= 0:
		return nil, fmt.Errorf("state.json of %q: init_process_pid %d", id, *f.InitProcessPid)
	case f.Config == nil || f.Config.Cgroups == nil:
		return nil, fmt.Errorf("state.json of %q: no config or config.cgroups", id)
	case f.CgroupPaths == nil:
		// The cgroup managers would work the paths out from the config.
		return nil, fmt.Errorf("state.json of %q: no cgroup_paths", id)
	}
	pid := *f.InitProcessPid

	lcStatus, init, err := lightStatus(&f, dir)
	if err != nil {
		return nil, fmt.Errorf("status of %q: %w", id, err)
	}
	// Whether a created container's init was released is decided from the
	// /proc/<pid>/stat lightStatus read (the init is alive): the command
	// name there is the one /proc/<pid>/comm shows.
	status := effectiveStatus(lcStatus, func() bool { return init.comm != initComm })
	// From here on as describe does it.
	if status == Stopped {
		pid = 0
	}
	bundle, annotations := utils.Annotations(f.Config.Labels)
	return &ContainerState{
		OCIVersion:  f.Config.Version,
		ID:          id,
		Pid:         pid,
		Status:      status.String(),
		Bundle:      bundle,
		Rootfs:      f.Config.Rootfs,
		Created:     *f.Created,
		Annotations: annotations,
	}, nil
}

// lightStatus decides the status in the order of libcontainer's
// refreshState: the freezer first, then the init process, then exec.fifo.
// When the init is alive, it also returns what /proc/<pid>/stat says of it.
func lightStatus(f *stateFile, dir string) (libcontainer.Status, procStat, error) {
	cg := *f.Config.Cgroups
	if cg.Resources == nil {
		cg.Resources = &cgroups.Resources{} // as libcontainer's loadState does
	}
	// The manager libcontainer.Load builds, so that the freezer is read
	// with its rules: v1 freezer.state and freezer.self_freezing, v2
	// cgroup.freeze and cgroup.events, no freezer cgroup meaning thawed.
	// Building it reads nothing when the paths are known.
	cm, err := manager.NewWithPaths(&cg, f.CgroupPaths)
	if err != nil {
		return 0, procStat{}, fmt.Errorf("cgroup manager: %w", err)
	}
	freezer, err := cm.GetFreezerState()
	if err != nil {
		return 0, procStat{}, fmt.Errorf("freezer state: %w", err)
	}
	if freezer == cgroups.Frozen {
		return libcontainer.Paused, procStat{}, nil
	}
	init, found, err := readProcStat(*f.InitProcessPid)
	if err != nil {
		return 0, procStat{}, err
	}
	// libcontainer's hasInit: the pid's start time must be the init's, so
	// that a reused pid does not count, and a zombie is no init.
	if !found || init.start != *f.InitProcessStart || init.state == 'Z' || init.state == 'X' {
		return libcontainer.Stopped, procStat{}, nil
	}
	// libcontainer counts any exec.fifo it can stat, whatever its type.
	var st unix.Stat_t
	if unix.Stat(filepath.Join(dir, "exec.fifo"), &st) == nil {
		return libcontainer.Created, init, nil
	}
	return libcontainer.Running, init, nil
}

// procStat is what the light read takes from /proc/<pid>/stat.
type procStat struct {
	comm  string // field 2, the command name
	state byte   // field 3: R, S, D, Z, X, ...
	start uint64 // field 22: start time in clock ticks after boot
}

// readProcStat reads /proc/<pid>/stat; found is false when there is no
// such process. It reads /proc directly, where libcontainer goes through a
// pathrs procfs handle, which costs more and answers differently only on a
// /proc that is not what it should be: every error but "no such process"
// is returned, for libcontainer.Load to judge.
func readProcStat(pid int) (st procStat, found bool, err error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	data, err := readFile(path, 0, make([]byte, 0, 512))
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return procStat{}, false, nil
	}
	if err != nil {
		return procStat{}, false, fmt.Errorf("init process: %w", err)
	}
	st, err = parseProcStat(data)
	if err != nil {
		return procStat{}, false, fmt.Errorf("init process: %s: %w", path, err)
	}
	return st, true, nil
}

// parseProcStat parses the contents of /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may hold spaces and parentheses itself,
// so the other fields are counted from the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("no command name")
	}
	// From field 3 on, space-separated; field 22 is the 20th.
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 20 || len(fields[0]) != 1 {
		return procStat{}, errors.New("too few fields")
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("start time: %w", err)
	}
	return procStat{comm: string(data[open+1 : end]), state: fields[0][0], start: start}, nil
}

// readStateJSON reads a container's state.json, refusing a symlink
// (libcontainer would resolve it inside the root) and anything but a
// regular file.
func readStateJSON(path string) ([]byte, error) {
	fd, err := openFile(path, unix.O_NOFOLLOW|unix.O_NONBLOCK) // O_NONBLOCK: a fifo does not block the open
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return readAll(fd, path, make([]byte, 0, st.Size+512))
}

// readFile reads the file at path into buf, whose capacity is a guess of
// its size, with plain system calls: os.Open would also set each file up
// for Go's poller, four fcntl and an epoll_ctl more per file, which list
// pays for every container.
func readFile(path string, flags int, buf []byte) ([]byte, error) {
	fd, err := openFile(path, flags)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return readAll(fd, path, buf)
}

func openFile(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
		if err == nil {
			return fd, nil
		}
		if err != unix.EINTR {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

func readAll(fd int, path string, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		default:
			buf = buf[:len(buf)+n]
		}
	}
}
