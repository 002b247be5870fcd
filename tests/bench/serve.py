#!/usr/bin/python3
"""Starts the benchmark's tessera (1M-key bucket, users, temporary credentials; no slapd or
OIDC provider) and writes one wrk Lua script per scenario, then waits until interrupted, so
that the server can be profiled under a chosen load. Used for the profiles in
docs/BENCHMARKS.md:

    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
    cmake --build build-bench -j2 --target tessera bench_fill
    tests/bench/serve.py build-bench "sts.AssumeRole,s3.temp GET 4KiB" /tmp/lua [--idps]
    # prints READY PORT PID; then, in another shell:
    wrk -t2 -c16 -d10s -s /tmp/lua/sts.AssumeRole.lua http://127.0.0.1:PORT/ &
    perf record -F 2000 --call-graph dwarf -p PID -- sleep 4
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    idps = sys.argv[4:] == ["--idps"]  # also slapd and the OIDC provider (LDAP, WebIdentity)
    if len(sys.argv) != 4 and not idps:
        sys.exit(__doc__)
    build, only, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    b = bench.Bench(build, out, True, only)
    b.provider = b.slapd = None
    try:
        if idps:
            b.start_idps()
        b.start_server()
        b.setup_iam()
        for name, reqs in b.scenarios():
            path = os.path.join(out, name.replace(" ", "_").replace("/", "_").replace("%", "")
                                + ".lua")
            bench.write_lua(path, reqs)
            print("LUA", name, path, flush=True)
        print("READY", b.port, b.server.pid, flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])
        signal.sigwait([signal.SIGTERM, signal.SIGINT])
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
