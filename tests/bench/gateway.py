#!/usr/bin/python3
"""The gateway's cost (issue 17): GET and PUT of 4 KiB and 1 MiB objects through
`tessera gateway s3` and straight to its upstream (a `tessera server`), in one run, rounds
interleaved, medians; wrk replays SigV4-signed requests (tests/bench/bench.py's helpers).

    tests/bench/gateway.py BUILD_DIR [SECONDS] [ROUNDS] [CONNS...]

e.g. tests/bench/gateway.py build-bench 5 3 16. Prints a Markdown table with the ratio
gateway / direct per scenario, and the gateway's peak RSS. See docs/BENCHMARKS.md.
When haproxy is installed, a plain HTTP reverse proxy (haproxy, same upstream, connection reuse)
is measured too, as the floor of what any proxy in between costs on this machine.
GWBENCH_UPSTREAM=rgw puts a Ceph RGW (tests/integration/rgw.py: single node, memstore)
behind the gateway instead; GWBENCH_SCENARIOS="GET 4KiB,PUT 1MiB" runs a subset.
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rgw  # noqa: E402

import boto3  # noqa: E402
import botocore.config  # noqa: E402

AK, SK = "gw-bench-root", "gw-bench-root-secret-1"
BUCKET = "gwbench"
SIZES = {"4KiB": 4096, "1MiB": 1 << 20}
SCENARIOS = [n.strip() for n in os.environ.get(
    "GWBENCH_SCENARIOS", "GET 4KiB,GET 1MiB,PUT 4KiB,PUT 1MiB").split(",")]


def start(cmd, port, what):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "MINIO_"))}
    env.update(TESSERA_ROOT_USER=AK, TESSERA_ROOT_PASSWORD=SK, TESSERA_LOG_LEVEL="warn",
               TESSERA_REGION="us-east-1")
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench.wait_port(port, p, what)
    return p


HAPROXY_CFG = """global
    nbthread 2
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    server up 127.0.0.1:%d
"""


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
    up_port, gw_port, hp_port = bench.free_port(), bench.free_port(), bench.free_port()
    procs, up = [], None
    try:
        if os.environ.get("GWBENCH_UPSTREAM") == "rgw":
            up = rgw.Rgw(AK, SK).start()
            up_port = up.port
            procs.append(None)
        else:
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
        whos = [("direct", up_port), ("gateway", gw_port)]
        if shutil.which("haproxy"):
            with open(os.path.join(tmp, "haproxy.cfg"), "w") as f:
                f.write(HAPROXY_CFG % (hp_port, up_port))
            procs.append(subprocess.Popen(["haproxy", "-f", os.path.join(tmp, "haproxy.cfg")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            bench.wait_port(hp_port, procs[-1], "haproxy")
            whos.append(("haproxy", hp_port))
        results = {}
        for name in SCENARIOS:
            scripts = {}
            for who, port in whos:
                scripts[who] = os.path.join(tmp, "%s-%s.lua" % (who, name.replace(" ", "_")))
                # haproxy passes the Host header on: its requests are signed for the upstream
                bench.write_lua(scripts[who], requests_for(up_port if who == "haproxy" else port,
                                                           name))
            for c in conns:
                for _ in range(rounds):
                    for who, port in whos:
                        r = bench.wrk(port, c, secs, scripts[who], sample_pid=procs[1].pid
                                      if who == "gateway" else None)
                        if r["non2xx"] or r["sockerr"]:
                            raise RuntimeError("%s %s: %s" % (who, name, r))
                        results.setdefault((name, c, who), []).append(r)
                        time.sleep(0.5)
        hp = len(whos) > 2
        print("| scenario | conns | direct req/s | gateway req/s | gateway / direct | gateway peak RSS |"
              + (" haproxy req/s | haproxy / direct |" if hp else ""))
        print("|---|---|---|---|---|---|" + ("---|---|" if hp else ""))
        for name in SCENARIOS:
            for c in conns:
                med = {w: statistics.median(r["rps"] for r in results[(name, c, w)])
                       for w, _ in whos}
                d, g = med["direct"], med["gateway"]
                rss = max(r["rss_peak_kib"] for r in results[(name, c, "gateway")])
                print("| %s | %d | %.0f | %.0f | %.2f | %.0f MiB |" % (name, c, d, g, g / d, rss / 1024)
                      + (" %.0f | %.2f |" % (med["haproxy"], med["haproxy"] / d) if hp else ""))
    finally:
        for p in reversed(procs):
            if p is not None:
                bench.stop(p)
        if up is not None:
            up.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
