package shim

import (
	"encoding/json"
	"io"
	"os"

	"github.com/containerd/containerd/api/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/berth-oci/berth/linux"
)

// featuresTypeURL is how containerd registers the runtime spec's features
// document with typeurl (a JSON value).
const featuresTypeURL = "types.containerd.io/opencontainers/runtime-spec/1/features/Features"

// runInfo answers `-info` (containerd 2.x asks, e.g. before it lets a
// container use idmapped mounts): the shim's name and version, the options
// it was given, and berth's runtime-spec features.
func runInfo(version, commit string) error {
	stdin, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		return err
	}
	info := &types.RuntimeInfo{
		Name:    "io.containerd.berth.v2",
		Version: &types.RuntimeVersion{Version: version, Revision: commit},
	}
	if len(stdin) > 0 {
		var a anypb.Any
		if err := proto.Unmarshal(stdin, &a); err == nil {
			if _, err := parseOptions(&a); err != nil {
				return err
			}
			info.Options = &a
		}
	}
	feat, err := json.Marshal(linux.Features(version, commit))
	if err != nil {
		return err
	}
	info.Features = &anypb.Any{TypeUrl: featuresTypeURL, Value: feat}
	data, err := proto.Marshal(info)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(data)
	return err
}
