#!/bin/sh
# tests/fuzz/run.sh [SECONDS] [TARGET...] -- builds the libFuzzer targets (clang-14, ASan +
# UBSan, build dir build-fuzz or $FUZZ_BUILD_DIR) and runs each for SECONDS (default 60)
# on one core, starting from the committed seed corpus tests/fuzz/corpus/<target>/.
# New coverage goes to build-fuzz/corpus/<target>/ (not committed); a crash leaves
# build-fuzz/artifacts/<target>/crash-* and fails the run: copy the file into
# tests/fuzz/corpus/<target>/ (a regression test replayed by ctest) once fixed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
bdir=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cc=${CC:-clang-14}

cmake -S "$root" -B "$bdir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=ASAN \
      -DTESSERA_FUZZ=ON >/dev/null
targets=${*:-$(cd "$here" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')}
for t in $targets; do
  cmake --build "$bdir" -j2 --target "fuzz_$t" >/dev/null
done

fail=0
for t in $targets; do
  mkdir -p "$bdir/corpus/$t" "$bdir/artifacts/$t"
  log="$bdir/fuzz_$t.log"
  echo "== fuzz_$t: ${secs}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
       "$bdir/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -max_len=16384 -print_final_stats=1 -artifact_prefix="$bdir/artifacts/$t/" \
       "$bdir/corpus/$t" "$here/corpus/$t" >"$log" 2>&1; then
    echo "   CRASH: see $log and $bdir/artifacts/$t/"
    fail=1
  fi
  # One summary line: executions, speed, coverage, corpus size.
  grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' "$log" | tr '\n' ' '
  grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1
done
exit $fail
