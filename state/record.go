package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
)

const recordFile = "berth.json"

// Record is what berth keeps about a container beside libcontainer's state:
// the hooks that berth runs itself, at the moments the runtime spec names,
// rather than leaving them to libcontainer, and what `delete --force` needs
// to find the container's processes and cgroups when libcontainer's
// state.json is unreadable.
type Record struct {
	// Pid and PidStart (clock ticks after boot, from /proc/<pid>/stat)
	// identify the init process, safe from pid reuse.
	Pid      int    `json:"pid,omitempty"`
	PidStart uint64 `json:"pidStart,omitempty"`
	// CgroupPaths maps cgroup controllers ("" for the v2 hierarchy) to
	// the container's cgroup directories.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`

	// Poststart hooks run after the user process has started, before
	// start returns.
	Poststart []specs.Hook `json:"poststart,omitempty"`
	// Poststop hooks run after the container is deleted.
	Poststop []specs.Hook `json:"poststop,omitempty"`

	// NoProcess marks a container created from a config without process:
	// it cannot be started.
	NoProcess bool `json:"noProcess,omitempty"`

	// LateRlimits are the process.rlimits that start applies when the
	// init executes the container's program (RLIMIT_AS, RLIMIT_DATA).
	LateRlimits []specs.POSIXRlimit `json:"lateRlimits,omitempty"`

	// ImageBundle is the bundle berth made for run --image, removed
	// with the container.
	ImageBundle string `json:"imageBundle,omitempty"`
}

// WriteRecord stores rec in the directory of container id, atomically.
func (r Root) WriteRecord(id string, rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record of %q: %w", id, err)
	}
	if err := WriteFileAtomic(filepath.Join(r.ContainerDir(id), recordFile), data, 0o600); err != nil {
		return fmt.Errorf("write record of %q: %w", id, err)
	}
	return nil
}

// ReadRecord loads the record of container id. A container without one
// (made by an older berth, or whose create was interrupted) has an empty
// record.
func (r Root) ReadRecord(id string) (Record, error) {
	var rec Record
	data, err := os.ReadFile(filepath.Join(r.ContainerDir(id), recordFile))
	if errors.Is(err, os.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, fmt.Errorf("read record of %q: %w", id, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("decode record of %q: %w", id, err)
	}
	return rec, nil
}
