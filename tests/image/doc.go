// Package image holds the black-box tests of berth's image support (issue
// #8): `berth pull`, `images`, `rmi`, `gc`, `bundle` and `run --image`,
// driven through the binary named by BERTH_BINARY (default bin/berth).
//
// The harness (TestMain) starts two private registries from Debian's
// docker-registry package, both on 127.0.0.1 only, with their storage in a
// temp dir: an open one, and one with token auth whose token server runs
// inside the test binary. Each sits behind a reverse proxy in the test
// binary that records every request, so that tests can count blob fetches.
// Every image is built and pushed at test time with go-containerregistry
// from the host's static busybox; nothing is downloaded.
//
// Every test uses its own --root and --image-store under t.TempDir(), its
// own repository names, and checks in its cleanup that no container and no
// mount below its temp dir is left behind.
//
// Run with `make test-image` (as root: the tests run containers).
package image
