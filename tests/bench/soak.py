#!/usr/bin/python3
"""Soak test (hardening / performance issues): DURATION of mixed S3 load at 128 connections
against a Release tessera on loopback; zero 5xx, zero crashes, RSS flat.

    cmake -S . -B build-bench-soak -DCMAKE_BUILD_TYPE=Release
    cmake --build build-bench-soak -j2 --target tessera
    tests/bench/soak.py build-bench-soak build-bench-soak/soak [--duration 600] [--conns 128]
        [--max-slope 0.25] [--presign] [--keep]

Setup: a fresh data directory in /tmp, a non-root user whose policy allows s3:* on the bucket
but denies s3:GetObject under denied/, temporary credentials from that user's AssumeRole, 100
objects of 4 KiB (plus 4 under denied/). Load: wrk (-t2, keep-alive) replays 400 requests
signed once with the temporary credentials, round-robin: 340 GET of the 100 objects, 40 PUT of
4 KiB (10 %; they overwrite the first 40 of the objects being read), 20 GET under denied/ that
the policy refuses (5 %, 403). Header-signed requests are accepted again for 15 minutes; for
longer runs (or with --presign) the requests are presigned instead (X-Amz-Expires = duration
+ 10 minutes).

Every 10 s: the server's VmRSS, RssAnon, threads and open fds (/proc/PID), the cumulative
request counts by status from its /metrics, the data directory (KiB allocated to files and
directories, object data files, directories: the objects/XX/YY fan-out directories are not
removed when they empty, so their number grows towards 65,536 under overwrites).

Checks (exit status 1 if one fails): the server is alive and /health/live answers 200 at the
end; zero 5xx (server metrics and wrk's own per-status counts); no other unexpected status
(only 2xx and the policy's 403, whose share must be near 5 %); no socket error in wrk; the
server's open fds back to their idle count and exactly one data file per object 1 s after
the load (no orphaned data file of an overwritten object); the RssAnon slope (least
squares over the samples after the first minute, or after the first quarter of shorter runs)
below --max-slope MiB/min. VmRSS is reported too, but it includes file pages (the binary, the
LMDB maps), so the leak check is on the anonymous memory.

Writes OUT_DIR/soak.csv (every sample: t_s, rss_kib, rss_anon_kib, fds, then the request
counts since the start of the load: requests, 2xx, 403, 5xx, other; threads, data_kib,
data_files, data_dirs),
OUT_DIR/soak.md (one row per minute, the sample after the load, and the summary),
OUT_DIR/wrk.out and OUT_DIR/tessera.log (the server log without its 2xx-4xx access lines).
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import boto3  # noqa: E402
import botocore.config  # noqa: E402
from botocore.auth import S3SigV4QueryAuth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from bench import free_port, lua_replay, rw_user, signed, stop, wait_port  # noqa: E402

ROOT_USER, ROOT_PASSWORD = "soak-root", "soak-root-secret-1"
USER, USER_SECRET = "soakuser", "soakuser-secret-1"
BUCKET = "soak"
KB4 = 4096
N_OBJ, N_DENIED = 100, 4
SAMPLE_EVERY = 10.0
COUNTS = ("requests", "2xx", "403", "5xx", "other")
HEADER_SIG_WINDOW = 15 * 60  # a header-signed request is accepted for 15 minutes


def log(*a):
    print("[soak %s]" % time.strftime("%H:%M:%S"), *a, flush=True)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def data_usage(path):
    """(KiB allocated to files and directories, object data files, directories) under path;
    LMDB files (*.mdb) are counted in the KiB only."""
    kib, files, dirs = 0, 0, 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    kib += e.stat(follow_symlinks=False).st_blocks // 2
                    if e.is_dir(follow_symlinks=False):
                        dirs += 1
                        stack.append(e.path)
                    elif not e.name.endswith(".mdb"):
                        files += 1
                except OSError:
                    pass
    return kib, files, dirs


def http_get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""


def metrics_counts(endpoint):
    """{status: count} of tessera_requests_total over every route but metrics and health."""
    st, text = http_get(endpoint + "/metrics")
    if st != 200:
        raise RuntimeError("/metrics answered %d" % st)
    out = {}
    for m in re.finditer(r'^tessera_requests_total\{api="([^"]*)",status="(\d+)"\} (\d+)$',
                         text, re.M):
        if m.group(1) in ("metrics", "health"):
            continue
        s = int(m.group(2))
        out[s] = out.get(s, 0) + int(m.group(3))
    return out


def presigned(endpoint, method, path, creds, expires):
    """A presigned (query-string SigV4) request as (method, path+query, headers)."""
    ak, sk, tok = creds
    req = AWSRequest(method=method, url=endpoint + path, data=b"", headers={})
    S3SigV4QueryAuth(Credentials(ak, sk, tok), "s3", "us-east-1", expires=expires).add_auth(req)
    u = urllib.parse.urlsplit(req.url)
    return method, u.path + "?" + u.query, {"Host": u.netloc}


def write_lua(path, reqs):
    """reqs: (method, path, headers, body_len or None). Round-robin per wrk thread; every
    thread counts the responses by status, done() prints the totals (STATUS lines) and wrk's
    error counters (ERRORS line)."""
    out = ["counts = {}"] + lua_replay([(m, p, h, None if n is None else ("x", n))
                                        for m, p, h, n in reqs])
    out += ["response = function(status, headers, body)",
            "  counts[status] = (counts[status] or 0) + 1",
            "end",
            "local threads = {}",
            "setup = function(thread) table.insert(threads, thread) end",
            "done = function(summary, latency, requests)",
            "  local total = {}",
            "  for _, t in ipairs(threads) do",
            "    for k, v in pairs(t:get(\"counts\")) do total[k] = (total[k] or 0) + v end",
            "  end",
            "  for k, v in pairs(total) do io.write(string.format(\"STATUS %d %d\\n\", k, v)) end",
            "  local e = summary.errors",
            "  io.write(string.format(\"ERRORS connect=%d read=%d write=%d status=%d "
            "timeout=%d\\n\", e.connect, e.read, e.write, e.status, e.timeout))",
            "end"]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


class Soak:
    def __init__(self, build, out, duration, conns, max_slope, presign=False, keep=False):
        self.build, self.out, self.presign, self.keep = build, out, presign, keep
        self.duration, self.conns, self.max_slope = duration, conns, max_slope
        self.tmp = tempfile.mkdtemp(prefix="tessera-soak-")
        self.data = os.path.join(self.tmp, "data")
        self.server = None
        self.samples = []  # dicts, see CSV_FIELDS
        self.failures = []
        self.info = {}

    # -- server --
    def start_server(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "TESSERA_"))}
        env.update({"TESSERA_ROOT_USER": ROOT_USER, "TESSERA_ROOT_PASSWORD": ROOT_PASSWORD,
                    "TESSERA_AUDIT_LOG": os.path.join(self.tmp, "audit.log")})
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.server_log = os.path.join(self.tmp, "tessera.log")
        logf = open(self.server_log, "ab")
        self.server = subprocess.Popen(
            [os.path.join(self.build, "tessera"), "server", "--address",
             "127.0.0.1:%d" % self.port, self.data], stdout=logf, stderr=logf, env=env)
        logf.close()
        wait_port(self.port, self.server, "tessera")

    def setup(self):
        rw_user(self.build, self.endpoint, self.tmp, "soak-rw", (BUCKET,), USER, USER_SECRET,
                (ROOT_USER, ROOT_PASSWORD))
        cfg = botocore.config.Config(s3={"addressing_style": "path"})
        root = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ROOT_USER,
                            aws_secret_access_key=ROOT_PASSWORD, region_name="us-east-1",
                            config=cfg)
        root.create_bucket(Bucket=BUCKET)
        sts = boto3.client("sts", endpoint_url=self.endpoint, aws_access_key_id=USER,
                           aws_secret_access_key=USER_SECRET, region_name="us-east-1")
        c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/soak",
                            RoleSessionName="soak", DurationSeconds=43200)["Credentials"]
        self.temp = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.temp[0],
                          aws_secret_access_key=self.temp[1], aws_session_token=self.temp[2],
                          region_name="us-east-1", config=cfg)
        body = b"x" * KB4
        for i in range(N_OBJ):
            s3.put_object(Bucket=BUCKET, Key="obj-%03d" % i, Body=body)
        for i in range(N_DENIED):  # the policy refuses GET, not PUT
            s3.put_object(Bucket=BUCKET, Key="denied/obj-%d" % i, Body=body)

    # -- requests --
    def requests(self):
        """400 requests: 340 GET, 40 PUT (10 %), 20 refused GET (5 %), interleaved."""
        long_run = self.presign or self.duration + 120 > HEADER_SIG_WINDOW
        expires = int(self.duration) + 600

        def req(method, path, n=None):
            if long_run:
                m, p, h = presigned(self.endpoint, method, path, self.temp, expires)
            else:
                body = b"x" * n if n else b""
                m, p, h = signed(self.endpoint, method, path, self.temp, "s3", body=body)
            return m, p, h, n

        self.info["signing"] = ("presigned, X-Amz-Expires=%d" % expires if long_run
                                else "header-signed once (accepted for 15 min)")
        out, g, put, den = [], 0, 0, 0
        for i in range(400):
            k = i % 20
            if k in (6, 16):
                out.append(req("PUT", "/%s/obj-%03d" % (BUCKET, put % 40), KB4))
                put += 1
            elif k == 13:
                out.append(req("GET", "/%s/denied/obj-%d" % (BUCKET, den % N_DENIED)))
                den += 1
            else:
                out.append(req("GET", "/%s/obj-%03d" % (BUCKET, (g * 37) % N_OBJ)))
                g += 1
        self.expected_403 = den / len(out)
        return out

    def check_requests(self, reqs):
        """Each distinct kind once through urllib before the load."""
        for m, p, h, n in (reqs[0], reqs[6], reqs[13]):
            r = urllib.request.Request(self.endpoint + p, data=b"x" * n if n else None,
                                       method=m, headers={k: v for k, v in h.items()
                                                          if k != "Host"})
            try:
                with urllib.request.urlopen(r, timeout=30) as resp:
                    st = resp.status
            except urllib.error.HTTPError as e:
                st = e.code
            want = 403 if "/denied/" in p else 200
            if st != want:
                raise RuntimeError("sanity: %s %s answered %d, want %d" % (m, p, st, want))

    # -- sampling --
    def sample(self, t):
        pid = self.server.pid
        s = proc_status(pid)
        c = metrics_counts(self.endpoint)
        kib, files, dirs = data_usage(self.data)
        row = {"t_s": round(t, 1), "rss_kib": s.get("VmRSS", 0),
               "rss_anon_kib": s.get("RssAnon", 0), "fds": open_fds(pid),
               "requests": sum(c.values()),
               "2xx": sum(v for k, v in c.items() if 200 <= k < 300),
               "403": c.get(403, 0),
               "5xx": sum(v for k, v in c.items() if 500 <= k < 600),
               "other": sum(v for k, v in c.items()
                            if not (200 <= k < 300 or k == 403 or 500 <= k < 600)),
               "threads": s.get("Threads", 0), "data_kib": kib, "data_files": files,
               "data_dirs": dirs}
        self.samples.append(row)
        self.last_counts = c
        return row

    def run_load(self):
        lua = os.path.join(self.tmp, "soak.lua")
        reqs = self.requests()
        self.check_requests(reqs)
        write_lua(lua, reqs)
        base = self.sample(0.0)
        self.info["rss_idle_kib"] = base["rss_kib"]
        self.info["anon_idle_kib"] = base["rss_anon_kib"]
        self.base_requests = base["requests"]
        cmd = ["wrk", "-t2", "-c%d" % self.conns, "-d%ds" % self.duration, "--latency",
               "--timeout", "10s", "-s", lua, self.endpoint + "/"]
        wout = open(os.path.join(self.tmp, "wrk.out"), "w+")
        t0 = time.monotonic()
        w = subprocess.Popen(cmd, stdout=wout, stderr=subprocess.STDOUT, text=True)
        next_t = SAMPLE_EVERY
        try:
            while True:
                now = time.monotonic() - t0
                if w.poll() is not None:
                    break
                if self.server.poll() is not None:
                    self.failures.append("server exited with status %s during the load"
                                         % self.server.returncode)
                    w.terminate()
                    w.wait()
                    break
                if now >= next_t:
                    next_t += SAMPLE_EVERY
                    try:
                        r = self.sample(now)
                    except (OSError, RuntimeError) as e:
                        if self.server.poll() is None:
                            self.failures.append("sampling failed at t=%.0f s: %s" % (now, e))
                        continue
                    b0 = self.samples[0]
                    log("t=%4.0fs rss %6.1f MiB anon %6.1f MiB fds %4d req %8d 2xx %8d "
                        "403 %6d 5xx %d other %d" % ((
                            r["t_s"], r["rss_kib"] / 1024, r["rss_anon_kib"] / 1024, r["fds"])
                            + tuple(r[k] - b0[k] for k in COUNTS)))
                time.sleep(min(0.5, max(0.05, next_t - now)))
        except BaseException:
            w.terminate()
            w.wait()
            raise
        self.load_secs = time.monotonic() - t0
        wout.seek(0)
        self.wrk_out = wout.read()
        wout.close()
        if self.server.poll() is None:
            time.sleep(1.0)  # let the last responses be counted
            self.sample(self.load_secs)

    # -- checks and output --
    def evaluate(self):
        out = self.wrk_out
        info = self.info
        m = re.search(r"(\d+) requests in", out)
        info["wrk_requests"] = int(m.group(1)) if m else 0
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        info["rps"] = float(m.group(1)) if m else 0.0
        for pct in ("50", "99"):
            m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\b" % pct, out, re.M)
            if m:
                v = float(m.group(1))
                info["p" + pct] = {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]
        wst = {int(a): int(b) for a, b in re.findall(r"^STATUS (\d+) (\d+)$", out, re.M)}
        info["wrk_status"] = wst
        m = re.search(r"^ERRORS (.*)$", out, re.M)
        errs = dict(kv.split("=") for kv in m.group(1).split()) if m else {}
        info["wrk_errors"] = errs
        if not m:
            self.failures.append("wrk did not finish normally:\n" + out[-2000:])
        if any(int(v) for k, v in errs.items() if k != "status"):
            self.failures.append("wrk socket errors: %s" % m.group(1))

        alive = self.server.poll() is None
        info["alive"] = alive
        if not alive:
            self.failures.append("server is not running (exit status %s)"
                                 % self.server.returncode)
        else:
            try:
                st, _ = http_get(self.endpoint + "/health/live")
            except OSError as e:
                st = str(e)
            info["health"] = st
            if st != 200:
                self.failures.append("/health/live answered %s" % st)

        last = self.samples[-1]
        served = last["requests"] - self.base_requests
        info["served"] = served
        if last["5xx"]:
            self.failures.append("%d 5xx responses (server metrics: %s)" % (
                last["5xx"], {k: v for k, v in self.last_counts.items() if k >= 500}))
        w5 = sum(v for k, v in wst.items() if k >= 500)
        if w5:
            self.failures.append("%d 5xx responses seen by wrk: %s"
                                 % (w5, {k: v for k, v in wst.items() if k >= 500}))
        wother = {k: v for k, v in wst.items() if not (200 <= k < 300 or k == 403 or k >= 500)}
        if last["other"] or wother:
            self.failures.append("unexpected statuses: server %s, wrk %s" % (
                {k: v for k, v in self.last_counts.items()
                 if not (200 <= k < 300 or k == 403 or k >= 500)}, wother))
        if served:
            share = (last["403"] - self.samples[0]["403"]) / served
            info["share_403"] = share
            if abs(share - self.expected_403) > 0.01:
                self.failures.append("403 share %.4f, expected %.4f (refusals other than the "
                                     "policy's, e.g. expired signatures?)"
                                     % (share, self.expected_403))
        else:
            self.failures.append("no request was served")
        wtotal = sum(wst.values())
        if wtotal and served and abs(wtotal - served) > self.conns + 10:
            # wrk counts completed responses, the server counts finished requests: the
            # connections in flight when wrk stops are the only expected difference.
            self.failures.append("wrk counted %d responses, the server %d" % (wtotal, served))

        # RSS: start of the load = first sample under load, slope after the warm-up.
        load = [s for s in self.samples if s["t_s"] > 0]
        if load:
            warm = min(60.0, self.duration / 4.0)
            tail = [s for s in load if s["t_s"] >= warm] or load
            info["warmup_s"] = warm
            info["rss_start_kib"] = load[0]["rss_kib"]
            info["anon_start_kib"] = load[0]["rss_anon_kib"]
            info["rss_max_kib"] = max(s["rss_kib"] for s in load)
            info["anon_max_kib"] = max(s["rss_anon_kib"] for s in load)
            info["rss_end_kib"] = load[-1]["rss_kib"]
            info["anon_end_kib"] = load[-1]["rss_anon_kib"]
            info["fds_max"] = max(s["fds"] for s in load)
            info["fds_end"] = load[-1]["fds"]
            if alive and info["fds_end"] > self.samples[0]["fds"] + 4:
                # the last sample is taken 1 s after wrk closed its connections
                self.failures.append("%d fds open after the load, %d before it" % (
                    info["fds_end"], self.samples[0]["fds"]))
            info["data_end_kib"] = load[-1]["data_kib"]
            info["data_files_end"] = load[-1]["data_files"]
            info["data_dirs_end"] = load[-1]["data_dirs"]
            if alive and load[-1]["data_files"] != N_OBJ + N_DENIED:
                # after the load every overwritten data file must have been unlinked
                self.failures.append("%d object data files after the load, %d objects" % (
                    load[-1]["data_files"], N_OBJ + N_DENIED))
            info["rss_slope"] = slope(tail, "rss_kib")
            info["anon_slope"] = slope(tail, "rss_anon_kib")
            info["slope_points"] = len(tail)
            if info["anon_slope"] is not None and info["anon_slope"] > self.max_slope:
                self.failures.append("RssAnon grows %.2f MiB/min after the warm-up (limit %.2f)"
                                     % (info["anon_slope"], self.max_slope))
        if alive:
            try:
                info["hwm_kib"] = proc_status(self.server.pid).get("VmHWM", 0)
            except OSError:
                pass
        for name in ("tessera.log", "audit.log"):
            p = os.path.join(self.tmp, name)
            info[name] = os.path.getsize(p) if os.path.exists(p) else 0
        # The access log (one info line per request) is big: keep the rest, and 5xx lines.
        keep, levels, access = [], {}, 0
        with open(self.server_log, errors="replace") as f:
            for line in f:
                m = re.search(r'"level":"(\w+)"', line)
                if m:
                    levels[m.group(1)] = levels.get(m.group(1), 0) + 1
                if '"event":"access"' in line:
                    access += 1
                    if not re.search(r'"status":"5\d\d"', line):
                        continue
                if len(keep) < 10000:
                    keep.append(line)
        info["log_levels"], info["log_access"] = levels, access
        info["server_log_kept"] = "".join(keep)

    def report(self):
        os.makedirs(self.out, exist_ok=True)
        with open(os.path.join(self.out, "soak.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.samples[0].keys()))
            w.writeheader()
            b0 = self.samples[0]
            for s in self.samples:  # request counts since the start of the load
                w.writerow(dict(s, **{k: s[k] - b0[k] for k in COUNTS}))
        shutil.copy(os.path.join(self.tmp, "wrk.out"), os.path.join(self.out, "wrk.out"))
        with open(os.path.join(self.out, "tessera.log"), "w") as f:
            f.write(self.info.get("server_log_kept", ""))
        i = self.info
        mib = lambda k: i.get(k, 0) / 1024  # noqa: E731
        b0 = self.samples[0]
        lines = ["| min | VmRSS MiB | RssAnon MiB | fds | threads | requests | 2xx | 403 | 5xx "
                 "| data dir MiB | data files | dirs |",
                 "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        rows = [b0]
        for minute in range(1, int(self.duration // 60) + 1):
            near = [s for s in self.samples if abs(s["t_s"] - 60 * minute) <= SAMPLE_EVERY / 2]
            if near:
                rows.append(near[0])
        if rows[-1] is not self.samples[-1]:
            rows.append(self.samples[-1])
        for s in rows:
            lines.append("| %s | %.1f | %.1f | %d | %d | %d | %d | %d | %d | %.1f | %d | %d |" % (
                "end (%.0f s)" % s["t_s"] if s is self.samples[-1] and len(rows) > 1 else
                "%d" % round(s["t_s"] / 60),
                s["rss_kib"] / 1024, s["rss_anon_kib"] / 1024, s["fds"], s["threads"],
                s["requests"] - self.base_requests, s["2xx"] - b0["2xx"], s["403"] - b0["403"],
                s["5xx"] - b0["5xx"], s["data_kib"] / 1024, s["data_files"], s["data_dirs"]))
        fmt_slope = lambda v: "n/a" if v is None else "%+.3f" % v  # noqa: E731
        wst = ", ".join("%d: %d" % kv for kv in sorted(i.get("wrk_status", {}).items()))
        lines += [
            "",
            "%d s of load at %d connections (wrk -t2), %s; %.0f req/s, p50 %.2f ms, p99 %.2f ms"
            % (self.duration, self.conns, i.get("signing", ""), i.get("rps", 0),
               i.get("p50", float("nan")), i.get("p99", float("nan"))),
            "",
            "- requests served: %d (server metrics); wrk: %d responses (%s), socket errors %s"
            % (i.get("served", 0), sum(i.get("wrk_status", {}).values()), wst,
               " ".join("%s=%s" % kv for kv in i.get("wrk_errors", {}).items()) or "n/a"),
            "- refused by policy (403): %.4f of requests (expected %.4f); 5xx: %d"
            % (i.get("share_403", 0), self.expected_403, self.samples[-1]["5xx"]),
            "- VmRSS MiB: idle %.1f, start of load %.1f, max %.1f, end %.1f; slope %s MiB/min"
            % (mib("rss_idle_kib"), mib("rss_start_kib"), mib("rss_max_kib"),
               mib("rss_end_kib"), fmt_slope(i.get("rss_slope"))),
            "- RssAnon MiB: idle %.1f, start of load %.1f, max %.1f, end %.1f; slope %s MiB/min "
            "(limit %.2f); VmHWM %.1f MiB"
            % (mib("anon_idle_kib"), mib("anon_start_kib"), mib("anon_max_kib"),
               mib("anon_end_kib"), fmt_slope(i.get("anon_slope")), self.max_slope,
               mib("hwm_kib")),
            "- slopes: least squares over the %d samples from t=%.0f s (every %.0f s)"
            % (i.get("slope_points", 0), i.get("warmup_s", 0), SAMPLE_EVERY),
            "- open fds: max %d, end %d; data dir at the end %.1f MiB (%d object files, %d "
            "directories); server log %d B, audit log %d B" % (
                i.get("fds_max", 0), i.get("fds_end", 0), mib("data_end_kib"),
                i.get("data_files_end", 0), i.get("data_dirs_end", 0), i.get("tessera.log", 0),
                i.get("audit.log", 0)),
            "- server log: %d lines by level %s (%d access lines; OUT_DIR/tessera.log keeps "
            "the others and 5xx access lines)" % (
                sum(i.get("log_levels", {}).values()),
                json.dumps(i.get("log_levels", {}), sort_keys=True), i.get("log_access", 0)),
            "- server alive at the end: %s, /health/live: %s" % (i.get("alive"),
                                                                 i.get("health", "n/a")),
            "- result: " + ("PASS" if not self.failures else
                            "FAIL: " + "; ".join(f.replace("\n", " ") for f in self.failures))]
        with open(os.path.join(self.out, "soak.md"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        print("\n".join(lines))
        if self.failures:
            print("\nserver log (without 2xx-4xx access lines, tail):\n"
                  + i.get("server_log_kept", "")[-3000:])

    def run(self):
        try:
            log("starting tessera (%s), setting up" % os.path.join(self.build, "tessera"))
            self.start_server()
            self.setup()
            log("load: %d s at %d connections" % (self.duration, self.conns))
            self.run_load()
            self.evaluate()
            self.report()
        finally:
            was_alive = self.server is not None and self.server.poll() is None
            stop(self.server)
            if was_alive and self.server.returncode != 0:
                # SIGTERM should be a clean stop
                self.failures.append("server exit status %s on SIGTERM"
                                     % self.server.returncode)
                print("FAIL: server exit status %s on SIGTERM" % self.server.returncode)
            if self.keep:
                print("kept %s" % self.tmp)
            else:
                log("removing %s" % self.tmp)
                shutil.rmtree(self.tmp, ignore_errors=True)
        return 1 if self.failures else 0


def slope(rows, key):
    """Least-squares slope of rows[key] (KiB) over t_s, in MiB per minute."""
    if len(rows) < 2:
        return None
    xs = [r["t_s"] / 60 for r in rows]
    ys = [r[key] / 1024 for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--duration", type=int, default=600, help="seconds of load (600)")
    ap.add_argument("--conns", type=int, default=128, help="connections (128)")
    ap.add_argument("--max-slope", type=float, default=0.25,
                    help="max RssAnon growth after the warm-up, MiB/min (0.25)")
    ap.add_argument("--presign", action="store_true",
                    help="presigned requests even when header-signed ones would do")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (data dir, full server log)")
    a = ap.parse_args()
    if a.duration < 20:
        ap.error("--duration must be at least 20 s")
    sys.exit(Soak(a.build, a.out, a.duration, a.conns, a.max_slope, a.presign,
                  a.keep).run())


if __name__ == "__main__":
    main()
