// Package state owns berth's on-disk layout under the --root directory: one
// directory per container (written by libcontainer, plus berth's own record),
// one lock file per container id, and atomic file writes.
//
// Layout:
//
//	<root>/<id>/state.json   libcontainer's state (config, pids, cgroup paths)
//	<root>/<id>/berth.json   berth's record: hooks libcontainer does not run
//	<root>/<id>~lock         the per-container lock (flock), removed on delete
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

// Open makes dir absolute, refuses "/", and creates it with mode 0700 when it
// does not exist yet.
func Open(dir string) (Root, error) {
	if dir == "" {
		return Root{}, errors.New("--root: must not be empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("--root %s: %w", dir, err)
	}
	if abs == "/" {
		return Root{}, errors.New("--root: refusing to use / as the state directory; pass a dedicated directory such as /run/berth")
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return Root{}, fmt.Errorf("--root: %w", err)
	}
	return Root{dir: abs}, nil
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
// that does not exist yet holds no containers.
func (r Root) IDs() ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
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
