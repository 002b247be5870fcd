#!/usr/bin/python3
"""The benchmark suite (issue 8): tessera's STS and S3 scenarios next to baselines measured in
the same run, on loopback. Driven by tests/bench/run.sh (which builds the Release binaries).

    tests/bench/bench.py BUILD_DIR OUT_DIR [--quick] [--only SUBSTR,...]

Load comes from wrk (Debian) replaying pre-built requests from a Lua script: SigV4 requests are
signed by botocore just before each run (a signed request stays valid for 15 minutes and the
server accepts it again), STS federation requests carry a token fetched once. Every scenario
runs at 16 and 64 connections, ROUNDS times interleaved with the baselines so that machine
noise spreads over all of them; the table shows medians. Writes OUT_DIR/results.md and
OUT_DIR/results.csv (one row per scenario, with the baseline measured in the same run and the
ratio to it) and OUT_DIR/raw.csv (every single measurement).
"""
import csv
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "oidc"))

import boto3  # noqa: E402
import botocore.config  # noqa: E402
from botocore.auth import S3SigV4Auth, SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

import slapd as slapd_mod  # noqa: E402

try:
    import oidc_flow  # noqa: E402
except ImportError:  # requests missing: no OIDC scenarios
    oidc_flow = None

ROOT_USER, ROOT_PASSWORD = "bench-root", "bench-root-secret-1"
USER, USER_SECRET = "benchuser", "benchuser-secret-1"
BUCKET, LIST_BUCKET = "bench", "list1m"
KB4, MB1 = 4096, 1 << 20
CONNS = (16, 64)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not start" % what)


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# ---- wrk ----

def parse_latency(text, pct):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\b" % pct, text, re.M)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v if m.group(2) == "ms" else v * 1000


def lua_str(b):
    """A Lua string literal for bytes b."""
    return '"' + "".join("\\%d" % c if c < 32 or c > 126 or c in (34, 92) else chr(c)
                         for c in b) + '"'


def lua_replay(reqs):
    """Lua lines that replay reqs round-robin per connection: a list of (method, path,
    headers dict, body) where body is None, bytes or ("x", n) (n bytes of "x", built in Lua)."""
    out = ["local reqs = {}", "init = function(args)"]
    for m, p, h, body in reqs:
        hs = "{" + ", ".join("[%s] = %s" % (lua_str(k.encode()), lua_str(v.encode()))
                             for k, v in h.items()) + "}"
        if body is None:
            b = "nil"
        elif isinstance(body, tuple):
            b = "string.rep(%s, %d)" % (lua_str(body[0].encode()), body[1])
        else:
            b = lua_str(body)
        out.append("  table.insert(reqs, wrk.format(%s, %s, %s, %s))"
                   % (lua_str(m.encode()), lua_str(p.encode()), hs, b))
    return out + ["end",
                  "local i = 0",
                  "request = function()",
                  "  i = i + 1",
                  "  return reqs[(i %% %d) + 1]" % len(reqs),
                  "end"]


def write_lua(path, reqs):
    """A wrk script replaying reqs (see lua_replay)."""
    with open(path, "w") as f:
        f.write("\n".join(lua_replay(reqs)) + "\n")


def wrk(port, conns, secs, script=None, path="/", sample_pid=None):
    cmd = ["wrk", "-t%d" % min(2, conns), "-c%d" % conns, "-d%ds" % secs, "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    peak = [0, 0]
    stop_ev = threading.Event()

    def sampler():
        while not stop_ev.is_set():
            try:
                peak[0] = max(peak[0], rss_kib(sample_pid))
                peak[1] = max(peak[1], rss_kib(sample_pid, "RssAnon"))
            except OSError:
                return
            time.sleep(0.1)

    th = None
    if sample_pid:
        th = threading.Thread(target=sampler)
        th.start()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if th:
        stop_ev.set()
        th.join()
    out = p.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if p.returncode != 0 or not m:
        raise RuntimeError("wrk failed: %s %s" % (out, p.stderr))
    n = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(m.group(1)), "p50": parse_latency(out, 50),
            "p99": parse_latency(out, 99), "requests": int(n.group(1)) if n else 0,
            "non2xx": int(bad.group(1)) if bad else 0,
            "sockerr": errs.group(1) if errs else "", "rss_peak_kib": peak[0],
            "anon_peak_kib": peak[1]}


