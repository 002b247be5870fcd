#!/bin/sh
# Builds tessera and runs every test: the C unit tests (in the normal build also under
# valgrind) and the integration suite (real clients against a real server), first in the
# normal build, then in the ASAN (ASan+UBSan) build.
#   tests/run.sh            everything
#   tests/run.sh --quick    normal build only
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
jobs="$(nproc 2>/dev/null || echo 2)"
run() {
  dir="$1"; type="$2"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure --timeout 2400)
}
run build RelWithDebInfo
if [ "${1:-}" != "--quick" ]; then
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1" \
    run build-asan ASAN
fi
echo "tessera: all tests passed"
