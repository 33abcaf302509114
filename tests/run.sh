#!/bin/sh
# Run the test suite and print one closing line "check: N passed, N failed".
#
#   tests/run.sh BUILD_SAN [BUILD_TSAN [BUILD_PLAIN]]
#                                         unit + integration (+ TSan pass)
#                                         (+ valgrind pass over BUILD_PLAIN)
#   tests/run.sh --unit-only BUILD        unit tests of one build
#
# Unit tests are cmocka binaries in BUILD/tests/unit; fuzz-replay/NAME runs
# BUILD/tests/fuzz/replay_NAME over tests/fuzz/{corpus,regress}/NAME (the
# fuzzers' seeds and crash inputs, no libFuzzer needed). Integration tests
# (BUILD/tests/integration, tests/tui/*.sh) need a real PostgreSQL 15: this
# script starts one throwaway cluster (tests/lib/pgcluster.sh) and exports
# COCKPIT_TEST_DSN, COCKPIT_TEST_PGDATA, COCKPIT_BIN for them.
set -u
unit_only=0
if [ "${1:-}" = "--unit-only" ]; then unit_only=1; shift; fi
san=${1:?build dir}
tsan=${2:-}
plain=${3:-}
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
failures=""

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}"

run_one() { # name command...
	name=$1; shift
	log=$(mktemp)
	start=$(date +%s)
	# No test may hang CI: each gets 5 minutes.
	if timeout -k 10 300 "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		printf 'ok    %-48s %3ss\n' "$name" $(( $(date +%s) - start ))
	else
		failed=$((failed + 1))
		failures="$failures $name"
		printf 'FAIL  %-48s %3ss\n' "$name" $(( $(date +%s) - start ))
		# The first failure messages (a sanitizer's leak report after a
		# failed test can push them out of the tail), then the tail.
		grep -m 8 -E '^ERROR|FAIL|error:|Assertion|runtime error|not ok' "$log" | sed 's/^/    ! /'
		sed 's/^/    | /' "$log" | tail -n 80
	fi
	rm -f "$log"
}

for t in "$top/$san"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "$t"
done

# Fuzz regression replay (no libFuzzer needed): each harness, built by the
# normal compiler with the build's sanitizers, over its committed seeds and
# the inputs that once broke it (tests/fuzz/{corpus,regress}/NAME).
fuzz_replay() { # build-dir test-name-prefix
	fr_build=$1 fr_prefix=$2
	for h in "$top/$fr_build"/tests/fuzz/replay_*; do
		[ -x "$h" ] || continue
		name=${h##*/replay_}
		case $name in *.*) continue ;; esac # replay_main.o, *.d
		set --
		for d in "$top/tests/fuzz/corpus/$name" "$top/tests/fuzz/regress/$name"; do
			[ -d "$d" ] && set -- "$@" "$d"
		done
		if [ $# -eq 0 ]; then
			run_one "${fr_prefix}fuzz-replay/$name" sh -c \
				"echo 'no tests/fuzz/corpus/$name: commit a few seed inputs'; false"
			continue
		fi
		run_one "${fr_prefix}fuzz-replay/$name" "$h" "$@"
	done
}
fuzz_replay "$san" ""

if [ $unit_only -eq 0 ]; then
	cluster=$(mktemp -d /tmp/cockpit-test.XXXXXX)
	chmod 755 "$cluster"
	if ! sh "$top/tests/lib/pgcluster.sh" start "$cluster" >"$cluster/start.log" 2>&1; then
		cat "$cluster/start.log"
		failed=$((failed + 1))
		failures="$failures pgcluster-start"
	else
		. "$cluster/env"
		export COCKPIT_TEST_DIR COCKPIT_TEST_MONITOR_DSN COCKPIT_TEST_DSN COCKPIT_TEST_PGDATA COCKPIT_TEST_PGHOST COCKPIT_TEST_PGPORT COCKPIT_TEST_LOGDIR
		export COCKPIT_TOP="$top"
		export COCKPIT_BIN="$top/$san/cockpit"
		for t in "$top/$san"/tests/integration/test_*; do
			[ -x "$t" ] || continue
			run_one "integration/$(basename "$t")" "$t"
		done
		for t in "$top"/tests/tui/test_*.sh; do
			[ -f "$t" ] || continue
			run_one "tui/$(basename "$t")" bash "$t"
		done
		if [ -n "$tsan" ]; then
			# Threaded code under ThreadSanitizer: the unit and integration
			# tests, and the TUI tests, where the collector thread runs
			# beside the UI thread.
			export COCKPIT_BIN="$top/$tsan/cockpit"
			for t in "$top/$tsan"/tests/unit/test_* "$top/$tsan"/tests/integration/test_*; do
				[ -x "$t" ] || continue
				case "$t" in */tests/integration/*) kind=integration ;; *) kind=unit ;; esac
				run_one "tsan/$kind/$(basename "$t")" "$t"
			done
			fuzz_replay "$tsan" "tsan/"
			for t in "$top"/tests/tui/test_*.sh; do
				[ -f "$t" ] || continue
				run_one "tsan/tui/$(basename "$t")" bash "$t"
			done
		fi
		if [ -n "$plain" ] && command -v valgrind >/dev/null 2>&1; then
			# valgrind over the plain (unsanitised) build: every unit test
			# and the commands that touch a real server, zero leaks and
			# zero errors (definite and indirect leaks fail).
			vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --suppressions=$top/tests/valgrind.supp"
			for t in "$top/$plain"/tests/unit/test_*; do
				[ -x "$t" ] || continue
				run_one "valgrind/unit/$(basename "$t")" $vg "$t"
			done
			vdir=$(mktemp -d /tmp/cockpit-vg.XXXXXX)
			run_one "valgrind/snapshot" sh -c "$vg '$top/$plain/cockpit' -c /dev/null -d '$COCKPIT_TEST_MONITOR_DSN' snapshot --json --window 0.5 >'$vdir/snap.json' && test -s '$vdir/snap.json'"
			run_one "valgrind/record+replay-load" sh -c "$vg '$top/$plain/cockpit' -c /dev/null -d '$COCKPIT_TEST_MONITOR_DSN' record -o '$vdir/rec.jsonl' --interval 0.2 --duration 1 && test -s '$vdir/rec.jsonl'"
			if [ -d "$top/runbooks" ] && "$top/$plain/cockpit" --help 2>/dev/null | grep -q '^  diagnose'; then
				printf 'paths:\n  runbooks_dir: %s\n  audit_log: %s\n' "$top/runbooks" "$vdir/audit.jsonl" >"$vdir/cockpit.conf"
				run_one "valgrind/diagnose" sh -c "$vg '$top/$plain/cockpit' -c '$vdir/cockpit.conf' -d '$COCKPIT_TEST_DSN' diagnose --json --window 0.5 >'$vdir/diag.json' && test -s '$vdir/diag.json'"
			fi
			rm -rf "$vdir"
		fi
		sh "$top/tests/lib/pgcluster.sh" stop "$cluster" >/dev/null 2>&1
	fi
	rm -rf "$cluster"
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "check: $passed passed, $failed failed"
[ $failed -eq 0 ]
