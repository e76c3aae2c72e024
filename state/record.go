package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
)

const (
	recordFile   = "berth.json"
	recoveryFile = "recovery.json"
)

// Record is what berth keeps about a container beside libcontainer's state:
// the hooks that berth runs itself, at the moments the runtime spec names,
// rather than leaving them to libcontainer, and what the container's
// creator decided beside config.json. It is written once, before the
// container's init starts.
type Record struct {
	// CgroupPaths maps cgroup controllers ("" for the v2 hierarchy) to
	// the container's cgroup directories, known before the init exists:
	// a create killed half-way leaves cgroups that delete finds here.
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

	// OwnedBundle is a bundle directory the creator handed to berth
	// (run --image makes one): it is unmounted and removed with the
	// container. Only the create call sets it, never config.json.
	OwnedBundle string `json:"ownedBundle,omitempty"`
}

// Recovery is what a forced delete needs to remove a container when both
// libcontainer's state and berth's record are unreadable: which process is
// its init and where its cgroups are. It is a file of its own, written
// once the init runs, so that no single damaged file hides the container's
// processes.
type Recovery struct {
	// Pid and PidStart (clock ticks after boot, from /proc/<pid>/stat)
	// identify the init process, safe from pid reuse.
	Pid      int    `json:"pid"`
	PidStart uint64 `json:"pidStart"`
	// CgroupPaths maps cgroup controllers ("" for the v2 hierarchy) to
	// the container's cgroup directories.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
}

// WriteRecord stores rec in the directory of container id, atomically.
func (r Root) WriteRecord(id string, rec Record) error {
	return r.writeJSON(id, recordFile, "record", rec)
}

// ReadRecord loads the record of container id. A container without one
// (made by an older berth, or whose create was interrupted) has an empty
// record.
func (r Root) ReadRecord(id string) (Record, error) {
	var rec Record
	_, err := r.readJSON(id, recordFile, "record", &rec)
	return rec, err
}

// WriteRecovery stores rec in the directory of container id, atomically.
func (r Root) WriteRecovery(id string, rec Recovery) error {
	return r.writeJSON(id, recoveryFile, "recovery record", rec)
}

// ReadRecovery loads the recovery record of container id; found is false
// when there is none (the init never ran, or an older berth made it).
func (r Root) ReadRecovery(id string) (rec Recovery, found bool, err error) {
	found, err = r.readJSON(id, recoveryFile, "recovery record", &rec)
	return rec, found, err
}

func (r Root) writeJSON(id, file, what string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s of %q: %w", what, id, err)
	}
	if err := WriteFileAtomic(filepath.Join(r.ContainerDir(id), file), data, 0o600); err != nil {
		return fmt.Errorf("write %s of %q: %w", what, id, err)
	}
	return nil
}

func (r Root) readJSON(id, file, what string, v any) (found bool, _ error) {
	data, err := os.ReadFile(filepath.Join(r.ContainerDir(id), file))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s of %q: %w", what, id, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %s of %q: %w", what, id, err)
	}
	return true, nil
}
