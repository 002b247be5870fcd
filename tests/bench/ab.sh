#!/bin/sh
# Back-to-back comparison of two builds on one scenario of the benchmark suite: for each round,
# each build in turn is started by tests/bench/serve.py (same data set, users and signed
# requests as tests/bench/run.sh) and loaded with wrk at each connection count. Interleaving
# the builds round by round keeps the machine's drift out of the comparison; quote medians.
#
#   tests/bench/ab.sh BUILD_A BUILD_B "SCENARIO" ROUNDS SECONDS CONNS...
#   e.g. tests/bench/ab.sh build-bench /tmp/old/build "s3.static PUT 4KiB" 2 5 16 64
#   BUILD@etcd runs that build with its IAM store on a local etcd (started by serve.py):
#   tests/bench/ab.sh build-bench build-bench@etcd "sts.AssumeRole" 3 5 16 64
#   BUILD@opa runs that build deciding through the authorization plugin (bench_opa, a tiny
#   C policy service answering {"result": true}); needs bench_opa built too:
#   tests/bench/ab.sh build-bench build-bench@opa "s3.temp GET 4KiB" 3 5 16 64
#   BENCH_LIFECYCLE=1 puts a lifecycle configuration on the bench bucket whose rules match the
#   objects read (GET/HEAD answer x-amz-expiration): BENCH_LIFECYCLE=1 tests/bench/ab.sh ...
#
# Each build directory needs tessera and bench_fill (cmake --build DIR --target tessera
# bench_fill). CONNS are at least 2 (wrk -t2). HEAD scenarios are not supported (wrk waits
# for the body a HEAD response announces; run.sh uses bench_head for them). Prints one line
# per run: round, build, connections, req/s, non-2xx responses.
set -eu
[ $# -ge 6 ] || { sed -n '2,20p' "$0"; exit 2; }
case "$3" in *HEAD*) echo "ab.sh: HEAD scenarios need bench_head (tests/bench/run.sh)" >&2; exit 2 ;; esac
here="$(cd "$(dirname "$0")" && pwd)"
a="$1"; b="$2"; scen="$3"; rounds="$4"; secs="$5"; shift 5
lua_name="$(printf '%s' "$scen" | tr ' /' '__' | tr -d '%')"
idps=""
case "$scen" in sts.WebIdentity|sts.ClientGrants|sts.LDAP) idps="--idps" ;; esac
tmp="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
r=1
while [ "$r" -le "$rounds" ]; do
  for build in "$a" "$b"; do
    rm -rf "$tmp/lua"
    "$here/serve.py" "$build" "$scen" "$tmp/lua" $idps >"$tmp/serve.log" 2>&1 &
    pid=$!
    i=0
    until grep -q READY "$tmp/serve.log"; do
      i=$((i + 1))
      [ "$i" -le 120 ] || { cat "$tmp/serve.log"; exit 1; }
      sleep 1
    done
    port="$(awk '/READY/{print $2}' "$tmp/serve.log")"
    # 2 s of warm-up (caches, page cache, TCP), not counted
    wrk -t2 -c"$1" -d2s -s "$tmp/lua/$lua_name.lua" "http://127.0.0.1:$port/" >/dev/null
    for c in "$@"; do
      wrk -t2 -c"$c" -d"${secs}s" -s "$tmp/lua/$lua_name.lua" "http://127.0.0.1:$port/" \
        >"$tmp/wrk.out"
      rps="$(awk '/Requests\/sec/{print $2}' "$tmp/wrk.out")"
      non2xx="$(awk '/Non-2xx/{print $NF}' "$tmp/wrk.out")"
      echo "$r $build c=$c $rps req/s non-2xx ${non2xx:-0}"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
  done
  r=$((r + 1))
done
