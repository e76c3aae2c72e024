package main

import (
	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/image/owned"
)

// The image commands' names, usage and flags, shared by the two builds: the
// default one implements them (image.go); the runtime-only one
// (berth_noimage) hands them to its companion binary (companion.go).

// imageCommandSpecs are the image commands without their actions.
func imageCommandSpecs() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "bundle",
			Usage:     "write an OCI bundle (config.json and rootfs) of an image, pulling it if needed",
			ArgsUsage: "<image> <dir> [-- command args...]",
			Flags: append(pullFlags(),
				&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "set process.terminal"},
				&cli.BoolFlag{Name: "rootless", Usage: "a config for an unprivileged user (as berth spec --rootless)"},
			),
		},
		{
			Name:  "gc",
			Usage: "remove the blobs and unpacked layers of the image store that no image uses",
		},
		{
			Name:  "images",
			Usage: "list the images in the image store",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
				&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the names"},
			},
		},
		{
			Name:      "pull",
			Usage:     "fetch an image into the image store and print its manifest digest",
			ArgsUsage: "<registry/name[:tag|@digest] | oci:DIR[:TAG] | oci-archive:FILE[:TAG]>",
			Flags: append(pullFlags(),
				&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
			),
		},
		{
			Name:      "rmi",
			Usage:     "remove images from the image store, and the blobs no other image uses",
			ArgsUsage: "<image>...",
		},
	}
}

// imageGlobalFlags are the global flags of the image commands.
func imageGlobalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-store", Value: owned.DefaultStore, EnvVars: []string{"BERTH_IMAGE_STORE"}, Usage: "directory of the image store (pull, images, bundle, run --image)"},
	}
}

// imageRunFlags are run's flags for --image.
func imageRunFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "image", Usage: "run this image (pulled if missing) instead of a bundle: berth run --image REF ID [-- command args...]"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "with --image: give the container a terminal"},
	}, pullFlags()...)
}

// pullFlags are shared by the commands that may pull.
func pullFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "platform", Usage: "OS/ARCH[/VARIANT] to take from a multi-platform image (default: this host's)"},
		&cli.BoolFlag{Name: "insecure", Usage: "allow plain HTTP to a registry that is not on the loopback interface"},
		&cli.StringFlag{Name: "authfile", Usage: "registry credentials file (docker config.json format), read before $REGISTRY_AUTH_FILE, podman's and docker's"},
	}
}
