package linux

import "github.com/opencontainers/runtime-spec/specs-go"

// ValidateProcess checks a process on its own, as exec receives it (from a
// process.json or the bundle), with the same rules and field paths
// ("process.args", ...) as Validate; warn, when set, receives its warnings.
func ValidateProcess(p *specs.Process, warn func(*FieldError)) error {
	c := &checker{opts: ValidateOptions{Warn: warn}}
	c.process(p, true)
	return c.result()
}
