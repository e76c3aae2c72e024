package linux

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzValidateProcess decodes the input as a process.json, as exec's
// --process does, and validates it: no panic; a rejection wraps
// ErrInvalidSpec and holds only well-formed field errors about "process...";
// an accepted process converts into a libcontainer process.
func FuzzValidateProcess(f *testing.F) {
	base, err := json.Marshal(newBaseSpec().Process)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"args": null}`,
		`{"args": ["sh"], "cwd": "/"}`,
		`{"args": ["sh"], "cwd": "rel", "env": ["NOEQUALS", "=empty", "A=\u0000"]}`,
		`{"args": [""], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 1}, {"type": "RLIMIT_NOFILE"}, {"type": "BOGUS"}]}`,
		`{"args": ["sh"], "cwd": "/", "capabilities": {"bounding": ["CAP_TEST", ""], "ambient": ["cap_sys_admin"]}}`,
		`{"args": ["sh"], "cwd": "/", "oomScoreAdj": 5000, "ioPriority": {"class": "X", "priority": 9}}`,
		`{"args": ["sh"], "cwd": "/", "scheduler": {"policy": "SCHED_X", "nice": 100, "priority": -1}}`,
		`{"args": ["sh"], "cwd": "/", "execCPUAffinity": {"initial": "0-", "final": "x"}}`,
		`{"args": ["sh"], "cwd": "/proc/self/fd/7", "user": {"uid": 4294967295, "additionalGids": [0, 4294967295]}}`,
		`{"args": ["sh"], "cwd": "/", "consoleSize": {"height": 4294967295, "width": 0}, "terminal": true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := new(specs.Process)
		if err := json.Unmarshal(data, p); err != nil {
			return // exec reports the decoding error itself
		}
		err := ValidateProcess(p, nil)
		if err == nil {
			if len(p.Args) == 0 || !strings.HasPrefix(p.Cwd, "/") {
				t.Fatalf("accepted a process without args or an absolute cwd: %+v", p)
			}
			if _, err := NewProcess(p); err != nil && err.Error() == "" {
				t.Fatalf("NewProcess failed with an empty message")
			}
			return
		}
		if !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("ValidateProcess error does not wrap ErrInvalidSpec: %v", err)
		}
		fes := fieldErrors(err)
		if len(fes) == 0 {
			t.Fatalf("ValidateProcess error holds no *FieldError: %v", err)
		}
		for _, fe := range fes {
			if !strings.HasPrefix(fe.Field, "process") || fe.Msg == "" {
				t.Fatalf("malformed field error %#v in %v", fe, err)
			}
		}
	})
}

// FuzzValidateID: no panic; an accepted id is a safe single path element
// that cannot collide with berth's lock files ("<id>~lock"); a rejection
// wraps ErrInvalidID with a message that says what is wrong.
func FuzzValidateID(f *testing.F) {
	for _, s := range []string{
		"", ".", "..", "...", "a", "abc-DEF_1.2+3", "a/b", "../x", "a~lock", "x\x00y",
		"é", " ", "-", strings.Repeat("a", 1024), strings.Repeat("a", 1025), strings.Repeat("é", 600),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateID(id)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) || len(err.Error()) <= len(ErrInvalidID.Error()) {
				t.Fatalf("ValidateID(%q): error %q does not wrap ErrInvalidID or says nothing more", id, err)
			}
			return
		}
		if id == "" || id == "." || id == ".." || len(id) > maxIDLen ||
			strings.ContainsAny(id, "/~\x00") || strings.TrimSpace(id) != id {
			t.Fatalf("ValidateID accepted %q", id)
		}
		for _, r := range id {
			if r > 127 {
				t.Fatalf("ValidateID accepted non-ASCII %q", id)
			}
		}
	})
}
