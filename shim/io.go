package shim

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/fifo"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/runtime"
)

// stdio is a process's standard streams as containerd names them: fifo
// paths (the usual case), or for stdout and stderr a URI: file:///path
// (appended to), binary:///path?args (a logging binary, containerd's
// protocol: it reads fds 3 and 4 and closes fd 5 once ready).
type stdio struct {
	stdin, stdout, stderr string
	terminal              bool
}

// processIO connects a process's pipes or pty to containerd's streams. It
// is opened before the process starts (so that a stream that cannot be
// opened fails the request and starts nothing) and attached after.
type processIO struct {
	sio stdio

	stdin     io.ReadCloser // the stdin fifo, read by the copy into the process
	stdinKeep io.Closer     // our writer on the stdin fifo: its EOF waits for CloseIO
	stdout    io.WriteCloser
	stderr    io.WriteCloser
	keep      []io.Closer // readers held on output fifos (see openOutput)

	logBinary *exec.Cmd // binary:// logger, started by attach
	logPipes  []*os.File

	console  *os.File // pty master of a terminal process
	attached bool     // copies started: they close the outputs
	copies   sync.WaitGroup
	closeMu  sync.Mutex
	closed   bool
}

// openIO opens the streams of a process about to start.
func openIO(ctx context.Context, sio stdio, ns, id string) (_ *processIO, retErr error) {
	p := &processIO{sio: sio}
	defer func() {
		if retErr != nil {
			p.close()
		}
	}()
	if sio.stdin != "" {
		in, err := fifo.OpenFifo(ctx, sio.stdin, unix.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("open stdin %s: %w", sio.stdin, err)
		}
		p.stdin = in
		// Held open until CloseIO, so that a client that goes away (or
		// a containerd restart) is no end of input for the process.
		keep, err := fifo.OpenFifo(ctx, sio.stdin, unix.O_WRONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("open stdin %s: %w", sio.stdin, err)
		}
		p.stdinKeep = keep
	}
	u, err := url.Parse(sio.stdout)
	if err == nil && (u.Scheme == "binary" || u.Scheme == "file") {
		return p, p.openLogURI(u, ns, id)
	}
	if p.stdout, err = p.openOutput(ctx, sio.stdout); err != nil {
		return nil, err
	}
	if !sio.terminal {
		if p.stderr, err = p.openOutput(ctx, sio.stderr); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// openOutput opens an output fifo for writing (waiting for its reader,
// containerd or its client, which opened it before asking). A reader is
// held on it too, so that writes never fail with EPIPE while containerd
// restarts: the output waits in the fifo and in the pipe.
func (p *processIO) openOutput(ctx context.Context, path string) (io.WriteCloser, error) {
	if path == "" {
		return nil, nil
	}
	w, err := fifo.OpenFifo(ctx, path, unix.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := fifo.OpenFifo(ctx, path, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	p.keep = append(p.keep, r)
	return w, nil
}

// openLogURI sets up file:// and binary:// outputs.
func (p *processIO) openLogURI(u *url.URL, ns, id string) error {
	switch u.Scheme {
	case "file":
		f, err := os.OpenFile(u.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("stdout %s: %w", u, err)
		}
		// One file for both outputs: closed when every copy is done
		// (a terminal has one output).
		users := 2
		if p.sio.terminal {
			users = 1
		}
		shared := &sharedFile{f: f, users: users}
		p.stdout, p.stderr = shared, shared
		return nil
	case "binary":
		var args []string
		for k, vs := range u.Query() {
			args = append(args, k)
			if len(vs) > 0 && vs[0] != "" {
				args = append(args, vs[0])
			}
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			return err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return err
		}
		cmd := exec.Command(u.Path, args...)
		cmd.Env = append(os.Environ(), "CONTAINER_ID="+id, "CONTAINER_NAMESPACE="+ns)
		cmd.ExtraFiles = []*os.File{outR, errR}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		p.logBinary, p.logPipes = cmd, []*os.File{outR, errR}
		p.stdout, p.stderr = outW, errW
		return nil
	}
	return fmt.Errorf("unsupported stdout URI %s", u)
}

// startLogBinary starts the binary:// logger and waits until it is ready.
// Preconditions: inside a reaper gate (it is a child of the shim).
func (p *processIO) startLogBinary() error {
	if p.logBinary == nil {
		return nil
	}
	waitR, waitW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer waitR.Close()
	p.logBinary.ExtraFiles = append(p.logBinary.ExtraFiles, waitW)
	err = p.logBinary.Start()
	waitW.Close()
	for _, f := range p.logPipes {
		f.Close()
	}
	p.logPipes = nil
	if err != nil {
		return fmt.Errorf("start the logging binary: %w", err)
	}
	_ = p.logBinary.Process.Release() // reaped by the reaper's sweep
	_ = waitR.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	_, _ = waitR.Read(b[:]) // EOF once the logger closed fd 5 (or died)
	return nil
}

// attach starts copying between containerd's streams and the process's
// pipes or pty once it has started.
func (p *processIO) attach(proc *runtime.Process) {
	p.closeMu.Lock()
	p.attached = true
	p.closeMu.Unlock()
	if proc.Console != nil {
		p.console = proc.Console
		if p.stdin != nil {
			go func() {
				_, _ = io.Copy(p.console, p.stdin)
				p.stdin.Close()
			}()
		}
		p.copyOut(p.stdout, p.console)
		return
	}
	if p.stdin != nil {
		go func() {
			_, _ = io.Copy(proc.Stdin, p.stdin) // until CloseIO and the client closed it
			proc.Stdin.Close()
			p.stdin.Close()
		}()
	} else if proc.Stdin != nil {
		proc.Stdin.Close() // no stdin: the process reads EOF
	}
	p.copyOut(p.stdout, proc.Stdout)
	p.copyOut(p.stderr, proc.Stderr)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyOut copies a process's output until it ends (every writer of the
// pipe closed it, or the pty's last slave closed), then closes dst.
func (p *processIO) copyOut(dst io.WriteCloser, src io.Reader) {
	if src == nil {
		return
	}
	if dst == nil {
		dst = nopCloser{io.Discard}
	}
	p.copies.Add(1)
	go func() {
		defer p.copies.Done()
		buf := copyBufs.Get().(*[]byte)
		_, _ = io.CopyBuffer(dst, src, *buf)
		copyBufs.Put(buf)
		dst.Close()
		if c, ok := src.(io.Closer); ok && src != io.Reader(p.console) {
			c.Close()
		}
	}()
}

// closeStdin ends the process's input once the client's writes are read
// (CloseIO).
func (p *processIO) closeStdin() {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.stdinKeep != nil {
		p.stdinKeep.Close()
		p.stdinKeep = nil
	}
}

// resize sets the pty's window size.
func (p *processIO) resize(width, height uint32) error {
	if p.console == nil {
		return fmt.Errorf("the process has no terminal")
	}
	return unix.IoctlSetWinsize(int(p.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(height), Col: uint16(width)})
}

// wait waits for the output copies to finish, at most timeout.
func (p *processIO) wait(timeout time.Duration) {
	done := make(chan struct{})
	go func() { p.copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		logrus.Warn("output of an exited process still copying; closing its streams")
	}
}

// close releases everything (after the process exited and its output was
// copied).
func (p *processIO) close() {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, c := range []io.Closer{p.stdinKeep, p.stdin, p.console} {
		if c != nil && c != io.Closer((*os.File)(nil)) {
			c.Close()
		}
	}
	if !p.attached {
		// No process ever wrote: the client's readers see EOF now.
		for _, c := range []io.WriteCloser{p.stdout, p.stderr} {
			if c != nil {
				c.Close()
			}
		}
	}
	for _, c := range p.keep {
		c.Close()
	}
	for _, f := range p.logPipes {
		f.Close()
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// sharedFile is one file written by several copies; the last Close closes
// it.
type sharedFile struct {
	f     *os.File
	mu    sync.Mutex
	users int
}

func (s *sharedFile) Write(b []byte) (int, error) { return s.f.Write(b) }

func (s *sharedFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users--; s.users == 0 {
		return s.f.Close()
	}
	return nil
}
