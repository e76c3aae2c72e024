package pull

import (
	"strings"
	"testing"

	"github.com/berth-oci/berth/image/oci"
)

func TestParseRef(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000/busybox":          "127.0.0.1:5000/busybox:latest",
		"127.0.0.1:5000/a/b:v1":           "127.0.0.1:5000/a/b:v1",
		"busybox":                         "index.docker.io/library/busybox:latest",
		"oci:/srv/layout:v2":              "oci:/srv/layout:v2",
		"oci:/srv/layout":                 "oci:/srv/layout",
		"oci:/srv/lay:out/dir":            "oci:/srv/lay:out/dir",
		"oci-archive:/srv/img.tar:latest": "oci-archive:/srv/img.tar:latest",
		"localhost:5000/x@sha256:" + strings.Repeat("a", 64): "localhost:5000/x@sha256:" + strings.Repeat("a", 64),
	} {
		r, err := ParseRef(in, false)
		if err != nil || r.Name != want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", in, r.Name, err, want)
		}
	}
	for _, bad := range []string{"UPPER/case", "oci:", "a@sha256:short", ""} {
		if _, err := ParseRef(bad, false); err == nil {
			t.Errorf("ParseRef(%q) succeeded", bad)
		}
	}
}

func TestPlatform(t *testing.T) {
	if _, err := ParsePlatform("linux"); err == nil {
		t.Error("ParsePlatform(linux) succeeded")
	}
	p, err := ParsePlatform("linux/arm/v7")
	if err != nil || p != (Platform{"linux", "arm", "v7"}) || p.String() != "linux/arm/v7" {
		t.Fatalf("ParsePlatform: %+v, %v", p, err)
	}
	amd := Platform{OS: "linux", Architecture: "amd64"}
	arm64 := Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	for _, tc := range []struct {
		want Platform
		have *oci.Platform
		ok   bool
	}{
		{amd, &oci.Platform{OS: "linux", Architecture: "amd64"}, true},
		{amd, &oci.Platform{OS: "linux", Architecture: "arm64"}, false},
		{amd, &oci.Platform{OS: "windows", Architecture: "amd64"}, false},
		{amd, nil, false},
		{arm64, &oci.Platform{OS: "linux", Architecture: "arm64"}, true},
		{arm64, &oci.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{Platform{"linux", "arm", "v7"}, &oci.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
	} {
		if got := tc.want.matches(tc.have); got != tc.ok {
			t.Errorf("%v matches %+v = %v, want %v", tc.want, tc.have, got, tc.ok)
		}
	}
}
