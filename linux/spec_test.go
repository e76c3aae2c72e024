package linux

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, bundle, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSpecRoundTrip(t *testing.T) {
	bundle := newBundle(t)
	data, err := json.MarshalIndent(newBaseSpec(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, bundle, string(data))
	spec, err := LoadSpec(bundle, nil)
	if err != nil {
		t.Fatalf("LoadSpec: %v", err)
	}
	if err := Validate(spec, ValidateOptions{Bundle: bundle}); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestLoadSpecMissing(t *testing.T) {
	bundle := t.TempDir()
	_, err := LoadSpec(bundle, nil)
	path := filepath.Join(bundle, "config.json")
	if !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want ErrInvalidSpec and fs.ErrNotExist", err)
	}
	for _, want := range []string{path, "needs a config.json", "berth spec"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
}

func TestLoadSpecDirectory(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "config.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSpec(bundle, nil)
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("got %v, want ErrInvalidSpec saying it is a directory", err)
	}
}

func TestLoadSpecDecodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // substrings of the error, after the file path
	}{
		{
			name:  "syntax error",
			input: "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\n    \"args\": [\"sh\",]\n  }\n}\n",
			want:  []string{"config.json:4:19: ", "invalid character ']'"},
		},
		{
			name:  "syntax error after multibyte text",
			input: "{\"hostname\": \"héllo\" \"x\"}",
			want:  []string{"config.json:1:22: ", "invalid character '\"' after object key:value pair"},
		},
		{
			name:  "truncated",
			input: "{\n  \"ociVersion\": \"1.0.2\",\n",
			want:  []string{"config.json:2:24: ", "unexpected end of JSON input"},
		},
		{
			name:  "empty file",
			input: "",
			want:  []string{"config.json:1:1: ", "unexpected end of JSON input"},
		},
		{
			name:  "trailing garbage",
			input: "{}\nx",
			want:  []string{"config.json:2:1: ", "invalid character 'x' after top-level value"},
		},
		{
			name:  "type mismatch in array element",
			input: "{\"ociVersion\": \"1.0.2\",\n \"mounts\": [{\"destination\": \"/a\"},\n  {\"destination\": 5}]}",
			want:  []string{"config.json:3:19: ", "mounts[1].destination: expected string, got number"},
		},
		{
			name:  "args given as a string",
			input: `{"process": {"cwd": "/", "args": "sh -c true"}}`,
			want:  []string{"process.args: expected array, got string"},
		},
		{
			name:  "negative uid",
			input: `{"process": {"user": {"uid": -1}}}`,
			want:  []string{"process.user.uid: expected unsigned 32-bit integer, got number -1"},
		},
		{
			name:  "annotation key with dots",
			input: `{"annotations": {"io.kubernetes.cri.sandbox-id": 5}}`,
			want:  []string{`annotations["io.kubernetes.cri.sandbox-id"]: expected string, got number`},
		},
		{
			name:  "object where string expected",
			input: `{"linux": {"namespaces": [{"type": "pid"}, {"type": {"x": 1}}]}}`,
			want:  []string{"linux.namespaces[1].type: expected string, got object"},
		},
		{
			name:  "nested index",
			input: `{"linux": {"seccomp": {"syscalls": [{"names": ["a"]}, {"names": ["b", 7]}]}}}`,
			want:  []string{"linux.seccomp.syscalls[1].names[1]: expected string, got number"},
		},
		{
			name:  "memory limit as string",
			input: `{"linux": {"resources": {"memory": {"limit": "1G"}}}}`,
			want:  []string{"linux.resources.memory.limit: expected 64-bit integer, got string"},
		},
		{
			name:  "top level array",
			input: `[1, 2]`,
			want:  []string{"config.json:1:1: expected object, got array"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := t.TempDir()
			writeConfig(t, bundle, tt.input)
			_, err := LoadSpec(bundle, nil)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("input: %q\ngot:  %v\nwant: error wrapping ErrInvalidSpec", tt.input, err)
			}
			if !strings.Contains(err.Error(), filepath.Join(bundle, "config.json")) {
				t.Errorf("input: %q\ngot:  %v\nwant: the file path in the error", tt.input, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("input: %q\ngot:  %v\nwant: %q in the error", tt.input, err, w)
				}
			}
		})
	}
}

