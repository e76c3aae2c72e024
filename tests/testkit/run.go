package testkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultTimeout bounds a command whose Cmd sets no Timeout.
const DefaultTimeout = time.Minute

// Cmd is one command to run, and how.
type Cmd struct {
	Path string   // the program
	Args []string // its arguments, without Path
	// Wrap runs the program through another one (setpriv ..., a shim):
	// Wrap[0] Wrap[1:]... Path Args...
	Wrap       []string
	Dir        string
	Env        []string   // nil: the test binary's environment
	Stdin      io.Reader  // nil: /dev/null
	ExtraFiles []*os.File // fds 3...
	Timeout    time.Duration
	// OutDir holds the two files that take stdout and stderr while the
	// command runs ("": the system's temporary directory). Files, not
	// pipes: a container process that inherits them must not hold up the
	// wait for the command.
	OutDir string
	// Group puts the command in a process group of its own; the timeout
	// and Kill then kill the whole group.
	Group bool
}

// Command builds the exec.Cmd of c, with its stdio left to the caller.
func (c Cmd) Command(ctx context.Context) *exec.Cmd {
	name, args := c.Path, c.Args
	if len(c.Wrap) > 0 {
		name = c.Wrap[0]
		args = append(append(append([]string{}, c.Wrap[1:]...), c.Path), c.Args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdin = c.Stdin
	cmd.ExtraFiles = c.ExtraFiles
	if c.Group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	return cmd
}

// Result is what a finished command did.
type Result struct {
	Args     []string // the program's base name and its arguments
	Stdout   string
	Stderr   string
	Code     int  // exit status; -1 when it did not exit by itself
	TimedOut bool // killed when its timeout passed
	// Err says why it did not run to its own end: it could not start,
	// waiting for it failed, or its timeout killed it.
	Err error
	Dur time.Duration
}

// OK reports whether the command ran and exited 0.
func (r Result) OK() bool { return r.Code == 0 && r.Err == nil }

// Output is stdout and stderr together, for assertions on messages.
func (r Result) Output() string { return r.Stdout + "\n" + r.Stderr }

// LastLine is the last non-empty line of stdout, trimmed.
func (r Result) LastLine() string {
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Panicked reports whether the output holds a Go panic or runtime trace.
func (r Result) Panicked() bool {
	out := r.Stdout + r.Stderr
	return strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") || strings.Contains(out, "SIGSEGV")
}

// String describes the command and its output, for failure messages.
func (r Result) String() string {
	s := fmt.Sprintf("`%s` exited %d after %v", strings.Join(r.Args, " "), r.Code, r.Dur.Round(time.Millisecond))
	if r.Err != nil {
		s += fmt.Sprintf(" (%v)", r.Err)
	}
	return s + fmt.Sprintf("\n--- stdout:\n%s\n--- stderr:\n%s", clip(r.Stdout), clip(r.Stderr))
}

// clip keeps failure messages readable when a command printed pages.
func clip(s string) string {
	const keep = 3000
	if len(s) <= 2*keep {
		return s
	}
	return s[:keep] + fmt.Sprintf("\n...[%d bytes clipped]...\n", len(s)-2*keep) + s[len(s)-keep:]
}

// Proc is a started command.
type Proc struct {
	cmd      *exec.Cmd
	group    bool
	outPath  string
	done     chan struct{} // closed when the command has ended
	ended    atomic.Bool   // set just before done is closed
	timedOut atomic.Bool
	res      Result
}

// Start starts c without waiting for it. When it cannot start, the error
// is returned and also makes up the Result that Wait returns at once.
func Start(c Cmd) (*Proc, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	cmd := c.Command(context.Background())
	p := &Proc{cmd: cmd, group: c.Group, done: make(chan struct{})}
	p.res.Args = append([]string{filepath.Base(cmd.Path)}, cmd.Args[1:]...)
	outF, err1 := os.CreateTemp(c.OutDir, ".stdout-")
	errF, err2 := os.CreateTemp(c.OutDir, ".stderr-")
	if err := errors.Join(err1, err2); err != nil {
		for _, f := range []*os.File{outF, errF} {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}
		return p.failed(fmt.Errorf("files for the output of %s: %w", cmd.Path, err))
	}
	p.outPath = outF.Name()
	cmd.Stdout, cmd.Stderr = outF, errF
	started := time.Now()
	if err := cmd.Start(); err != nil {
		collect(&p.res, outF, errF)
		return p.failed(err)
	}
	timer := time.AfterFunc(timeout, func() {
		p.timedOut.Store(true)
		p.kill()
	})
	go func() {
		err := cmd.Wait()
		timer.Stop()
		p.res.Dur = time.Since(started)
		p.res.Code = cmd.ProcessState.ExitCode()
		switch {
		case p.timedOut.Load():
			p.res.TimedOut = true
			p.res.Err = fmt.Errorf("killed after its timeout of %v", timeout)
		case err != nil && !errors.As(err, new(*exec.ExitError)):
			p.res.Err = err
		}
		collect(&p.res, outF, errF)
		p.end()
	}()
	return p, nil
}

func (p *Proc) failed(err error) (*Proc, error) {
	p.res.Code, p.res.Err = -1, err
	p.end()
	return p, err
}

func (p *Proc) end() {
	p.ended.Store(true)
	close(p.done)
}

// collect reads the output files into r and removes them.
func collect(r *Result, outF, errF *os.File) {
	out, _ := os.ReadFile(outF.Name())
	errOut, _ := os.ReadFile(errF.Name())
	r.Stdout, r.Stderr = string(out), string(errOut)
	for _, f := range []*os.File{outF, errF} {
		f.Close()
		os.Remove(f.Name())
	}
}

// Run runs c to its end.
func Run(c Cmd) Result {
	p, _ := Start(c) // a start failure is in the Result
	return p.Wait()
}

// Wait waits for the command to end.
func (p *Proc) Wait() Result {
	<-p.done
	return p.res
}

// WaitFor waits at most d for the command to end; false when it did not.
func (p *Proc) WaitFor(d time.Duration) (Result, bool) {
	select {
	case <-p.done:
		return p.res, true
	case <-time.After(d):
		return Result{}, false
	}
}

// Exited reports whether the command has ended (or never started).
func (p *Proc) Exited() bool { return p.ended.Load() }

// Kill sends SIGKILL to the command (to its process group with Group; not
// to what it started elsewhere) and waits for it.
func (p *Proc) Kill() Result {
	p.kill()
	return p.Wait()
}

func (p *Proc) kill() {
	if p.cmd.Process == nil {
		return
	}
	if p.group {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // it may have ended already
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
}

// Signal sends sig to the command.
func (p *Proc) Signal(sig os.Signal) error {
	if p.cmd.Process == nil {
		return errors.New("the command did not start")
	}
	return p.cmd.Process.Signal(sig)
}

// Pid is the command's process id (0 when it did not start).
func (p *Proc) Pid() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// StdoutSoFar is what the command has written to stdout until now.
func (p *Proc) StdoutSoFar() string {
	if p.Exited() {
		return p.res.Stdout
	}
	data, _ := os.ReadFile(p.outPath)
	return string(data)
}
