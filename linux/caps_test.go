package linux

import (
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestDropUngrantable(t *testing.T) {
	p := &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding:  []string{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_KILL"},
		Effective: []string{"CAP_SYS_RESOURCE"},
		Permitted: []string{"CAP_KILL", "CAP_SYS_RESOURCE"},
	}}
	// CAP_CHOWN is 0, CAP_KILL is 5; CAP_SYS_RESOURCE (24) is missing.
	dropped := DropUngrantable(p, 1<<0|1<<5)
	if !slices.Equal(dropped, []string{"CAP_SYS_RESOURCE"}) {
		t.Errorf("dropped %v, want [CAP_SYS_RESOURCE]", dropped)
	}
	c := p.Capabilities
	if !slices.Equal(c.Bounding, []string{"CAP_CHOWN", "CAP_KILL"}) || len(c.Effective) != 0 || !slices.Equal(c.Permitted, []string{"CAP_KILL"}) {
		t.Errorf("left %+v", c)
	}
	if DropUngrantable(&specs.Process{}, 0) != nil {
		t.Error("a process without capabilities drops nothing")
	}
}

func TestBoundingSet(t *testing.T) {
	if _, err := BoundingSet(); err != nil {
		t.Fatal(err)
	}
}
