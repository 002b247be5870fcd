#!/usr/bin/python3
"""Threading-model benchmark for the HTTP layer (issue: pick the model by measurement).

Starts bench_http in each model and drives it with wrk (4 KiB GET from memory, keep-alive),
N runs each, interleaved so that machine noise spreads over all models; prints a Markdown
table of medians and the ratio to the bare libmicrohttpd epoll pool measured in the same run.

  tests/bench/http_models.py BUILD_DIR [RUNS] [SECONDS] [CONNECTIONS]
"""
import re
import socket
import statistics
import subprocess
import sys
import time

build = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
secs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 64

MODELS = [
    ("bare", "pool", 2, "bare libmicrohttpd, epoll pool of 2 (baseline)"),
    ("core", "pool", 2, "tessera core/http, epoll pool of 2 (= cores)"),
    ("core", "pool", 4, "tessera core/http, epoll pool of 4 (2x cores)"),
    ("core", "tpc", 1, "tessera core/http, thread per connection"),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def parse_latency(text, pct):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)" % pct, text, re.M)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v if m.group(2) == "ms" else v * 1000


results = {m: [] for m in range(len(MODELS))}
for r in range(runs):
    for i, (kind, model, threads, _) in enumerate(MODELS):
        port = free_port()
        p = subprocess.Popen([build + "/bench_http", kind, model, str(threads), str(port)])
        time.sleep(0.3)
        out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "--latency",
                              "http://127.0.0.1:%d/obj" % port],
                             capture_output=True, text=True).stdout
        p.terminate()
        p.wait()
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        results[i].append((rps, parse_latency(out, 50), parse_latency(out, 99)))

base = statistics.median(x[0] for x in results[0])
print("| model | req/s (median of %d) | p50 ms | p99 ms | vs baseline |" % runs)
print("|---|---:|---:|---:|---:|")
for i, (_, _, _, desc) in enumerate(MODELS):
    rps = statistics.median(x[0] for x in results[i])
    p50 = statistics.median(x[1] for x in results[i])
    p99 = statistics.median(x[2] for x in results[i])
    print("| %s | %.0f | %.3f | %.3f | %.2f |" % (desc, rps, p50, p99, rps / base))
