package state

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Lock is an exclusive lock on one container id, held through a whole
// read-check-act sequence by the berth process doing it. The kernel drops it
// when that process dies, so a killed berth never leaves a lock behind.
type Lock struct {
	f    *os.File
	path string
}

// Lock takes the lock of container id, waiting while another process holds it.
// It works whether or not the container exists, so two racing creates of one
// id are serialised.
func (r Root) Lock(id string) (*Lock, error) {
	path := r.lockPath(id)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock container %q: %w", id, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock container %q: %w", id, err)
		}
		// The holder we waited for may have deleted the container and
		// unlinked this file; a lock on an unlinked file guards nothing,
		// so start again with the file now at path.
		if sameFile(f, path) {
			return &Lock{f: f, path: path}, nil
		}
		f.Close()
	}
}

// Held reports whether some process holds the lock of container id now.
func (r Root) Held(id string) bool {
	f, err := os.Open(r.lockPath(id))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true
	}
	return false
}

func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// Unlock releases the lock and keeps the lock file, unless there is no
// container of that id (an operation on a missing id, or one that lost a
// race with delete): then the file goes too, as with Remove.
func (l *Lock) Unlock() {
	if _, err := os.Lstat(strings.TrimSuffix(l.path, "~lock")); os.IsNotExist(err) {
		_ = os.Remove(l.path) // waiters notice the unlink and retry
	}
	l.f.Close()
}

// Remove unlinks the lock file and releases the lock; for when the container
// is gone. Waiters notice the unlink and retry on a fresh file.
func (l *Lock) Remove() error {
	err := os.Remove(l.path)
	l.f.Close()
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove lock: %w", err)
	}
	return nil
}
