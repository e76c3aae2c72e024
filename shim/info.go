package shim

import (
	"encoding/json"
	"io"
	"os"

	"github.com/berth-oci/berth/linux"
	"github.com/berth-oci/berth/shim/lite"
)

// featuresTypeURL is how containerd registers the runtime spec's features
// document with typeurl (a JSON value).
const featuresTypeURL = "types.containerd.io/opencontainers/runtime-spec/1/features/Features"

// runInfo answers `-info` (containerd 2.x asks, e.g. before it lets a
// container use idmapped mounts): a RuntimeInfo with the shim's name and
// version, the options it was given, and berth's runtime-spec features.
func runInfo(version, commit string) error {
	stdin, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		return err
	}
	var opts *lite.Any
	if len(stdin) > 0 {
		if opts, err = lite.DecodeAny(stdin); err != nil {
			return err
		}
		if _, err := lite.ParseOptions(opts); err != nil {
			return err
		}
	}
	feat, err := json.Marshal(linux.Features(version, commit))
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(runtimeInfo("io.containerd.berth.v2", version, commit, opts, &lite.Any{TypeURL: featuresTypeURL, Value: feat}))
	return err
}
