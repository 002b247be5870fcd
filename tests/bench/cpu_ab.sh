#!/bin/sh
# tests/bench/cpu_ab.sh BUILD_A BUILD_B... -- the server's CPU time per request (utime + stime
# of the tessera process over a 10 s wrk run at 16 connections, divided by the requests it
# served) on "s3.static GET 4KiB", the builds alternating for 4 rounds. On a shared, loaded
# machine req/s swings 5x between runs of one build; CPU time per request swings far less, so
# it shows the cost a change adds to a request. Needs tessera and bench_fill in each build dir.
[ $# -ge 1 ] || { sed -n '2,6p' "$0"; exit 2; }
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
scen="s3.static GET 4KiB"; lua_name="s3.static_GET_4KiB"
tmp=$(mktemp -d)
for r in 1 2 3 4; do
  for build in "$@"; do
    "$here/serve.py" "$build" "$scen" "$tmp/lua" >"$tmp/serve.log" 2>&1 &
    spid=$!
    until grep -q READY "$tmp/serve.log"; do sleep 1; done
    port=$(awk '/READY/{print $2}' "$tmp/serve.log")
    tpid=$(pgrep -f "tessera server --address 127.0.0.1:$port" | head -1)
    wrk -t2 -c16 -d2s -s "$tmp/lua/$lua_name.lua" "http://127.0.0.1:$port/" >/dev/null
    t0=$(awk '{print $14+$15}' /proc/$tpid/stat)
    wrk -t2 -c16 -d10s -s "$tmp/lua/$lua_name.lua" "http://127.0.0.1:$port/" >"$tmp/wrk.out"
    t1=$(awk '{print $14+$15}' /proc/$tpid/stat)
    n=$(awk '/requests in/{print $1}' "$tmp/wrk.out")
    rps=$(awk '/Requests\/sec/{print $2}' "$tmp/wrk.out")
    echo "$r $build ticks=$((t1-t0)) requests=$n us_per_req=$(echo "($t1-$t0)*10000/$n" | bc -l | cut -c1-6) rps=$rps"
    kill $spid; wait $spid 2>/dev/null || true
  done
done
rm -rf "$tmp"
