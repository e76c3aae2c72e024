package robustness

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/tests/testkit"
)

// listFDs is a container command printing the fds of the shell itself
// (ls runs as its child, so its own directory fd is not among them).
const listFDs = `ls /proc/$$/fd; :`

// fdSet parses the fd numbers ls printed, sorted.
func fdSet(out string) []int {
	var fds []int
	for _, f := range strings.Fields(out) {
		if n, err := strconv.Atoi(f); err == nil {
			fds = append(fds, n)
		}
	}
	sort.Ints(fds)
	return fds
}

// hostFDs lists the fds of a host pid with their targets.
func hostFDs(pid int) ([]int, []string) {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var fds []int
	var desc []string
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		fds = append(fds, n)
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, n))
		desc = append(desc, fmt.Sprintf("%d -> %s", n, l))
	}
	sort.Ints(fds)
	return fds, desc
}

func tempFiles(t *testing.T, dir string, n int) []*os.File {
	var fs []*os.File
	for i := 0; i < n; i++ {
		f, err := os.CreateTemp(dir, "extra")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fs = append(fs, f)
	}
	return fs
}

// TestNoRuntimeFDsInContainer: the container's processes see only their
// stdio and the --preserve-fds ones, for run, create+start and exec.
func TestNoRuntimeFDsInContainer(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sh", "-c", listFDs)
	for _, c := range []struct {
		preserve int
		want     string
	}{{0, "[0 1 2]"}, {2, "[0 1 2 3 4]"}} {
		r := w.start(opts{extra: tempFiles(t, w.Dir, c.preserve)}, "run", "--preserve-fds", strconv.Itoa(c.preserve), "--bundle", b.Dir, w.NewID()).Wait()
		if got := fmt.Sprint(fdSet(r.Stdout)); !r.OK() || got != c.want {
			t.Errorf("run --preserve-fds %d: container fds %s, want %s: %s", c.preserve, got, c.want, r)
		}
	}

	b2 := w.newBundle("sleep", "1000")
	id := w.NewID()
	w.must("create", "--bundle", b2.Dir, id)
	st := w.waitStatus(id, "created", 10*time.Second)
	if fds, desc := hostFDs(st.Pid); fmt.Sprint(fds) != "[0 1 2]" {
		// The waiting init holds the exec fifo until start.
		t.Logf("created init's fds (before start): %v", desc)
	}
	w.must("start", id)
	w.waitStatus(id, "running", 10*time.Second)
	if !waitUntil(2*time.Second, func() bool { fds, _ := hostFDs(st.Pid); return fmt.Sprint(fds) == "[0 1 2]" }) {
		_, desc := hostFDs(st.Pid)
		t.Errorf("create+start: init fds %v, want only 0 1 2", desc)
	}
	for _, c := range []struct {
		preserve int
		want     string
	}{{0, "[0 1 2]"}, {1, "[0 1 2 3]"}} {
		r := w.start(opts{extra: tempFiles(t, w.Dir, c.preserve)}, "exec", "--preserve-fds", strconv.Itoa(c.preserve), id, "sh", "-c", listFDs).Wait()
		if got := fmt.Sprint(fdSet(r.Stdout)); !r.OK() || got != c.want {
			t.Errorf("exec --preserve-fds %d: fds %s, want %s: %s", c.preserve, got, c.want, r)
		}
	}
	pid := w.execDetached(id, "sleep", "1000")
	// exec --detach returns once the process is set up, as runc's does; it
	// executes the command a moment later. What counts is what it holds then.
	if !waitUntil(2*time.Second, func() bool { fds, _ := hostFDs(pid); return fmt.Sprint(fds) == "[0 1 2]" }) {
		_, desc := hostFDs(pid)
		t.Errorf("exec --detach: process %d has fds %v, want only 0 1 2", pid, desc)
	}
	if fds, desc := hostFDs(st.Pid); fmt.Sprint(fds) != "[0 1 2]" {
		t.Errorf("after exec, init has fds %v, want only 0 1 2", desc)
	}
}

