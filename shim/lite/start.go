package lite

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Grouping: containers whose config.json carries the same value under the
// first of these annotations share one shim daemon, as containerd's runc shim
// groups them (its own group label there is io.containerd.runc.v2.group): the
// CRI plugin puts every container of a pod under its sandbox's id.
var groupAnnotations = []string{
	"io.containerd.berth.v2.group",
	"io.kubernetes.cri.sandbox-id",
}

// defaultSocketDir is where shim sockets live unless containerd (2.3 and
// later) names a directory: the place containerd's own shims use.
const defaultSocketDir = "/run/containerd/s"

// startParams is what the start action learns from containerd.
type startParams struct {
	ttrpcAddress string
	socketDir    string
	options      *Any
	// bootstrap: containerd spoke the bootstrap protocol (containerd 2.3
	// and later), which expects a BootstrapResult back and speaks task API
	// v3. Older containerd read a plain socket address and use task API v2.
	bootstrap bool
}

// readStartParams decodes start's stdin: a BootstrapParams message from
// containerd 2.3 and later, or the runtime options (an Any) from older ones,
// or nothing.
func readStartParams(f *Flags, stdin []byte) (*startParams, error) {
	p := &startParams{ttrpcAddress: os.Getenv("TTRPC_ADDRESS"), socketDir: defaultSocketDir}
	if len(stdin) == 0 {
		return p, nil
	}
	if bp, err := decodeBootstrapParams(stdin); err == nil && bp.InstanceID == f.ID && bp.Namespace == f.Namespace {
		p.bootstrap = true
		if bp.TTRPCAddress != "" {
			p.ttrpcAddress = bp.TTRPCAddress
		}
		if bp.SocketDir != "" {
			p.socketDir = bp.SocketDir
		}
		for _, ext := range bp.Extensions {
			switch TypeName(ext.TypeURL) {
			case "containerd.runc.v1.Options", "runtimeoptions.v1.Options":
				p.options = ext
			}
		}
		return p, nil
	}
	a, err := DecodeAny(stdin)
	if err != nil {
		return nil, fmt.Errorf("start: stdin is neither bootstrap parameters nor runtime options: %w", err)
	}
	p.options = a
	return p, nil
}

// Start is the start action: it finds the daemon of the container's group
// (its socket answers) or starts one, the program daemon, listening on a
// new socket, and tells containerd where it is. Its working directory is
// the container's bundle.
func Start(f *Flags, daemon string) error {
	stdin, err := io.ReadAll(io.LimitReader(os.Stdin, 10<<20))
	if err != nil {
		return fmt.Errorf("start: read stdin: %w", err)
	}
	params, err := readStartParams(f, stdin)
	if err != nil {
		return err
	}
	opts, err := ParseOptions(params.options)
	if err != nil {
		return err
	}
	grouping, err := groupOf(f.ID, "config.json")
	if err != nil {
		return err
	}
	address := SocketAddress(params.socketDir, f.Address, f.Namespace, grouping)
	l, err := listenSocket(address)
	if errors.Is(err, errShimRunning) {
		// Another container of the group has its daemon already.
		if err := os.WriteFile("address", []byte(address), 0o600); err != nil {
			return err
		}
		return reply(params, address)
	}
	if err != nil {
		return err
	}
	// The socket stays: closing our listener must not unlink it.
	l.SetUnlinkOnClose(false)
	defer l.Close()
	sock, err := l.File()
	if err != nil {
		RemoveSocket(address)
		return err
	}
	args := []string{"-namespace", f.Namespace, "-id", f.ID, "-address", f.Address}
	if f.Debug {
		args = append(args, "-debug")
	}
	cmd := exec.Command(daemon, args...)
	cmd.Dir, _ = os.Getwd()
	cmd.Env = append(os.Environ(), "TTRPC_ADDRESS="+params.ttrpcAddress)
	cmd.ExtraFiles = []*os.File{sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		RemoveSocket(address)
		return fmt.Errorf("start the shim daemon: %w", err)
	}
	sock.Close()
	fail := func(err error) error {
		_ = cmd.Process.Kill() // the error below is what matters
		RemoveSocket(address)
		return err
	}
	if opts.ShimCgroup != "" {
		if err := joinCgroup(cmd.Process.Pid, opts.ShimCgroup); err != nil {
			return fail(fmt.Errorf("ShimCgroup %s: %w", opts.ShimCgroup, err))
		}
	}
	if err := adjustOOMScore(cmd.Process.Pid); err != nil {
		return fail(err)
	}
	// containerd 1.6 reconnects after a restart through the bundle's
	// address file (later versions keep their own bootstrap.json too).
	if err := os.WriteFile("address", []byte(address), 0o600); err != nil {
		return fail(err)
	}
	_ = cmd.Process.Release()
	return reply(params, address)
}

