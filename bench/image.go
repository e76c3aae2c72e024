package main

// The image scenarios (issue #8): a container from an image on a registry.
//
//	cold   berth run --image of an image not yet in a (fresh, empty) image
//	       store, against skopeo copy → umoci unpack → runc run
//	steps  the same three steps one by one: berth pull → berth bundle →
//	       berth run --bundle against skopeo copy → umoci unpack → runc run
//	warm   berth run --image of an image in the store whose layer is
//	       unpacked already, against berth run --bundle of a ready bundle
//
// The image is a one-layer busybox (Debian's static busybox and a symlink
// per applet, gzip), built here with go-containerregistry and pushed to a
// private docker-registry that listens on 127.0.0.1 only, its storage in the
// benchmark's temporary directory. Every container runs /bin/true.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-oci/berth/tests/testkit"
)

// Debian packages of the image scenarios: the registry and the pipeline
// berth replaces (its runc is runc v1.5.2, see imagePipelineRunc).
var imagePackages = []string{"docker-registry", "skopeo", "umoci"}

const (
	skopeoBin = "/usr/bin/skopeo"
	umociBin  = "/usr/bin/umoci"

	// Keys of the B sides in the image sessions' samples (A is berth).
	pipelineKey = "pipeline"
	bundleKey   = "bundle"

	imageRepo = "bench/busybox"
	imageTag  = "latest"
)

// imageRunInfo describes what the image scenarios measured with.
type imageRunInfo struct {
	Ref        string `json:"ref"`
	Registry   string `json:"registry"` // docker-registry --version
	Skopeo     string `json:"skopeo"`
	Umoci      string `json:"umoci"`
	Runc       string `json:"runc"` // version of the pipeline's runc
	RuncBin    string `json:"runc_bin"`
	Files      int    `json:"files"`       // entries of the image's layer
	TarBytes   int64  `json:"tar_bytes"`   // uncompressed layer
	LayerBytes int64  `json:"layer_bytes"` // gzip layer as pulled
	Dir        string `json:"dir"`         // where stores, layouts and bundles were
	DirFS      string `json:"dir_fs"`      // its file system type
}

// imagePipelineRunc is the runc of the pipeline: runc v1.5.2 from the cache
// (the same libcontainer as berth), or Debian's when it is not installed.
func imagePipelineRunc(cache string) string {
	p := filepath.Join(cache, "bin", "runc")
	if v, err := version(p); err == nil && strings.Contains(v, "1.5.2") {
		return p
	}
	return debianRunc
}

// imageScenarios runs the three image scenarios against one registry.
func (b *bench) imageScenarios() {
	it := b.cfg.Iterations
	if b.stop.Load() || it.ImageCold+it.ImageSteps+it.ImageWarm == 0 {
		return
	}
	logf("== images: berth run --image against skopeo + umoci + runc, and against run --bundle")
	start := time.Now()
	if err := b.imageRun(); err != nil {
		b.fail("images: %v", err)
	}
	logf("   images: %.1fs in all", time.Since(start).Seconds())
}

