package main

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseSignal: no panic; an accepted signal is 0..64 (0 only as a
// number: the liveness probe) and is what the input names or numbers; a
// rejection quotes the input.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{
		"", "9", "0", "-1", "64", "65", "+9", "09", " 9", "1e1", "99999999999999999999",
		"KILL", "kill", "SIGKILL", "sigkill", "SiGtErM", "SIG", "sig", "SIGSIGKILL",
		"RTMIN", "SIGRTMIN+1", "USR1", "WINCH", "\x00", "KILL\x00", "ſigkill",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := parseSignal(s)
		if err != nil {
			if sig != 0 || !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("parseSignal(%q) = %d, %q: a rejection must return 0 and quote the input", s, sig, err)
			}
			return
		}
		if sig < 0 || sig > 64 {
			t.Fatalf("parseSignal(%q) = %d: out of range", s, sig)
		}
		if s == "" {
			if sig != unix.SIGTERM {
				t.Fatalf("parseSignal(\"\") = %d, want SIGTERM", sig)
			}
			return
		}
		if n, err := strconv.Atoi(s); err == nil {
			if int(sig) != n {
				t.Fatalf("parseSignal(%q) = %d", s, sig)
			}
			return
		}
		name := strings.ToUpper(s)
		if !strings.HasPrefix(name, "SIG") {
			name = "SIG" + name
		}
		if unix.SignalName(sig) != name {
			t.Fatalf("parseSignal(%q) = %d (%s), not the signal it names", s, sig, unix.SignalName(sig))
		}
	})
}

// FuzzSubCgroups feeds exec --cgroup values (one per line): no panic; an
// accepted set maps non-empty controllers (or "" alone) to paths, one entry
// per controller; a rejection names --cgroup.
func FuzzSubCgroups(f *testing.F) {
	for _, s := range []string{
		"", "sub", "/abs/path", "cpu:sub", "cpu,memory:sub", "cpu:a\nmemory:b", "cpu:a\ncpu:b",
		"a\nb", ":x", "cpu,:x", ",:x", "cpu:", "::", "cpu:a:b", "\n", "name=systemd:x", "cpu,,memory:y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var values []string
		if in != "" {
			values = strings.Split(in, "\n")
		}
		paths, err := subCgroups(values)
		if err != nil {
			if paths != nil || !strings.Contains(err.Error(), "--cgroup") {
				t.Fatalf("subCgroups(%q) = %v, %q: a rejection must return nothing and name --cgroup", values, paths, err)
			}
			return
		}
		if len(values) == 0 {
			if paths != nil {
				t.Fatalf("subCgroups(nil) = %v", paths)
			}
			return
		}
		if _, all := paths[""]; all && len(paths) != 1 {
			t.Fatalf("subCgroups(%q) = %v: a path for all controllers beside others", values, paths)
		}
		for ctrl, p := range paths {
			if ctrl == "" && len(values) != 1 {
				t.Fatalf("subCgroups(%q) = %v: empty controller", values, paths)
			}
			if ctrl != "" && !strings.Contains(in, ctrl) || !strings.Contains(in, p) {
				t.Fatalf("subCgroups(%q) = %v: entry %q:%q not from the input", values, paths, ctrl, p)
			}
		}
	})
}

// FuzzParseBytes: no panic; an accepted size is -1 (unlimited) or not
// negative (a huge size must not wrap around into a negative limit); a
// rejection has a message. (go-units accepts some junk after the unit,
// "5m\x87" is 5 MiB: its suffix check runs before strings.ToLower, which
// can change the length; harmless, so not asserted here.)
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{
		"", "0", "-1", "-2", "1", "64m", "64M", "64MiB", "64mb", "1.5g", "1.5.6m", "5 m", " 5m", "1e3",
		"NaN", "Inf", "9223372036854775807", "9223372036854775808", "99999999999999999999", "10000000000g",
		"8191p", "8192p", "0.0000001k", "１m",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("parseBytes(%q): empty error", s)
			}
			return
		}
		if n < -1 || (n == -1 && s != "-1") {
			t.Fatalf("parseBytes(%q) = %d: a size must be -1 (only for \"-1\") or not negative", s, n)
		}
		if !strings.ContainsAny(s, "0123456789") {
			t.Fatalf("parseBytes(%q) = %d: accepted a size without a digit", s, n)
		}
	})
}
