package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/berth-oci/berth/image/oci"

	"github.com/berth-oci/berth/image/store"
	"github.com/berth-oci/berth/image/unpack"
)

// Docker's media types, which registries still serve for most images.
const (
	dockerManifest      = "application/vnd.docker.distribution.manifest.v2+json"
	dockerManifestList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// Options change how Pull works.
type Options struct {
	// Platform is the platform taken from an index (default: the host's).
	Platform *Platform
	// Insecure allows plain HTTP to registries off the loopback interface.
	Insecure bool
	// AuthFile is a credentials file read before the usual ones.
	AuthFile string
	// Progress, when set, receives a progress line per layer event
	// (a terminal: the caller decides).
	Progress io.Writer
	// Jobs is how many blobs are fetched at once (default 4).
	Jobs int
	// Retries is how many times a failed blob download is resumed
	// (default 3).
	Retries int
}

// Result is what Pull got.
type Result struct {
	Name     string
	Manifest oci.Descriptor
	Config   oci.Image
	// Fetched is how many blobs were downloaded (0: all were present).
	Fetched int
}

// Pull fetches the image ref into st and tags it with ref's name.
func Pull(ctx context.Context, st *store.Store, ref Ref, o Options) (*Result, error) {
	platform := HostPlatform()
	if o.Platform != nil {
		platform = *o.Platform
	}
	src, err := openSource(ref, o)
	if err != nil {
		return nil, err
	}
	defer src.close()
	data, mediaType, err := src.root(ctx)
	if err != nil {
		return nil, err
	}
	desc := oci.Descriptor{MediaType: mediaType, Digest: oci.FromBytes(data), Size: int64(len(data))}
	if ref.Registry != nil {
		if d, ok := strings.CutPrefix(ref.Registry.Identifier(), "sha256:"); ok && desc.Digest.Encoded() != d {
			return nil, fmt.Errorf("%s: the registry sent a manifest with digest %s", ref.Name, desc.Digest)
		}
	}
	desc, data, err = selectPlatform(ctx, src, ref.Name, desc, data, platform)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(ref.Name, desc, data)
	if err != nil {
		return nil, err
	}
	p := &puller{st: st, src: src, o: o, ctx: ctx, name: ref.Name}
	if o.Progress != nil {
		p.progress = newProgress(o.Progress, ref.Name, m.Layers)
	}
	fetched, err := p.fetch(m.Config, nil)
	if err != nil {
		return nil, err
	}
	cfgData, err := st.ReadBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	var cfg oci.Image
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		return nil, fmt.Errorf("%s: image config %s: %w", ref.Name, m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%s: the image config lists %d layers (rootfs.diff_ids) and the manifest %d", ref.Name, len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	n, err := p.fetchLayers(m.Layers, cfg.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	if fetched {
		n++
	}
	if p.progress != nil {
		p.progress.done()
	}
	if err := st.PutBlob(desc, data); err != nil {
		return nil, err
	}
	if err := st.Tag(ref.Name, desc); err != nil {
		return nil, err
	}
	return &Result{Name: ref.Name, Manifest: desc, Config: cfg, Fetched: n}, nil
}

func openSource(ref Ref, o Options) (source, error) {
	if ref.Registry != nil {
		return newRegistrySource(ref.Registry, NewKeychain(o.AuthFile), o.Insecure)
	}
	return newLayoutSource(ref)
}

// selectPlatform follows an index (or a Docker manifest list) to the
// manifest of platform p. It never takes an entry because it comes first:
// an index without p is an error that lists what it has.
func selectPlatform(ctx context.Context, src source, name string, desc oci.Descriptor, data []byte, p Platform) (oci.Descriptor, []byte, error) {
	for depth := 0; ; depth++ {
		mt := mediaTypeOf(desc.MediaType, data)
		if mt != oci.MediaTypeImageIndex && mt != dockerManifestList {
			return desc, data, nil
		}
		if depth == 4 {
			return desc, nil, fmt.Errorf("%s: indexes nested too deep", name)
		}
		var idx oci.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return desc, nil, fmt.Errorf("%s: index %s: %w", name, desc.Digest, err)
		}
		var next *oci.Descriptor
		var have []string
		for i := range idx.Manifests {
			m := idx.Manifests[i]
			have = append(have, describePlatform(m.Platform))
			if p.matches(m.Platform) && next == nil {
				next = &m
			}
		}
		if next == nil {
			return desc, nil, fmt.Errorf("%s: no manifest for platform %s in the index (it has %s); choose one with --platform", name, p, strings.Join(have, ", "))
		}
		body, err := src.manifest(ctx, *next)
		if err != nil {
			return desc, nil, err
		}
		if err := store.Verify(*next, int64(len(body)), oci.FromBytes(body)); err != nil {
			return desc, nil, fmt.Errorf("%s: manifest for %s: %w", name, p, err)
		}
		desc, data = oci.Descriptor{MediaType: next.MediaType, Digest: next.Digest, Size: next.Size, Platform: next.Platform}, body
	}
}