def head_load(build, tmp, port, conns, secs, req):
    """HEAD through bench_head (wrk cannot do HEAD); req = (method, path, headers, body)."""
    m, p, h, _ = req
    raw = "%s %s HTTP/1.1\r\n" % (m, p) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    path = os.path.join(tmp, "head.req")
    with open(path, "w") as f:
        f.write(raw)
    out = subprocess.run([os.path.join(build, "bench_head"), str(port), str(conns), str(secs),
                          path], capture_output=True, text=True, check=True).stdout.split()
    return {"rps": float(out[0]), "p50": float(out[1]), "p99": float(out[2]),
            "non2xx": int(out[3]), "requests": int(out[4]), "sockerr": "", "rss_peak_kib": 0}


# ---- signing ----

def signed(endpoint, method, path, creds, service, body=b"", headers=None, query=None):
    """A SigV4-signed request as (method, path+query, headers, body-bytes)."""
    url = endpoint + path
    if query:
        url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    h = dict(headers or {})
    req = AWSRequest(method=method, url=url, data=body, headers=h)
    ak, sk, tok = creds
    c = Credentials(ak, sk, tok)
    if service == "s3":
        S3SigV4Auth(c, "s3", "us-east-1").add_auth(req)
    else:
        SigV4Auth(c, "sts", "us-east-1").add_auth(req)
    u = urllib.parse.urlsplit(req.url)
    out = {k: v for k, v in req.headers.items()}
    out["Host"] = u.netloc
    return method, u.path + ("?" + u.query if u.query else ""), out


def admin(build, endpoint, args, root=(ROOT_USER, ROOT_PASSWORD)):
    """`tessera admin ARGS...` as root (access key, secret)."""
    env = dict(os.environ, TESSERA_ENDPOINT=endpoint, TESSERA_ACCESS_KEY=root[0],
               TESSERA_SECRET_KEY=root[1])
    subprocess.run([os.path.join(build, "tessera"), "admin"] + list(args), env=env,
                   check=True, capture_output=True, timeout=60)


