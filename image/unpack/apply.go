package unpack

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-oci/berth/image/oci"
	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Mode says how whiteouts are applied.
type Mode int

const (
	// Flat applies a layer on top of the ones below it in the same
	// directory: whiteouts remove what they name.
	Flat Mode = iota
	// Overlay extracts a layer on its own, for an overlayfs lower
	// directory: a whiteout becomes a 0:0 character device and an opaque
	// marker the trusted.overlay.opaque xattr, as overlayfs reads them.
	Overlay
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// ApplyLayer decompresses layer (of mediaType) and applies it to root,
// checking its uncompressed digest against diffID (when set). root must
// exist. Nothing is written outside root: entry names are taken relative
// to it, ".." may not lead out of it, and symbolic links met on the way
// are resolved as if root were "/".
func ApplyLayer(root, mediaType string, layer io.Reader, diffID oci.Digest, mode Mode) error {
	zr, err := Decompress(mediaType, layer)
	if err != nil {
		return err
	}
	defer zr.Close()
	h := sha256.New()
	tee := io.TeeReader(zr, h)
	if err := Apply(root, tee, mode); err != nil {
		return err
	}
	// The tar stream may end with padding the reader did not consume.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("decompress layer: %w", err)
	}
	got := oci.NewDigestFromEncoded(oci.SHA256, hex.EncodeToString(h.Sum(nil)))
	if diffID != "" && got != diffID {
		return fmt.Errorf("layer content has digest %s, the image config says %s", got, diffID)
	}
	return nil
}

// Applier is ApplyLayer in the shape package bundle takes: overlay picks
// the Overlay mode, else Flat.
func Applier(dir, mediaType string, layer io.Reader, diffID oci.Digest, overlay bool) error {
	mode := Flat
	if overlay {
		mode = Overlay
	}
	return ApplyLayer(dir, mediaType, layer, diffID, mode)
}

// Apply applies the uncompressed tar stream r to root.
func Apply(root string, r io.Reader, mode Mode) error {
	a := &applier{root: root, mode: mode, created: map[string]bool{}, rootless: os.Geteuid() != 0}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	// Directory times last: entries written into a directory change it.
	for _, d := range a.dirTimes {
		_ = setTimes(d.path, d.hdr) // best effort, as tar does
	}
	return nil
}

type dirTime struct {
	path string
	hdr  *tar.Header
}

type applier struct {
	root     string
	mode     Mode
	rootless bool
	// created holds the entries of this layer and their parents, which an
	// opaque marker of this layer must not remove.
	created  map[string]bool
	dirTimes []dirTime
}

// cleanName makes an entry name relative to root and refuses names that
// climb out of it.
func cleanName(name string) (string, error) {
	n := strings.TrimLeft(name, "/")
	n = path.Clean(n)
	if n == ".." || strings.HasPrefix(n, "../") {
		return "", errors.New("the name leads out of the root filesystem (\"..\")")
	}
	return n, nil
}

// resolveParent returns the host path of name's parent directory,
// resolving symbolic links inside root, and makes the directory if it is
// missing.
func (a *applier) resolveParent(name string) (string, error) {
	parent, err := securejoin.SecureJoin(a.root, path.Dir(name))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	return parent, nil
}

func (a *applier) markCreated(name string) {
	for n := name; n != "." && n != "/" && !a.created[n]; n = path.Dir(n) {
		a.created[n] = true
	}
}

func (a *applier) entry(hdr *tar.Header, body io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root itself keeps its own metadata
	}
	base := path.Base(name)
	if base == opaqueMarker {
		return a.opaque(path.Dir(name))
	}
	if hidden, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		return a.whiteout(path.Join(path.Dir(name), hidden))
	}
	parent, err := a.resolveParent(name)
	if err != nil {
		return err
	}
	target := filepath.Join(parent, base)
	a.markCreated(name)

	if fi, err := os.Lstat(target); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives still carry TypeRegA
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		src, err := a.linkSource(hdr.Linkname)
		if err != nil {
			return err
		}
		// The inode is the target's: its owner, mode and times stay.
		return os.Link(src, target)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(target, mode|uint32(hdr.Mode&0o7777), int(dev)); err != nil {
			if a.rootless && errors.Is(err, unix.EPERM) {
				return nil // an unprivileged user cannot make devices; the runtime bind-mounts them
			}
			return err
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	return a.metadata(target, hdr)
}

// linkSource resolves a hard link's target inside root without following
// a symbolic link in its last component (a hard link to a symlink links
// the symlink).
func (a *applier) linkSource(linkname string) (string, error) {
	name, err := cleanName(linkname)
	if err != nil {
		return "", fmt.Errorf("hard link target %q: %w", linkname, err)
	}
	parent, err := securejoin.SecureJoin(a.root, path.Dir(name))
	if err != nil {
		return "", err
	}
	src := filepath.Join(parent, path.Base(name))
	fi, err := os.Lstat(src)
	if err != nil {
		return "", fmt.Errorf("hard link target %q: %w", linkname, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("hard link target %q is a directory", linkname)
	}
	return src, nil
}

func (a *applier) metadata(target string, hdr *tar.Header) error {
	if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil && !(a.rootless && errors.Is(err, unix.EPERM)) {
		return err
	}
	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Lsetxattr(target, attr, []byte(value), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
				continue // a filesystem or user that cannot keep this xattr
			}
			return fmt.Errorf("xattr %s: %w", attr, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears set-id bits.
		if err := unix.Fchmodat(unix.AT_FDCWD, target, uint32(hdr.Mode&0o7777), 0); err != nil {
			return err
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		a.dirTimes = append(a.dirTimes, dirTime{target, hdr})
		return nil
	}
	return setTimes(target, hdr)
}

func setTimes(target string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// whiteout hides name: in Flat mode it is removed, in Overlay mode a
// whiteout device takes its place.
func (a *applier) whiteout(name string) error {
	if name == "." || path.Base(name) == "" {
		return errors.New("whiteout of the root")
	}
	parent, err := a.resolveParent(name)
	if err != nil {
		return err
	}
	target := filepath.Join(parent, path.Base(name))
	if a.mode == Overlay {
		a.markCreated(name)
		if err := os.RemoveAll(target); err != nil {
			return err
		}
		return unix.Mknod(target, unix.S_IFCHR, 0)
	}
	return os.RemoveAll(target)
}

// opaque empties dir of what the layers below put there (Flat), or marks
// it opaque for overlayfs (Overlay).
func (a *applier) opaque(dir string) error {
	target, err := securejoin.SecureJoin(a.root, dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	a.markCreated(dir)
	if a.mode == Overlay {
		return unix.Setxattr(target, "trusted.overlay.opaque", []byte("y"), 0)
	}
	entries, err := os.ReadDir(target)
	if err != nil {
		return err
	}
	for _, e := range entries {
		child := path.Join(dir, e.Name())
		if dir == "." {
			child = e.Name()
		}
		if a.created[child] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(target, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
