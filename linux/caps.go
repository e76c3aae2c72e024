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
// capability outside bounding, and returns their names, and every name this
// build does not know (Validate warns about those). The runtime spec says a
// runtime SHOULD NOT fail for capabilities it cannot grant (as when berth
// itself runs without some of them) or does not know; the caller warns.
func DropUngrantable(p *specs.Process, bounding uint64) []string {
	if p == nil || p.Capabilities == nil {
		return nil
	}
	// known: the name is a capability; grantable: berth holds it.
	grantable := func(name string) (known, ok bool) {
		for _, c := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(c.String()) == name {
				return true, c < 64 && bounding&(1<<uint(c)) != 0
			}
		}
		return false, false
	}
	var dropped []string
	for _, set := range []*[]string{&p.Capabilities.Bounding, &p.Capabilities.Effective,
		&p.Capabilities.Inheritable, &p.Capabilities.Permitted, &p.Capabilities.Ambient} {
		*set = slices.DeleteFunc(*set, func(name string) bool {
			known, ok := grantable(name)
			if ok {
				return false
			}
			if known && !slices.Contains(dropped, name) {
				dropped = append(dropped, name)
			}
			return true
		})
	}
	return dropped
}