func (b *bench) imageRun() (retErr error) {
	it := b.cfg.Iterations
	for _, p := range []string{testkit.RegistryBinary, skopeoBin, umociBin, b.cfg.ImageRunc} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing (Debian packages %s; run without -no-setup to install them)", p, strings.Join(imagePackages, " "))
		}
	}
	info := &imageRunInfo{RuncBin: b.cfg.ImageRunc}
	for _, v := range []struct {
		dst *string
		bin string
	}{{&info.Registry, testkit.RegistryBinary}, {&info.Skopeo, skopeoBin}, {&info.Umoci, umociBin}, {&info.Runc, b.cfg.ImageRunc}} {
		s, err := version(v.bin)
		if err != nil {
			return fmt.Errorf("%s --version: %w", v.bin, err)
		}
		*v.dst = s
	}
	b.image = info

	dir := filepath.Join(b.cfg.TmpDir, "image")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	info.Dir, info.DirFS = dir, fsType(dir)
	defer func() {
		retErr = errors.Join(retErr, testkit.UnmountUnder(dir), os.RemoveAll(dir))
	}()
	// No recording proxy in front of it: the pulls measured are berth's
	// and skopeo's alone.
	reg, err := testkit.StartRegistry(filepath.Join(dir, "registry"), testkit.RegistryOptions{LogLevel: "warn"})
	if err != nil {
		return err
	}
	defer reg.Stop()

	img, err := busyboxImage(info)
	if err != nil {
		return fmt.Errorf("building the busybox image: %w", err)
	}
	info.Ref = reg.Addr + "/" + imageRepo + ":" + imageTag
	if err := pushImage(info.Ref, img); err != nil {
		return err
	}
	logf("   busybox image (%d files, %.1f MB gzip) on docker-registry at %s", info.Files, float64(info.LayerBytes)/1e6, reg.Addr)

	s := &imageSession{b: b, dir: dir, ref: info.Ref, pipeRoot: filepath.Join(b.cfg.StateRoot, pipelineKey)}
	if err := os.MkdirAll(s.pipeRoot, 0o700); err != nil {
		return err
	}
	defer func() { retErr = errors.Join(retErr, s.leftovers()) }()

	pipeline := runtimeInfo{Key: pipelineKey, Label: "skopeo+umoci+runc"}
	warmup := min(it.Warmup, 1)
	if it.ImageCold > 0 {
		b.pairs("image-cold", "image cold: run --image vs pipeline (warm-up)", warmup, pipeline, false, s.coldOp(dir))
		b.pairs("image-cold", "image cold: run --image vs skopeo+umoci+runc", it.ImageCold, pipeline, true, s.coldOp(dir))
		// The same with the stores, layouts and bundles on a tmpfs: what
		// is left when creating files costs next to nothing.
		mem := filepath.Join(dir, "tmpfs")
		if err := os.Mkdir(mem, 0o700); err != nil {
			return err
		}
		if err := syscall.Mount("tmpfs", mem, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=700,size=1g"); err != nil {
			return fmt.Errorf("tmpfs on %s: %w", mem, err)
		}
		b.pairs("image-cold-tmpfs", "image cold on a tmpfs (warm-up)", warmup, pipeline, false, s.coldOp(mem))
		b.pairs("image-cold-tmpfs", "image cold on a tmpfs", it.ImageCold, pipeline, true, s.coldOp(mem))
		if err := errors.Join(testkit.UnmountUnder(mem), os.Remove(mem)); err != nil {
			return err
		}
	}
	if it.ImageSteps > 0 {
		b.pairs("image-steps", "image steps: pull, bundle, run vs pipeline", it.ImageSteps, pipeline, true, s.stepsOp)
	}
	if it.ImageWarm > 0 && !b.stop.Load() {
		if err := s.prepareWarm(); err != nil {
			return fmt.Errorf("preparing the warm store: %w", err)
		}
		bundle := runtimeInfo{Key: bundleKey, Label: "berth run --bundle"}
		b.pairs("image-warm", "image warm: run --image vs run --bundle (warm-up)", it.Warmup, bundle, false, s.warmOp)
		b.pairs("image-warm", "image warm: run --image vs run --bundle", it.ImageWarm, bundle, true, s.warmOp)
	}
	return nil
}

// imageSession holds what the image ops share.
type imageSession struct {
	b        *bench
	dir      string // everything the image scenarios write
	ref      string // HOST:PORT/bench/busybox:latest
	pipeRoot string // the pipeline runc's --root

	warmStore string // an image store with the image and its unpacked layer
	ready     string // a bundle made by berth bundle from warmStore
}

// berth runs berth (the binary under test, its --root and environment).
func (s *imageSession) berth(args ...string) (usage, error) {
	return s.b.exec(s.b.berth, args...)
}