def rw_user(build, endpoint, tmp, policy, buckets, user, secret, root=(ROOT_USER, ROOT_PASSWORD)):
    """Creates user with a policy allowing s3:* on buckets except GetObject under the first
    bucket's denied/ prefix (the requests scenarios expect to be refused)."""
    res = []
    for b in buckets:
        res += ["arn:aws:s3:::%s" % b, "arn:aws:s3:::%s/*" % b]
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": res},
        {"Effect": "Deny", "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::%s/denied/*" % buckets[0]]}]}
    path = os.path.join(tmp, policy + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
    admin(build, endpoint, ("policy", "create", policy, path), root)
    admin(build, endpoint, ("user", "add", user, secret), root)
    admin(build, endpoint, ("policy", "attach", policy, "--user", user), root)


def form_post(endpoint, params):
    body = urllib.parse.urlencode(params).encode()
    return ("POST", "/", {"Host": endpoint.split("//")[1],
                          "Content-Type": "application/x-www-form-urlencoded"}, body)


# ---- the benchmark ----

class Bench:
    def __init__(self, build, out, quick, only):
        # BUILD@etcd: the same build with its IAM store on a local etcd (issue 16)
        self.etcd = build.endswith("@etcd")
        build = build[:-len("@etcd")] if self.etcd else build
        # BUILD@opa: the same build deciding through the authorization plugin (issue 17), a
        # tiny C policy service that allows everything (tests/bench/bench_opa.c)
        self.opa = build.endswith("@opa")
        build = build[:-len("@opa")] if self.opa else build
        self.build, self.out, self.quick, self.only = build, out, quick, only
        self.rounds = 3
        self.secs = 1 if quick else 6
        self.tmp = tempfile.mkdtemp(prefix="tessera-bench-")
        self.procs = []
        self.raw = []  # (round, scenario, conns, metrics dict)
        self.notes = []
        self.extra = {}  # single figures: rss, openssl, policy, list page size...

    def log(self, *a):
        print("[bench %s]" % time.strftime("%H:%M:%S"), *a, flush=True)

    def want(self, name):
        return not self.only or any(s in name for s in self.only)

    # -- processes --
    def spawn(self, cmd, name, port=None, env=None, cwd=None):
        logf = open(os.path.join(self.tmp, name + ".log"), "ab")
        p = subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env, cwd=cwd)
        self.procs.append(p)
        if port:
            wait_port(port, p, name)
        return p

    def cleanup(self):
        for p in reversed(self.procs):
            stop(p)
        for obj in (getattr(self, "slapd", None), getattr(self, "provider", None)):
            if obj is not None:
                try:
                    obj.stop()
                except Exception:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_baselines(self):
        self.bare_port = free_port()
        self.spawn([os.path.join(self.build, "bench_http"), "bare", "pool", "2",
                    str(self.bare_port)], "bare", self.bare_port)
        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        for name, n in (("4k", KB4), ("1m", MB1)):
            with open(os.path.join(www, name), "wb") as f:
                f.write(b"x" * n)
        self.nginx_port = free_port()
        ngdir = os.path.join(self.tmp, "nginx")
        os.makedirs(ngdir)
        conf = os.path.join(ngdir, "nginx.conf")
        import grp
        import pwd
        user = "user %s %s;\n" % (pwd.getpwuid(os.getuid()).pw_name,
                                   grp.getgrgid(os.getgid()).gr_name) if os.getuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(user + """worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {www};
  }}
}}
""".format(d=ngdir, port=self.nginx_port, www=www))
        self.spawn(["nginx", "-c", conf, "-p", ngdir, "-e", os.path.join(ngdir, "error.log")],
                   "nginx", self.nginx_port)

    def start_idps(self):
        self.slapd = None
        try:
            self.slapd = slapd_mod.Slapd(os.path.join(self.tmp, "slapd"))
            self.slapd.start()
        except Exception as e:  # noqa: BLE001
            self.notes.append("LDAP: slapd could not start (%s); LDAP scenarios skipped" % e)
            self.slapd = None
        self.provider = None
        if oidc_flow is not None and os.path.isdir(os.path.join(ROOT, "tests", "integration",
                                                                "oidc", "node_modules")):
            try:
                self.provider = oidc_flow.Provider(self.tmp).start()
            except Exception as e:  # noqa: BLE001
                self.notes.append("OIDC: provider did not start (%s); skipped" % e)
                self.provider = None
        else:
            self.notes.append("OIDC: tests/integration/oidc/node_modules missing (npm ci); skipped")

    def start_server(self):
        data = os.path.join(self.tmp, "data")
        self.list_keys = 1000000
        t0 = time.time()
        subprocess.run([os.path.join(self.build, "bench_fill"), data, LIST_BUCKET,
                        str(self.list_keys)], check=True)
        self.extra["fill_seconds"] = time.time() - t0
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MINIO_", "TESSERA_"))}
        env.update({"TESSERA_ROOT_USER": ROOT_USER, "TESSERA_ROOT_PASSWORD": ROOT_PASSWORD,
                    "TESSERA_AUDIT_LOG": os.path.join(self.tmp, "audit.log"),
                    # one source address makes every request: no per-IP login limit
                    "TESSERA_STS_RATE_LIMIT": "off"})
        if os.environ.get("BENCH_HTTP_THREADS"):
            env["TESSERA_HTTP_THREADS"] = os.environ["BENCH_HTTP_THREADS"]
        if self.provider:
            env.update({
                "TESSERA_IDENTITY_OPENID_CONFIG_URL": self.provider.config_url,
                "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
                "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": "tessera-secret",
                "TESSERA_IDENTITY_OPENID_GROUPS_CLAIM": "groups"})
        if self.slapd:
            s = slapd_mod
            env.update({
                "TESSERA_IDENTITY_LDAP_SERVER_ADDR": self.slapd.tls_addr,
                "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN": s.LOOKUP_DN,
                "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD": s.LOOKUP_PASSWORD,
                "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN": s.SUFFIX,
                "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER":
                    "(&(objectClass=inetOrgPerson)(uid=%s))",
                "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_BASE_DN": "ou=groups," + s.SUFFIX,
                "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_FILTER":
                    "(&(objectclass=groupOfNames)(member=%d))",
                "TESSERA_CA_FILE": self.slapd.ca_file})
        if self.etcd:
            env.update(self.start_etcd())
        if self.opa:
            port = free_port()
            self.spawn([os.path.join(self.build, "bench_opa"), str(port)], "bench_opa", port)
            env["TESSERA_POLICY_PLUGIN_URL"] = "http://127.0.0.1:%d/v1/data/httpapi/authz" % port
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.server = self.spawn([os.path.join(self.build, "tessera"), "server", "--address",
                                  "127.0.0.1:%d" % self.port, data], "tessera", self.port, env=env)
        time.sleep(1.0)
        self.extra["rss_idle_kib"] = rss_kib(self.server.pid)
        self.extra["anon_idle_kib"] = rss_kib(self.server.pid, "RssAnon")

    def start_etcd(self):
        """One etcd member (Debian's etcd-server) on free loopback ports; the environment
        that puts tessera's IAM store on it."""
        client, peer = free_port(), free_port()
        url = "http://127.0.0.1:%d" % client
        self.spawn(["etcd", "--name", "bench", "--data-dir", os.path.join(self.tmp, "etcd"),
                    "--listen-client-urls", url, "--advertise-client-urls", url,
                    "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                    "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                    "--initial-cluster", "bench=http://127.0.0.1:%d" % peer],
                   "etcd", client)
        return {"TESSERA_ETCD_ENDPOINTS": url, "TESSERA_ETCD_PATH_PREFIX": "bench/"}

    def admin(self, *args):
        admin(self.build, self.endpoint, args)

    def setup_iam(self):
        rw_user(self.build, self.endpoint, self.tmp, "bench-rw", (BUCKET, LIST_BUCKET), USER,
                USER_SECRET)
        if self.slapd:
            self.admin("policy", "attach", "readwrite", "--dn",
                       "cn=devs,ou=groups," + slapd_mod.SUFFIX)
        s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ROOT_USER,
                          aws_secret_access_key=ROOT_PASSWORD, region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket=BUCKET)
        for key, n in (("obj-4k", KB4), ("obj-1m", MB1), ("denied/obj-4k", KB4)):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * n)
        s3.put_object(Bucket=BUCKET, Key="obj-1m-sse", Body=b"x" * MB1,
                      ServerSideEncryption="AES256")
        if os.environ.get("BENCH_LIFECYCLE"):
            # A lifecycle configuration on the bucket whose first rule matches the objects read
            # (GET/HEAD then answer x-amz-expiration).
            s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={
                "Rules": [{"ID": "obj", "Filter": {"Prefix": "obj-"}, "Status": "Enabled",
                           "Expiration": {"Days": 365}},
                          {"ID": "tmp", "Filter": {"Tag": {"Key": "tmp", "Value": "1"}},
                           "Status": "Enabled", "Expiration": {"Days": 1}},
                          {"ID": "nc", "Filter": {}, "Status": "Enabled",
                           "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]})
        self.static = (USER, USER_SECRET, None)
        sts = boto3.client("sts", endpoint_url=self.endpoint, aws_access_key_id=USER,
                           aws_secret_access_key=USER_SECRET, region_name="us-east-1")
        c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/bench",
                            RoleSessionName="bench", DurationSeconds=43200)["Credentials"]
        self.temp = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        self.id_token = self.cg_token = None
        if self.provider:
            try:
                self.id_token = self.provider.login("alice")
                self.cg_token = self.provider.client_credentials()
            except Exception as e:  # noqa: BLE001
                self.notes.append("OIDC: token fetch failed (%s)" % e)
        # Sanity: every kind of request succeeds once before being measured.
        self.check()

    def check(self):
        import urllib.request
        for name, reqs in self.scenarios():
            m, p, h, body = reqs[0]
            if isinstance(body, tuple):
                body = body[0].encode() * body[1]
            r = urllib.request.Request(self.endpoint + p, data=body, method=m,
                                       headers={k: v for k, v in h.items() if k != "Host"})
            try:
                with urllib.request.urlopen(r, timeout=30) as resp:
                    resp.read()
            except Exception as e:  # noqa: BLE001
                raise RuntimeError("sanity check of %s failed: %s %s" % (
                    name, e, getattr(e, "read", lambda: b"")()[:300]))

    # -- request sets, rebuilt (re-signed) before every wrk run --
    def s3req(self, creds, method, path, body=b"", query=None, headers=None):
        fill = None
        if isinstance(body, tuple):
            fill, body = body, body[0].encode() * body[1]
        m, p, h = signed(self.endpoint, method, path, creds, "s3", body=body, query=query,
                         headers=headers)
        return (m, p, h, fill if fill else (body if body else None))

    def scenarios(self):
        """[(name, [requests])] of every tessera scenario, freshly signed."""
        out = []
        ep = self.endpoint
        if self.want("sts.AssumeRole"):
            body = urllib.parse.urlencode({"Action": "AssumeRole", "Version": "2011-06-15",
                                           "DurationSeconds": "3600"}).encode()
            m, p, h = signed(ep, "POST", "/", self.static, "sts", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            out.append(("sts.AssumeRole", [(m, p, h, body)]))
        if self.id_token and self.want("sts.WebIdentity"):
            out.append(("sts.WebIdentity", [form_post(ep, {
                "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                "WebIdentityToken": self.id_token, "DurationSeconds": "3600"})]))
        if self.cg_token and self.want("sts.ClientGrants"):
            out.append(("sts.ClientGrants", [form_post(ep, {
                "Action": "AssumeRoleWithClientGrants", "Version": "2011-06-15",
                "Token": self.cg_token, "DurationSeconds": "3600"})]))
        if self.slapd and self.want("sts.LDAP"):
            out.append(("sts.LDAP", [form_post(ep, {
                "Action": "AssumeRoleWithLDAPIdentity", "Version": "2011-06-15",
                "LDAPUsername": "alice", "LDAPPassword": slapd_mod.USER_PASSWORDS["alice"]})]))
        for cname, creds in (("static", self.static), ("temp", self.temp)):
            b = "/" + BUCKET
            sc = [
                ("GET 4KiB", [self.s3req(creds, "GET", b + "/obj-4k")]),
                ("GET 1MiB", [self.s3req(creds, "GET", b + "/obj-1m")]),
                ("PUT 4KiB", [self.s3req(creds, "PUT", b + "/put-4k", ("x", KB4))]),
                ("PUT 1MiB", [self.s3req(creds, "PUT", b + "/put-1m", ("x", MB1))]),
                # SSE-S3 (AES256): the same object sizes, encrypted at rest.
                ("GET 1MiB SSE", [self.s3req(creds, "GET", b + "/obj-1m-sse")]),
                ("PUT 1MiB SSE", [self.s3req(creds, "PUT", b + "/put-1m-sse", ("x", MB1),
                                             headers={"x-amz-server-side-encryption": "AES256"})]),
                ("HEAD", [self.s3req(creds, "HEAD", b + "/obj-4k")]),
                # Pages of 1000 from different places of the 1M-key bucket.
                ("ListObjectsV2 1000", [self.s3req(creds, "GET", "/" + LIST_BUCKET, query={
                    "list-type": "2", "max-keys": "1000",
                    "start-after": "obj/%07d" % (i * self.list_keys // 16)})
                    for i in range(16)]),
            ]
            for name, reqs in sc:
                full = "s3.%s %s" % (cname, name)
                if self.want(full):
                    out.append((full, reqs))
        if self.want("mixed"):
            # 20 requests: 17 GETs, 2 PUTs (10 %), 1 GET refused by policy (5 %).
            reqs = [self.s3req(self.temp, "GET", "/%s/obj-4k" % BUCKET) for _ in range(17)]
            reqs.insert(6, self.s3req(self.temp, "PUT", "/%s/mixed-a" % BUCKET, ("x", KB4)))
            reqs.insert(13, self.s3req(self.temp, "PUT", "/%s/mixed-b" % BUCKET, ("x", KB4)))
            reqs.insert(19, self.s3req(self.temp, "GET", "/%s/denied/obj-4k" % BUCKET))
            out.append(("mixed 90/10 temp (5% refused)", reqs))
        return out

    # -- baselines --
    def baseline_runs(self, rnd):
        d = os.path.join(self.tmp, "fsync")
        os.makedirs(d, exist_ok=True)
        for c in CONNS:
            self.raw.append((rnd, "base.bare", c, wrk(self.bare_port, c, self.secs, path="/obj")))
            for name in ("4k", "1m"):
                self.raw.append((rnd, "base.nginx " + name, c,
                                 wrk(self.nginx_port, c, self.secs, path="/" + name)))
            self.raw.append((rnd, "base.nginx HEAD 4k", c, head_load(
                self.build, self.tmp, self.nginx_port, c, self.secs,
                ("HEAD", "/4k", {"Host": "127.0.0.1:%d" % self.nginx_port}, None))))
            for name, n in (("4k", KB4), ("1m", MB1)):
                p = subprocess.run([os.path.join(self.build, "bench_fsync"), d, str(n), str(c),
                                    str(self.secs)], capture_output=True, text=True, check=True)
                self.raw.append((rnd, "base.fsync " + name, c, {"rps": float(p.stdout)}))
            if c == CONNS[0]:
                # As many fsyncing threads as the server has HTTP threads (2): what PUT can
                # reach while the HTTP threads themselves wait for the disk.
                p = subprocess.run([os.path.join(self.build, "bench_fsync"), d, str(KB4), "2",
                                    str(self.secs)], capture_output=True, text=True, check=True)
                self.raw.append((rnd, "base.fsync 4k, 2 threads", 2, {"rps": float(p.stdout)}))
            if self.slapd:
                env = dict(os.environ, LDAPTLS_CACERT=self.slapd.ca_file)
                p = subprocess.run([os.path.join(self.build, "bench_ldapbind"),
                                    self.slapd.ldaps_url,
                                    "uid=alice,ou=people," + slapd_mod.SUFFIX,
                                    slapd_mod.USER_PASSWORDS["alice"], str(c), str(self.secs)],
                                   capture_output=True, text=True, env=env)
                if p.returncode == 0:
                    self.raw.append((rnd, "base.slapd bind", c, {"rps": float(p.stdout)}))
        if rnd == 0 or not self.quick:
            p = subprocess.run(["taskset", "-c", "0", "openssl", "speed", "-seconds", "3",
                                "rsa2048"], capture_output=True, text=True)
            m = re.search(r"^rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", p.stdout, re.M)
            if m:
                for c in CONNS:
                    self.raw.append((rnd, "base.openssl rsa2048 verify (1 core)", c,
                                     {"rps": float(m.group(2))}))
        shutil.rmtree(d, ignore_errors=True)

    def multipart(self, rnd):
        """1 GiB multipart upload (boto3, 64 MiB parts, 4 in parallel) with static creds."""
        src = os.path.join(self.tmp, "1g")
        if not os.path.exists(src):
            with open(src, "wb") as f:
                blk = os.urandom(MB1)
                for _ in range(1024):
                    f.write(blk)
        from boto3.s3.transfer import TransferConfig
        s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=USER,
                          aws_secret_access_key=USER_SECRET, region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        max_pool_connections=8))
        cfg = TransferConfig(multipart_threshold=8 * MB1, multipart_chunksize=64 * MB1,
                             max_concurrency=4)
        t0 = time.time()
        s3.upload_file(src, BUCKET, "big-1g", Config=cfg)
        secs = time.time() - t0
        self.raw.append((rnd, "s3.static multipart 1GiB (MiB/s)", 4, {"rps": 1024 / secs}))
        d = os.path.join(self.tmp, "fsync-big")
        os.makedirs(d, exist_ok=True)
        p = subprocess.run([os.path.join(self.build, "bench_fsync"), d, str(64 * MB1), "4",
                            str(max(self.secs, 4))], capture_output=True, text=True, check=True)
        self.raw.append((rnd, "base.fsync 64MiB (MiB/s)", 4, {"rps": float(p.stdout) * 64}))
        shutil.rmtree(d, ignore_errors=True)

    def memory(self):
        reqs = [self.s3req(self.temp, "GET", "/%s/obj-4k" % BUCKET)]
        lua = os.path.join(self.tmp, "mem.lua")
        write_lua(lua, reqs)
        r = wrk(self.port, 256, max(self.secs, 4), lua, sample_pid=self.server.pid)
        self.extra["rss_256_kib"] = r["rss_peak_kib"]
        self.extra["anon_256_kib"] = r["anon_peak_kib"]
        self.extra["rss_256_rps"] = r["rps"]
        self.extra["rss_256_non2xx"] = r["non2xx"]
        self.extra["hwm_kib"] = rss_kib(self.server.pid, "VmHWM")

    def policy_micro(self):
        p = subprocess.run([os.path.join(self.build, "bench_policy")], capture_output=True,
                           text=True)
        self.extra["bench_policy"] = p.stdout.strip()

    def run(self):
        try:
            self.log("starting baselines, slapd, oidc-provider, tessera (filling 1M keys)")
            self.start_baselines()
            self.start_idps()
            self.start_server()
            self.setup_iam()
            self.log("idle RSS %d KiB, fill %.1f s" % (self.extra["rss_idle_kib"],
                                                       self.extra["fill_seconds"]))
            for rnd in range(self.rounds):
                if not self.only or any("base" in s for s in self.only):
                    self.log("round %d: baselines" % rnd)
                    self.baseline_runs(rnd)
                for c in (1,) + CONNS:
                    for name, _ in self.scenarios():
                        if c == 1 and "ListObjects" not in name:
                            continue  # one connection: the ListObjectsV2 page latency only
                        # re-sign right before the run: stays inside the 15-minute window
                        reqs = dict(self.scenarios())[name]
                        if "HEAD" in name:
                            r = head_load(self.build, self.tmp, self.port, c, self.secs, reqs[0])
                        else:
                            lua = os.path.join(self.tmp, "s.lua")
                            write_lua(lua, reqs)
                            r = wrk(self.port, c, self.secs, lua)
                        self.log("round %d %-34s c=%-3d %9.0f req/s p99 %.2f ms non2xx %d"
                                 % (rnd, name, c, r["rps"], r["p99"], r["non2xx"]))
                        self.raw.append((rnd, name, c, r))
                if self.want("multipart") and (rnd == 0 or not self.quick):
                    self.log("round %d: 1 GiB multipart" % rnd)
                    self.multipart(rnd)
            if self.want("memory"):
                self.memory()
            self.policy_micro()
            self.extra["server_rss_end_kib"] = rss_kib(self.server.pid)
            self.report()
        finally:
            self.cleanup()

    # -- output --
    def med(self, name, c, key="rps"):
        v = [r[key] for (_, n, cc, r) in self.raw if n == name and cc == c and key in r]
        v = [x for x in v if x == x]
        return (statistics.median(v), len(v)) if v else (None, 0)

    def baseline_for(self, name):
        if name == "sts.AssumeRole" or "ListObjects" in name:
            return "base.bare"
        if name in ("sts.WebIdentity", "sts.ClientGrants"):
            return "base.openssl rsa2048 verify (1 core)"
        if name == "sts.LDAP":
            return "base.slapd bind"
        if "GET 1MiB" in name:
            return "base.nginx 1m"
        if "HEAD" in name:
            return "base.nginx HEAD 4k"
        if "GET 4KiB" in name or "mixed" in name:
            return "base.nginx 4k"
        if "PUT 4KiB" in name:
            return "base.fsync 4k"
        if "PUT 1MiB" in name:
            return "base.fsync 1m"
        if "multipart" in name:
            return "base.fsync 64MiB (MiB/s)"
        return None

    def report(self):
        names = []
        for (_, n, c, _) in self.raw:
            if (n, c) not in names:
                names.append((n, c))
        rows = []
        for n, c in names:
            rps, runs = self.med(n, c)
            p50, _ = self.med(n, c, "p50")
            p99, _ = self.med(n, c, "p99")
            non2xx, _ = self.med(n, c, "non2xx")
            reqs, _ = self.med(n, c, "requests")
            base = self.baseline_for(n) if not n.startswith("base.") else None
            bc = 4 if base and "64MiB" in base else c
            brps = self.med(base, bc)[0] if base else None
            # Baseline and ratio per round (same round = same conditions), then the median.
            ratios = []
            if base:
                for rnd in range(self.rounds):
                    a = [r["rps"] for (x, nn, cc, r) in self.raw if x == rnd and nn == n and cc == c]
                    b = [r["rps"] for (x, nn, cc, r) in self.raw
                         if (x == rnd or (nn.startswith("base.openssl") and self.quick))
                         and nn == base and cc == bc]
                    if a and b:
                        ratios.append(a[0] / b[0])
            rows.append({"scenario": n, "conns": c, "runs": runs, "rps": rps, "p50_ms": p50,
                         "p99_ms": p99, "non2xx_share": (non2xx / reqs) if reqs else None,
                         "baseline": base or "", "baseline_rps": brps,
                         "ratio": statistics.median(ratios) if ratios else None})
        os.makedirs(self.out, exist_ok=True)
        with open(os.path.join(self.out, "results.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
        with open(os.path.join(self.out, "raw.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["round", "scenario", "conns", "rps", "p50_ms", "p99_ms", "requests",
                        "non2xx", "socket_errors"])
            for rnd, n, c, r in self.raw:
                w.writerow([rnd, n, c, r["rps"], r.get("p50", ""), r.get("p99", ""),
                            r.get("requests", ""), r.get("non2xx", ""), r.get("sockerr", "")])

        def f(x, fmt):
            return "" if x is None else fmt % x

        lines = ["| scenario | conns | req/s | p50 ms | p99 ms | non-2xx | baseline (same run) "
                 "| baseline req/s | ratio |", "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
        for r in rows:
            lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                r["scenario"], r["conns"], f(r["rps"], "%.0f"), f(r["p50_ms"], "%.2f"),
                f(r["p99_ms"], "%.2f"), f(r["non2xx_share"], "%.3f"),
                r["baseline"].replace("base.", ""), f(r["baseline_rps"], "%.0f"),
                f(r["ratio"], "%.2f")))
        e = self.extra
        lines += ["", "medians of %d rounds, %d s per wrk run (wrk -t2), %s" % (
            self.rounds, self.secs, "quick" if self.quick else "full"),
            "", "- ListObjectsV2 bucket: %d keys (filled in %.1f s with bench_fill)" % (
                self.list_keys, e.get("fill_seconds", 0)),
            "- RSS idle: %.1f MiB (anonymous %.1f MiB, the rest file pages: the LMDB maps); "
            "peak under 256 connections (4 KiB GET, temp creds, %.0f req/s, %d non-2xx): "
            "%.1f MiB (anonymous %.1f MiB); VmHWM at the end: %.1f MiB" % (
                e.get("rss_idle_kib", 0) / 1024, e.get("anon_idle_kib", 0) / 1024,
                e.get("rss_256_rps", 0), e.get("rss_256_non2xx", 0),
                e.get("rss_256_kib", 0) / 1024, e.get("anon_256_kib", 0) / 1024,
                e.get("hwm_kib", 0) / 1024),
            "- bench_policy: " + e.get("bench_policy", "").replace("\n", "; ")]
        lines += ["- note: " + n for n in self.notes]
        with open(os.path.join(self.out, "results.md"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        print("\n".join(lines))


def main():
    args = sys.argv[1:]
    quick = "--quick" in args
    only = None
    if "--only" in args:
        only = args[args.index("--only") + 1].split(",")
        args = [a for a in args if a not in ("--only", ",".join(only))]
    args = [a for a in args if a != "--quick"]
    if len(args) != 2:
        print(__doc__)
        sys.exit(2)
    Bench(args[0], args[1], quick, only).run()


if __name__ == "__main__":
    main()
