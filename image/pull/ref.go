// Package pull fetches images into the store (package store): from a
// registry that speaks the OCI distribution spec, from an OCI image layout
// directory (oci:DIR[:TAG]) or from an OCI layout archive
// (oci-archive:FILE[:TAG]). Every blob is verified before it is kept, the
// layers' uncompressed digests are checked against the image config's
// diff_ids, and from an index only the manifest of the wanted platform is
// taken.
package pull

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/berth-oci/berth/image/oci"
	"github.com/google/go-containerregistry/pkg/name"
)

// Ref is a parsed image reference.
type Ref struct {
	// Name is the normalised reference, the name of the image in the
	// store: "registry/repo:tag", "registry/repo@sha256:...",
	// "oci:/abs/dir:tag" or "oci-archive:/abs/file:tag".
	Name string
	// Registry is set for a registry reference.
	Registry name.Reference
	// Layout is the directory or archive of an oci: or oci-archive:
	// reference, Tag the tag inside it ("" when the layout has one image).
	Layout  string
	Archive bool
	Tag     string
}

// ParseRef parses REF as berth pull takes it. insecure allows plain HTTP
// to a registry that is not on the loopback interface.
func ParseRef(ref string, insecure bool) (Ref, error) {
	if l, ok, err := oci.ParseLayoutRef(ref); ok {
		if err != nil {
			return Ref{}, err
		}
		return Ref{Name: l.Name, Layout: l.Path, Archive: l.Archive, Tag: l.Tag}, nil
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	parsed, err := name.ParseReference(ref, opts...)
	if err != nil {
		return Ref{}, fmt.Errorf("image reference %q: %w (want [REGISTRY/]NAME[:TAG|@DIGEST], oci:DIR[:TAG] or oci-archive:FILE[:TAG])", ref, err)
	}
	return Ref{Name: parsed.Name(), Registry: parsed}, nil
}

// Platform is the platform an image is wanted for.
type Platform struct {
	OS, Architecture, Variant string
}

// HostPlatform is the platform berth runs on.
func HostPlatform() Platform {
	p := Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// ParsePlatform parses OS/ARCH[/VARIANT].
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("--platform %q: want OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7", s)
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// matches reports whether an index entry's platform is p. An entry
// without a variant matches any wanted variant of its architecture only
// when that variant is the architecture's default (arm64's v8).
func (p Platform) matches(q *oci.Platform) bool {
	if q == nil || q.OS != p.OS || q.Architecture != p.Architecture {
		return false
	}
	if q.Variant == p.Variant {
		return true
	}
	return p.Architecture == "arm64" && (q.Variant == "" || q.Variant == "v8") && (p.Variant == "" || p.Variant == "v8")
}

func describePlatform(q *oci.Platform) string {
	if q == nil {
		return "(no platform)"
	}
	return Platform{OS: q.OS, Architecture: q.Architecture, Variant: q.Variant}.String()
}