func TestLoadSpecIgnoresUnknownProperties(t *testing.T) {
	bundle := newBundle(t)
	writeConfig(t, bundle, `{
		"ociVersion": "1.0.2",
		"futureTopLevel": {"a": [1, 2, {"b": null}]},
		"process": {"cwd": "/", "args": ["sh"], "newProcessKnob": true},
		"root": {"path": "rootfs", "fancy": "yes"},
		"mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "extra": 1}],
		"linux": {"someNewKnob": [1, 2], "namespaces": [{"type": "mount", "flags": "x"}]},
		"vendorExtension": "x"
	}`)
	spec, err := LoadSpec(bundle, nil)
	if err != nil {
		t.Fatalf("LoadSpec: %v", err)
	}
	if spec.Process == nil || spec.Process.Cwd != "/" || len(spec.Mounts) != 1 || spec.Linux == nil || len(spec.Linux.Namespaces) != 1 {
		t.Fatalf("decoded spec is missing known fields: %s", specJSON(spec))
	}
	if err := Validate(spec, ValidateOptions{Bundle: bundle}); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestLoadSpecContainerdStyle(t *testing.T) {
	bundle := newBundle(t)
	data, err := os.ReadFile(filepath.Join("testdata", "containerd-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, bundle, string(data))
	spec, err := LoadSpec(bundle, nil)
	if err != nil {
		t.Fatalf("LoadSpec: %v", err)
	}
	if err := Validate(spec, ValidateOptions{Bundle: bundle}); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	spec.Linux.CgroupsPath = "kubepods-besteffort.slice:cri-containerd:abc"
	if err := Validate(spec, ValidateOptions{Bundle: bundle, SystemdCgroup: true}); err != nil {
		t.Fatalf("Validate with systemd cgroup: %v", err)
	}
}

func TestLineCol(t *testing.T) {
	data := []byte("ab\ncdé\n\nx")
	tests := []struct {
		offset    int64
		line, col int
	}{
		{0, 1, 1},
		{1, 1, 1},
		{2, 1, 2},
		{3, 1, 2}, // the newline itself belongs to line 1
		{4, 2, 1},
		{7, 2, 3}, // é is one column
		{8, 2, 3},
		{9, 3, 1},
		{10, 4, 1},
		{99, 4, 1},
		{-1, 1, 1},
	}
	for _, tt := range tests {
		line, col := lineCol(data, tt.offset)
		if line != tt.line || col != tt.col {
			t.Errorf("lineCol(%d) = %d:%d, want %d:%d", tt.offset, line, col, tt.line, tt.col)
		}
	}
}

// Unknown properties are ignored, each named in a warning; known ones in
// any letter case (as encoding/json matches them) are not warned about.
func TestLoadSpecUnknownProperties(t *testing.T) {
	bundle := newBundle(t)
	data, err := json.Marshal(newBaseSpec())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["foo"] = map[string]any{"bar": 1}
	delete(m, "hostname")
	m["HOSTNAME"] = "case-folded"
	m["process"].(map[string]any)["fooBar"] = true
	m["mounts"].([]any)[1].(map[string]any)["extra"] = 1
	m["annotations"] = map[string]any{"any.key": "is fine"}
	data, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, bundle, string(data))
	var warned []string
	spec, err := LoadSpec(bundle, func(w *FieldError) {
		if w.Msg != "unknown property, ignored" {
			t.Errorf("warning %q for %s", w.Msg, w.Field)
		}
		warned = append(warned, w.Field)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "foo mounts[1].extra process.fooBar"; strings.Join(warned, " ") != want {
		t.Errorf("warned about %q, want %q", warned, want)
	}
	if spec.Hostname != "case-folded" {
		t.Errorf("HOSTNAME did not decode into hostname: %q", spec.Hostname)
	}

	// Nothing unknown, no warning.
	data, _ = json.Marshal(newBaseSpec())
	writeConfig(t, bundle, string(data))
	if _, err := LoadSpec(bundle, func(w *FieldError) { t.Errorf("unexpected warning: %s", w) }); err != nil {
		t.Fatal(err)
	}
}
