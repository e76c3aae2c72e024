package linux

import "github.com/opencontainers/runtime-spec/specs-go"

// ValidateProcess checks a process on its own, as exec receives it (from a
// process.json or the bundle), with the same rules and field paths
// ("process.args", ...) as Validate.
func ValidateProcess(p *specs.Process) error {
	c := &checker{}
	c.process(p, true)
	if len(c.errs) == 0 {
		return nil
	}
	return &validationError{problems: c.errs}
}
