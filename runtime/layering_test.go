package runtime

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"
)

const module = "github.com/berth-oci/berth"

// inSourceTree skips the test unless it runs in berth's source tree (the
// cgroup v2 VM runs a compiled copy of the tests elsewhere).
func inSourceTree(t *testing.T) {
	t.Helper()
	if mod, err := os.ReadFile("../go.mod"); err != nil || !strings.Contains(string(mod), "module "+module+"\n") {
		t.Skip("not run in berth's source tree (the cgroup v2 VM runs a compiled copy of the tests)")
	}
}

// deps lists what the packages link, as `go list -deps` with the build's
// tags names them.
func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	inSourceTree(t)
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	args := append([]string{"list", "-deps", "-tags", "seccomp urfave_cli_no_docs netgo osusergo"}, pkgs...)
	out, err := exec.Command(gobin, args...).CombinedOutput()
	if err != nil {
		t.Skipf("no go tool here to list packages with: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

// The engine never imports the image code, and the image code never the
// engine: imports point one way (docs/architecture.md).
func TestImportDirection(t *testing.T) {
	for _, p := range deps(t, module+"/runtime") {
		if strings.HasPrefix(p, module+"/image") {
			t.Errorf("runtime links %s", p)
		}
	}
	for _, p := range deps(t, module+"/image/...") {
		if p == module+"/runtime" || strings.HasPrefix(p, module+"/cmd") || strings.HasPrefix(p, module+"/shim") {
			t.Errorf("image/... links %s", p)
		}
	}
}

// cgoImport is the import that makes a file cgo, alone or in an import list.
var cgoImport = regexp.MustCompile(`(?m)^\s*(import\s+)?"C"\s*$`)

// berth's own code has no cgo: the only C in its programs is
// libcontainer's (nsexec, seccomp).
func TestNoCgo(t *testing.T) {
	inSourceTree(t)
	n := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".cache" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if cgoImport.Match(src) {
			t.Errorf("%s is cgo (imports C)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Errorf("read %d Go files of the repository: not the tree this test expects to walk", n)
	}
}
