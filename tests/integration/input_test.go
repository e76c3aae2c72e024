package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/tests/testkit"
)

// [berth] Invalid configs are refused by create with an error that names the
// offending field; nothing is left behind (checked by the leak checker).
func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(b *testkit.Bundle) []string // edits the bundle, returns wanted stderr pieces (regexps)
	}{
		{"process.args empty", func(b *testkit.Bundle) []string {
			b.Edit(func(s *specs.Spec) { s.Process.Args = []string{} })
			return []string{q("process.args")}
		}},
		{"namespace type unknown", func(b *testkit.Bundle) []string {
			n := len(b.Spec.Linux.Namespaces)
			b.Edit(func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "foo"})
			})
			return []string{q(fmt.Sprintf("linux.namespaces[%d].type", n)), "foo"}
		}},
		{"root.path missing", func(b *testkit.Bundle) []string {
			b.Edit(func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" })
			return []string{q("root.path"), "does not exist"}
		}},
		{"config.json truncated", func(b *testkit.Bundle) []string {
			data, err := os.ReadFile(filepath.Join(b.Dir, "config.json"))
			if err != nil {
				b.T.Fatal(err)
			}
			b.WriteConfig(data[:len(data)*2/3])
			// A line number: "config.json:12:3: ..." or "... line 12".
			return []string{q("config.json"), `config\.json:\d+|(?i)line:? \d+`}
		}},
		{"config.json missing", func(b *testkit.Bundle) []string {
			if err := os.Remove(filepath.Join(b.Dir, "config.json")); err != nil {
				b.T.Fatal(err)
			}
			return []string{q("config.json")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sleep", "1000")
			wants := tc.setup(b)
			id := e.NewID()
			r := e.run("create", "--bundle", b.Dir, id)
			checkFailure(t, r, r.Stderr)
			for _, w := range wants {
				if r.Code != 0 && !regexp.MustCompile(w).MatchString(r.Stderr) {
					t.Errorf("stderr does not match %s: %s", w, r)
				}
			}
			e.mustFail([]string{"state", id}, "does not exist")
		})
	}
}

func q(s string) string { return regexp.QuoteMeta(s) }

// What the runtime spec says to tolerate runs, with a warning that names
// the field: an unknown capability (config.md: log a warning, do not fail)
// and a relative mount destination (read as relative to "/").
func TestToleratedConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(b *testkit.Bundle) []string // edits the bundle, returns wanted stderr pieces (regexps)
		check string                           // a shell test the container passes
	}{
		{"capability unknown", func(b *testkit.Bundle) []string {
			b.Edit(func(s *specs.Spec) {
				if s.Process.Capabilities == nil {
					s.Process.Capabilities = &specs.LinuxCapabilities{}
				}
				s.Process.Capabilities.Bounding = append([]string{"CAP_TEST"}, s.Process.Capabilities.Bounding...)
			})
			return []string{q("process.capabilities.bounding[0]"), "CAP_TEST"}
		}, "true"},
		{"mount destination relative", func(b *testkit.Bundle) []string {
			n := len(b.Spec.Mounts)
			b.Edit(func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "relative/dir", Type: "tmpfs", Source: "tmpfs"})
			})
			return []string{q(fmt.Sprintf("mounts[%d].destination", n)), q(`\"/relative/dir\"`)}
		}, "grep -q ' /relative/dir tmpfs ' /proc/mounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sh", "-c", tc.check)
			wants := tc.setup(b)
			id := e.NewID()
			r := e.run("run", "--bundle", b.Dir, id)
			if r.Code != 0 {
				t.Fatalf("run with a config the runtime spec tolerates: %s", r)
			}
			for _, w := range wants {
				if !regexp.MustCompile(w).MatchString(r.Stderr) {
					t.Errorf("no warning matching %s: %s", w, r)
				}
			}
		})
	}
}

// Unknown properties are ignored (forward compatibility), each named in a
// warning.
func TestUnknownConfigProperties(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "1000")
	m := b.ConfigMap()
	m["foo"] = map[string]any{"bar": 1}
	m["process"].(map[string]any)["foo"] = map[string]any{"bar": 1}
	m["linux"].(map[string]any)["fooBar"] = []any{"x"}
	b.WriteConfigMap(m)
	id := e.NewID()
	r := e.create(b, id)
	if st := e.mustState(id); st.Status != "created" {
		t.Errorf("status %q, want created", st.Status)
	}
	for _, field := range []string{"foo", "process.foo", "linux.fooBar"} {
		if !regexp.MustCompile(`field="?` + q(field) + `"?(\s|$)`).MatchString(r.Stderr) {
			t.Errorf("no warning naming the unknown property %s: %s", field, r)
		}
	}
}

// [berth] Invalid container ids are refused naming the id; nothing is made.
func TestInvalidIDs(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		want     *regexp.Regexp
	}{
		{"slash", "a/b", regexp.MustCompile(`a/b`)},
		{"dotdot", "..", regexp.MustCompile(`"\.\."|'\.\.'|\.\.`)},
		{"dot", ".", regexp.MustCompile(`"\.\\?"|'\.'|(?i)\bid:? \.($|\s)`)},
		{"empty", "", regexp.MustCompile(`(?i)\bid\b`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sleep", "1000")
			r := e.run("create", "--bundle", b.Dir, tc.id)
			checkFailure(t, r, r.Stderr)
			if !tc.want.MatchString(r.Stderr) {
				t.Errorf("the error does not name the id %q (want match of %s): %s", tc.id, tc.want, r)
			}
			ents, _ := os.ReadDir(e.Root)
			for _, ent := range ents {
				t.Errorf("create of invalid id %q left %s in the state root", tc.id, filepath.Join(e.Root, ent.Name()))
			}
			if tc.id == "a/b" {
				if _, err := os.Stat(filepath.Join(e.Dir, "a")); err == nil {
					t.Errorf("create of id a/b made %s", filepath.Join(e.Dir, "a"))
				}
			}
		})
	}
}

// [berth] --log with --log-format json/text on a failing create.
func TestLogFile(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle("sleep", "1000")
			b.Edit(func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" })
			id := e.NewID()
			logFile := filepath.Join(e.Dir, "runtime.log")
			r := e.run("--log", logFile, "--log-format", format, "create", "--bundle", b.Dir, id)
			checkFailure(t, r, r.Output())
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatalf("log file: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) == 0 || lines[0] == "" {
				t.Fatalf("log file is empty")
			}
			lastErr := ""
			textRe := regexp.MustCompile(`^time="?[^ ]+"? level=(\w+) msg=("(?:[^"\\]|\\.)*"|\S+)`)
			for _, l := range lines {
				switch format {
				case "json":
					var m map[string]any
					if err := json.Unmarshal([]byte(l), &m); err != nil {
						t.Errorf("log line is not JSON: %q", l)
						continue
					}
					for _, k := range []string{"level", "msg", "time"} {
						if _, ok := m[k].(string); !ok {
							t.Errorf("JSON log line has no string %q: %q", k, l)
						}
					}
					if m["level"] == "error" {
						lastErr, _ = m["msg"].(string)
					}
				case "text":
					mm := textRe.FindStringSubmatch(l)
					if mm == nil {
						t.Errorf("text log line is not `time=... level=... msg=...`: %q", l)
						continue
					}
					if mm[1] == "error" {
						lastErr = mm[2]
					}
				}
			}
			if !strings.Contains(lastErr, "root.path") {
				t.Errorf("last error in the log %q does not mention root.path; log:\n%s", lastErr, data)
			}
		})
	}
}
