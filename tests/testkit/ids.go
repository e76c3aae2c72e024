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
func Names(s, id string) bool {
	if id == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], id)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(id)
		if (start == 0 || !isAlnum(s[start-1])) && (end == len(s) || !isAlnum(s[end])) {
			return true
		}
		i = start + 1
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// mentionsPath reports whether s mentions the path dir or a path below
// it: dir followed by the end, a '/' or any character that cannot go on a
// file name here (a space, '=', ':', ','...).
func mentionsPath(s, dir string) bool {
	if dir == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], dir)
		if j < 0 {
			return false
		}
		end := i + j + len(dir)
		if end == len(s) || !isNameChar(s[end]) {
			return true
		}
		i = i + j + 1
	}
}

func isNameChar(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' || c == '+' }
