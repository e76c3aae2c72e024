package testkit

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
)

// IDs makes container ids that are unique on this host, so that suites,
// and other checkouts' runs, can share it: a prefix, a short form of the
// test's name, the test binary's pid and a sequence number.
type IDs struct {
	prefix string
	seq    atomic.Int64
}

// NewIDs returns an id maker whose ids start with prefix.
func NewIDs(prefix string) *IDs { return &IDs{prefix: prefix} }

var (
	idBadChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
	// A test name that says "berth" would put the word in ids, and so in
	// berth's own messages about them, where tests look for it.
	idRuntime = regexp.MustCompile(`(?i)berth`)
)

// New returns a fresh id for the test named testName.
func (g *IDs) New(testName string) string {
	name := strings.TrimPrefix(testName, "Test")
	name = strings.ReplaceAll(name, "/", ".")
	name = idBadChars.ReplaceAllString(name, "_")
	name = idRuntime.ReplaceAllString(name, "rt")
	if len(name) > 20 {
		name = name[:20]
	}
	return fmt.Sprintf("%s%s-%d-%03d", g.prefix, name, os.Getpid(), g.Next())
}

// Next returns the next sequence number, for other names that must not
// collide (sockets, users).
func (g *IDs) Next() int64 { return g.seq.Add(1) }

// Names reports whether s names the container id: id stands in s with no
// letter or digit right before or after it, so that "ctr-1" names
// "libpod-ctr-1.scope" and "ctr-1~lock" but not "ctr-10".
func Names(s, id string) bool { return standsAlone(s, id, isAlnum, isAlnum) }

// mentionsPath reports whether s mentions the path dir or a path below
// it: dir followed by the end, a '/' or any character that cannot go on a
// file name here (a space, '=', ':', ','...).
func mentionsPath(s, dir string) bool {
	return standsAlone(s, dir, func(byte) bool { return false }, isNameChar)
}

// standsAlone reports whether sub occurs in s with neither a byte that
// joinsBefore says joins it right before it, nor one that joinsAfter says
// joins it right after it.
func standsAlone(s, sub string, joinsBefore, joinsAfter func(byte) bool) bool {
	for i := 0; sub != ""; {
		j := strings.Index(s[i:], sub)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(sub)
		if (start == 0 || !joinsBefore(s[start-1])) && (end == len(s) || !joinsAfter(s[end])) {
			return true
		}
		i = start + 1
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameChar(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' || c == '+' }
