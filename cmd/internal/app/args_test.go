package app

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestReorder(t *testing.T) {
	a := &cli.App{
		Flags: GlobalFlags(),
		Commands: []*cli.Command{
			{Name: "update", Flags: []cli.Flag{&cli.StringFlag{Name: "cpuset-cpus"}, &cli.StringFlag{Name: "resources", Aliases: []string{"r"}}}},
			{Name: "kill", Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}}}},
			{Name: "run", Flags: []cli.Flag{&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}}, &cli.BoolFlag{Name: "detach", Aliases: []string{"d"}}}},
			{Name: "exec", Flags: []cli.Flag{&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}}}},
			{Name: "pull", SkipFlagParsing: true},
		},
	}
	for _, tc := range []struct{ in, want string }{
		{"berth update ID --cpuset-cpus 1", "berth update --cpuset-cpus 1 ID"},
		{"berth update ID --cpuset-cpus=1 -r -", "berth update --cpuset-cpus=1 -r - ID"},
		{"berth --root /r --log-format json kill ID KILL --all", "berth --root /r --log-format json kill --all ID KILL"},
		{"berth kill ID -9", "berth kill ID -9"}, // not a flag: a positional argument
		{"berth run ID -b /b -d", "berth run -b /b -d ID"},
		{"berth run -d -b /b ID", "berth run -d -b /b ID"},
		{"berth run ID -- -b x", "berth run ID -- -b x"},
		{"berth exec ID sh -c -t", "berth exec ID sh -c -t"}, // verbatim
		{"berth pull REF --platform x", "berth pull REF --platform x"},
		{"berth --debug", "berth --debug"},
		{"berth nosuchcommand ID --x", "berth nosuchcommand ID --x"},
	} {
		got := strings.Join(Reorder(a, strings.Fields(tc.in), "exec"), " ")
		if got != tc.want {
			t.Errorf("Reorder(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
