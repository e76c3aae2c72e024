package linux

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Convert reads the spec's relative paths against the bundle it is given,
// not the process's working directory, and labels the config with that
// bundle; device access letters beside r, w and m are dropped.
func TestConvertPathsAndAccess(t *testing.T) {
	bundle := newBundle(t)
	if err := os.Mkdir(filepath.Join(bundle, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // anywhere but the bundle
	spec := newBaseSpec()
	spec.Root.Path = "rootfs"
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "data", Source: "data", Options: []string{"rbind"}},
		specs.Mount{Destination: "/scratch", Source: "tmpfs", Type: "tmpfs"},
	)
	spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(11)), Access: "rwa"})
	cfg, err := Convert(spec, ConvertOptions{ID: "convert", Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(bundle, "rootfs"); cfg.Rootfs != want {
		t.Errorf("rootfs %q, want %q", cfg.Rootfs, want)
	}
	if !slices.Contains(cfg.Labels, "bundle="+bundle) {
		t.Errorf("labels %q lack bundle=%s", cfg.Labels, bundle)
	}
	var data, scratch bool
	for _, m := range cfg.Mounts {
		switch m.Destination {
		case "/data":
			data = m.Source == filepath.Join(bundle, "data")
		case "/scratch":
			scratch = m.Source == "tmpfs"
		}
	}
	if !data || !scratch {
		t.Errorf("mounts: relative bind source or destination not resolved, or a non-file source changed: %+v", cfg.Mounts)
	}
	found := false
	for _, d := range cfg.Cgroups.Resources.Devices {
		if !d.Allow && d.Major == 1 && d.Minor == 11 {
			found = true
			if d.Permissions != "rw" {
				t.Errorf("device rule access %q, want \"rw\"", d.Permissions)
			}
		}
	}
	if !found {
		t.Errorf("the deny rule for 1:11 is not in the config: %+v", cfg.Cgroups.Resources.Devices)
	}
}
