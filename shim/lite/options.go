package lite

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultRoot is where the shim keeps berth's container state, one root per
// containerd namespace (<DefaultRoot>/<namespace>), like the runc shim's
// /run/containerd/runc/<namespace>. The runtime options' Root replaces it.
const DefaultRoot = "/run/containerd/berth"

// Options are the runtime options the shim honours. They come from
// containerd as runc's options message (containerd.runc.v1.Options: what
// `ctr --runc-root` and any client passing runc options send), or, for a CRI
// runtime handler of type io.containerd.berth.v2, as the generic
// runtimeoptions.v1.Options whose ConfigBody (containerd 2.x) or ConfigPath
// file holds the handler's options table as TOML, with the same keys as
// runc's: Root, SystemdCgroup, NoPivotRoot, NoNewKeyring, IoUid, IoGid,
// CriuImagePath, CriuWorkPath, ShimCgroup.
type Options struct {
	Root          string `json:"root,omitempty"`
	SystemdCgroup bool   `json:"systemdCgroup,omitempty"`
	NoPivotRoot   bool   `json:"noPivotRoot,omitempty"`
	NoNewKeyring  bool   `json:"noNewKeyring,omitempty"`
	IoUID         uint32 `json:"ioUid,omitempty"`
	IoGID         uint32 `json:"ioGid,omitempty"`
	CriuImagePath string `json:"criuImagePath,omitempty"`
	CriuWorkPath  string `json:"criuWorkPath,omitempty"`
	ShimCgroup    string `json:"shimCgroup,omitempty"`
}

// StateRoot is berth's --root for the containers of namespace ns.
func (o *Options) StateRoot(ns string) string {
	root := o.Root
	if root == "" {
		root = DefaultRoot
	}
	return filepath.Join(root, ns)
}

// TypeName is the message name of a type URL ("containerd.runc.v1.Options"
// from "containerd.runc.v1.Options" or ".../containerd.runc.v1.Options").
func TypeName(url string) string {
	return url[strings.LastIndexByte(url, '/')+1:]
}

// ParseOptions reads the runtime options from an Any (nil: defaults).
func ParseOptions(a *Any) (*Options, error) {
	o := &Options{}
	if a == nil || a.TypeURL == "" {
		return o, nil
	}
	switch TypeName(a.TypeURL) {
	case "containerd.runc.v1.Options":
		if err := decodeRuncOptions(a.Value, o); err != nil {
			return nil, fmt.Errorf("runtime options: %w", err)
		}
	case "runtimeoptions.v1.Options":
		ro, err := decodeRuntimeOptions(a.Value)
		if err != nil {
			return nil, fmt.Errorf("runtime options: %w", err)
		}
		body := ro.ConfigBody
		if len(body) == 0 && ro.ConfigPath != "" {
			if body, err = os.ReadFile(ro.ConfigPath); err != nil {
				return nil, fmt.Errorf("runtime options: ConfigPath: %w", err)
			}
		}
		if err := o.parseTOML(string(body)); err != nil {
			return nil, fmt.Errorf("runtime options: %w", err)
		}
	default:
		return nil, fmt.Errorf("runtime options of type %q are not berth's (want containerd.runc.v1.Options or runtimeoptions.v1.Options)", a.TypeURL)
	}
	return o, nil
}

// parseTOML reads the flat `Key = value` lines of a runtime handler's
// options table (strings in either quote, booleans, integers). Tables,
// arrays and keys the shim does not know are ignored.
func (o *Options) parseTOML(body string) error {
	for n, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, val = strings.Trim(strings.TrimSpace(key), `"'`), strings.TrimSpace(val)
		str := func() (string, error) {
			if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
				if val[0] == '"' {
					return strconv.Unquote(val)
				}
				return val[1 : len(val)-1], nil
			}
			return "", fmt.Errorf("line %d: %s: want a quoted string, got %s", n+1, key, val)
		}
		boolean := func(dst *bool) error {
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("line %d: %s: want true or false, got %s", n+1, key, val)
			}
			*dst = b
			return nil
		}
		uint32v := func(dst *uint32) error {
			v, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return fmt.Errorf("line %d: %s: want a number, got %s", n+1, key, val)
			}
			*dst = uint32(v)
			return nil
		}
		var err error
		switch key {
		case "Root":
			o.Root, err = str()
		case "SystemdCgroup":
			err = boolean(&o.SystemdCgroup)
		case "NoPivotRoot":
			err = boolean(&o.NoPivotRoot)
		case "NoNewKeyring":
			err = boolean(&o.NoNewKeyring)
		case "IoUid":
			err = uint32v(&o.IoUID)
		case "IoGid":
			err = uint32v(&o.IoGID)
		case "CriuImagePath":
			o.CriuImagePath, err = str()
		case "CriuWorkPath":
			o.CriuWorkPath, err = str()
		case "ShimCgroup":
			o.ShimCgroup, err = str()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// OptionsFile is where Create leaves the options in the bundle, for the
// delete action after a shim died.
const OptionsFile = "berth-shim-options.json"

// WriteOptions writes the options to the bundle's OptionsFile.
func WriteOptions(bundle string, o *Options) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, OptionsFile), data, 0o600)
}

// ReadOptions reads the bundle's OptionsFile (absent: the defaults).
func ReadOptions(bundle string) (*Options, error) {
	o := &Options{}
	data, err := os.ReadFile(filepath.Join(bundle, OptionsFile))
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return nil, err
	}
	return o, json.Unmarshal(data, o)
}
