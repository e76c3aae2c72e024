package lite

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	runcopts "github.com/containerd/containerd/api/types/runc/options"
	runtimeopts "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"google.golang.org/protobuf/proto"

	"github.com/berth-oci/berth/shim/internal/wiretest"
)

// anyOf is a generated message as containerd sends it: an Any, decoded.
func anyOf(t *testing.T, m proto.Message) *Any {
	t.Helper()
	a, err := DecodeAny(wiretest.Marshal(t, wiretest.PbAny(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions(anyOf(t, &runcopts.Options{Root: "/r", SystemdCgroup: true, NoPivotRoot: true, IoUid: 7}))
	if err != nil || o.Root != "/r" || !o.SystemdCgroup || !o.NoPivotRoot || o.IoUID != 7 {
		t.Fatalf("runc options: %+v %v", o, err)
	}
	if got := o.StateRoot("k8s.io"); got != "/r/k8s.io" {
		t.Errorf("StateRoot = %s", got)
	}
	// containerd 2.x's CRI passes the handler's table as TOML (go-toml
	// writes single-quoted strings).
	body := "Root = '/run/x'\nSystemdCgroup = true\nIoGid = 5\nBinaryName = 'ignored'\n[Other]\nKey = 1\n"
	o, err = ParseOptions(anyOf(t, &runtimeopts.Options{ConfigBody: []byte(body)}))
	if err != nil || o.Root != "/run/x" || !o.SystemdCgroup || o.IoGID != 5 {
		t.Fatalf("ConfigBody: %+v %v", o, err)
	}
	if _, err := ParseOptions(anyOf(t, &runtimeopts.Options{ConfigBody: []byte("SystemdCgroup = maybe\n")})); err == nil {
		t.Error("a bad boolean was accepted")
	}
	if _, err := ParseOptions(&Any{TypeURL: "some.Other"}); err == nil {
		t.Error("foreign options were accepted")
	}
	if o, err := ParseOptions(nil); err != nil || o.StateRoot("ns") != DefaultRoot+"/ns" {
		t.Errorf("no options: %+v %v", o, err)
	}
}

func TestReadStartParams(t *testing.T) {
	f := &Flags{ID: "c1", Namespace: "ns"}
	// containerd 2.3+: bootstrap parameters with the options as an extension.
	bp := &bootapi.BootstrapParams{InstanceID: "c1", Namespace: "ns", ContainerdTtrpcAddress: "/x.ttrpc"}
	bp.Extensions = append(bp.Extensions, &bootapi.Extension{Value: wiretest.PbAny(t, &runcopts.Options{Root: "/r"})})
	p, err := readStartParams(f, wiretest.Marshal(t, bp))
	if err != nil || !p.bootstrap || p.ttrpcAddress != "/x.ttrpc" || p.options == nil {
		t.Fatalf("bootstrap: %+v %v", p, err)
	}
	// Older containerd: the options Any itself.
	p, err = readStartParams(f, wiretest.Marshal(t, wiretest.PbAny(t, &runcopts.Options{Root: "/r"})))
	if err != nil || p.bootstrap || p.options == nil {
		t.Fatalf("legacy: %+v %v", p, err)
	}
	if o, err := ParseOptions(p.options); err != nil || o.Root != "/r" {
		t.Fatalf("legacy options: %+v %v", o, err)
	}
	p, err = readStartParams(f, nil)
	if err != nil || p.bootstrap || p.options != nil {
		t.Fatalf("empty: %+v %v", p, err)
	}
}

func TestWireBootstrap(t *testing.T) {
	dir := "/run/s"
	bp, err := decodeBootstrapParams(wiretest.Marshal(t, &bootapi.BootstrapParams{
		InstanceID: "c", Namespace: "ns", LogLevel: bootapi.LogLevel_LOG_LEVEL_DEBUG, ContainerdTtrpcAddress: "/t", ContainerdGrpcAddress: "/g",
		SocketDir: &dir, Extensions: []*bootapi.Extension{{Value: wiretest.PbAny(t, &runcopts.Options{SystemdCgroup: true})}},
	}))
	if err != nil || bp.InstanceID != "c" || bp.Namespace != "ns" || bp.TTRPCAddress != "/t" || bp.SocketDir != dir || len(bp.Extensions) != 1 {
		t.Fatalf("bootstrap params: %+v %v", bp, err)
	}
	if o, err := ParseOptions(bp.Extensions[0]); err != nil || !o.SystemdCgroup {
		t.Errorf("extension: %+v %v", o, err)
	}
	var br bootapi.BootstrapResult
	wiretest.Unmarshal(t, bootstrapResult(3, "unix:///s", "ttrpc"), &br)
	if br.Version != 3 || br.Address != "unix:///s" || br.Protocol != "ttrpc" {
		t.Errorf("bootstrap result: %v", &br)
	}
}

func TestSocketAddress(t *testing.T) {
	a := SocketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "k8s.io", "pod1")
	if a != SocketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "k8s.io", "pod1") {
		t.Error("not stable")
	}
	for _, b := range []string{
		SocketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "k8s.io", "pod2"),
		SocketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "default", "pod1"),
		SocketAddress("/run/containerd/s", "/other.sock", "k8s.io", "pod1"),
	} {
		if a == b {
			t.Errorf("%s shared", a)
		}
	}
	if len(SocketPath(a)) >= 108 {
		t.Errorf("socket path too long: %s", a)
	}
}

