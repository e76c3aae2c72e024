// Package oci has the few OCI image-spec types and the digest handling the
// image store and the runtime's warm path need. It stands in for
// opencontainers/image-spec and go-digest, whose regular expressions are
// compiled when a program starts: bin/berth, the runtime that every
// container's init re-executes, reads the store for `run --image` of an
// image that is already there, and must not pay for them (the pull side,
// bin/berth-image, links both libraries through go-containerregistry
// anyway). Field names and JSON keys are the image spec's.
package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Algorithm is a digest algorithm; only sha256 is supported.
type Algorithm string

// SHA256 is the one digest algorithm berth verifies.
const SHA256 Algorithm = "sha256"

func (a Algorithm) String() string { return string(a) }

// Digest is "sha256:<64 lowercase hex digits>".
type Digest string

// FromBytes is the sha256 digest of data.
func FromBytes(data []byte) Digest {
	sum := sha256.Sum256(data)
	return NewDigestFromEncoded(SHA256, hex.EncodeToString(sum[:]))
}

// NewDigestFromEncoded joins an algorithm and its encoded hash.
func NewDigestFromEncoded(alg Algorithm, encoded string) Digest {
	return Digest(string(alg) + ":" + encoded)
}

// Validate checks that d is a well-formed sha256 digest.
func (d Digest) Validate() error {
	alg, enc, ok := strings.Cut(string(d), ":")
	if !ok {
		return fmt.Errorf("digest %q: want sha256:<64 hex digits>", string(d))
	}
	if Algorithm(alg) != SHA256 {
		return fmt.Errorf("digest %q: unsupported algorithm %q (berth verifies sha256)", string(d), alg)
	}
	if len(enc) != sha256.Size*2 {
		return fmt.Errorf("digest %q: want 64 hex digits after sha256:", string(d))
	}
	for _, c := range enc {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("digest %q: want lowercase hex digits after sha256:", string(d))
		}
	}
	return nil
}

// Algorithm is the part before the colon.
func (d Digest) Algorithm() Algorithm {
	alg, _, _ := strings.Cut(string(d), ":")
	return Algorithm(alg)
}

// Encoded is the part after the colon.
func (d Digest) Encoded() string {
	_, enc, _ := strings.Cut(string(d), ":")
	return enc
}

func (d Digest) String() string { return string(d) }

// Media types, annotations and file names of the image spec.
const (
	MediaTypeImageManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex    = "application/vnd.oci.image.index.v1+json"
	AnnotationRefName      = "org.opencontainers.image.ref.name"
	ImageLayoutFile        = "oci-layout"
	ImageIndexFile         = "index.json"
	ImageLayoutVersion     = "1.0.0"
)

// Platform is a descriptor's platform.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

// Descriptor points at a blob.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       Digest            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Data         []byte            `json:"data,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

// Index is an image index (and an image layout's index.json).
type Index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Manifest is an image manifest.
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// ImageLayout is the oci-layout file.
type ImageLayout struct {
	Version string `json:"imageLayoutVersion"`
}

// ImageConfig is the execution part of an image configuration.
type ImageConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

// RootFS lists an image's layers by their uncompressed digests.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []Digest `json:"diff_ids"`
}

// Image is an image configuration.
type Image struct {
	Created      *time.Time  `json:"created,omitempty"`
	Author       string      `json:"author,omitempty"`
	Architecture string      `json:"architecture"`
	OS           string      `json:"os"`
	OSVersion    string      `json:"os.version,omitempty"`
	OSFeatures   []string    `json:"os.features,omitempty"`
	Variant      string      `json:"variant,omitempty"`
	Config       ImageConfig `json:"config,omitempty"`
	RootFS       RootFS      `json:"rootfs"`
}

// LayoutRef is a parsed oci:DIR[:TAG] or oci-archive:FILE[:TAG] reference.
type LayoutRef struct {
	// Path is the layout directory or archive, made absolute.
	Path    string
	Archive bool
	// Tag is the tag inside the layout ("" when it has one image).
	Tag string
	// Name is the reference as the image store names it.
	Name string
}

// ParseLayoutRef parses an OCI layout reference; ok is false when ref is
// not one (no oci: or oci-archive: prefix). A tag is what follows the last
// colon after the last slash.
func ParseLayoutRef(ref string) (r LayoutRef, ok bool, err error) {
	for _, prefix := range []string{"oci:", "oci-archive:"} {
		rest, found := strings.CutPrefix(ref, prefix)
		if !found {
			continue
		}
		path, tag := rest, ""
		if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
			path, tag = rest[:i], rest[i+1:]
		}
		if path == "" {
			return LayoutRef{}, true, fmt.Errorf("image reference %q: no path after %q", ref, prefix)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return LayoutRef{}, true, fmt.Errorf("image reference %q: %w", ref, err)
		}
		r := LayoutRef{Path: abs, Archive: prefix == "oci-archive:", Tag: tag, Name: prefix + abs}
		if tag != "" {
			r.Name += ":" + tag
		}
		return r, true, nil
	}
	return LayoutRef{}, false, nil
}