// removeBerth deletes a berth container that a failed command may have
// left (with run --image, delete also removes its bundle).
func (s *imageSession) removeBerth(id string) {
	_, _ = s.berth("delete", "--force", id)
}

// scratch makes a new directory under the session's directory; drop
// removes it, unmounting what a failed berth left mounted in it.
func (s *imageSession) scratch(prefix string) (string, error) {
	return os.MkdirTemp(s.dir, prefix)
}

func drop(dir string) error {
	return errors.Join(testkit.UnmountUnder(dir), os.RemoveAll(dir))
}

// coldOp: berth run --image with an empty image store, or the pipeline,
// with their files in a new directory under base.
func (s *imageSession) coldOp(base string) op {
	return func(rt runtimeInfo) (out []meas, err error) {
		if rt.Key == pipelineKey {
			p, err := s.pipeline(base)
			if err != nil {
				return nil, err
			}
			return []meas{{"imgcold.wall", p.total}, {"imgcold.cpu", p.cpu()}}, nil
		}
		store, err := os.MkdirTemp(base, "store-")
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, drop(store)) }()
		id := s.b.newID(rt)
		u, err := s.berth("--image-store", store, "run", "--image", s.ref, id, "--", "/bin/true")
		if err != nil {
			s.removeBerth(id)
			return nil, err
		}
		return []meas{{"imgcold.wall", u.WallMS}, {"imgcold.cpu", u.CPUMS()}}, nil
	}
}

// steps is the usage of the three steps from a registry to an exited
// container, and the wall time of all three (with the benchmark's own work
// between them).
type steps struct {
	pull, unpack, run usage
	total             float64
}

func (p steps) cpu() float64 { return p.pull.CPUMS() + p.unpack.CPUMS() + p.run.CPUMS() }

func (p steps) meas() []meas {
	return []meas{
		{"imgpull.wall", p.pull.WallMS}, {"imgpull.cpu", p.pull.CPUMS()},
		{"imgunpack.wall", p.unpack.WallMS}, {"imgunpack.cpu", p.unpack.CPUMS()},
		{"imgrun.wall", p.run.WallMS}, {"imgrun.cpu", p.run.CPUMS()},
		{"imgsteps.wall", p.total}, {"imgsteps.cpu", p.cpu()},
	}
}

// pipeline is what one does today: skopeo copies the image into a new OCI
// layout, umoci unpacks it into a bundle (config.json generated from the
// image config), process.args becomes /bin/true, runc runs it.
func (s *imageSession) pipeline(base string) (p steps, err error) {
	work, err := os.MkdirTemp(base, "pipeline-")
	if err != nil {
		return p, err
	}
	defer func() { err = errors.Join(err, drop(work)) }()
	layout, bundle := filepath.Join(work, "oci"), filepath.Join(work, "bundle")
	id := s.b.newID(runtimeInfo{Key: pipelineKey})
	sp := s.b.sp
	start := time.Now()
	if p.pull, err = sp.run([]string{skopeoBin, "copy", "--src-tls-verify=false", "docker://" + s.ref, "oci:" + layout + ":" + imageTag}, nil, nil); err != nil {
		return p, err
	}
	if p.unpack, err = sp.run([]string{umociBin, "unpack", "--image", layout + ":" + imageTag, bundle}, nil, nil); err != nil {
		return p, err
	}
	if err := setArgs(filepath.Join(bundle, "config.json"), "/bin/true"); err != nil {
		return p, err
	}
	if p.run, err = sp.run([]string{s.b.cfg.ImageRunc, "--root", s.pipeRoot, "run", "--bundle", bundle, id}, nil, nil); err != nil {
		_, _ = sp.run([]string{s.b.cfg.ImageRunc, "--root", s.pipeRoot, "delete", "--force", id}, nil, nil)
		return p, err
	}
	p.total = ms(time.Since(start))
	return p, nil
}

