// Package state owns berth's on-disk layout under the --root directory: one
// directory per container (written by libcontainer, plus berth's own record),
// one lock file per container id, and atomic file writes.
//
// Layout:
//
//	<root>/<id>/state.json     libcontainer's state (config, pids, cgroup paths)
//	<root>/<id>/berth.json     berth's record: hooks libcontainer does not run, ...
//	<root>/<id>/recovery.json  the init and cgroups, for a delete that can read
//	                           neither of the others
//	<root>/<id>~lock           the per-container lock (flock), removed on delete
//
// "~" cannot appear in a container id, so lock files never collide with
// container directories, and listings skip them.
package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Root is a state root directory, made absolute and created by Open.
type Root struct {
	dir string
}

// Open makes dir absolute and refuses "/". The directory need not exist:
// Make creates it, for the first container.
func Open(dir string) (Root, error) {
	if dir == "" {
		return Root{}, errors.New("state root: must not be empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("state root %s: %w", dir, err)
	}
	if abs == "/" {
		return Root{}, errors.New("state root: refusing to use / as the state directory; use a dedicated directory such as /run/berth")
	}
	return Root{dir: abs}, nil
}

// Make creates the root directory, mode 0700, if it does not exist yet.
func (r Root) Make() error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("state root: %w", err)
	}
	return nil
}

// Present reports whether the root directory exists.
func (r Root) Present() bool {
	_, err := os.Stat(r.dir)
	return err == nil
}

// Dir is the absolute path of the root directory.
func (r Root) Dir() string { return r.dir }

// ContainerDir is the directory that holds the state of container id.
func (r Root) ContainerDir(id string) string { return filepath.Join(r.dir, id) }

func (r Root) lockPath(id string) string { return filepath.Join(r.dir, id+"~lock") }

// Exists reports whether container id has a state directory, complete or not.
func (r Root) Exists(id string) bool {
	_, err := os.Lstat(r.ContainerDir(id))
	return err == nil
}

// IDs lists the ids of all container directories under the root, sorted.
// Entries that are not directories (lock files, strays) are skipped. A root
// that does not exist is an error that wraps os.ErrNotExist.
func (r Root) IDs() ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.dir, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// RemoveStale removes the directory of container id. It is for directories
// that libcontainer cannot load (no state.json: a create that was killed
// half-way). Preconditions: the caller holds id's lock.
func (r Root) RemoveStale(id string) error {
	if err := os.RemoveAll(r.ContainerDir(id)); err != nil {
		return fmt.Errorf("remove stale state of %q: %w", id, err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see either nothing or all of it.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp) // best effort: the write already failed
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
