package linux

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// BoundingSet reads the capability bounding set of the calling process
// (CapBnd in /proc/self/status): no process berth starts can hold a
// capability outside it.
func BoundingSet() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no CapBnd in /proc/self/status")
}

// DropUngrantable removes from the process's capability sets every
// capability outside bounding and returns their names. The runtime spec
// says a runtime SHOULD NOT fail for capabilities it cannot grant (as when
// berth itself runs without some of them); the caller warns.
func DropUngrantable(p *specs.Process, bounding uint64) []string {
	if p == nil || p.Capabilities == nil {
		return nil
	}
	grantable := func(name string) bool {
		for _, c := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(c.String()) == name {
				return c < 64 && bounding&(1<<uint(c)) != 0
			}
		}
		return true // unknown names are Validate's business
	}
	var dropped []string
	for _, set := range []*[]string{&p.Capabilities.Bounding, &p.Capabilities.Effective,
		&p.Capabilities.Inheritable, &p.Capabilities.Permitted, &p.Capabilities.Ambient} {
		*set = slices.DeleteFunc(*set, func(name string) bool {
			if grantable(name) {
				return false
			}
			if !slices.Contains(dropped, name) {
				dropped = append(dropped, name)
			}
			return true
		})
	}
	return dropped
}
