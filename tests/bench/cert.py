#!/usr/bin/python3
"""AssumeRoleWithCertificate next to AssumeRole, in the same run, against one tessera server
serving TLS with TESSERA_IDENTITY_TLS_ENABLE=on (issue 20). wrk cannot present a client
certificate, so the load comes from tests/bench/bench_tls.c (CONNS keep-alive TLS connections,
one thread each, replaying one pre-built request): AssumeRole signed with SigV4 by a static
user and no client certificate; AssumeRoleWithCertificate with the client certificate of that
user. Both at 16 and 64 connections, ROUNDS times interleaved; medians.

    tests/bench/cert.py BUILD_DIR [--rounds N] [--secs S]

BUILD_DIR holds tessera and bench_tls (a Release build: tests/bench/run.sh builds one in
build-bench/). Prints a Markdown table.
"""
import argparse
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
from bench import (ROOT_PASSWORD, ROOT_USER, USER, USER_SECRET, free_port, signed,  # noqa: E402
                   stop, wait_port)

CONNS = (16, 64)


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, capture_output=True, **kw)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1, a client certificate for USER."""
    def key(n):
        sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-out", os.path.join(d, n + ".key"))

    def issue(n, subj, ext):
        key(n)
        sh("openssl", "req", "-new", "-key", os.path.join(d, n + ".key"), "-subj", subj,
           "-out", os.path.join(d, n + ".csr"))
        with open(os.path.join(d, n + ".ext"), "w") as f:
            f.write(ext)
        sh("openssl", "x509", "-req", "-in", os.path.join(d, n + ".csr"), "-CA",
           os.path.join(d, "ca.crt"), "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial",
           "-days", "2", "-extfile", os.path.join(d, n + ".ext"), "-out",
           os.path.join(d, n + ".crt"))

    key("ca")
    sh("openssl", "req", "-x509", "-new", "-key", os.path.join(d, "ca.key"), "-subj", "/CN=bench CA",
       "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-out",
       os.path.join(d, "ca.crt"))
    issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    issue("client", "/CN=" + USER, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
          "extendedKeyUsage=clientAuth\n")
    certs = os.path.join(d, "certs")
    os.makedirs(os.path.join(certs, "CAs"))
    shutil.copy(os.path.join(d, "server.crt"), os.path.join(certs, "public.crt"))
    shutil.copy(os.path.join(d, "server.key"), os.path.join(certs, "private.key"))
    shutil.copy(os.path.join(d, "ca.crt"), os.path.join(certs, "CAs", "ca.crt"))
    return certs


def raw(method, path, headers, body):
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    head += "".join("%s: %s\r\n" % kv for kv in headers.items())
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=6)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tessera-bench-cert-")
    server = None
    try:
        certs = make_pki(tmp)
        ca = os.path.join(tmp, "ca.crt")
        port = free_port()
        ep = "https://127.0.0.1:%d" % port
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "TESSERA_"))}
        env.update({"TESSERA_ROOT_USER": ROOT_USER, "TESSERA_ROOT_PASSWORD": ROOT_PASSWORD,
                    "TESSERA_AUDIT_LOG": os.path.join(tmp, "audit.log"),
                    "TESSERA_IDENTITY_TLS_ENABLE": "on"})
        server = subprocess.Popen([os.path.join(a.build, "tessera"), "server", "--address",
                                   "127.0.0.1:%d" % port, "--certs", certs,
                                   os.path.join(tmp, "data")], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port, server, "tessera")
        aenv = dict(os.environ, TESSERA_ENDPOINT=ep, TESSERA_ACCESS_KEY=ROOT_USER,
                    TESSERA_SECRET_KEY=ROOT_PASSWORD, TESSERA_CA_FILE=ca)
        for args in (["user", "add", USER, USER_SECRET],
                     ["policy", "attach", "readwrite", "--user", USER]):
            sh(os.path.join(a.build, "tessera"), "admin", *args, env=aenv)
        body = urllib.parse.urlencode({"Action": "AssumeRole", "Version": "2011-06-15",
                                       "DurationSeconds": "3600"}).encode()
        m, p, h = signed(ep, "POST", "/", (USER, USER_SECRET, None), "sts", body=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        scen = {
            "sts.AssumeRole (TLS)": (raw(m, p, h, body), []),
            "sts.AssumeRoleWithCertificate (TLS)": (raw(
                "POST", "/?Action=AssumeRoleWithCertificate&Version=2011-06-15"
                "&DurationSeconds=3600", {"Host": "127.0.0.1:%d" % port}, b""),
                [os.path.join(tmp, "client.crt"), os.path.join(tmp, "client.key")]),
        }
        res = {}
        for rnd in range(a.rounds):
            for c in CONNS:
                for name, (req, cert) in scen.items():
                    if "AssumeRole (" in name:  # re-sign: the signature's 15-minute window
                        m, p, h = signed(ep, "POST", "/", (USER, USER_SECRET, None), "sts",
                                         body=body, headers={
                                             "Content-Type": "application/x-www-form-urlencoded"})
                        req = raw(m, p, h, body)
                    rf = os.path.join(tmp, "req")
                    with open(rf, "wb") as f:
                        f.write(req)
                    out = subprocess.run([os.path.join(a.build, "bench_tls"), str(port), str(c),
                                          str(a.secs), rf, ca] + cert, capture_output=True,
                                         text=True, check=True).stdout.split()
                    res.setdefault((name, c), []).append([float(x) for x in out])
                    print("round %d %s %d: %s" % (rnd, name, c, " ".join(out)), file=sys.stderr)
        print("| scenario | conns | req/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|")
        for (name, c), runs in res.items():
            med = [statistics.median(r[i] for r in runs) for i in range(4)]
            print("| %s | %d | %.0f | %.2f | %.2f | %d |" % (name, c, med[0], med[1], med[2],
                                                          sum(r[3] for r in runs)))
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
