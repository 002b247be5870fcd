#!/usr/bin/python3
"""SSE-S3 against the unencrypted path in one server run: GET and PUT of 1 MiB, plain and
AES256, interleaved round by round (wrk, signed requests of bench.py), medians and ratios.

    tests/bench/sse_ab.py BUILD_DIR [ROUNDS] [SECONDS] [CONNS]
    e.g. tests/bench/sse_ab.py build 5 5 16
"""
import os
import statistics
import subprocess
import sys
import tempfile

import bench
from bench import MB1, ROOT_PASSWORD, ROOT_USER, free_port, signed, stop, wait_port, write_lua, wrk

import boto3
import botocore.config


def main():
    build = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    secs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    conns = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    tmp = tempfile.mkdtemp(prefix="tessera-sse-ab-")
    port = free_port()
    env = dict(os.environ, TESSERA_ROOT_USER=ROOT_USER, TESSERA_ROOT_PASSWORD=ROOT_PASSWORD,
               TESSERA_LOG_LEVEL="error")
    proc = subprocess.Popen([os.path.join(build, "tessera"), "server", "--address",
                             "127.0.0.1:%d" % port, os.path.join(tmp, "data")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "tessera")
        ep = "http://127.0.0.1:%d" % port
        s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ROOT_USER,
                          aws_secret_access_key=ROOT_PASSWORD, region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="bsse")
        s3.put_object(Bucket="bsse", Key="plain", Body=b"x" * MB1)
        s3.put_object(Bucket="bsse", Key="sse", Body=b"x" * MB1, ServerSideEncryption="AES256")
        creds = (ROOT_USER, ROOT_PASSWORD, None)
        sse = {"x-amz-server-side-encryption": "AES256"}

        def req(method, path, body=None, headers=None):
            m, p, h = signed(ep, method, path, creds, "s3",
                             body=b"x" * MB1 if body else b"", headers=headers)
            return (m, p, h, ("x", MB1) if body else None)

        scen = [("GET 1MiB", lambda: req("GET", "/bsse/plain")),
                ("GET 1MiB SSE", lambda: req("GET", "/bsse/sse")),
                ("PUT 1MiB", lambda: req("PUT", "/bsse/put", True)),
                ("PUT 1MiB SSE", lambda: req("PUT", "/bsse/put-sse", True, sse))]
        res = {n: [] for n, _ in scen}
        lua = os.path.join(tmp, "s.lua")
        for rnd in range(rounds):
            # Odd rounds run the list backwards: a PUT run then never always follows the other
            # PUT run (whose writeback it would pay for).
            for name, mk in (scen if rnd % 2 == 0 else scen[::-1]):
                write_lua(lua, [mk()])
                r = wrk(port, conns, secs, lua)
                res[name].append(r["rps"])
                print("round %d %-14s c=%d %8.0f req/s non2xx %d" % (rnd, name, conns, r["rps"],
                                                                     r["non2xx"]), flush=True)
        med = {n: statistics.median(v) for n, v in res.items()}
        print("\nmedians of %d rounds, %d s each, %d connections:" % (rounds, secs, conns))
        for op in ("GET", "PUT"):
            a, b = med[op + " 1MiB"], med[op + " 1MiB SSE"]
            print("%s 1MiB: plain %.0f req/s, SSE-S3 %.0f req/s, ratio %.2f" % (op, a, b, b / a))
    finally:
        stop(proc)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
