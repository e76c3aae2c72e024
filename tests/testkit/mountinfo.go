package testkit

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one line of /proc/self/mountinfo, its paths unescaped.
type Mount struct {
	Line         string // as the kernel wrote it
	Root         string // the mount's root within its file system
	Point        string // where it is mounted
	Options      string // per-mount options
	FSType       string
	Source       string
	SuperOptions string
}

// String is the mountinfo line, for messages.
func (m Mount) String() string { return m.Line }

// Mounts parses /proc/self/mountinfo.
func Mounts() ([]Mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	var out []Mount
	for _, line := range strings.Split(string(data), "\n") {
		if m, ok := parseMountinfo(line); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// parseMountinfo parses "ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] -
// FSTYPE SOURCE SUPEROPTIONS".
func parseMountinfo(line string) (Mount, bool) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return Mount{}, false
	}
	m := Mount{Line: line, Root: unescape(f[3]), Point: unescape(f[4]), Options: f[5]}
	for i := 6; i+2 < len(f); i++ {
		if f[i] == "-" {
			m.FSType, m.Source = f[i+1], unescape(f[i+2])
			if i+3 < len(f) {
				m.SuperOptions = f[i+3]
			}
			return m, true
		}
	}
	return Mount{}, false
}

// unescape undoes mountinfo's octal escapes (\040 for a space...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// escape is the form a path takes in a mountinfo line.
func escape(path string) string {
	return strings.NewReplacer(`\`, `\134`, " ", `\040`, "\t", `\011`, "\n", `\012`).Replace(path)
}

// Under reports whether the mount point is dir or below it.
func (m Mount) Under(dir string) bool {
	return m.Point == dir || strings.HasPrefix(m.Point, dir+"/")
}

// Mentions reports whether the mount is at or below dir, or names dir or a
// path below it anywhere else in its line (its root, source or options: a
// bind mount of dir elsewhere, an overlay over layers in it).
func (m Mount) Mentions(dir string) bool {
	return m.Under(dir) || mentionsPath(m.Line, escape(dir))
}

// MountsUnder lists the mounts at or below dir, in mount order.
func MountsUnder(dir string) ([]Mount, error) {
	return filterMounts(func(m Mount) bool { return m.Under(dir) })
}

// MountsMentioning lists the mounts that mention dir (see Mount.Mentions).
func MountsMentioning(dir string) ([]Mount, error) {
	return filterMounts(func(m Mount) bool { return m.Mentions(dir) })
}

func filterMounts(keep func(Mount) bool) ([]Mount, error) {
	all, err := Mounts()
	var out []Mount
	for _, m := range all {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out, err
}

// Unmount detaches the mounts, the last mounted first (so that mounts
// over mounts go before what they cover). A mount already gone is no
// error.
func Unmount(ms []Mount) error {
	var errs []error
	for i := len(ms) - 1; i >= 0; i-- {
		err := unix.Unmount(ms[i].Point, unix.MNT_DETACH)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", ms[i].Point, err))
		}
	}
	return errors.Join(errs...)
}

// UnmountUnder detaches every mount at or below dir, trying a few rounds:
// a detached mount can uncover another one.
func UnmountUnder(dir string) error {
	var err error
	for range 5 {
		var ms []Mount
		if ms, err = MountsUnder(dir); err != nil || len(ms) == 0 {
			return err
		}
		err = Unmount(ms)
	}
	if ms, _ := MountsUnder(dir); len(ms) > 0 {
		return errors.Join(err, fmt.Errorf("mounts left under %s: %v", dir, ms))
	}
	return nil
}
