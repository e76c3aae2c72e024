#!/bin/bash
# report.sh RESULTS_DIR: compares one run of runc's suite (run.sh's output
# directory) with what runc 1.5.2 does on this machine, prints the summary
# and exits non-zero when the runtime differs from runc where it must not.
# It can be run again on an old results directory after a list changed.
#
# The lists, one test a line, "file.bats :: test name :: reason":
#   runc-failures.txt      tests runc 1.5.2 fails here (the machine's reasons)
#   runc-skips.txt         tests runc 1.5.2 skips here (the reason bats gives)
#   berth-differences.txt  tests berth fails on purpose (docs/runc-compat.md);
#                          ignored when the runtime is runc 1.5.2 itself
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: report.sh RESULTS_DIR}
results=$out/results.tsv
for f in "$results" "$out/files.tsv" "$out/meta.tsv" "$here/runc-failures.txt" "$here/runc-skips.txt" "$here/berth-differences.txt"; do
	[ -f "$f" ] || {
		echo "report.sh: missing $f" >&2
		exit 2
	}
done
meta() { awk -F '\t' -v k="$1" '$1 == k {print $2}' "$out/meta.tsv"; }
runtime=$(meta runtime) version=$(meta version) reference=$(meta reference) wall=$(meta wall)
mapfile -t files < <(cut -f1 "$out/files.tsv")

# A list's entries as "file :: name" keys.
list_keys() {
	awk -F ' :: ' '!/^[[:space:]]*(#|$)/ && NF >= 3 {print $1 " :: " $2}' "$1"
}
declare -A runc_fail runc_skip berth_diff seen
while IFS= read -r k; do runc_fail[$k]=1; done < <(list_keys "$here/runc-failures.txt")
while IFS= read -r k; do runc_skip[$k]=1; done < <(list_keys "$here/runc-skips.txt")
if [ "$reference" = 0 ]; then
	while IFS= read -r k; do berth_diff[$k]=1; done < <(list_keys "$here/berth-differences.txt")
fi

new_fail=() new_skip=() hangs=() notrun=() expected=() deliberate=() fixed=() stale=()
n_pass=0 n_fail=0 n_skip=0
: >"$out/candidates.txt" # this run's failures and skips in the lists' format
while IFS=$'\t' read -r st f t note _; do
	k="$f :: $t"
	seen[$k]=1
	case $st in
	pass)
		n_pass=$((n_pass + 1))
		[[ -n ${runc_fail[$k]+x} ]] && fixed+=("$k (runc-failures.txt)")
		[[ -n ${runc_skip[$k]+x} ]] && fixed+=("$k (runc-skips.txt)")
		[[ -n ${berth_diff[$k]+x} ]] && fixed+=("$k (berth-differences.txt)")
		;;
	fail | error)
		n_fail=$((n_fail + 1))
		echo "$k :: FAILED ${note:-}" >>"$out/candidates.txt"
		if [[ -n ${runc_fail[$k]+x} ]]; then
			expected+=("$k")
		elif [[ -n ${berth_diff[$k]+x} ]]; then
			deliberate+=("$k")
		else
			new_fail+=("$k  -- ${note:-see the raw output}")
		fi
		;;
	skip)
		n_skip=$((n_skip + 1))
		echo "$k :: ${note:-skipped}" >>"$out/candidates.txt"
		# A skip is a probe of the machine, which is the same for every
		# runtime; skipping where runc runs the test means the runtime
		# answered a probe (features, version, a failed command) otherwise.
		if [[ -n ${berth_diff[$k]+x} ]]; then
			deliberate+=("$k")
		elif [[ -z ${runc_skip[$k]+x} ]]; then
			new_skip+=("$k  -- skipped: ${note:-}")
		fi
		;;
	hang)
		# A file that hung after its last test is not one more test.
		[ "$t" = "(whole file)" ] || n_fail=$((n_fail + 1))
		hangs+=("$k  -- $note")
		;;
	notrun) notrun+=("$k") ;;
	esac
done <"$results"
# Entries of the files that ran that no longer show up at all.
for k in "${!runc_fail[@]}" "${!runc_skip[@]}" "${!berth_diff[@]}"; do
	[[ " ${files[*]} " == *" ${k%% :: *} "* ]] || continue
	[[ -n ${seen[$k]+x} ]] || stale+=("$k")
done

section() { # title items...
	local title=$1
	shift
	[ $# -eq 0 ] && return
	echo
	echo "== $title ($#) =="
	printf '  %s\n' "$@" | sort
}
{
	echo "== runc v1.5.2 integration suite against $runtime =="
	echo "   $version$([ "$reference" = 1 ] && echo ' (the reference: berth-differences.txt not applied)')"
	printf '%-34s %5s %5s %5s %6s\n' file pass fail skip secs
	while IFS=$'\t' read -r f secs killed; do
		awk -F '\t' -v f="$f" -v s="$secs" -v h="$killed" '$2 == f {n[$1]++}
			END {printf "%-34s %5d %5d %5d %6d%s\n", f, n["pass"], n["fail"] + n["error"] + n["hang"], n["skip"], s,
				h == 1 ? "  HUNG: killed" : (n["hang"] ? "  a test timed out" : "")}' "$results"
	done <"$out/files.tsv"
	echo
	echo "wall time: ${wall:-?}s for ${#files[@]} files"
	echo "failed: ${#expected[@]} listed in runc-failures.txt, ${#deliberate[@]} in berth-differences.txt, ${#new_fail[@]} that runc 1.5.2 passes, ${#hangs[@]} hung"
	section "FAILED, but runc 1.5.2 passes" "${new_fail[@]}"
	section "SKIPPED, but runc 1.5.2 runs the test" "${new_skip[@]}"
	section "HUNG" "${hangs[@]}"
	section "not run (their file hung)" "${notrun[@]}"
	section "failing or skipping as berth's deliberate differences" "${deliberate[@]}"
	section "listed, but passed: update the list" "${fixed[@]}"
	section "listed, but not in the suite's output: update the list" "${stale[@]}"
	if [ -s "$out/leftovers.txt" ]; then
		echo
		echo "== left behind by the tests, cleaned up by run.sh =="
		sed 's/^/  /' "$out/leftovers.txt"
	fi
	echo
	echo "details: $out/raw/<file>.out (bats output); this run's failures and skips as list lines: $out/candidates.txt"
} | tee "$out/summary.txt"

status=0
[ ${#new_fail[@]} -gt 0 ] && status=1
[ ${#new_skip[@]} -gt 0 ] && status=1
[ ${#hangs[@]} -gt 0 ] && status=1
echo
echo "runc-suite: $n_pass passed, $n_fail failed, $n_skip skipped"
exit $status
