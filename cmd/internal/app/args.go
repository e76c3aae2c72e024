package app

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Reorder lets a command's flags come after its positional arguments, as
// runc's command line does (`berth update ID --cpuset-cpus 1`): urfave/cli
// v2 stops reading flags at the first argument that is not one, so the
// command's flags found after it are moved before it, each with its value
// when it takes one. Global flags stay where they must be, before the
// command. Nothing after "--" moves, and the commands named in verbatim
// keep their arguments as given: exec and ps pass what follows the
// container id on, flags and all.
func Reorder(a *cli.App, args []string, verbatim ...string) []string {
	if len(args) < 2 {
		return args
	}
	// Find the command after the global flags.
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--" {
		if takesValue(a.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := a.Command(args[i])
	if cmd == nil || cmd.SkipFlagParsing || len(cmd.Subcommands) > 0 {
		return args
	}
	for _, v := range verbatim {
		if cmd.Name == v {
			return args
		}
	}
	var flags, positional []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		arg := rest[j]
		if arg == "--" {
			positional = append(positional, rest[j:]...)
			break
		}
		if !isFlag(cmd.Flags, arg) {
			positional = append(positional, arg)
			continue
		}
		flags = append(flags, arg)
		if takesValue(cmd.Flags, arg) && j+1 < len(rest) {
			j++
			flags = append(flags, rest[j])
		}
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, flags...)
	return append(out, positional...)
}

// lookup finds the flag an argument such as "-b", "--bundle" or
// "--bundle=x" names.
func lookup(flags []cli.Flag, arg string) cli.Flag {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return nil
	}
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func isFlag(flags []cli.Flag, arg string) bool { return lookup(flags, arg) != nil }

// takesValue reports whether arg is a flag that takes the next argument as
// its value: one that is not boolean, given without "=value".
func takesValue(flags []cli.Flag, arg string) bool {
	f := lookup(flags, arg)
	if f == nil || strings.Contains(arg, "=") {
		return false
	}
	_, boolean := f.(*cli.BoolFlag)
	return !boolean
}