// setArgs sets process.args of a bundle's config.json (and no terminal:
// there is none), as one would with jq.
func setArgs(path string, args ...string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	proc, _ := spec["process"].(map[string]any)
	if proc == nil {
		return fmt.Errorf("%s: no process", path)
	}
	proc["args"] = args
	proc["terminal"] = false
	if data, err = json.Marshal(spec); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// stepsOp: berth's three commands one by one (pull into an empty store,
// bundle into a plain directory, run the bundle), or the pipeline.
func (s *imageSession) stepsOp(rt runtimeInfo) (out []meas, err error) {
	if rt.Key == pipelineKey {
		p, err := s.pipeline(s.dir)
		if err != nil {
			return nil, err
		}
		return p.meas(), nil
	}
	work, err := s.scratch("steps-")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, drop(work)) }()
	store, bundle := filepath.Join(work, "store"), filepath.Join(work, "bundle")
	id := s.b.newID(rt)
	var p steps
	start := time.Now()
	if p.pull, err = s.berth("--image-store", store, "pull", s.ref); err != nil {
		return nil, err
	}
	if p.unpack, err = s.berth("--image-store", store, "bundle", s.ref, bundle, "--", "/bin/true"); err != nil {
		return nil, err
	}
	if p.run, err = s.berth("run", "--bundle", bundle, id); err != nil {
		s.removeBerth(id)
		return nil, err
	}
	p.total = ms(time.Since(start))
	return p.meas(), nil
}

// prepareWarm pulls the image into the warm store, unpacks its layer there
// (one run --image) and makes the ready bundle for run --bundle.
func (s *imageSession) prepareWarm() error {
	var err error
	if s.warmStore, err = s.scratch("warm-store-"); err != nil {
		return err
	}
	if _, err := s.berth("--image-store", s.warmStore, "pull", s.ref); err != nil {
		return err
	}
	id := s.b.newID(s.b.berth)
	if _, err := s.berth("--image-store", s.warmStore, "run", "--image", s.ref, id, "--", "/bin/true"); err != nil {
		s.removeBerth(id)
		return err
	}
	s.ready = filepath.Join(s.dir, "ready-bundle")
	_, err = s.berth("--image-store", s.warmStore, "bundle", s.ref, s.ready, "--", "/bin/true")
	return err
}

// warmOp: berth run --image from the warm store, or berth run --bundle of
// the ready bundle.
func (s *imageSession) warmOp(rt runtimeInfo) ([]meas, error) {
	id := s.b.newID(rt)
	var (
		u   usage
		err error
	)
	if rt.Key == bundleKey {
		u, err = s.berth("run", "--bundle", s.ready, id)
	} else {
		u, err = s.berth("--image-store", s.warmStore, "run", "--image", s.ref, id, "--", "/bin/true")
	}
	if err != nil {
		s.removeBerth(id)
		return nil, err
	}
	return []meas{{"imgwarm.wall", u.WallMS}, {"imgwarm.cpu", u.CPUMS()}}, nil
}

// leftovers reports containers, run --image bundles and mounts that the
// runtimes should have removed themselves (and removes them).
func (s *imageSession) leftovers() error {
	var errs []error
	for _, root := range []string{s.pipeRoot, s.b.root(s.b.berth)} {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			s.b.mu.Lock()
			_, other := s.b.live[e.Name()] // another scenario's
			s.b.mu.Unlock()
			if e.IsDir() && !other {
				errs = append(errs, fmt.Errorf("container state %s left under %s", e.Name(), root))
				if root == s.pipeRoot {
					_, _ = s.b.sp.run([]string{s.b.cfg.ImageRunc, "--root", root, "delete", "--force", e.Name()}, nil, nil)
				} else {
					s.removeBerth(e.Name())
				}
			}
		}
	}
	if s.warmStore != "" {
		bundles, _ := os.ReadDir(filepath.Join(s.warmStore, "bundles"))
		for _, e := range bundles {
			errs = append(errs, fmt.Errorf("run --image bundle %s left in the image store", e.Name()))
		}
	}
	if m, _ := testkit.MountsUnder(s.dir); len(m) > 0 {
		errs = append(errs, fmt.Errorf("mounts left: %v", m))
	}
	_ = os.Remove(s.pipeRoot)
	return errors.Join(errs...)
}

