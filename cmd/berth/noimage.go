//go:build berth_noimage

package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/runtime"
)

// A build with the berth_noimage tag is the runtime alone: no image store
// commands, no registry client or decompressors in the binary, which
// every berth process and container init then start without.

func imageCommands() []*cli.Command { return nil }

func imageGlobalFlags() []cli.Flag { return nil }

func imageRunFlags() []cli.Flag { return nil }

func runImage(*cli.Context, runtime.CreateOptions) error {
	return errors.New("this berth was built without image support (build tag berth_noimage)")
}
