package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// usage is what one process cost: wall time from fork to reaped exit, CPU
// (user and system, its own and that of the descendants it reaped) and its
// peak resident set as wait4 reports it (the largest of the process and the
// descendants it reaped; see peakRSS for why the report does not use it).
type usage struct {
	WallMS   float64
	UserMS   float64
	SysMS    float64
	MaxRSSKB int64
}

func (u usage) CPUMS() float64 { return u.UserMS + u.SysMS }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// spawner starts the runtimes: stdin from /dev/null, stderr to an unlinked
// temporary file that is read only when the command fails, in a process
// group of their own (a ^C on the terminal reaches the benchmark, which
// stops between operations and cleans up, not the runtime in mid-operation).
type spawner struct {
	env     []string
	devnull *os.File
	tmpDir  string
	timeout time.Duration
}

func newSpawner(tmpDir string, timeout time.Duration) (*spawner, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &spawner{
		env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME=/root",
		},
		devnull: devnull,
		tmpDir:  tmpDir,
		timeout: timeout,
	}, nil
}

// run runs argv to completion, with env added to the environment, and
// reports its usage. stdout nil means /dev/null. A non-zero exit is an error
// carrying the end of stderr.
func (s *spawner) run(argv []string, stdout *os.File, env []string) (usage, error) {
	if stdout == nil {
		stdout = s.devnull
	}
	errf, err := os.CreateTemp(s.tmpDir, "stderr-*")
	if err != nil {
		return usage{}, err
	}
	_ = os.Remove(errf.Name()) // unlinked: gone when the last holder closes it
	defer errf.Close()
	attr := &os.ProcAttr{
		Dir:   "/",
		Env:   append(append([]string(nil), s.env...), env...),
		Files: []*os.File{s.devnull, stdout, errf},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	start := time.Now()
	p, err := os.StartProcess(argv[0], argv, attr)
	if err != nil {
		return usage{}, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	timer := time.AfterFunc(s.timeout, func() { _ = p.Kill() })
	st, err := p.Wait()
	wall := time.Since(start)
	timer.Stop()
	if err != nil {
		return usage{}, fmt.Errorf("%s: wait: %w", strings.Join(argv, " "), err)
	}
	u := usageOf(st)
	u.WallMS = ms(wall)
	if !st.Success() {
		return u, fmt.Errorf("%s: %v%s", strings.Join(argv, " "), st, tail(errf))
	}
	return u, nil
}

// timeBin is GNU time. It forks (it does not vfork) from a process of about
// 1 MB, so the peak RSS it reports is the runtime's own. A process forked or
// vforked by the benchmark itself would report at least the benchmark's own
// peak (Linux carries the pre-exec memory's high-water mark into ru_maxrss),
// which hides anything smaller than about 9 MB.
const timeBin = "/usr/bin/time"

// peakRSS runs argv under GNU time and returns its peak resident set in KiB:
// the largest of the process itself and the children it reaped.
func (s *spawner) peakRSS(argv []string, env []string) (int64, error) {
	out, err := os.CreateTemp(s.tmpDir, "rss-*")
	if err != nil {
		return 0, err
	}
	out.Close()
	defer os.Remove(out.Name())
	if _, err := s.run(append([]string{timeBin, "-f", "%M", "-o", out.Name(), "--"}, argv...), nil, env); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		return 0, err
	}
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		return 0, fmt.Errorf("%s wrote nothing", timeBin)
	}
	var kb int64
	if _, err := fmt.Sscan(lines[len(lines)-1], &kb); err != nil {
		return 0, fmt.Errorf("%s output %q: %w", timeBin, data, err)
	}
	return kb, nil
}

func usageOf(st *os.ProcessState) usage {
	u := usage{UserMS: ms(st.UserTime()), SysMS: ms(st.SystemTime())}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		u.MaxRSSKB = ru.Maxrss
	}
	return u
}

// tail is the last lines of a command's stderr, for error messages.
func tail(f *os.File) string {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(f, 1<<16))
	text := strings.TrimSpace(string(data))
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return ": " + strings.Join(lines, " | ")
}

// orphan is a container init that the benchmark adopted: the runtime that
// forked it has exited and the benchmark is a child subreaper, so the init is
// its child now and is reaped as soon as it exits, as containerd's shim
// would. (A zombie init would look alive to runtimes that probe with
// kill(pid, 0).)
type orphan struct {
	pid  int
	done chan struct{}
	use  usage
	err  error
}

func adopt(pid int) *orphan {
	o := &orphan{pid: pid, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		p, err := os.FindProcess(pid)
		if err != nil {
			o.err = err
			return
		}
		st, err := p.Wait()
		if err != nil {
			o.err = err
			return
		}
		o.use = usageOf(st)
	}()
	return o
}

// wait waits until the init has exited and been reaped.
func (o *orphan) wait(timeout time.Duration) (usage, error) {
	select {
	case <-o.done:
		return o.use, o.err
	case <-time.After(timeout):
		return usage{}, fmt.Errorf("init pid %d still running after %s", o.pid, timeout)
	}
}

func (o *orphan) exited() bool {
	select {
	case <-o.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the init unless it is already gone.
func (o *orphan) kill() {
	if !o.exited() {
		_ = syscall.Kill(o.pid, syscall.SIGKILL)
	}
}

// setSubreaper makes the benchmark the reaper of the container inits whose
// runtime exited (PR_SET_CHILD_SUBREAPER).
func setSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", errno)
	}
	return nil
}

// reapStrays reaps any exited child nobody waits for. Only called while no
// runtime is running (it would steal their exit statuses otherwise).
func reapStrays() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
