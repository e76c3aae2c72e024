package linux

import (
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

func TestLateRlimits(t *testing.T) {
	as := configs.Rlimit{Type: unix.RLIMIT_AS, Soft: 1 << 30, Hard: 2 << 30}
	data := configs.Rlimit{Type: unix.RLIMIT_DATA, Soft: 1 << 20, Hard: 1 << 20}
	nofile := configs.Rlimit{Type: unix.RLIMIT_NOFILE, Soft: 10, Hard: 20}
	core := configs.Rlimit{Type: unix.RLIMIT_CORE, Soft: 0, Hard: 0}
	for _, tc := range []struct {
		name        string
		in          []configs.Rlimit
		early, late []configs.Rlimit
	}{
		{"none", nil, nil, nil},
		{"only early", []configs.Rlimit{nofile, core}, []configs.Rlimit{nofile, core}, nil},
		{"only late", []configs.Rlimit{as, data}, nil, []configs.Rlimit{as, data}},
		{"mixed keeps order", []configs.Rlimit{nofile, as, core, data}, []configs.Rlimit{nofile, core}, []configs.Rlimit{as, data}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &libcontainer.Process{Rlimits: slices.Clone(tc.in)}
			late := LateRlimits(p)
			if !slices.Equal(p.Rlimits, tc.early) || !slices.Equal(late, tc.late) {
				t.Errorf("LateRlimits(%v): left %v, took %v; want left %v, took %v", tc.in, p.Rlimits, late, tc.early, tc.late)
			}
		})
	}
	if got := RlimitName(unix.RLIMIT_AS); got != "RLIMIT_AS" {
		t.Errorf("RlimitName(RLIMIT_AS) = %q", got)
	}
}
