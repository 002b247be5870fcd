#!/bin/sh
# The benchmark suite (issue 8). Builds a Release binary in build-bench/, then runs
# tests/bench/bench.py: tessera's STS and S3 scenarios at 16 and 64 connections next to the
# baselines (bare libmicrohttpd, nginx, write+fsync+rename loop, openssl RSA-2048 verify,
# slapd bind), medians of 3 rounds. Results: build-bench/bench-results/results.{md,csv}.
#
#   tests/bench/run.sh [--quick] [--only SUBSTR,...]
#
# Needs: wrk, nginx, slapd, openssl, node (tests/integration/oidc, `npm ci`), Debian's python3
# with boto3 and requests. Not run in CI. See docs/BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/../.."
B=${BENCH_BUILD_DIR:-build-bench}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B" -j"$(nproc)" --target tessera bench_http bench_policy bench_fill bench_fsync bench_head \
    bench_ldapbind >/dev/null
for t in wrk nginx slapd openssl; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "missing: $t" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin exec /usr/bin/python3 tests/bench/bench.py "$B" "$B/bench-results" "$@"
