package pull

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-oci/berth/image/oci"
)

type recordingTransport struct{ hosts []string }

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.hosts = append(t.hosts, req.URL.Host)
	return nil, errors.New("reached the network")
}

// Plain HTTP goes only to loopback registries unless --insecure.
func TestPlainHTTPGuard(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		allowed  bool
	}{
		{"http://127.0.0.1:5000/v2/", false, true},
		{"http://localhost:5000/v2/", false, true},
		{"http://[::1]:5000/v2/", false, true},
		{"http://10.0.0.5:5000/v2/", false, false},
		{"http://192.168.1.2/v2/", false, false},
		{"http://registry.example:5000/v2/", false, false},
		{"http://registry.example:5000/v2/", true, true},
		{"https://registry.example/v2/", false, true},
	} {
		next := &recordingTransport{}
		g := &plainHTTPGuard{next: next, insecure: tc.insecure}
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		_, err := g.RoundTrip(req)
		passed := len(next.hosts) == 1
		if passed != tc.allowed {
			t.Errorf("%s (insecure %v): passed on %v, want %v (err %v)", tc.url, tc.insecure, passed, tc.allowed, err)
		}
		if !tc.allowed && (err == nil || !strings.Contains(err.Error(), "--insecure")) {
			t.Errorf("%s: refusal %v should name --insecure", tc.url, err)
		}
	}
}

// The progress line counts bytes and complete layers, and ends with a
// newline when the pull is done.
func TestProgress(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "img", []oci.Descriptor{{Size: 2_000_000}, {Size: 1_000_000}})
	p.counter(1)(1_000_000)
	p.draw(true)
	if got := out.String(); !strings.Contains(got, "img: 1/2 layers, 1.0 MB / 3.0 MB") {
		t.Errorf("progress after one layer: %q", got)
	}
	out.Reset()
	p.done()
	if got := out.String(); !strings.Contains(got, "img: 2/2 layers, 3.0 MB / 3.0 MB\n") {
		t.Errorf("progress when done: %q", got)
	}
}
