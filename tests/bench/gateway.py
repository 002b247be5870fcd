#!/usr/bin/python3
"""The gateway's cost (issue 17): GET and PUT of 4 KiB and 1 MiB objects through
`tessera gateway s3` and straight to its upstream (a `tessera server`), in one run, rounds
interleaved, medians; wrk replays SigV4-signed requests (tests/bench/bench.py's helpers).

    tests/bench/gateway.py BUILD_DIR [SECONDS] [ROUNDS] [CONNS...]

e.g. tests/bench/gateway.py build-bench 5 3 16. Prints a Markdown table with the ratio
gateway / direct per scenario, and the gateway's peak RSS. See docs/BENCHMARKS.md.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

import boto3  # noqa: E402
import botocore.config  # noqa: E402

AK, SK = "gw-bench-root", "gw-bench-root-secret-1"
BUCKET = "gwbench"
SIZES = {"4KiB": 4096, "1MiB": 1 << 20}


def start(cmd, port, what):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "MINIO_"))}
    env.update(TESSERA_ROOT_USER=AK, TESSERA_ROOT_PASSWORD=SK, TESSERA_LOG_LEVEL="warn")
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench.wait_port(port, p, what)
    return p


def requests_for(port, name):
    """The signed requests of scenario name ("GET 4KiB", ...) for the endpoint on port."""
    method, size = name.split()
    ep = "http://127.0.0.1:%d" % port
    body = b"x" * SIZES[size] if method == "PUT" else b""
    m, p, h = bench.signed(ep, method, "/%s/%s-%s" % (BUCKET, method.lower(), size), (AK, SK, None),
                           "s3", body=body)
    return [(m, p, h, ("x", SIZES[size]) if method == "PUT" else None)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    conns = [int(c) for c in sys.argv[4:]] or [16]
    tmp = tempfile.mkdtemp(prefix="tessera-gwbench-")
    tessera = os.path.join(build, "tessera")
    up_port, gw_port = bench.free_port(), bench.free_port()
    procs = []
    try:
        procs.append(start([tessera, "server", "--address", "127.0.0.1:%d" % up_port,
                            os.path.join(tmp, "up")], up_port, "upstream"))
        procs.append(start([tessera, "gateway", "s3", "--address", "127.0.0.1:%d" % gw_port,
                            "--state-dir", os.path.join(tmp, "gw"), "http://127.0.0.1:%d" % up_port],
                           gw_port, "gateway"))
        s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:%d" % up_port,
                          aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket=BUCKET)
        for size, n in SIZES.items():
            s3.put_object(Bucket=BUCKET, Key="get-" + size, Body=b"x" * n)
        results = {}
        for name in ("GET 4KiB", "GET 1MiB", "PUT 4KiB", "PUT 1MiB"):
            scripts = {}
            for who, port in (("direct", up_port), ("gateway", gw_port)):
                scripts[who] = os.path.join(tmp, "%s-%s.lua" % (who, name.replace(" ", "_")))
                bench.write_lua(scripts[who], requests_for(port, name))
            for c in conns:
                for _ in range(rounds):
                    for who, port in (("direct", up_port), ("gateway", gw_port)):
                        r = bench.wrk(port, c, secs, scripts[who], sample_pid=procs[1].pid
                                      if who == "gateway" else None)
                        if r["non2xx"] or r["sockerr"]:
                            raise RuntimeError("%s %s: %s" % (who, name, r))
                        results.setdefault((name, c, who), []).append(r)
                        time.sleep(0.5)
        print("| scenario | conns | direct req/s | gateway req/s | gateway / direct | gateway peak RSS |")
        print("|---|---|---|---|---|---|")
        for name in ("GET 4KiB", "GET 1MiB", "PUT 4KiB", "PUT 1MiB"):
            for c in conns:
                d = statistics.median(r["rps"] for r in results[(name, c, "direct")])
                g = statistics.median(r["rps"] for r in results[(name, c, "gateway")])
                rss = max(r["rss_peak_kib"] for r in results[(name, c, "gateway")])
                print("| %s | %d | %.0f | %.0f | %.2f | %.0f MiB |" % (name, c, d, g, g / d, rss / 1024))
    finally:
        for p in reversed(procs):
            bench.stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
