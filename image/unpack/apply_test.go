package unpack

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	xattrs           map[string]string
}

func layer(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Uid: e.uid, Gid: e.gid, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func mustApply(t *testing.T, root string, mode Mode, entries ...entry) {
	t.Helper()
	if err := Apply(root, layer(t, entries...), mode); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestWhiteoutsFlat(t *testing.T) {
	root := t.TempDir()
	mustApply(t, root, Flat,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/keep", body: "k"},
		entry{name: "etc/gone", body: "g"},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/lower", body: "l"},
		entry{name: "opq/sub/", typ: tar.TypeDir},
		entry{name: "opq/sub/deep", body: "d"},
	)
	mustApply(t, root, Flat,
		entry{name: "etc/.wh.gone"},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/new", body: "n"}, // before the marker: must survive it
		entry{name: "opq/.wh..wh..opq"},
		entry{name: "opq/newer", body: "n2"},
	)
	for p, want := range map[string]bool{
		"etc/keep": true, "etc/gone": false, "etc/.wh.gone": false,
		"opq/lower": false, "opq/sub": false, "opq/new": true, "opq/newer": true, "opq/.wh..wh..opq": false,
	} {
		if got := exists(filepath.Join(root, p)); got != want {
			t.Errorf("%s exists = %v, want %v", p, got, want)
		}
	}
}

func TestWhiteoutsOverlay(t *testing.T) {
	root := t.TempDir()
	mustApply(t, root, Overlay,
		entry{name: "etc/.wh.gone"},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/.wh..wh..opq"},
	)
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "etc/gone"), &st); err != nil {
		t.Fatalf("whiteout device: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/gone: mode %o rdev %d, want a 0:0 character device", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	n, err := unix.Getxattr(filepath.Join(root, "opq"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("opq: trusted.overlay.opaque = %q, %v; want y", buf[:n], err)
	}
}

func TestNothingEscapesTheRoot(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []entry
		wantErr string // "" when the entry may be written, inside the root
	}{
		{"dotdot", []entry{{name: "../escape-dotdot", body: "x"}}, `"../escape-dotdot"`},
		{"dotdot inside", []entry{{name: "a/../../escape-dotdot2", body: "x"}}, "escape-dotdot2"},
		{"absolute", []entry{{name: "/abs-escape", body: "x"}}, ""},
		{"symlink to / then through it", []entry{
			{name: "link", typ: tar.TypeSymlink, link: "/"},
			{name: "link" + outside + "/through-abs", body: "x"},
		}, ""},
		{"relative symlink climbing out", []entry{
			{name: "up", typ: tar.TypeSymlink, link: "../../../../../../../.."},
			{name: "up" + outside + "/through-rel", body: "x"},
		}, ""},
		{"hard link to outside", []entry{{name: "hl", typ: tar.TypeLink, link: "../../../../etc/passwd"}}, "hard link target"},
		{"symlink replaced by file", []entry{
			{name: "sl", typ: tar.TypeSymlink, link: outside + "/victim"},
			{name: "sl", body: "x"},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			err := Apply(root, layer(t, tc.entries...), Flat)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Apply: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Apply: error %v, want one naming %q", err, tc.wantErr)
			}
			for _, p := range []string{
				filepath.Join(filepath.Dir(root), "escape-dotdot"), filepath.Join(filepath.Dir(root), "escape-dotdot2"),
				"/abs-escape", filepath.Join(outside, "through-abs"), filepath.Join(outside, "through-rel"),
				filepath.Join(outside, "victim"),
			} {
				if exists(p) {
					os.Remove(p)
					t.Errorf("%s was written outside the root", p)
				}
			}
		})
	}
	// What was redirected landed inside the root.
	root := t.TempDir()
	mustApply(t, root, Flat, entry{name: "link", typ: tar.TypeSymlink, link: "/"}, entry{name: "link/inside", body: "x"}, entry{name: "/abs", body: "y"})
	for _, p := range []string{"inside", "abs"} {
		if !exists(filepath.Join(root, p)) {
			t.Errorf("%s: not written inside the root", p)
		}
	}
}

func TestMetadata(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to set owners")
	}
	root := t.TempDir()
	mustApply(t, root, Flat,
		entry{name: "bin/", typ: tar.TypeDir},
		entry{name: "bin/suid", body: "#!", mode: 0o4755, uid: 1000, gid: 2000},
		entry{name: "bin/hard", typ: tar.TypeLink, link: "bin/suid"},
		entry{name: "bin/sym", typ: tar.TypeSymlink, link: "suid"},
		entry{name: "dev/", typ: tar.TypeDir},
		entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		entry{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
		entry{name: "x", body: "x", xattrs: map[string]string{"user.berth": "1"}},
	)
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "bin/suid"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o4755 || st.Uid != 1000 || st.Gid != 2000 || st.Nlink != 2 {
		t.Errorf("bin/suid: mode %o uid %d gid %d nlink %d; want 4755 1000 2000 2", st.Mode&0o7777, st.Uid, st.Gid, st.Nlink)
	}
	if l, err := os.Readlink(filepath.Join(root, "bin/sym")); err != nil || l != "suid" {
		t.Errorf("bin/sym -> %q, %v", l, err)
	}
	if err := unix.Lstat(filepath.Join(root, "fifo"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: mode %o, %v", st.Mode, err)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(root, "x"), "user.berth", buf); err == nil && string(buf[:n]) != "1" {
		t.Errorf("xattr user.berth = %q", buf[:n])
	}
}