// TestCwdOutsideRootfs: a process.cwd (or exec --cwd) of /proc/self/fd/N
// cannot put the process in a host directory (the runc CVE-2024-21626
// class): the container fails to start, or stays inside and cannot read a
// host file through "..".
func TestCwdOutsideRootfs(t *testing.T) {
	w := newWorld(t)
	secret := fmt.Sprintf("HOST-SECRET-%d-%d", os.Getpid(), time.Now().UnixNano())
	secretPath := filepath.Join(w.Dir, "secret.txt")
	if err := os.WriteFile(secretPath, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	climb := strings.Repeat("../", 16) + strings.TrimPrefix(secretPath, "/")
	script := "pwd; cat " + climb + "; cat /proc/self/cwd/" + climb + "; :"
	b := w.newBundle("sh", "-c", script)
	started := 0
	for n := 3; n <= 10; n++ {
		b.Edit(func(s *specs.Spec) { s.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n) })
		r := w.start(opts{timeout: 15 * time.Second}, "run", "--bundle", b.Dir, w.NewID()).Wait()
		if strings.Contains(r.Stdout+r.Stderr, secret) {
			t.Errorf("process.cwd /proc/self/fd/%d: the container read a host file: %s", n, r)
		}
		if r.OK() {
			started++
		}
		if r.TimedOut || r.Panicked() {
			t.Errorf("process.cwd /proc/self/fd/%d: %s", n, r)
		}
	}
	b2 := w.newBundle("sleep", "1000")
	id := w.NewID()
	w.must("run", "--detach", "--bundle", b2.Dir, id)
	for n := 3; n <= 10; n++ {
		r := w.start(opts{timeout: 15 * time.Second}, "exec", "--cwd", fmt.Sprintf("/proc/self/fd/%d", n), id, "sh", "-c", script).Wait()
		if strings.Contains(r.Stdout+r.Stderr, secret) {
			t.Errorf("exec --cwd /proc/self/fd/%d: the process read a host file: %s", n, r)
		}
		if r.OK() {
			started++
		}
	}
	t.Logf("16 attempts, %d started (and stayed inside)", started)
}

