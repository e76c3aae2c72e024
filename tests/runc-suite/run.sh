#!/bin/bash
# Runs runc v1.5.2's own integration suite (bats), as prepared by prepare.sh,
# against an OCI runtime, one file after the other, then report.sh compares
# the outcome with what runc 1.5.2 itself does on this machine.
#
# Environment:
#   RUNTIME                  runtime binary (default: bin/berth of this repo;
#                            "reference": runc v1.5.2 as prepare.sh built it)
#   RUNC_SUITE_FILES         bats files to run, space or comma separated, with
#                            or without .bats (default: every file)
#   RUNC_SUITE_FILTER        only the tests whose name matches this regex
#                            (bats --filter), e.g. to reproduce one test
#   RUNC_SUITE_TEST_TIMEOUT  seconds a test may run (default 180): then it
#                            counts as hung, its file is killed, cleaned up
#                            after and resumed from the next test
#   RUNC_SUITE_FILE_TIMEOUT  seconds a file may take in all (default 900):
#                            then it is killed and not resumed
#   RUNC_SUITE_WORK          work directory (default .cache/runc-suite)
#
# bats' own per-test timeout (BATS_TEST_TIMEOUT) is not used: its watchdog is
# a background job of the test's shell, so a test that runs a bare `wait`
# (events.bats) waits for the watchdog and always times out.
#
# Each file runs in a session of its own, on a pty that is its controlling
# terminal (see in-session.sh), with TMPDIR (so every test's bundle and state
# root) below a directory of its own and in cgroups of its own. Whatever a
# file leaves behind, hung or not, is cleaned up before the next one:
# containers (the runtime's delete --force), processes, cgroups, mounts,
# loop devices, network namespaces, files; the report lists it.
set -uo pipefail