// mediaTypeOf is the declared media type, or the one inside the document
// (an OCI layout's index.json entry may leave it out).
func mediaTypeOf(declared string, data []byte) string {
	if declared != "" {
		return declared
	}
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(data, &probe)
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return oci.MediaTypeImageIndex
	}
	return oci.MediaTypeImageManifest
}

func parseManifest(name string, desc oci.Descriptor, data []byte) (*oci.Manifest, error) {
	switch mediaTypeOf(desc.MediaType, data) {
	case oci.MediaTypeImageManifest, dockerManifest:
	case dockerSchema1, dockerSchema1Signed:
		return nil, fmt.Errorf("%s: Docker schema 1 manifests are not supported (deprecated since 2017); push the image again with a current client", name)
	default:
		return nil, fmt.Errorf("%s: %s is not an image manifest (media type %q)", name, desc.Digest, desc.MediaType)
	}
	var m oci.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %w", name, desc.Digest, err)
	}
	if m.Config.Digest == "" {
		return nil, fmt.Errorf("%s: manifest %s has no config", name, desc.Digest)
	}
	return &m, nil
}

type puller struct {
	st       *store.Store
	src      source
	o        Options
	ctx      context.Context
	name     string
	progress *progress
}

// fetch ingests one blob, resuming a broken download up to o.Retries
// times. A blob whose digest or size is wrong is not retried: the source
// has it wrong.
func (p *puller) fetch(desc oci.Descriptor, onBytes func(int64)) (bool, error) {
	retries := p.o.Retries
	if retries == 0 {
		retries = 3
	}
	var lastErr error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-p.ctx.Done():
				return false, p.ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
			}
		}
		fetched, err := p.st.Ingest(desc, func(off int64) (io.ReadCloser, int64, error) {
			return p.src.blob(p.ctx, desc, off)
		}, onBytes)
		if err == nil {
			return fetched, nil
		}
		var mismatch *store.MismatchError
		if errors.As(err, &mismatch) || p.ctx.Err() != nil {
			return false, fmt.Errorf("%s: %w", p.name, err)
		}
		lastErr = err
	}
	return false, fmt.Errorf("%s: %w (after %d attempts)", p.name, lastErr, retries+1)
}

// fetchLayers fetches the layers o.Jobs at a time and checks each newly
// fetched one against its diff_id; a layer whose content does not match
// the config is removed again.
func (p *puller) fetchLayers(layers []oci.Descriptor, diffIDs []oci.Digest) (int, error) {
	jobs := p.o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	var (
		mu      sync.Mutex
		fetched int
		errs    = make([]error, len(layers))
		sem     = make(chan struct{}, jobs)
		wg      sync.WaitGroup
	)
	for i, l := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var onBytes func(int64)
			if p.progress != nil {
				onBytes = p.progress.counter(i)
			}
			got, err := p.fetch(l, onBytes)
			if err == nil && got {
				err = p.checkDiffID(l, diffIDs[i])
			}
			errs[i] = err
			if got && err == nil {
				mu.Lock()
				fetched++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return fetched, errors.Join(errs...)
}

func (p *puller) checkDiffID(l oci.Descriptor, want oci.Digest) error {
	f, err := p.st.OpenBlob(l.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := unpack.DiffID(l.MediaType, f)
	if err == nil && got != want {
		err = fmt.Errorf("its uncompressed digest is %s, the image config says %s", got, want)
	}
	if err != nil {
		_ = os.Remove(p.st.BlobPath(l.Digest))
		return fmt.Errorf("%s: layer %s: %w; the layer was not kept", p.name, l.Digest, err)
	}
	return nil
}

// Ensure returns the image ref from the store, pulling it first if the
// store does not have it (or has it for another platform than o asks).
func Ensure(ctx context.Context, st *store.Store, ref Ref, o Options) (oci.Descriptor, error) {
	desc, ok, err := st.Resolve(ref.Name)
	if err != nil {
		return oci.Descriptor{}, err
	}
	if ok && (o.Platform == nil || desc.Platform == nil || o.Platform.matches(desc.Platform)) {
		return desc, nil
	}
	res, err := Pull(ctx, st, ref, o)
	if err != nil {
		return oci.Descriptor{}, err
	}
	return res.Manifest, nil
}
