// Package integration holds the black-box integration suite for the berth
// runtime binary. The tests live in *_test.go files; they exec the binary
// named by $BERTH_BINARY (default: bin/berth at the repository root), run
// real containers and therefore need root.
//
//	make build && sudo go test ./tests/integration/ -v
//
// The harness can be pointed at another OCI runtime for debugging, e.g.
// BERTH_BINARY=/usr/sbin/runc; tests of behaviour where berth deliberately
// differs from runc then fail, which is expected.
package integration