// deleteIn runs Delete for container c1 of namespace ns in bundle with
// stdout captured, and decodes its DeleteResponse; removed says whether
// remove was called.
func deleteIn(t *testing.T, bundle string) (resp *taskapi.DeleteResponse, removed bool) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = Delete(&Flags{Namespace: "ns", ID: "c1", Bundle: bundle}, func(f *Flags, o *Options, root string) (int, error) {
		removed = f.ID == "c1" && root == o.StateRoot("ns")
		return 42, nil
	})
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	resp = &taskapi.DeleteResponse{}
	wiretest.Unmarshal(t, out, resp)
	return resp, removed
}

// Delete answers by itself when no container is left, removes a stale
// socket and the options file, keeps a live daemon's socket, and calls
// remove only when the container's state is there.
func TestDelete(t *testing.T) {
	bundle, root := t.TempDir(), t.TempDir()
	if err := WriteOptions(bundle, &Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	// A dead daemon's socket: a socket file nobody listens on.
	stale := filepath.Join(t.TempDir(), "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if err := os.WriteFile(filepath.Join(bundle, "address"), []byte("unix://"+stale), 0o600); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	resp, removed := deleteIn(t, bundle)
	if removed || resp.Pid != 0 || resp.ExitStatus != 137 || resp.ExitedAt.AsTime().Before(before.Add(-time.Second)) {
		t.Errorf("no state: removed %v, %v", removed, resp)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("the dead daemon's socket is left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bundle, OptionsFile)); !os.IsNotExist(err) {
		t.Errorf("the options file is left: %v", err)
	}

	// A live daemon's socket stays; the container's state is remove's.
	if err := WriteOptions(bundle, &Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(t.TempDir(), "s")
	l, err = net.ListenUnix("unix", &net.UnixAddr{Name: live, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.WriteFile(filepath.Join(bundle, "address"), []byte("unix://"+live), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "ns", "c1"), 0o700); err != nil {
		t.Fatal(err)
	}
	resp, removed = deleteIn(t, bundle)
	if !removed || resp.Pid != 42 {
		t.Errorf("state left: removed %v, %v", removed, resp)
	}
	if _, err := os.Lstat(live); err != nil {
		t.Errorf("the live daemon's socket: %v", err)
	}
}

// FuzzStartInput: whatever containerd writes to start's stdin, reading it
// returns parameters or an error, never panics.
func FuzzStartInput(f *testing.F) {
	f.Add(wiretest.Marshal(f, &bootapi.BootstrapParams{InstanceID: "c", Namespace: "ns", Extensions: []*bootapi.Extension{{Value: wiretest.PbAny(f, &runcopts.Options{Root: "/r"})}}}))
	f.Add(wiretest.Marshal(f, wiretest.PbAny(f, &runtimeopts.Options{ConfigBody: []byte("Root = '/r'\n")})))
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := readStartParams(&Flags{ID: "c", Namespace: "ns"}, b); err == nil && p.options != nil {
			_, _ = ParseOptions(p.options)
		}
		_, _ = decodeBootstrapParams(b)
		_ = decodeRuncOptions(b, &Options{})
	})
}

// The program containerd executes links nothing but this package,
// protowire (with the two internal packages it needs) and the standard
// library with golang.org/x/sys.
func TestDeps(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "list", "-deps", "-tags", "seccomp urfave_cli_no_docs netgo osusergo",
		"github.com/berth-oci/berth/cmd/containerd-shim-berth-v2").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v: %s", err, out)
	}
	allowed := []string{
		"github.com/berth-oci/berth/cmd/containerd-shim-berth-v2",
		"github.com/berth-oci/berth/shim/lite",
		"golang.org/x/sys/",
		"google.golang.org/protobuf/encoding/protowire",
		"google.golang.org/protobuf/internal/errors",
		"google.golang.org/protobuf/internal/detrand",
	}
	for _, p := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(p, "/")
		if !strings.Contains(first, ".") {
			continue // the standard library
		}
		ok := false
		for _, a := range allowed {
			ok = ok || p == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(p, a))
		}
		if !ok {
			t.Errorf("containerd-shim-berth-v2 links %s", p)
		}
	}
	if !bytes.Contains(out, []byte("github.com/berth-oci/berth/shim/lite")) {
		t.Errorf("go list: %s", out)
	}
}