// fsType names the file system that holds path.
func fsType(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "?"
	}
	switch st.Type {
	case 0xef53:
		return "ext4"
	case 0x01021994:
		return "tmpfs"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}

// ---------------------------------------------------------------------------
// The image

// busyboxImage is an OCI image of one gzip layer: the usual directories,
// the static /bin/busybox with a symlink per applet, /etc/passwd and
// /etc/group. Its Cmd prints a line (the benchmark replaces it by
// /bin/true).
func busyboxImage(info *imageRunInfo) (v1.Image, error) {
	busybox, err := testkit.Busybox()
	if err != nil {
		return nil, err
	}
	entries, err := testkit.BusyboxEntries(busybox, testkit.BusyboxPasswd, testkit.BusyboxGroup)
	if err != nil {
		return nil, err
	}
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	raw, err := testkit.Tar(entries, mtime)
	if err != nil {
		return nil, err
	}
	info.Files = len(entries)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	info.TarBytes, info.LayerBytes = int64(len(raw)), int64(gz.Len())
	compressed := gz.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		OS:           "linux",
		Architecture: goruntime.GOARCH,
		Created:      v1.Time{Time: mtime},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"sh", "-c", "echo hello from the busybox image"},
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: mtime}, CreatedBy: "berth bench"},
	})
}