# Everything is in functions, and main runs only once the whole script has
# been read: editing this file while it runs cannot change what runs.
main() {
	here=$(cd "$(dirname "$0")" && pwd)
	repo=$(cd "$here/../.." && pwd)
	WORK=${RUNC_SUITE_WORK:-$repo/.cache/runc-suite}
	SUITE=$WORK/runc-v1.5.2/tests/integration
	RUNTIME=${RUNTIME:-$repo/bin/berth}
	# The runc v1.5.2 prepare.sh installed (shared with bench/).
	[ "$RUNTIME" = reference ] && RUNTIME=${RUNC_REF_DIR:-/var/cache/berth-bench/bin}/runc
	TEST_TIMEOUT=${RUNC_SUITE_TEST_TIMEOUT:-180}
	FILE_TIMEOUT=${RUNC_SUITE_FILE_TIMEOUT:-900}
	export PATH=$PATH:/usr/local/go/bin # get-images.sh asks go for GOARCH

	[ "$(id -u)" -eq 0 ] || die "must run as root (the suite runs real containers)"
	[ -f "$SUITE/helpers.bash" ] || die "suite not prepared in $SUITE (run tests/runc-suite/prepare.sh)"
	RUNTIME=$(readlink -f "$RUNTIME") && [ -x "$RUNTIME" ] || die "RUNTIME ${RUNTIME:-?} is not an executable"
	local c
	for c in bats script gawk jq ip losetup; do
		command -v "$c" >/dev/null || die "$c not found (make test-runc-suite installs it)"
	done

	version=$("$RUNTIME" --version 2>&1 | head -n1)
	# runc 1.5.2 itself is the reference: berth's deliberate differences
	# are not applied to it.
	reference=0
	[ "$version" = "runc version 1.5.2" ] && reference=1

	# One run at a time on this machine: the suite uses fixed host-wide
	# names (/sys/fs/cgroup/*/runc-cgroups-integration-test, dummy0,
	# /etc/criu/default.conf).
	exec 9>/run/lock/berth-runc-suite.lock
	if ! flock -n 9; then
		log "another run of the suite is in progress; waiting for it"
		flock 9
	fi

	local files=() f
	if [ -n "${RUNC_SUITE_FILES:-}" ]; then
		for f in ${RUNC_SUITE_FILES//,/ }; do
			f=${f%.bats}.bats
			[ -f "$SUITE/$f" ] || die "no such bats file in runc's suite: $f"
			files+=("$f")
		done
	else
		for f in "$SUITE"/*.bats; do files+=("$(basename "$f")"); done
	fi

	runid=$(date +%Y%m%d-%H%M%S).$$
	out=$WORK/results/$(basename "$RUNTIME").$runid
	# Tests' bundles and state roots go below /tmp, as in runc's CI: the
	# console and seccomp agent sockets there must fit in a sockaddr_un
	# (108 bytes), which a path below the repository would not.
	tmpbase=$(mktemp -d /tmp/runc-suite.XXXXXX)
	# Containers with a user namespace (userns, idmap) reach their rootfs
	# as an unprivileged host uid; mktemp's 0700 would stop them here.
	chmod 755 "$tmpbase"
	mkdir -p "$out/raw"
	ln -sfn "$(basename "$out")" "$WORK/results/$(basename "$RUNTIME").latest"
	: >"$out/results.tsv" # status, file, test, note, milliseconds
	: >"$out/leftovers.txt"
	: >"$out/files.tsv" # file, seconds, killed (1 if any part was)
	printf 'runtime\t%s\nversion\t%s\nreference\t%s\n' "$RUNTIME" "$version" "$reference" >"$out/meta.tsv"

	mapfile -t HIERARCHIES < <(cgroup_hierarchies)

	log "runtime $RUNTIME ($version)$([ $reference = 1 ] && echo ', the reference')"
	log "${#files[@]} files; a test may take ${TEST_TIMEOUT}s, a file ${FILE_TIMEOUT}s; output in $out"
	local run_start
	run_start=$(date +%s)
	for f in "${files[@]}"; do
		run_file "$f"
	done
	rmdir "$tmpbase"
	printf 'wall\t%s\n' "$(($(date +%s) - run_start))" >>"$out/meta.tsv"

	exec "$here/report.sh" "$out"
}

log() { echo "runc-suite: $*" >&2; }
die() {
	log "$*"
	exit 2
}

# The test names of a bats file, in the order bats runs them. Every test of
# runc's suite is declared as @test "literal name" at the start of a line.
test_names() {
	sed -n 's/^@test "\(.*\)" {$/\1/p' "$1"
}

# A bats --filter (a bash regex) matching exactly the names given.
names_regex() {
	local n re=""
	for n in "$@"; do
		re+="${re:+|}$(sed 's/[][\\.^$*+?(){}|]/\\&/g' <<<"$n")"
	done
	echo "^($re)\$"
}

# One file: runs it, and after a hung test resumes it from the next test
# (bats --filter with the names of the remaining ones) until it is done or
# out of time.
run_file() {
	local f=$1 all names=() remaining seg=0 filter=${RUNC_SUITE_FILTER:-} killed any_killed=0 hung final t
	local fstart=$(date +%s)
	mapfile -t all < <(test_names "$SUITE/$f")
	for t in "${all[@]}"; do
		[[ $t =~ $filter ]] && names+=("$t")
	done
	if [ ${#names[@]} -eq 0 ]; then
		log "$f: no test matches RUNC_SUITE_FILTER"
		return
	fi
	log "$f (${#names[@]} tests) ..."
	while :; do
		seg=$((seg + 1))
		local raw=$out/raw/$f.$seg.out
		run_part "$f" "$filter" "$raw" "$fstart" # sets killed
		[ "$killed" != 0 ] && any_killed=1
		remaining=()
		final=1
		if [ "$killed" = test ]; then
			# The tests after the one that hung (or none, when bats hung
			# after its last test).
			hung=$(sed -n 's/^begin [0-9]* //p' "$raw" | tail -n1)
			local i seen=0
			for i in "${names[@]}"; do
				[ $seen = 1 ] && remaining+=("$i")
				[ "$i" = "$hung" ] && seen=1
			done
			[ ${#remaining[@]} -gt 0 ] && final=0
		fi
		parse_raw "$f" "$raw" "$killed" "$final" "${names[@]}" >>"$out/results.tsv"
		[ $final = 1 ] && break
		log "$f: resuming after the hung test \"$hung\""
		names=("${remaining[@]}")
		filter=$(names_regex "${names[@]}")
	done
	local secs=$(($(date +%s) - fstart))
	printf '%s\t%s\t%s\n' "$f" "$secs" "$any_killed" >>"$out/files.tsv"
	log "$f: $(awk -F '\t' -v f="$f" '$2 == f {n[$1]++} END {printf "%d passed, %d failed, %d skipped, %d hung, %d not run", n["pass"], n["fail"] + n["error"], n["skip"], n["hang"], n["notrun"]}' "$out/results.tsv") in ${secs}s"
}

# One bats run of a file (all of it, or the tests the filter names). Sets
# killed: 0, "test" (a test ran longer than TEST_TIMEOUT) or "file" (the file
# ran out of FILE_TIMEOUT). Cleans up after it in any case.
run_part() {
	local f=$1 filter=$2 raw=$3 fstart=$4
	local name=${f%.bats}
	local ftmp=$tmpbase/$name
	rm -rf "$ftmp"
	mkdir -p "$ftmp"
	local before cgroups
	before=$(snapshot)
	cgroups=$(make_file_cgroups "runc-suite.$runid.$name" | tr '\n' ' ')
	# TMPDIR is where bats makes BATS_RUN_TMPDIR, below which helpers.bash
	# puts each test's ROOT (bundle, state root, console socket).
	local env=(RS_REAPER="$SUITE/../cmd/_bin/reaper" RS_SIDFILE="$ftmp/.sid" RS_CGROUPS="$cgroups" RS_BATS_FILE="$SUITE/$f"
		RS_RAW="$raw" RS_FILTER="$filter" TMPDIR="$ftmp" RUNC="$RUNTIME" SHELL=/bin/bash)
	# script's stdin: a fifo it holds open for writing itself, so it never
	# reads data or EOF there (on EOF script would type an end-of-file into
	# the pty, which a foreground `runc run` passes on to its container).
	mkfifo "$ftmp/.stdin"
	(cd "$SUITE" && exec env "${env[@]}" script -qec "$here/in-session.sh" /dev/null <>"$ftmp/.stdin" >/dev/null 2>&1) &
	local spid=$! now progress=-1 n tstart
	tstart=$(date +%s)
	killed=0
	local running="" sid
	# bash reaps the child as soon as it ends, so kill -0 fails from then on.
	while kill -0 $spid 2>/dev/null; do
		sleep 1
		now=$(date +%s)
		# A test is running from its "begin" line to its result line.
		n=$(grep -c -e '^begin ' -e '^ok ' -e '^not ok ' "$raw" 2>/dev/null)
		[ "${n:-0}" != "$progress" ] && progress=${n:-0} tstart=$now
		if ((now - tstart >= TEST_TIMEOUT)); then
			killed=test
		elif ((now - fstart >= FILE_TIMEOUT)); then
			killed=file
		else
			continue
		fi
		# What is still running tells what the file waits for.
		sid=$(cat "$ftmp/.sid" 2>/dev/null)
		running=$(ps -eo sid=,stat=,args= | awk -v s="$sid" '$1 == s && $2 !~ /^Z/ {$1 = $2 = ""; print substr($0, 3, 120)}')
		kill -9 $(ps -eo pid=,sid= | awk -v s="$sid" '$2 == s {print $1}') 2>/dev/null
		kill $spid 2>/dev/null
		break
	done
	wait $spid
	sid=$(cat "$ftmp/.sid" 2>/dev/null)
	local left
	left=$(cleanup_file "$ftmp" "$sid" "$before" "$cgroups")
	if [ "$killed" != 0 ]; then
		local why="a test ran ${TEST_TIMEOUT}s"
		[ "$killed" = file ] && why="the file ran ${FILE_TIMEOUT}s"
		left=$(printf 'killed: %s; running then:\n%s\n%s' "$why" "$(sed 's/^/  /' <<<"$running")" "$left")
	fi
	if [ -n "$left" ]; then
		printf '%s%s:\n%s\n' "$f" "${filter:+ (resumed)}" "$(sed 's/^/  /' <<<"$left")" >>"$out/leftovers.txt"
	fi
}

# ---------------------------------------------------------------- parsing

# bats' raw stream (-F cat -T) to one line per test: status, file, name,
# note, milliseconds. The names expected, in order, follow the first four
# arguments. status: pass, fail, skip, hang (running when killed), notrun
# (after it, and the file was not resumed), error (bats ended without a
# result for the test). Tests of a part that is resumed are left out when
# they did not start (final=0): the next part reports them.
parse_raw() {
	local file=$1 raw=$2 killed=$3 final=$4
	shift 4
	printf '%s\n' "$@" | awk -v file="$file" -v killed="$killed" -v final="$final" '
	function emit(st, i, note, ms) { printf "%s\t%s\t%s\t%s\t%s\n", st, file, names[i], note, ms }
	FNR == NR { expect[FNR] = $0; next }
	/^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0; next }
	/^begin [0-9]+ / { i = $2; n = $0; sub(/^begin [0-9]+ /, "", n); names[i] = n; last = i; next }
	/^(not )?ok [0-9]+ / {
		bad = ($1 == "not"); i = bad ? $3 : $2
		rest = $0; sub(/^(not )?ok [0-9]+ /, "", rest)
		if (i in names && index(rest, names[i]) == 1) rest = substr(rest, length(names[i]) + 1)
		if (match(rest, /^ in [0-9]+ms/)) { ms[i] = substr(rest, 5, RLENGTH - 6); rest = substr(rest, RLENGTH + 1) }
		if (bad) { st[i] = "fail"; cur = i }
		else if (rest ~ /^ # skip/) { st[i] = "skip"; note[i] = substr(rest, 9); sub(/^ /, "", note[i]); cur = 0 }
		else { st[i] = "pass"; cur = 0 }
		next
	}
	# The line naming what failed, as the failure note.
	cur && !(cur in note) && /^#   `.*failed/ { l = $0; sub(/^#   /, "", l); note[cur] = l }
	END {
		if (!plan) {
			names[0] = "(whole file)"
			emit(killed ? "hang" : "error", 0, killed ? "killed before a test started" : "no test plan: the file did not run")
			exit
		}
		for (i = 1; i <= plan; i++) {
			if (!(i in names)) names[i] = (i in expect) ? expect[i] : "(test " i " of " plan ")"
			if (i in st) emit(st[i], i, note[i], ms[i])
			else if (i == last && killed) emit("hang", i, killed == "test" ? "ran longer than RUNC_SUITE_TEST_TIMEOUT" : "running when the file ran out of RUNC_SUITE_FILE_TIMEOUT")
			else if (i == last) emit("error", i, "bats ended during the test")
			else if (final) emit("notrun", i, killed ? "after a hang" : "not reported")
		}
		# Every test reported, yet bats did not end: it waits for something
		# the tests left running (the leftovers say what).
		if (killed && last == plan && (plan in st)) {
			names[0] = "(whole file)"
			emit("hang", 0, "bats did not end after its last test")
		}
	}' - "$raw"
}

# ---------------------------------------------------------------- cgroups

# The mount point of the hierarchy with the given controllers ("" for the
# unified one), from our mountinfo.
cgroup_mount() {
	awk -v want="$1" '{
		for (i = 7; $i != "-"; i++) {}
		fstype = $(i + 1); opts = "," $(i + 3) ","
		if (want == "" && fstype == "cgroup2") { print $5; exit }
		if (want != "" && fstype == "cgroup") {
			n = split(want, w, ","); ok = 1
			for (j = 1; j <= n; j++) if (index(opts, "," w[j] ",") == 0) ok = 0
			if (ok) { print $5; exit }
		}
	}' /proc/self/mountinfo
}

# Every hierarchy's mount point and our own cgroup in it: "mnt path".
cgroup_hierarchies() {
	local ctrls path mnt
	while IFS=: read -r _ ctrls path; do
		mnt=$(cgroup_mount "$ctrls")
		[ -n "$mnt" ] && echo "$mnt $path"
	done </proc/self/cgroup
}

# Creates the file's own cgroup below ours in every hierarchy; prints the
# directories. Containers without a cgroupsPath get theirs below these
# (libcontainer makes a relative path relative to the caller's cgroup), so
# whatever a file leaves there is found and removed.
make_file_cgroups() {
	local name=$1 h mnt path dir
	for h in "${HIERARCHIES[@]}"; do
		mnt=${h%% *} path=${h#* }
		dir=$mnt${path%/}/$name
		mkdir -p "$dir" || continue
		# A new cpuset cgroup (v1) has no cpus or mems; nothing could join it.
		if [ -f "$dir/cpuset.cpus" ] && [ -z "$(cat "$dir/cpuset.cpus")" ]; then
			cat "$(dirname "$dir")/cpuset.cpus" >"$dir/cpuset.cpus"
			cat "$(dirname "$dir")/cpuset.mems" >"$dir/cpuset.mems"
		fi
		echo "$dir"
	done
}

# Pids in a cgroup subtree, zombies aside (they are gone, only not reaped).
cgroup_pids() {
	local p
	[ -d "$1" ] || return 0
	for p in $(find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null); do
		[[ $(ps -o stat= -p "$p") == Z* ]] || echo "$p"
	done
}

# "pid args" of the pids given, on one line.
describe_pids() {
	ps -o pid=,args= -p "$(echo $* | tr ' ' ,)" | cut -c1-100 | tr -s ' ' | paste -sd';'
}

# Kills every process in the cgroup subtrees given (thawing frozen ones
# first: a frozen process does not die of SIGKILL until thawed), then
# removes the subtrees. Prints what it had to kill or remove.
cgroup_sweep() {
	local dir pids i f
	for dir in "$@"; do
		[ -d "$dir" ] || continue
		for ((i = 0; i < 20; i++)); do
			pids=$(cgroup_pids "$dir")
			[ -z "$pids" ] && break
			[ "$i" = 0 ] && echo "processes in $dir: $(describe_pids $pids)"
			find "$dir" -name freezer.state | while read -r f; do echo THAWED >"$f"; done 2>/dev/null
			find "$dir" -name cgroup.freeze | while read -r f; do echo 0 >"$f"; done 2>/dev/null
			kill -9 $pids 2>/dev/null
			sleep 0.2
		done
		find "$dir" -mindepth 1 -depth -type d -printf '%P\n' | while read -r f; do
			rmdir "$dir/$f" 2>/dev/null && echo "cgroup $dir/$f"
		done
		rmdir "$dir" 2>/dev/null || echo "could not remove cgroup $dir"
	done
}

# The absolute cgroup paths the suite itself uses (set_cgroups_path).
suite_cgroups() {
	local h
	for h in "${HIERARCHIES[@]}"; do
		ls -d "${h%% *}"/runc-cgroups-integration-test* 2>/dev/null
	done
}

# ---------------------------------------------------------------- cleanup

# Host-wide things a file may create by name, to tell what it left.
snapshot() {
	ip netns list 2>/dev/null | awk '{print "netns " $1}'
	ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
	[ -e /etc/criu/default.conf ] && echo "file /etc/criu/default.conf"
	ls -d /tmp/runc-criu-* 2>/dev/null | sed 's/^/file /'
	# State roots list.bats makes the runtime use (--root /non-existent-dir/state,
	# and the default root); a runtime that creates them leaves them behind.
	ls -d /non-existent-dir /non-existent-dir/state /run/runc "/run/$(basename "$RUNTIME")" 2>/dev/null | sed 's/^/dir /'
}

# Cleans up after one bats run (hung or not): containers under the suite's
# state roots (the runtime's own delete --force first, so that it undoes
# what it did), then whatever is still running, mounted, attached or
# created. Prints what it found, one line each: nothing means the file left
# the machine clean.
cleanup_file() {
	local ftmp=$1 sid=$2 before=$3 cgroups=$4 d id ids pids m dev back i
	# 1. The file's session: bats, the tests' shells, recvtty, runc events...
	if [ -n "$sid" ]; then
		for ((i = 0; i < 10; i++)); do
			pids=$(ps -eo pid=,sid=,stat= | awk -v s="$sid" '$2 == s && $3 !~ /^Z/ {print $1}')
			[ -z "$pids" ] && break
			[ "$i" = 0 ] && echo "processes in the file's session: $(describe_pids $pids)"
			kill -9 $pids 2>/dev/null
			sleep 0.2
		done
	fi
	# 2. Containers, in every state root the tests made (ROOT/state).
	while read -r d; do
		ids=$( (
			"$RUNTIME" --root "$d" list -q 2>/dev/null
			find "$d" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
		) | sort -u)
		for id in $ids; do
			echo "container $id in $d"
			timeout 60 "$RUNTIME" --root "$d" delete --force "$id" >/dev/null 2>&1 ||
				echo "  $(basename "$RUNTIME") delete --force $id failed"
		done
	done < <(find "$ftmp" -maxdepth 4 -type d -name state 2>/dev/null)
	# 3. Cgroups and what runs in them: the file's own (with the default
	# cgroups of its containers below them) and the suite's fixed ones.
	cgroup_sweep $cgroups $(suite_cgroups)
	# 4. Mounts below the file's temporary directory, deepest first.
	awk -v p="$ftmp/" 'index($5 "/", p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do
			m=$(printf '%b' "${m//\\/\\0}") # mountinfo escapes blanks as \040
			umount -l "$m" 2>/dev/null && echo "mount $m"
		done
	# 5. Loop devices from setup_loopdev (listed in BATS_TMPDIR/losetup.*)
	# still backed by a file of ours.
	cat "$ftmp"/losetup.* 2>/dev/null | sort -u | while read -r dev; do
		back=$(losetup -n -O BACK-FILE "$dev" 2>/dev/null) || continue
		[[ $back == "$ftmp"/* ]] && losetup -d "$dev" && echo "loop device $dev"
	done
	# 6. Host-wide things some files create by name: network namespaces
	# (named by mktemp -u), dummy0, CRIU's default config (checkpoint.bats
	# writes it and never removes it), temporary files in /tmp, state roots
	# outside the file's directory (removed only when empty).
	snapshot | sort | comm -13 <(sort <<<"$before") - | sort -r | while read -r kind name; do
		case $kind in
		netns) [[ $name == tmp.* ]] && ip netns del "$name" && echo "netns $name" ;;
		link) [[ $name == dummy0 ]] && ip link del dummy0 2>/dev/null && echo "link dummy0" ;;
		file) rm -f "$name" && echo "file $name" ;;
		dir) rmdir "$name" 2>/dev/null && echo "directory $name" ;;
		esac
	done
	rmdir /etc/criu 2>/dev/null
	# 7. The temporary directory, on this filesystem only (should an unmount
	# have failed, rm must not walk into what is mounted there).
	rm -rf --one-file-system "$ftmp" 2>/dev/null || echo "could not remove $ftmp"
}

main "$@"
exit
