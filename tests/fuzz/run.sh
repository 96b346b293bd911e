#!/bin/sh
# run.sh - replay one fuzz target's regression inputs, then fuzz it.
#
# Usage: sh tests/fuzz/run.sh FUZZ_DIR TARGET SECONDS MAX_LEN
#
# FUZZ_DIR/fuzz_TARGET is the libFuzzer binary (tests/fuzz/fuzz.mk).
# 1. Every file in tests/fuzz/regress/TARGET/ (inputs that once crashed)
#    runs once, whole, whatever MAX_LEN says.
# 2. The fuzzer runs for SECONDS with inputs up to MAX_LEN bytes and
#    tests/fuzz/TARGET.dict when there is one. It starts from
#    FUZZ_DIR/seeds/TARGET (tests/fuzz/seeds.sh), the regression inputs
#    and FUZZ_DIR/corpus/TARGET, where it keeps what it finds, so a later
#    run goes on from there. A crash, leak, timeout or sanitizer report
#    stops it; the input is saved under FUZZ_DIR/crash/TARGET/.
# The whole log goes to FUZZ_DIR/log/TARGET.log; stdout gets one summary
# line (runs, runs/s, coverage, corpus, peak RSS) or, on failure, the end
# of the log. Exits 0 when both steps were clean, 1 otherwise.
# FUZZ_FLAGS adds libFuzzer options (e.g. FUZZ_FLAGS=-jobs=2).

set -u

if [ "$#" -ne 4 ]; then
	echo "usage: $0 FUZZ_DIR TARGET SECONDS MAX_LEN" >&2
	exit 2
fi
dir=$1
name=$2
seconds=$3
maxlen=$4
here=$(cd "$(dirname "$0")" && pwd)
bin=$dir/fuzz_$name
regress=$here/regress/$name
corpus=$dir/corpus/$name
crash=$dir/crash/$name
log=$dir/log/$name.log
mkdir -p "$corpus" "$crash" "$dir/log"

# Leaks are failures; UBSan stops at the first report (-fno-sanitize-recover).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

failed() {
	echo "FAIL fuzz_$name: $1 (log: $log)"
	tail -n 40 "$log" | sed 's/^/    /'
	find "$crash" -type f | sed 's/^/    saved: /'
	exit 1
}

if [ ! -x "$bin" ]; then
	echo "FAIL fuzz_$name: $bin not built"
	exit 1
fi

dirs="$corpus $dir/seeds/$name"
if [ -d "$regress" ]; then
	set -- "$regress"/*
	if [ -f "$1" ]; then
		"$bin" -timeout=25 "$@" > "$log" 2>&1 ||
			failed "a regression input in tests/fuzz/regress/$name crashes again"
	fi
	dirs="$dirs $regress"
fi

dict=""
[ -f "$here/$name.dict" ] && dict=-dict=$here/$name.dict
# shellcheck disable=SC2086 # dirs, dict and FUZZ_FLAGS are word lists
"$bin" -max_total_time="$seconds" -max_len="$maxlen" -timeout=25 \
	-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crash/" \
	$dict ${FUZZ_FLAGS:-} $dirs >> "$log" 2>&1 || failed "crash, leak or sanitizer report"

# "#12345 NEW cov: 812 ft: 3456 corp: 345/78Kb lim: 4096 exec/s: 2057 rss: 120Mb"
done_line=$(grep -aE '^#[0-9]+.* cov: ' "$log" | tail -n 1)
stat() {
	sed -n "s/^stat::$1: *//p" "$log" | tail -n 1 | tr -d '\n' 
}
cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(echo "$done_line" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
echo "ok   fuzz_$name: $(stat number_of_executed_units) runs in ${seconds}s," \
	"$(stat average_exec_per_sec)/s, cov $cov ft $ft, corpus $corp," \
	"$(find "$corpus" -type f | wc -l) files in $corpus, peak RSS $(stat peak_rss_mb) MB"
