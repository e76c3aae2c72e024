// Package robustness holds berth's robustness and security suite: berth
// killed with SIGKILL at random points of create, start, run and delete;
// racing commands on one container; corrupt state files; container escape
// classes (leaked fds, cwd outside the rootfs, overwriting the runtime
// binary, masked and read-only paths, mount propagation, console symlinks);
// resource limits (fork bomb, OOM kill) and rootless containers.
//
// Every test uses its own --root and unique container ids, and checks at
// its end that no state directory, lock file, cgroup, mount or process of
// its containers is left on the host; whatever is left is reported and
// removed, so a failing test does not leave the machine dirty.
//
// The tests exec the berth binary named by $BERTH_BINARY (default: bin/berth
// at the repository root) and need root; without root every test skips.
//
//	make build && go test ./tests/robustness/ -v
//
// The fuzz targets for berth's input parsers live beside the code they
// fuzz (linux/, cmd/berth/, runtime/, state/); `make fuzz` runs each for a
// short time.
package robustness