// pushImage pushes img to ref (plain HTTP: the registry is on 127.0.0.1).
func pushImage(ref string, img v1.Image) error {
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// The report

// imageRow is one line of the image table: berth (A) over the other side
// (B) for one metric of one session.
type imageRow struct {
	Label   string  `json:"label"`
	Session string  `json:"session"`
	Metric  string  `json:"metric"`
	Other   string  `json:"other"`            // the B side's runtime key
	Target  float64 `json:"target,omitempty"` // the ratio to stay at or below; 0: none
	Ratio   ratio   `json:"ratio"`
	Berth   summary `json:"berth"`
	B       summary `json:"b"`
}

// imageRowDefs are the image table's rows; the ratio is berth over Other.
var imageRowDefs = []imageRow{
	{Label: "cold `run --image` / skopeo copy → umoci unpack → runc run: wall", Session: "image-cold", Metric: "imgcold.wall", Other: pipelineKey, Target: 0.5},
	{Label: "  CPU (the commands and the containers they reaped)", Session: "image-cold", Metric: "imgcold.cpu", Other: pipelineKey},
	{Label: "cold, files on a tmpfs instead of the disk: wall", Session: "image-cold-tmpfs", Metric: "imgcold.wall", Other: pipelineKey},
	{Label: "  CPU", Session: "image-cold-tmpfs", Metric: "imgcold.cpu", Other: pipelineKey},
	{Label: "warm `run --image` / `run --bundle` of a ready bundle: wall", Session: "image-warm", Metric: "imgwarm.wall", Other: bundleKey, Target: 1.3},
	{Label: "  CPU", Session: "image-warm", Metric: "imgwarm.cpu", Other: bundleKey},
	{Label: "step 1, pull: `berth pull` / `skopeo copy`", Session: "image-steps", Metric: "imgpull.wall", Other: pipelineKey},
	{Label: "step 2, unpack: `berth bundle` / `umoci unpack`", Session: "image-steps", Metric: "imgunpack.wall", Other: pipelineKey},
	{Label: "step 3, run: `berth run --bundle` / `runc run`", Session: "image-steps", Metric: "imgrun.wall", Other: pipelineKey},
	{Label: "steps 1–3 one after the other: wall", Session: "image-steps", Metric: "imgsteps.wall", Other: pipelineKey},
	{Label: "step 1, pull: CPU", Session: "image-steps", Metric: "imgpull.cpu", Other: pipelineKey},
	{Label: "step 2, unpack: CPU", Session: "image-steps", Metric: "imgunpack.cpu", Other: pipelineKey},
	{Label: "step 3, run: CPU", Session: "image-steps", Metric: "imgrun.cpu", Other: pipelineKey},
}

// analyzeImage computes the image rows that have samples.
func analyzeImage(raw *rawResults) []imageRow {
	type key struct{ session, metric, runtime, order string }
	vals := map[key][]float64{}
	for _, s := range raw.Samples {
		if !strings.HasPrefix(s.Session, "image-") {
			continue
		}
		for _, k := range []key{{s.Session, s.Metric, s.Runtime, s.Order}, {s.Session, s.Metric, s.Runtime, ""}} {
			vals[k] = append(vals[k], s.Value)
		}
	}
	berth := raw.Runtimes[0].Key
	var rows []imageRow
	for _, r := range imageRowDefs {
		a, b := vals[key{r.Session, r.Metric, berth, ""}], vals[key{r.Session, r.Metric, r.Other, ""}]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		r.Berth, r.B = summarize(a), summarize(b)
		ab := median(vals[key{r.Session, r.Metric, berth, "AB"}]) / median(vals[key{r.Session, r.Metric, r.Other, "AB"}])
		ba := median(vals[key{r.Session, r.Metric, berth, "BA"}]) / median(vals[key{r.Session, r.Metric, r.Other, "BA"}])
		r.Ratio = ratio{AB: ab, BA: ba, Combined: math.Sqrt(ab * ba)}
		if math.IsNaN(r.Ratio.Combined) || math.IsInf(r.Ratio.Combined, 0) {
			// One order only (a single pair): the plain ratio of medians.
			r.Ratio.Combined = r.Berth.Median / r.B.Median
		}
		rows = append(rows, r)
	}
	return rows
}

// imageMarkdown is the report's image section ("" without image samples).
func imageMarkdown(raw *rawResults, rows []imageRow) string {
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	it := raw.Iterations
	b.WriteString("### From an image: `berth run --image` (issue #8)\n\n")
	if in := raw.Image; in != nil {
		fmt.Fprintf(&b, "**Image:** busybox, one gzip layer (%d entries, %.2f MB, %.2f MB uncompressed), on `%s` listening on 127.0.0.1 only. "+
			"**Pipeline:** `%s`, `%s`, `%s` (%s). Every container runs /bin/true.\n\n",
			in.Files, float64(in.LayerBytes)/1e6, float64(in.TarBytes)/1e6, in.Registry, in.Skopeo, in.Umoci, in.Runc, in.RuncBin)
	}
	where := "the disk"
	if in := raw.Image; in != nil {
		where = fmt.Sprintf("%s (%s)", in.Dir, in.DirFS)
	}
	fmt.Fprintf(&b, "**Pairs:** cold %d on %s and %d on a tmpfs (each side with an empty image store or OCI layout), steps %d, warm %d. "+
		"Ratio of medians, berth over the other side, geometric mean of the AB and BA orders (in brackets).\n\n",
		it.ImageCold, where, it.ImageCold, it.ImageSteps, it.ImageWarm)
	b.WriteString("| metric | berth / other | target | berth, ms | other, ms |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		target := "–"
		if r.Target > 0 {
			verdict := "**met**"
			if r.Ratio.Combined > r.Target {
				verdict = "**not met**"
			}
			target = fmt.Sprintf("≤ %.2f: %s", r.Target, verdict)
		}
		fmt.Fprintf(&b, "| %s | **%.2f** (%.2f / %.2f) | %s | %s (%s–%s) | %s (%s–%s) |\n", r.Label,
			r.Ratio.Combined, r.Ratio.AB, r.Ratio.BA, target,
			fmtNum(r.Berth.Median), fmtNum(r.Berth.Min), fmtNum(r.Berth.Max),
			fmtNum(r.B.Median), fmtNum(r.B.Min), fmtNum(r.B.Max))
	}
	b.WriteString("\n")
	return b.String()
}