// TestRuntimeBinaryNotWritable: a container that tries to write berth's
// binary through /proc/<pid>/exe of every process it sees (the runc
// CVE-2019-5736 class), while berth execs processes into it, changes
// nothing. The test runs a private copy of berth, so that a failure cannot
// damage bin/berth.
func TestRuntimeBinaryNotWritable(t *testing.T) {
	w := newWorld(t)
	bin := filepath.Join(w.Dir, "berth-copy")
	data, err := os.ReadFile(setup.Binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	before := sha256.Sum256(data)
	// For every other process: keep a read fd on its exe, and once the
	// process is gone, reopen that fd for writing; and write the exe
	// path directly. Results go to /result in the rootfs.
	attack := `
end=$(( $(date +%s) + 4 ))
while [ $(date +%s) -lt $end ]; do
  for p in /proc/[0-9]*; do
    e=$(readlink $p/exe) || continue
    case "$e" in ""|/bin/busybox) continue;; esac
    echo "$e" >> /seen
    echo x > $p/exe && echo "OVERWROTE $p/exe ($e)" >> /result
    ( exec 3<"$p/exe" || exit; sleep 0.3; echo x >/proc/self/fd/3 && echo "OVERWROTE via fd of $p ($e)" >> /result ) &
  done
done 2>/dev/null
wait
echo done > /finished`
	b := w.newBundle("sh", "-c", attack)
	id := w.NewID()
	if r := w.start(opts{bin: bin}, "run", "--detach", "--bundle", b.Dir, id).Wait(); !r.OK() {
		t.Fatalf("run: %s", r)
	}
	deadline := time.Now().Add(3 * time.Second)
	execs := 0
	for time.Now().Before(deadline) {
		args := []string{"exec", id, "true"}
		if execs%2 == 1 {
			args = []string{"exec", id, "sh", "-c", "echo x > /proc/self/exe; echo x > /proc/$PPID/exe; :"}
		}
		w.start(opts{bin: bin, timeout: 10 * time.Second}, args...).Wait()
		execs++
	}
	if !waitUntil(10*time.Second, func() bool { return fileExists(b.Rootfs("finished")) }) {
		t.Errorf("the attacking container did not finish")
	}
	after, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(after) != before {
		t.Errorf("the container changed berth's binary (%d bytes now, was %d)", len(after), len(data))
	}
	if res, _ := os.ReadFile(b.Rootfs("result")); len(res) > 0 {
		t.Errorf("the container wrote through /proc/<pid>/exe:\n%s", res)
	}
	seen, _ := os.ReadFile(b.Rootfs("seen"))
	exes := map[string]bool{}
	for _, l := range strings.Split(string(seen), "\n") {
		if l != "" {
			exes[l] = true
		}
	}
	t.Logf("%d execs into the container; executables it saw: %v", execs, exes)
	w.must("delete", "--force", id)

	// A stationary target: the init of a created container waits in
	// berth's code until start. Processes exec'd into the container see it
	// as pid 1.
	b2 := w.newBundle("sleep", "1000")
	id2 := w.NewID()
	if r := w.start(opts{bin: bin}, "create", "--bundle", b2.Dir, id2).Wait(); !r.OK() {
		t.Fatalf("create: %s", r)
	}
	r := w.start(opts{bin: bin}, "exec", id2, "sh", "-c", `echo "exe: $(readlink /proc/1/exe)"
echo x > /proc/1/exe && echo OVERWROTE-exe
( exec 3</proc/1/exe && echo x > /proc/self/fd/3 && echo OVERWROTE-fd )
:`).Wait()
	if !r.OK() || strings.Contains(r.Stdout, "OVERWROTE") {
		t.Errorf("writing the waiting init's executable from inside: %s", r)
	}
	t.Logf("the waiting init's executable, seen from inside: %s", strings.TrimSpace(strings.Split(r.Stdout, "\n")[0]))
	if after, _ := os.ReadFile(bin); sha256.Sum256(after) != before {
		t.Errorf("the container changed berth's binary through the waiting init")
	}
	w.start(opts{bin: bin}, "delete", "--force", id2).Wait()
}

// TestMaskedAndReadonlyPaths: with CAP_SYS_ADMIN in the container (so that
// only the mounts stand in the way), every masked path that exists on this
// kernel is covered and reads empty, and the read-only ones cannot be
// written, for the init and for exec. (The probes write back the values
// they read, so that a failure changes nothing.)
func TestMaskedAndReadonlyPaths(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle()
	var masked []string
	probe := "awk '{print \"MOUNT\", $5}' /proc/self/mountinfo\n"
	for _, p := range b.Spec.Linux.MaskedPaths {
		fi, err := os.Stat(p)
		if err != nil {
			continue // not on this kernel: nothing to mask
		}
		masked = append(masked, p)
		if fi.IsDir() {
			probe += fmt.Sprintf("echo \"SIZE %s $(ls -A %s | wc -l)\"\n", p, p)
		} else {
			probe += fmt.Sprintf("echo \"SIZE %s $(head -c 64 %s | wc -c)\"\n", p, p)
		}
	}
	probe += `echo 1 > /proc/sys/vm/drop_caches && echo WROTE-proc-sys
v=$(cat /proc/sys/kernel/sysrq); echo "$v" > /proc/sys/kernel/sysrq && echo WROTE-sysrq
[ -e /sys/fs/cgroup/pids/pids.max ] && echo max > /sys/fs/cgroup/pids/pids.max && echo WROTE-cgroup
[ -e /sys/fs/cgroup/pids.max ] && echo max > /sys/fs/cgroup/pids.max && echo WROTE-cgroup
v=$(cat /sys/kernel/profiling); echo "$v" > /sys/kernel/profiling && echo WROTE-sysfs
:`
	b.Edit(func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "sleep 1000"}
		testkit.AddCaps(s, "CAP_SYS_ADMIN")
	})
	check := func(who, out string) {
		for _, p := range masked {
			if !strings.Contains(out, "MOUNT "+p+"\n") {
				t.Errorf("%s: masked path %s has no mount over it", who, p)
			}
			if !strings.Contains(out, "SIZE "+p+" 0\n") {
				t.Errorf("%s: masked path %s is not empty", who, p)
			}
		}
		if strings.Contains(out, "WROTE") {
			t.Errorf("%s: wrote to a read-only path:\n%s", who, out)
		}
	}
	id := w.NewID()
	w.must("create", "--bundle", b.Dir, id)
	r := w.start(opts{}, "exec", id, "sh", "-c", probe).Wait()
	if r.Code != 0 {
		t.Fatalf("exec probe: %s", r)
	}
	check("exec", r.Stdout)
	w.must("delete", "--force", id)
	b.Edit(func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", probe} })
	r = w.start(opts{}, "run", "--bundle", b.Dir, w.NewID()).Wait()
	check("run", r.Stdout)
	t.Logf("masked paths present on this kernel: %v", masked)
}

