#!/bin/sh
# fuzz.sh FUZZTIME PKG:TARGET...
#
# Runs each Go fuzz target for FUZZTIME. A target fails the run when it
# finds an input that fails (go test writes it to testdata/fuzz/). Go 1.26's
# fuzz coordinator can also fail a clean run with a bare "context deadline
# exceeded" right at the -fuzztime boundary (golang/go#75804, fixed in Go
# 1.27): such a run, with no failing input, is reported and run once more.
set -u
fuzztime=$1
shift
go=${GO:-go}
tags=${TAGS:-seccomp}
status=0
for t in "$@"; do
	pkg=${t%%:*} name=${t#*:}
	for try in 1 2; do
		echo "fuzz $name for $fuzztime"
		out=$("$go" test -tags "$tags" -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "./$pkg/" 2>&1)
		rc=$?
		printf '%s\n' "$out" | tail -n 3
		[ $rc -eq 0 ] && break
		if printf '%s' "$out" | grep -q "context deadline exceeded" &&
			! printf '%s' "$out" | grep -q "Failing input written"; then
			echo "fuzz $name: go's fuzztime-boundary race (golang/go#75804), no failing input; running again"
			[ $try -eq 2 ] && status=1
			continue
		fi
		printf '%s\n' "$out"
		status=1
		break
	done
done
exit $status
