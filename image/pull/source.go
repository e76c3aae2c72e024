package pull

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-oci/berth/image/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// source is where a pull reads manifests and blobs.
type source interface {
	// root returns the manifest or index the reference names.
	root(ctx context.Context) (data []byte, mediaType string, err error)
	// manifest returns the manifest desc (an entry of an index).
	manifest(ctx context.Context, desc oci.Descriptor) ([]byte, error)
	// blob opens blob desc from offset on; start is where it really
	// starts (0 if the source cannot skip).
	blob(ctx context.Context, desc oci.Descriptor, offset int64) (rc io.ReadCloser, start int64, err error)
	close() error
}

// registrySource reads from a registry. go-containerregistry does the
// distribution protocol's manifest negotiation and the authentication
// (anonymous, basic, bearer token from a WWW-Authenticate challenge);
// blobs are fetched with its authenticated transport so that a broken
// download can be resumed with a Range request.
type registrySource struct {
	ref  name.Reference
	opts []remote.Option
	rt   http.RoundTripper // authenticated, for blobs; made on first use
	auth authn.Authenticator
	base http.RoundTripper
}

func newRegistrySource(ref name.Reference, keychain authn.Keychain, insecure bool) (*registrySource, error) {
	auth, err := keychain.Resolve(ref.Context())
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", ref.Context().RegistryStr(), err)
	}
	base := &plainHTTPGuard{next: remote.DefaultTransport, insecure: insecure}
	return &registrySource{
		ref:  ref,
		auth: auth,
		base: base,
		opts: []remote.Option{remote.WithAuth(auth), remote.WithTransport(base), remote.WithUserAgent("berth")},
	}, nil
}

func (s *registrySource) root(ctx context.Context) ([]byte, string, error) {
	d, err := remote.Get(s.ref, append(s.opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, "", registryError(s.ref.Name(), err)
	}
	return d.Manifest, string(d.MediaType), nil
}

func (s *registrySource) manifest(ctx context.Context, desc oci.Descriptor) ([]byte, error) {
	ref := s.ref.Context().Digest(desc.Digest.String())
	d, err := remote.Get(ref, append(s.opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, registryError(ref.Name(), err)
	}
	return d.Manifest, nil
}

func (s *registrySource) blob(ctx context.Context, desc oci.Descriptor, offset int64) (io.ReadCloser, int64, error) {
	if s.rt == nil {
		rt, err := transport.NewWithContext(ctx, s.ref.Context().Registry, s.auth, s.base,
			[]string{s.ref.Context().Scope(transport.PullScope)})
		if err != nil {
			return nil, 0, registryError(s.ref.Context().Name(), err)
		}
		s.rt = rt
	}
	repo := s.ref.Context()
	url := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Registry.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), desc.Digest)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := (&http.Client{Transport: s.rt}).Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		return resp.Body, offset, nil
	case resp.StatusCode == http.StatusOK:
		return resp.Body, 0, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return nil, 0, fmt.Errorf("blob %s: %s: %s", desc.Digest, resp.Status, strings.TrimSpace(string(body)))
}

func (s *registrySource) close() error { return nil }

// registryError puts the reference in front of a registry error and says
// what to do about the usual ones.
func registryError(ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: not authorised (%w); give credentials with --authfile or in $REGISTRY_AUTH_FILE, ~/.docker/config.json", ref, err)
		case http.StatusNotFound:
			return fmt.Errorf("%s: not found in the registry: %w", ref, err)
		}
	}
	return fmt.Errorf("%s: %w", ref, err)
}

// plainHTTPGuard refuses plain HTTP except to the loopback interface or
// when --insecure was given: go-containerregistry also falls back to HTTP
// for private (RFC 1918) addresses, which berth does not want silently.
type plainHTTPGuard struct {
	next     http.RoundTripper
	insecure bool
}

func (g *plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries are reached without TLS; pass --insecure to allow it", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// layoutSource reads an OCI image layout directory.
type layoutSource struct {
	dir     string
	tag     string
	cleanup string // a directory to remove on close (an unpacked archive)
}

func newLayoutSource(r Ref) (*layoutSource, error) {
	if !r.Archive {
		return &layoutSource{dir: r.Layout, tag: r.Tag}, nil
	}
	dir, err := os.MkdirTemp("", "berth-oci-archive-")
	if err != nil {
		return nil, err
	}
	if err := untarLayout(r.Layout, dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("oci-archive %s: %w", r.Layout, err)
	}
	return &layoutSource{dir: dir, tag: r.Tag, cleanup: dir}, nil
}

func (s *layoutSource) root(context.Context) ([]byte, string, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, oci.ImageIndexFile))
	if err != nil {
		return nil, "", fmt.Errorf("OCI layout: %w", err)
	}
	var idx oci.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, "", fmt.Errorf("OCI layout %s: %w", oci.ImageIndexFile, err)
	}
	var found []oci.Descriptor
	var tags []string
	for _, m := range idx.Manifests {
		tag := m.Annotations[oci.AnnotationRefName]
		tags = append(tags, tag)
		if s.tag == "" || tag == s.tag {
			found = append(found, m)
		}
	}
	switch {
	case len(found) == 1:
	case len(found) == 0 && s.tag != "":
		return nil, "", fmt.Errorf("OCI layout has no image tagged %q (tags: %s)", s.tag, strings.Join(tags, ", "))
	case len(found) == 0:
		return nil, "", errors.New("OCI layout has no image")
	default:
		return nil, "", fmt.Errorf("OCI layout has %d images; name one with :TAG (tags: %s)", len(found), strings.Join(tags, ", "))
	}
	m, err := s.manifest(context.Background(), found[0])
	if err != nil {
		return nil, "", err
	}
	return m, found[0].MediaType, nil
}

func (s *layoutSource) manifest(_ context.Context, desc oci.Descriptor) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("OCI layout: manifest %q: %w", desc.Digest, err)
	}
	return os.ReadFile(filepath.Join(s.dir, "blobs", desc.Digest.Algorithm().String(), desc.Digest.Encoded()))
}

func (s *layoutSource) blob(_ context.Context, desc oci.Descriptor, offset int64) (io.ReadCloser, int64, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, 0, fmt.Errorf("OCI layout: blob %q: %w", desc.Digest, err)
	}
	f, err := os.Open(filepath.Join(s.dir, "blobs", desc.Digest.Algorithm().String(), desc.Digest.Encoded()))
	if err != nil {
		return nil, 0, fmt.Errorf("OCI layout: blob %s: %w", desc.Digest, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, offset, nil
}

func (s *layoutSource) close() error {
	if s.cleanup == "" {
		return nil
	}
	return os.RemoveAll(s.cleanup)
}

// untarLayout extracts an oci-archive (a tar of an OCI layout) into dir.
// Only the layout's own files are taken: oci-layout, index.json and
// blobs/<alg>/<hex>; anything else in the archive is an error.
func untarLayout(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		clean := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return fmt.Errorf("entry %q: not a regular file", h.Name)
		}
		parts := strings.Split(clean, "/")
		ok := clean == oci.ImageLayoutFile || clean == oci.ImageIndexFile ||
			(len(parts) == 3 && parts[0] == "blobs" && oci.Digest(parts[1]+":"+parts[2]).Validate() == nil)
		if !ok {
			return fmt.Errorf("entry %q is not part of an OCI image layout", h.Name)
		}
		dst := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