// TestMountPropagationContained: with the bundle on a shared mount and any
// rootfsPropagation, a tmpfs the container mounts is never visible on the
// host.
func TestMountPropagationContained(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle()
	if err := unix.Mount(b.Dir, b.Dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount the bundle onto itself: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(b.Dir, unix.MNT_DETACH) })
	if err := unix.Mount("", b.Dir, "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		t.Fatalf("make the bundle mount shared: %v", err)
	}
	ours := len(mountsUnder(b.Dir))
	for _, prop := range []string{"shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable"} {
		b.Edit(func(s *specs.Spec) {
			s.Linux.RootfsPropagation = prop
			s.Process.Args = []string{"sh", "-c", "mkdir -p /mnt/x && mount -t tmpfs leak /mnt/x && echo in > /mnt/x/flag && echo mounted > /ready && sleep 1000"}
			testkit.AddCaps(s, "CAP_SYS_ADMIN")
		})
		_ = os.Remove(b.Rootfs("ready"))
		id := w.NewID()
		r := w.start(opts{}, "run", "--detach", "--bundle", b.Dir, id).Wait()
		if !r.OK() {
			t.Errorf("rootfsPropagation %s: %s", prop, r)
			continue
		}
		if !waitUntil(10*time.Second, func() bool { return fileExists(b.Rootfs("ready")) }) {
			t.Errorf("rootfsPropagation %s: the container did not mount its tmpfs", prop)
		}
		if m := mountsUnder(b.Dir); len(m) != ours {
			t.Errorf("rootfsPropagation %s: container mounts visible on the host:\n%s", prop, strings.Join(m, "\n"))
		}
		if fileExists(b.Rootfs("mnt/x/flag")) {
			t.Errorf("rootfsPropagation %s: the container's tmpfs content is visible on the host", prop)
		}
		w.must("delete", "--force", id)
		if m := mountsUnder(b.Dir); len(m) != ours {
			t.Errorf("rootfsPropagation %s: mounts left on the host after delete:\n%s", prop, strings.Join(m, "\n"))
		}
	}
}

// receiveFD listens on a new unix socket in dir and returns its path and
// a channel yielding the first fd sent over it (nil when none came).
func receiveFD(t *testing.T, dir string) (string, <-chan *os.File) {
	path := filepath.Join(dir, fmt.Sprintf("s%d.sock", setup.IDs.Next()))
	rcv, err := testkit.ReceiveFD(path, opTimeout)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got *os.File
	ch := make(chan *os.File, 1)
	go func() {
		r := <-rcv.C
		mu.Lock()
		got = r.File
		mu.Unlock()
		ch <- r.File // nil with r.Err
	}()
	t.Cleanup(func() {
		rcv.Close()
		mu.Lock()
		defer mu.Unlock()
		if got != nil {
			got.Close()
		}
	})
	return path, ch
}

