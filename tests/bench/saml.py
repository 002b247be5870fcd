#!/usr/bin/python3
"""AssumeRoleWithSAML next to AssumeRole, in the same run, against one tessera server (plain
HTTP) with TESSERA_IDENTITY_SAML_METADATA set (issue 20). Load from wrk (Debian): AssumeRole
replays one request signed with SigV4 by a static user; AssumeRoleWithSAML cannot replay (the
server refuses an assertion ID seen before), so bench_saml_sign (xmlsec, RSA-2048, SHA-256, as
IdPs sign) pre-signs one Response per request, each with its own Assertion ID, and the wrk
script sends each once (thread t of T sends lines t, t+T, ...). Both ask for the tessera role
saml-bench (readwrite) whose trust policy admits the caller. Medians of ROUNDS interleaved
rounds at each connection count.

    tests/bench/saml.py BUILD_DIR [--rounds N] [--secs S] [--per-run N]

BUILD_DIR holds tessera and bench_saml_sign (a Release build, e.g. `cmake -S . -B build-bench
-DCMAKE_BUILD_TYPE=Release && cmake --build build-bench --target tessera bench_saml_sign`). --per-run: assertions signed per SAML run (default 40000; a run that uses them
all stops early and reports so). Prints a Markdown table.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from bench import (ROOT_PASSWORD, ROOT_USER, USER, USER_SECRET, free_port, signed,  # noqa: E402
                   stop, wait_port, wrk, write_lua)
import saml_idp  # noqa: E402

CONNS = (16, 64)
ROLE_ARN = "arn:aws:iam::000000000000:role/saml-bench"

LUA = """
local bodies, n, i = {}, 0, 0
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local k, t, nt = 0, tonumber(tid), %d
  for line in io.lines("%s") do
    if k %% nt == t then
      n = n + 1
      bodies[n] = line
    end
    k = k + 1
  end
end
function request()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("POST", "/", {["Content-Type"] = "application/x-www-form-urlencoded",
                                  ["Host"] = "127.0.0.1"}, bodies[i])
end
"""


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, capture_output=True, **kw)


def start(build, tmp, idp):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "TESSERA_"))}
    env.update({"TESSERA_ROOT_USER": ROOT_USER, "TESSERA_ROOT_PASSWORD": ROOT_PASSWORD,
                "TESSERA_AUDIT_LOG": os.path.join(tmp, "audit.log"),
                "TESSERA_STS_RATE_LIMIT": "off",
                "TESSERA_IDENTITY_SAML_METADATA": idp.metadata()})
    server = subprocess.Popen([os.path.join(build, "tessera"), "server", "--address",
                               "127.0.0.1:%d" % port, os.path.join(tmp, "data")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, server, "tessera")
    return server, port


def setup_iam(build, tmp, ep):
    aenv = dict(os.environ, TESSERA_ENDPOINT=ep, TESSERA_ACCESS_KEY=ROOT_USER,
                TESSERA_SECRET_KEY=ROOT_PASSWORD)
    trust = os.path.join(tmp, "trust.json")
    with open(trust, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": saml_idp.PROVIDER_ARN},
             "Action": "sts:AssumeRoleWithSAML"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/" + USER},
             "Action": "sts:AssumeRole"}]}, f)
    for args in (["user", "add", USER, USER_SECRET],
                 ["policy", "attach", "readwrite", "--user", USER],
                 ["role", "create", "saml-bench", "--trust", trust],
                 ["role", "policy", "attach", "saml-bench", "readwrite"]):
        sh(os.path.join(build, "tessera"), "admin", *args, env=aenv)


def sign_batch(build, tmp, idp, n):
    """n form bodies, each with a freshly signed Response (valid for an hour)."""
    now = int(time.time())
    a = idp.assertion(aid="@ID@", roles=[saml_idp.role_value(ROLE_ARN)],
                      not_on_or_after=now + 3600, scd_not_on_or_after=now + 3600)
    a = a.replace("<ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo>", "")
    tmpl, out = os.path.join(tmp, "tmpl.xml"), os.path.join(tmp, "bodies.txt")
    with open(tmpl, "w") as f:
        f.write(idp.response(a))
    prefix = urllib.parse.urlencode({"Action": "AssumeRoleWithSAML", "Version": "2011-06-15",
                                     "RoleArn": ROLE_ARN,
                                     "PrincipalArn": saml_idp.PROVIDER_ARN}) + "&SAMLAssertion="
    sh(os.path.join(build, "bench_saml_sign"), idp.key, tmpl, str(n), prefix, out)
    return out


def issued(port):
    """tessera_sts_issued_total{backend="saml"} of the server's /metrics."""
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
    for line in text.decode().splitlines():
        if line.startswith('tessera_sts_issued_total{backend="saml"}'):
            return int(float(line.split()[-1]))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--per-run", type=int, default=40000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tessera-bench-saml-")
    server = None
    try:
        idp = saml_idp.IdP(tmp)
        server, port = start(a.build, tmp, idp)
        ep = "http://127.0.0.1:%d" % port
        setup_iam(a.build, tmp, ep)
        body = urllib.parse.urlencode({"Action": "AssumeRole", "Version": "2011-06-15",
                                       "RoleArn": ROLE_ARN, "RoleSessionName": "bench",
                                       "DurationSeconds": "3600"}).encode()
        res = {}
        lua = os.path.join(tmp, "run.lua")
        for rnd in range(a.rounds):
            for c in CONNS:
                m, p, h = signed(ep, "POST", "/", (USER, USER_SECRET, None), "sts", body=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
                write_lua(lua, [(m, p, h, body)])
                r = wrk(port, c, a.secs, lua)
                res.setdefault(("sts.AssumeRole (role)", c), []).append(r)
                bodies = sign_batch(a.build, tmp, idp, a.per_run)
                with open(lua, "w") as f:
                    f.write(LUA % (min(2, c), bodies))
                before = issued(port)
                r = wrk(port, c, a.secs, lua)
                # what the server says it minted: every request must have been a login
                r["non2xx"] = max(r["non2xx"], r["requests"] - (issued(port) - before))
                res.setdefault(("sts.AssumeRoleWithSAML (role)", c), []).append(r)
                print("round %d %d: %s" % (rnd, c, {k: (v[-1]["rps"], v[-1]["non2xx"])
                                                   for k, v in res.items()}), file=sys.stderr)
        print("| scenario | conns | req/s | p50 ms | p99 ms | non-2xx |")
        print("|---|---|---|---|---|---|")
        for (name, c), runs in res.items():
            med = [statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")]
            print("| %s | %d | %.0f | %.2f | %.2f | %d |" % (name, c, med[0], med[1], med[2],
                                                          sum(r["non2xx"] for r in runs)))
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