// reply prints the daemon's address the way containerd asked: a
// BootstrapResult for the bootstrap protocol (task API v3), the plain
// address for older containerd (task API v2).
func reply(p *startParams, address string) error {
	if !p.bootstrap {
		_, err := os.Stdout.WriteString(address)
		return err
	}
	_, err := os.Stdout.Write(bootstrapResult(3, address, "ttrpc"))
	return err
}

// groupOf is the container's group: the value of its first group
// annotation, or its own id.
func groupOf(id, configPath string) (string, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return "", fmt.Errorf("start: read the bundle's config.json: %w", err)
	}
	var spec struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return "", fmt.Errorf("start: decode the bundle's config.json: %w", err)
	}
	for _, a := range groupAnnotations {
		if g, ok := spec.Annotations[a]; ok && g != "" {
			return g, nil
		}
	}
	return id, nil
}

// SocketAddress names the socket of a group: a hash of containerd's
// address, the namespace and the group, so that two containerd daemons or
// namespaces never share a shim.
func SocketAddress(dir, containerdAddress, ns, group string) string {
	sum := sha256.Sum256([]byte(containerdAddress + "\x00" + ns + "\x00" + group))
	return "unix://" + filepath.Join(dir, "berth-"+hex.EncodeToString(sum[:20]))
}

// SocketPath is the file of a socket address.
func SocketPath(address string) string { return strings.TrimPrefix(address, "unix://") }

var errShimRunning = errors.New("a shim answers on the socket")

// listenSocket listens on the address, private to the shim's user (mode
// 0600 from the start: the umask is set while the socket is made, in this
// short-lived process). An address whose socket answers is errShimRunning;
// a stale socket file is replaced.
func listenSocket(address string) (*net.UnixListener, error) {
	path := SocketPath(address)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		old := unix.Umask(0o177)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		unix.Umask(old)
		if err == nil {
			return l, nil
		}
		if errors.Is(err, unix.ENOENT) && try < 3 {
			// The directory went away under us (emptied and removed).
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, err
			}
			continue
		}
		if !errors.Is(err, unix.EADDRINUSE) || try > 3 {
			return nil, fmt.Errorf("shim socket %s: %w", path, err)
		}
		if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
			conn.Close()
			return nil, errShimRunning
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("remove stale shim socket: %w", err)
		}
		try = 3 // one more listen after removing a stale socket
	}
}

// RemoveSocket removes the socket file of address.
func RemoveSocket(address string) {
	_ = os.Remove(SocketPath(address)) // gone already is fine
}

// adjustOOMScore makes the daemon a little more likely to be OOM-killed than
// containerd (its parent is ours), as containerd's shims are.
func adjustOOMScore(pid int) error {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(os.Getppid()) + "/oom_score_adj")
	if err != nil {
		return nil // no parent score to follow
	}
	score, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return nil
	}
	score = min(score+1, 1000)
	err = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(strconv.Itoa(score)), 0)
	if err != nil && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("set the shim's oom_score_adj: %w", err)
	}
	return nil
}

// joinCgroup moves pid into the cgroup path (relative to every hierarchy).
func joinCgroup(pid int, path string) error {
	var files []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		files = []string{filepath.Join("/sys/fs/cgroup", path, "cgroup.procs")}
	} else {
		hs, _ := filepath.Glob("/sys/fs/cgroup/*")
		for _, h := range hs {
			if fi, err := os.Lstat(h); err == nil && fi.IsDir() {
				if _, err := os.Stat(filepath.Join(h, path)); err == nil {
					files = append(files, filepath.Join(h, path, "cgroup.procs"))
				}
			}
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("no such cgroup")
	}
	for _, f := range files {
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0); err != nil {
			return err
		}
	}
	return nil
}
