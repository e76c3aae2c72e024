package testkit

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// TarEntry is one entry of an image layer the tests build.
type TarEntry struct {
	Name     string
	Type     byte // tar.TypeReg, TypeDir, TypeSymlink, TypeLink
	Mode     int64
	UID, GID int
	Body     []byte
	Link     string
}

// DirEntry is a directory entry (name ends in "/").
func DirEntry(name string, mode int64) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeDir, Mode: mode}
}

// FileEntry is a regular file entry.
func FileEntry(name, body string, mode int64) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeReg, Mode: mode, Body: []byte(body)}
}

// SymlinkEntry is a symbolic link entry.
func SymlinkEntry(name, target string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Link: target}
}

// Tar writes the entries, in order, as an uncompressed tar (PAX), every
// mtime set to mtime so that layers are reproducible. Names are written as
// given, not cleaned: tests of unsafe layers need "../x".
func Tar(entries []TarEntry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			Linkname: e.Link, ModTime: mtime, Format: tar.FormatPAX,
		}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header of %q: %w", e.Name, err)
		}
		if e.Type == tar.TypeReg {
			if _, err := tw.Write(e.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// BusyboxEntries is a busybox root filesystem as an image layer has it:
// the usual directories with an image's modes, the static busybox, a
// symlink to /bin/busybox for each applet, and the given /etc/passwd and
// /etc/group.
func BusyboxEntries(busybox, passwd, group string) ([]TarEntry, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	applets, err := BusyboxApplets(busybox)
	if err != nil {
		return nil, err
	}
	es := []TarEntry{
		DirEntry("bin/", 0o755), DirEntry("sbin/", 0o755), DirEntry("usr/", 0o755), DirEntry("usr/bin/", 0o755),
		DirEntry("usr/sbin/", 0o755), DirEntry("etc/", 0o755), DirEntry("proc/", 0o555), DirEntry("sys/", 0o555),
		DirEntry("dev/", 0o755), DirEntry("tmp/", 0o1777), DirEntry("root/", 0o700), DirEntry("run/", 0o755),
		DirEntry("var/", 0o755), DirEntry("var/tmp/", 0o1777),
		{Name: "bin/busybox", Type: tar.TypeReg, Mode: 0o755, Body: bin},
	}
	for _, a := range applets {
		es = append(es, SymlinkEntry(a, "/bin/busybox"))
	}
	return append(es, FileEntry("etc/passwd", passwd, 0o644), FileEntry("etc/group", group, 0o644)), nil
}

// ReadTar reads the entries of an uncompressed tar stream, bodies
// included; on an error, it returns those read before it.
func ReadTar(r io.Reader) ([]TarEntry, error) {
	tr := tar.NewReader(r)
	var out []TarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("reading a tar: %w", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return out, fmt.Errorf("reading %s from a tar: %w", h.Name, err)
		}
		out = append(out, TarEntry{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Body: body, Link: h.Linkname})
	}
}
