package linux

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// unknownProperties lists, as field paths, the properties of a config.json
// that v's type (a *specs.Spec) has no field for: the runtime spec says to
// ignore them, and berth names each in a warning. data has decoded into v
// already; keys match fields as encoding/json matches them (tags, then
// case-insensitively).
func unknownProperties(data []byte, v any) []string {
	// The common case, a config with nothing unknown, costs one strict
	// decode into a throwaway value.
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	if strict.Decode(reflect.New(reflect.TypeOf(v).Elem()).Interface()) == nil {
		return nil
	}
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	walkUnknown(doc, reflect.TypeOf(v), "", &out)
	return out
}

func walkUnknown(doc any, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := jsonField(t, k)
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			if !ok {
				*out = append(*out, sub)
				continue
			}
			walkUnknown(obj[k], f.Type, sub, out)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := doc.([]any)
		if !ok {
			return
		}
		for i, e := range arr {
			walkUnknown(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			return
		}
		for k, e := range obj {
			walkUnknown(e, t.Elem(), fmt.Sprintf("%s[%q]", path, k), out)
		}
	}
}

// jsonField finds the field of struct type t that key k decodes into.
func jsonField(t reflect.Type, k string) (reflect.StructField, bool) {
	var fold reflect.StructField
	found := false
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			if ef, ok := jsonField(f.Type, k); ok {
				return ef, true
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == k {
			return f, true
		}
		if !found && strings.EqualFold(name, k) {
			fold, found = f, true
		}
	}
	return fold, found
}
