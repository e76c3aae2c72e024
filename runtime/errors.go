package runtime

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
)

// idError is an error about one container id that reads naturally
// ("container "x" does not exist") and still wraps libcontainer's sentinel,
// whose words callers (containerd, podman) match.
type idError struct {
	id     string
	format string // with one %q for the id
	err    error
}

func (e *idError) Error() string { return fmt.Sprintf(e.format, e.id) }
func (e *idError) Unwrap() error { return e.err }

func errNotExist(id string) error {
	return &idError{id: id, format: "container %q does not exist", err: libcontainer.ErrNotExist}
}

func errExist(id string) error {
	return &idError{id: id, format: "container %q already exists (delete it first, or choose another id)", err: libcontainer.ErrExist}
}

func errNotRunning(id string) error {
	return &idError{id: id, format: "container not running: %q", err: libcontainer.ErrNotRunning}
}