// hostTargets makes host files and a directory that container-controlled
// symlinks will point to, and returns a check that they are untouched.
func hostTargets(t *testing.T, w *world, names ...string) (dir string, untouched func(when string)) {
	dir = filepath.Join(w.Dir, fmt.Sprintf("host%d", setup.IDs.Next()))
	if err := os.MkdirAll(filepath.Join(dir, "pts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("original "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func(when string) {
		t.Helper()
		for _, name := range names {
			p := filepath.Join(dir, name)
			fi, err := os.Lstat(p)
			data, _ := os.ReadFile(p)
			if err != nil || !fi.Mode().IsRegular() || string(data) != "original "+name {
				t.Errorf("%s: host file %s changed: %v %v %q", when, p, fi, err, data)
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "pts")); len(ents) > 0 {
			t.Errorf("%s: host directory %s/pts got %d entries (a devpts mounted there?)", when, dir, len(ents))
		}
		if ents, _ := os.ReadDir(dir); len(ents) != len(names)+1 {
			t.Errorf("%s: something was created in the host directory %s: %d entries", when, dir, len(ents))
		}
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("%s: mounts on host paths:\n%s", when, strings.Join(m, "\n"))
		}
	}
}

// TestDeviceSymlinksToHost: container-controlled /dev entries that are
// symlinks to host paths make berth write, mount or create nothing there:
// a rootfs shipping them (with no /dev tmpfs over them), for create with a
// console socket; and a running container that replaced its own /dev
// entries, for exec with a console socket.
func TestDeviceSymlinksToHost(t *testing.T) {
	t.Run("rootfs", func(t *testing.T) {
		w := newWorld(t)
		for _, devs := range [][]string{{"console"}, {"null", "zero", "tty", "ptmx", "pts"}} {
			names := []string{"console", "null", "zero", "tty", "ptmx"}
			hostDir, untouched := hostTargets(t, w, names...)
			b := w.newBundle("sh", "-c", "echo console-ready; sleep 1000")
			if err := os.MkdirAll(b.Rootfs("dev"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, d := range devs {
				if err := os.Symlink(filepath.Join(hostDir, d), b.Rootfs("dev/"+d)); err != nil {
					t.Fatal(err)
				}
			}
			b.Edit(func(s *specs.Spec) {
				s.Process.Terminal = true
				var mounts []specs.Mount
				for _, m := range s.Mounts {
					if m.Destination != "/dev" {
						mounts = append(mounts, m)
					}
				}
				s.Mounts = mounts
			})
			what := fmt.Sprintf("rootfs with /dev/{%s} -> host", strings.Join(devs, ","))
			id := w.NewID()
			sock, ch := receiveFD(t, w.Dir)
			r := w.start(opts{}, "create", "--console-socket", sock, "--bundle", b.Dir, id).Wait()
			untouched(what + ": create")
			if r.Panicked() || r.TimedOut {
				t.Errorf("%s: create: %s", what, r)
			}
			if !r.OK() {
				t.Logf("%s: create refused it: %s", what, strings.TrimSpace(r.Stderr))
				continue
			}
			master := <-ch
			if master == nil {
				t.Fatalf("%s: no pty master received on the console socket", what)
			}
			w.must("start", id)
			if out := testkit.ReadUntil(master, "console-ready", 10*time.Second); !strings.Contains(out, "console-ready") {
				t.Errorf("%s: container output on its console: %q", what, out)
			}
			untouched(what + ": start")
			w.must("delete", "--force", id)
			untouched(what + ": delete")
		}
	})
	t.Run("exec", func(t *testing.T) {
		w := newWorld(t)
		names := []string{"console", "tty", "ptmx", "null"}
		hostDir, untouched := hostTargets(t, w, names...)
		var relink []string
		for _, n := range names {
			relink = append(relink, fmt.Sprintf("rm -f /dev/%s; ln -s %s /dev/%s", n, filepath.Join(hostDir, n), n))
		}
		b := w.newBundle("sh", "-c", strings.Join(relink, "; ")+"; echo relinked > /relinked; sleep 1000")
		id := w.NewID()
		w.must("run", "--detach", "--bundle", b.Dir, id)
		if !waitUntil(10*time.Second, func() bool { return fileExists(b.Rootfs("relinked")) }) {
			t.Fatal("the container did not replace its /dev entries")
		}
		for _, tty := range []bool{true, false} {
			args := []string{"exec", "--detach", id, "sh", "-c", "echo exec-ready; sleep 1000"}
			var ch <-chan *os.File
			if tty {
				var sock string
				sock, ch = receiveFD(t, w.Dir)
				args = append([]string{"exec", "--tty", "--console-socket", sock}, args[1:]...)
			}
			r := w.start(opts{}, args...).Wait()
			untouched(fmt.Sprintf("exec (tty %v)", tty))
			if r.Panicked() || r.TimedOut {
				t.Errorf("exec (tty %v): %s", tty, r)
			}
			if !r.OK() {
				t.Logf("exec (tty %v) refused: %s", tty, strings.TrimSpace(r.Stderr))
				continue
			}
			if tty {
				if m := <-ch; m == nil {
					t.Errorf("exec --tty: no pty master received")
				} else if out := testkit.ReadUntil(m, "exec-ready", 10*time.Second); !strings.Contains(out, "exec-ready") {
					t.Errorf("exec --tty output on its console: %q", out)
				}
			}
		}
		w.must("delete", "--force", id)
		untouched("delete")
	})
}

// TestCreatedInitFDsUnreachable: a process exec'd into a created container
// (its init waits for start) cannot reopen the init's fds for writing
// through /proc/1/fd: the waiting init is berth's Go code, and whatever it
// holds open (cgroup files, the exec fifo, the binary) lives on the host.
// The container has a CPU quota of 50%; lifting it through such an fd
// would escape the limit.
func TestCreatedInitFDsUnreachable(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sleep", "1000")
	quota, period := int64(50000), uint64(100000)
	b.Edit(func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	})
	id := w.NewID()
	w.must("create", "--bundle", b.Dir, id)
	limit := func() string {
		if v, err := cgroupFile(id, "cpu", "cpu.cfs_quota_us"); err == nil {
			return v
		}
		v, _ := cgroupFile(id, "cpu", "cpu.max")
		return v
	}
	before := limit()
	probe := `for f in /proc/1/fd/*; do
  n=${f##*/}
  [ "$n" -le 2 ] 2>/dev/null && continue
  [ -p "$f" ] || [ -S "$f" ] && continue
  t=$(readlink "$f")
  case "$t" in
  *cpu.cfs_quota_us) echo -1 > "$f" && echo "WROTE fd $n -> $t";;
  *cpu.max) echo max > "$f" && echo "WROTE fd $n -> $t";;
  *) ( exec 3>>"$f" ) && echo "OPENED FOR WRITING fd $n -> $t";;
  esac
done 2>/dev/null; ls -l /proc/1/fd/ 2>&1; :`
	r := w.start(opts{}, "exec", id, "sh", "-c", probe).Wait()
	if !r.OK() {
		t.Fatalf("exec into the created container: %s", r)
	}
	if strings.Contains(r.Stdout, "WROTE") || strings.Contains(r.Stdout, "OPENED FOR WRITING") {
		t.Errorf("a process in the created container reopened the waiting init's fds for writing:\n%s", r.Stdout)
	}
	if after := limit(); after != before {
		t.Errorf("the container changed its own CPU limit through the init's fd: %q, was %q", after, before)
	}
	w.must("start", id)
	if after := limit(); after != before {
		t.Errorf("after start the CPU limit is %q, was %q", after, before)
	}
}
