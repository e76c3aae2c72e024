// Package bundle turns an image of the store into an OCI runtime bundle:
// a config.json generated from the image config (the image spec's
// conversion rules) and a root filesystem, either a plain directory with
// every layer applied (portable: any runtime can run it) or an overlay
// mount of the store's unpacked layers (cheap for the second container of
// an image).
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-oci/berth/image/oci"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-oci/berth/image/store"
	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/state"
)

// Annotations of bundles made from images.
const (
	// AnnotationImage is the image's name in the store.
	AnnotationImage = "dev.berth.image.name"
	// AnnotationDigest is the image's manifest digest.
	AnnotationDigest = "dev.berth.image.digest"
	// AnnotationStopSignal is the image's StopSignal (the image spec's
	// conversion annotation); berth kill sends it when no signal is named.
	AnnotationStopSignal = "org.opencontainers.image.stopSignal"
)

// Options change the bundle.
type Options struct {
	// Args replace the image's Cmd (the Entrypoint stays).
	Args []string
	// Terminal sets process.terminal.
	Terminal bool
	// Rootless makes a config for an unprivileged user (as berth spec
	// --rootless).
	Rootless bool
	// Overlay mounts the store's unpacked layers as the root filesystem
	// instead of applying them into a directory.
	Overlay bool
	// Owned marks the bundle as one berth made to run a container from:
	// it gets store.BundleMarker, so that the store's gc keeps what it
	// mounts. (Whoever creates the container hands it over to the runtime,
	// which removes it with the container.)
	Owned bool
	// Apply applies layers that are not unpacked yet (nil: Make fails
	// with ErrNotUnpacked for them).
	Apply ApplyFunc
}

// Image is an image of the store, as bundles are made from.
type Image struct {
	Name     string
	Manifest oci.Descriptor
}

// Make writes the bundle of img into dir (which must not hold a
// config.json or rootfs yet). On failure, what it made is removed.
func Make(st *store.Store, img Image, dir string, o Options) (retErr error) {
	m, cfg, err := load(st, img)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	for _, p := range []string{"config.json", "rootfs"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			return fmt.Errorf("bundle %s: %s exists already; give an empty or new directory", dir, p)
		}
	}
	rootfs := filepath.Join(dir, "rootfs")
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, linux.RemoveBundle(dir))
		}
	}()
	if o.Owned {
		if err := os.WriteFile(filepath.Join(dir, store.BundleMarker), []byte(img.Manifest.Digest.String()+"\n"), 0o600); err != nil {
			return err
		}
	}
	if o.Overlay {
		err = mountLayers(st, o.Apply, m, cfg, dir)
	} else {
		err = applyLayers(st, o.Apply, m, cfg, rootfs)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", img.Name, err)
	}
	spec, err := Config(cfg, rootfs, o)
	if err != nil {
		return fmt.Errorf("%s: %w", img.Name, err)
	}
	spec.Annotations[AnnotationImage] = img.Name
	spec.Annotations[AnnotationDigest] = img.Manifest.Digest.String()
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(filepath.Join(dir, "config.json"), append(data, '\n'), 0o644)
}

func load(st *store.Store, img Image) (*oci.Manifest, *oci.Image, error) {
	data, err := st.ReadBlob(img.Manifest.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", img.Name, err)
	}
	var m oci.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: manifest: %w", img.Name, err)
	}
	data, err = st.ReadBlob(m.Config.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", img.Name, err)
	}
	var cfg oci.Image
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: image config: %w", img.Name, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, nil, fmt.Errorf("%s: the image config lists %d layers and the manifest %d", img.Name, len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	return &m, &cfg, nil
}

// Config generates the runtime config of an image whose root filesystem
// is at rootfs (read for /etc/passwd and /etc/group; the working directory
// is made there).
func Config(img *oci.Image, rootfs string, o Options) (*specs.Spec, error) {
	spec := linux.Example(o.Rootless)
	spec.Root = &specs.Root{Path: "rootfs"}
	c := img.Config
	args := append([]string{}, c.Entrypoint...)
	if len(o.Args) > 0 {
		args = append(args, o.Args...)
	} else {
		args = append(args, c.Cmd...)
	}
	if len(args) == 0 {
		return nil, errors.New("the image has neither Entrypoint nor Cmd: give the command to run after --")
	}
	p := spec.Process
	p.Args = args
	p.Terminal = o.Terminal
	p.Env = mergeEnv(c.Env, o.Terminal)
	p.Cwd = "/"
	if c.WorkingDir != "" {
		p.Cwd = filepath.Clean("/" + c.WorkingDir)
	}
	dir, err := securejoin.SecureJoin(rootfs, p.Cwd)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("working directory %s: %w", p.Cwd, err)
	}
	if err := setUser(p, c.User, rootfs); err != nil {
		return nil, err
	}
	spec.Annotations = map[string]string{}
	for k, v := range c.Labels {
		spec.Annotations[k] = v
	}
	set := func(k, v string) {
		if _, ok := spec.Annotations[k]; !ok && v != "" {
			spec.Annotations[k] = v
		}
	}
	set("org.opencontainers.image.os", img.OS)
	set("org.opencontainers.image.architecture", img.Architecture)
	set("org.opencontainers.image.variant", img.Variant)
	set("org.opencontainers.image.author", img.Author)
	if img.Created != nil {
		set("org.opencontainers.image.created", img.Created.UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	set(AnnotationStopSignal, c.StopSignal)
	if len(c.ExposedPorts) > 0 {
		var ports []string
		for port := range c.ExposedPorts {
			ports = append(ports, port)
		}
		set("org.opencontainers.image.exposedPorts", strings.Join(sortStrings(ports), ","))
	}
	return spec, nil
}

// mergeEnv is the image's environment with PATH (and TERM for a terminal)
// added when the image does not set them.
func mergeEnv(env []string, terminal bool) []string {
	out := append([]string{}, env...)
	has := func(k string) bool {
		for _, e := range out {
			if strings.HasPrefix(e, k+"=") {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if terminal && !has("TERM") {
		out = append(out, "TERM=xterm")
	}
	return out
}

// setUser resolves the image's User (user, uid, user:group, uid:gid) with
// the image's own /etc/passwd and /etc/group, and sets HOME when the image
// does not.
func setUser(p *specs.Process, spec, rootfs string) error {
	if spec == "" {
		spec = "0"
	}
	passwd, err := securejoin.SecureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return err
	}
	group, err := securejoin.SecureJoin(rootfs, "/etc/group")
	if err != nil {
		return err
	}
	u, err := user.GetExecUserPath(spec, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return fmt.Errorf("image config User %q: %w", spec, err)
	}
	p.User = specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid)}
	for _, g := range u.Sgids {
		if g != u.Gid {
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
		}
	}
	home := false
	for _, e := range p.Env {
		home = home || strings.HasPrefix(e, "HOME=")
	}
	if !home {
		p.Env = append(p.Env, "HOME="+u.Home)
	}
	return nil
}

// applyLayers applies every layer, in order, into rootfs.
func applyLayers(st *store.Store, apply ApplyFunc, m *oci.Manifest, cfg *oci.Image, rootfs string) error {
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	for i, l := range m.Layers {
		if err := applyBlob(st, apply, l, cfg.RootFS.DiffIDs[i], rootfs, false); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// layerDir is where the store keeps the unpacked layer diffID.
func layerDir(st *store.Store, diffID oci.Digest) string {
	return filepath.Join(st.Dir(), "layers", diffID.Encoded())
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
