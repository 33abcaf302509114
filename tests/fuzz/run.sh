#!/bin/sh
# Run libFuzzer harnesses one after another, each for a bounded time (make fuzz).
#
#   tests/fuzz/run.sh FUZZ_DIR SECONDS 'EXTRA_ARGS' NAME...
#
# FUZZ_DIR/fuzz_NAME is the harness (built by `make fuzz-build`). Seeds come
# from tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME (read only); new
# inputs go to FUZZ_DIR/corpus/NAME, crash/leak/timeout inputs to
# FUZZ_DIR/artifacts/NAME/, the whole output to FUZZ_DIR/logs/NAME.log.
# tests/fuzz/NAME.dict, when present, is the dictionary. Prints one line per
# harness (runs, exec/s, seconds, crashes) and fails when any harness failed.
set -u
dir=${1:?fuzz dir}
secs=${2:?seconds}
extra=${3:-}
shift 3
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}"

failed=""
count=$#
mkdir -p "$dir/logs"
printf '%-14s %12s %9s %6s %8s\n' harness runs exec/s secs crashes
for name in "$@"; do
	bin=$dir/fuzz_$name
	work=$dir/corpus/$name
	art=$dir/artifacts/$name
	log=$dir/logs/$name.log
	mkdir -p "$work" "$art"
	set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/"
	[ -f "tests/fuzz/$name.dict" ] && set -- "$@" -dict="tests/fuzz/$name.dict"
	# shellcheck disable=SC2086 # EXTRA_ARGS is a list of flags
	set -- "$@" $extra "$work"
	for d in "tests/fuzz/corpus/$name" "tests/fuzz/regress/$name"; do
		[ -d "$d" ] && set -- "$@" "$d"
	done
	before=$(ls "$art" | wc -l)
	start=$(date +%s)
	"$bin" "$@" >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	new=$(( $(ls "$art" | wc -l) - before ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	printf '%-14s %12s %9s %6s %8s\n' "$name" "${runs:-?}" "${rate:-?}" "$took" "$new"
	if [ $rc -ne 0 ] || [ "$new" -ne 0 ]; then
		failed="$failed $name"
		echo "  FAIL $name (exit $rc); the report (whole output: $log):"
		awk '/==[0-9]+==(ERROR|WARNING)|runtime error|deadly signal|ERROR: libFuzzer|^fuzz_/ { on = 1 }
		     / in fuzzer::|libc_start|in _start / { next }
		     on && n++ < 40 { print "    | " $0 }' "$log"
		[ "$new" -gt 0 ] || continue
		for a in $(ls -t "$art" | head -n "$new"); do
			echo "  input: $art/$a"
			echo "    reproduce:   $bin $art/$a"
			echo "    once fixed:  cp $art/$a tests/fuzz/regress/$name/ (make check replays it)"
		done
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed"
	exit 1
fi
echo "fuzz: no crash in $count harness(es), $secs s each"
