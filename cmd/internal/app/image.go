package app

import (
	"github.com/urfave/cli/v2"

	"github.com/berth-oci/berth/image/store"
)

// ImageCommands are the image commands' names, usage and flags, without
// their actions: berth-image implements them, berth lists them in its help
// and hands them on to berth-image.
func ImageCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "bundle",
			Usage:     "write an OCI bundle (config.json and rootfs) of an image, pulling it if needed",
			ArgsUsage: "<image> <dir> [-- command args...]",
			Flags: append(PullFlags(),
				&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "set process.terminal"},
				&cli.BoolFlag{Name: "rootless", Usage: "a config for an unprivileged user (as berth spec --rootless)"},
				&cli.BoolFlag{Name: "owned", Hidden: true, Usage: "a bundle for berth run --image, which berth removes with the container"},
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
			Flags: append(PullFlags(),
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

// ImageRunFlags are run's flags for --image.
func ImageRunFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "image", Usage: "run this image (pulled if missing) instead of a bundle: berth run --image REF ID [-- command args...]"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "with --image: give the container a terminal"},
	}, PullFlags()...)
}

// PullFlags are shared by the commands that may pull.
func PullFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "platform", Usage: "OS/ARCH[/VARIANT] to take from a multi-platform image (default: this host's)"},
		&cli.BoolFlag{Name: "insecure", Usage: "allow plain HTTP to a registry that is not on the loopback interface"},
		&cli.StringFlag{Name: "authfile", Usage: "registry credentials file (docker config.json format), read before $REGISTRY_AUTH_FILE, podman's and docker's"},
	}
}

// OpenStore opens the image store --image-store names.
func OpenStore(c *cli.Context) (*store.Store, error) {
	return store.Open(c.String("image-store"))
}

// CommandArgs are the arguments given for the container's command, after
// an optional "--".
func CommandArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}
