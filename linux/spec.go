// Package linux loads and checks OCI runtime configurations (config.json)
// for berth before anything touches the host. Everything here is a pure
// function of its arguments and the file system; nothing needs root.
package linux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// ErrInvalidSpec is wrapped by every error Validate and LoadSpec return for
// bad input, so callers can test for it with errors.Is.
var ErrInvalidSpec = errors.New("invalid configuration")

// FieldError is one problem in config.json, located by its JSON field path.
type FieldError struct {
	// Field is the JSON path as written in config.json, for example
	// "mounts[3].destination" or "linux.namespaces[2].type".
	Field string
	// Msg says what is wrong and, where useful, what to do about it.
	Msg string
}

// Error returns "<Field>: <Msg>".
func (e *FieldError) Error() string {
	return e.Field + ": " + e.Msg
}

// LoadSpec reads and decodes <bundle>/config.json. Unknown JSON properties
// are ignored, as the runtime spec requires; warn, when set, gets one
// warning naming each.
//
// A missing file, malformed JSON and values of the wrong JSON type give
// errors that wrap ErrInvalidSpec and name the file; decoding errors also
// carry the line and column and, for type mismatches, the field path.
// A missing file additionally wraps fs.ErrNotExist.
func LoadSpec(bundle string, warn func(*FieldError)) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w: %s: %w (a bundle needs a config.json; create one with \"berth spec\")",
				ErrInvalidSpec, path, fs.ErrNotExist)
		case isDirError(path):
			return nil, fmt.Errorf("%w: %s is a directory, not a file", ErrInvalidSpec, path)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	spec := new(specs.Spec)
	if err := json.Unmarshal(data, spec); err != nil {
		return nil, decodeError(path, data, err)
	}
	if warn != nil {
		for _, p := range unknownProperties(data, spec) {
			warn(&FieldError{Field: p, Msg: "unknown property, ignored"})
		}
	}
	return spec, nil
}

func isDirError(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// decodeError turns a json.Unmarshal error into one that names the file,
// the line and column and, for type mismatches, the field path.
func decodeError(path string, data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("%w: %s:%d:%d: %w", ErrInvalidSpec, path, line, col, err)
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		line, col := lineCol(data, ute.Offset)
		field := fieldAtOffset(data, ute.Offset)
		if field == "" {
			field = ute.Field
		}
		msg := fmt.Sprintf("expected %s, got %s", jsonTypeName(ute.Type), ute.Value)
		if field != "" {
			msg = field + ": " + msg
		}
		return fmt.Errorf("%w: %s:%d:%d: %s", ErrInvalidSpec, path, line, col, msg)
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalidSpec, path, err)
}

// lineCol converts a byte offset, as reported by encoding/json (the number
// of bytes read when the problem was found), into a 1-based line and
// column of the last byte read.
func lineCol(data []byte, offset int64) (line, col int) {
	if offset < 0 {
		offset = 0
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	prefix := data[:offset]
	// A problem found right after a newline belongs to the line it ends.
	prefix = bytes.TrimSuffix(prefix, []byte("\n"))
	line = 1 + bytes.Count(prefix, []byte("\n"))
	start := bytes.LastIndexByte(prefix, '\n') + 1
	col = utf8.RuneCount(prefix[start:])
	if col == 0 {
		col = 1
	}
	return line, col
}

// pathFrame is one level of nesting while walking a JSON document.
type pathFrame struct {
	array     bool
	index     int
	key       string
	expectKey bool
}

// fieldAtOffset returns the JSON path (e.g. "mounts[1].destination") of the
// value whose first token ends at offset, or "" when it cannot tell.
// encoding/json reports type mismatches at that offset but names the field
// without array indices, so the path is rebuilt by walking the tokens.
func fieldAtOffset(data []byte, offset int64) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []pathFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		top := len(stack) - 1
		if top >= 0 && !stack[top].array && stack[top].expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:top]
				valueDone(stack)
				continue
			}
			key, ok := tok.(string)
			if !ok {
				return ""
			}
			stack[top].key = key
			stack[top].expectKey = false
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			if top < 0 {
				return ""
			}
			stack = stack[:top]
			valueDone(stack)
			continue
		}
		// tok starts a value.
		if dec.InputOffset() >= offset {
			return renderPath(stack)
		}
		switch tok {
		case json.Delim('['):
			stack = append(stack, pathFrame{array: true})
		case json.Delim('{'):
			stack = append(stack, pathFrame{expectKey: true})
		default:
			valueDone(stack)
		}
	}
}

// valueDone advances the innermost container past a completed value.
func valueDone(stack []pathFrame) {
	if len(stack) == 0 {
		return
	}
	top := &stack[len(stack)-1]
	if top.array {
		top.index++
	} else {
		top.expectKey = true
	}
}

func renderPath(stack []pathFrame) string {
	var b strings.Builder
	for _, f := range stack {
		switch {
		case f.array:
			fmt.Fprintf(&b, "[%d]", f.index)
		case isIdentifier(f.key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		default:
			b.WriteString("[" + strconv.Quote(f.key) + "]")
		}
	}
	return b.String()
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// jsonTypeName describes a Go type the way a config.json author thinks of it.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64:
		return "64-bit integer"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf("%d-bit integer", t.Bits())
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return "unsigned 64-bit integer"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("unsigned %d-bit integer", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}
