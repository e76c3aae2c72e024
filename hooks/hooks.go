// Package hooks runs OCI hooks as the runtime spec describes them: each hook
// is executed with its path, args and env, receives the container's state as
// JSON on stdin, and is killed when its timeout expires.
//
// libcontainer runs the hooks that must run inside the container's setup
// (prestart, createRuntime, createContainer, startContainer); berth runs
// poststart and poststop itself through this package, so that poststart
// follows the start of the user process and their failures are warnings.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Error is the failure of one hook, named by its kind and index.
type Error struct {
	Kind  string // "poststart", "poststop", ...
	Index int
	Path  string
	Err   error
}

// Error reads as runc's ("error running poststart hook #1: ..."), which
// callers and runc's own tests match, with the hook's path added.
func (e *Error) Error() string {
	return fmt.Sprintf("error running %s hook #%d: %s: %v", e.Kind, e.Index, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs the hooks of one kind in order with st as their stdin and stops at
// the first failure, which it returns as an *Error.
func Run(ctx context.Context, kind string, hs []specs.Hook, st specs.State) error {
	if len(hs) == 0 {
		return nil
	}
	input, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s hooks: encode state: %w", kind, err)
	}
	for i, h := range hs {
		if err := runOne(ctx, h, input); err != nil {
			return &Error{Kind: kind, Index: i, Path: h.Path, Err: err}
		}
	}
	return nil
}

// RunAll runs every hook of one kind, carrying on past failures, and returns
// all failures joined. It suits poststart and poststop, whose failures the
// spec makes warnings.
func RunAll(ctx context.Context, kind string, hs []specs.Hook, st specs.State) error {
	var errs []error
	for i := range hs {
		if err := Run(ctx, kind, hs[i:i+1], st); err != nil {
			var he *Error
			if errors.As(err, &he) {
				he.Index = i
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runOne(ctx context.Context, h specs.Hook, input []byte) error {
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // the spec gives hooks only the env it lists
	}
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// A hook that leaves a child holding its output must not hang berth
	// once the hook itself has exited or been killed.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if h.Timeout != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
