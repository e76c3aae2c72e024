package testkit

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// Space is one test's private part of the host: a directory of its own for
// its files and the --root of its berth calls, and the containers it made,
// which the test's cleanup force-deletes and then must find gone.
type Space struct {
	Dir  string // the test's directory
	Root string // Dir/state: the --root of the test's berth calls

	name string // the test's, for its ids
	ids  *IDs
	mu   sync.Mutex
	made []string
}

// NewSpace checks the gate, marks t parallel (the tests of the suites with
// spaces run beside each other) and makes t's space.
func (s Setup) NewSpace(t *testing.T) *Space {
	t.Helper()
	s.Gate.Check(t)
	t.Parallel()
	return NewSpace(t, s.IDs)
}

// NewSpace makes test t's space in t.TempDir(); its container ids come
// from ids.
func NewSpace(t testing.TB, ids *IDs) *Space { return SpaceAt(t, t.TempDir(), ids) }

// SpaceAt is test t's space in dir, which the caller removes. Its root
// exists, as after a first container: like runc, berth refuses to list a
// --root that does not exist.
func SpaceAt(t testing.TB, dir string, ids *IDs) *Space {
	t.Helper()
	root := filepath.Join(dir, "state")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	return &Space{Dir: dir, Root: root, name: t.Name(), ids: ids}
}

// NewID returns a fresh container id of the test and registers it.
func (s *Space) NewID() string {
	id := s.ids.New(s.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.made = append(s.made, id)
	return id
}

// NewIDs returns n fresh container ids (see NewID).
func (s *Space) NewIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.NewID()
	}
	return ids
}

// IDs are the ids NewID returned so far.
func (s *Space) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.made)
}

// Berth is how the test runs berth: binary with the space's --root, its
// output files in the space's directory.
func (s *Space) Berth(binary string, timeout time.Duration) Berth {
	return Berth{Binary: binary, Globals: []string{"--root", s.Root}, OutDir: s.Dir, Timeout: timeout}
}

// Scope is what of the space must be gone once its containers are deleted:
// their state in its root, their cgroups and processes, the mounts in its
// directory and processes naming it.
func (s *Space) Scope(binary string) Scope {
	return Scope{IDs: s.IDs(), Roots: []string{s.Root}, Dir: s.Dir, Binary: binary}
}
