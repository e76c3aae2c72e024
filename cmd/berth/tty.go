package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/containerd/console"
	"github.com/sirupsen/logrus"

	"github.com/berth-oci/berth/runtime"
)

// attachment connects berth's stdio to a container process running in the
// foreground: through the pty master when the process has a terminal (the
// host terminal in raw mode), or through pipes.
type attachment struct {
	host   console.Console // berth's own terminal, raw while attached
	master console.Console // the container's pty
	output sync.WaitGroup  // copies from the container still running
	closer []io.Closer
}

func attach(proc *runtime.Process) (*attachment, error) {
	a := &attachment{}
	switch {
	case proc.Console != nil:
		host, err := hostConsole()
		if err != nil {
			return nil, err
		}
		master, err := console.ConsoleFromFile(proc.Console)
		if err != nil {
			return nil, fmt.Errorf("container pty: %w", err)
		}
		if err := host.SetRaw(); err != nil {
			return nil, fmt.Errorf("set the terminal to raw mode: %w", err)
		}
		a.host, a.master = host, master
		a.closer = append(a.closer, master)
		go copyAndClose(master, os.Stdin, nil)
		a.copyOut(os.Stdout, master)
	case proc.Stdout != nil:
		go copyAndClose(proc.Stdin, os.Stdin, proc.Stdin)
		a.copyOut(os.Stdout, proc.Stdout)
		a.copyOut(os.Stderr, proc.Stderr)
	}
	return a, nil
}

// hostConsole finds berth's terminal among its stdio, or /dev/tty.
func hostConsole() (console.Console, error) {
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if c, err := console.ConsoleFromFile(f); err == nil {
			return c, nil
		}
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return nil, fmt.Errorf("process.terminal is true but berth has no terminal (run it from one, use --detach with --console-socket, or set process.terminal false): %w", err)
	}
	c, err := console.ConsoleFromFile(tty)
	if err != nil {
		return nil, fmt.Errorf("process.terminal is true but /dev/tty is not usable: %w", err)
	}
	return c, nil
}

func copyAndClose(dst io.Writer, src io.Reader, closer io.Closer) {
	_, _ = io.Copy(dst, src) // ends at EOF or when either side closes
	if closer != nil {
		closer.Close()
	}
}

func (a *attachment) copyOut(dst io.Writer, src io.Reader) {
	a.output.Add(1)
	go func() {
		defer a.output.Done()
		_, _ = io.Copy(dst, src) // ends when the container closes its side
	}()
}

func (a *attachment) resize() {
	if a.host == nil || a.master == nil {
		return
	}
	if err := a.master.ResizeFrom(a.host); err != nil {
		logrus.WithError(err).Debug("resize container pty")
	}
}

// close waits for the container's output to drain, then restores the host
// terminal.
func (a *attachment) close() {
	a.output.Wait()
	for _, c := range a.closer {
		c.Close()
	}
	if a.host != nil {
		if err := a.host.Reset(); err != nil {
			logrus.WithError(err).Warn("restore terminal")
		}
	}
}
