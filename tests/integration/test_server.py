"""The server process itself: start-up, root credentials, health, request ids, TLS, shutdown."""
import json
import os
import re
import signal
import stat
import subprocess
import time

import pytest
import requests

from conftest import BIN, Server, free_port, s3_client


def test_health_and_request_id(server):
    for path in ("/health/live", "/health/ready", "/minio/health/live"):
        r = requests.get(server.endpoint + path)
        assert r.status_code == 200, path
        assert re.fullmatch(r"[0-9A-F]{16}", r.headers["x-amz-request-id"])
    a = requests.get(server.endpoint + "/health/live").headers["x-amz-request-id"]
    b = requests.get(server.endpoint + "/health/live").headers["x-amz-request-id"]
    assert a != b


def test_unsigned_request_is_denied_with_s3_error(server):
    r = requests.get(server.endpoint + "/")
    assert r.status_code == 403
    assert "<Code>AccessDenied</Code>" in r.text
    assert "<RequestId>%s</RequestId>" % r.headers["x-amz-request-id"] in r.text


def test_generated_root_credentials_are_stored_0600_and_printed(tmp_root):
    data = os.path.join(tmp_root, "gen")
    srv = Server(data)
    srv.root_user = srv.root_password = None
    port = free_port()
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("TESSERA_", "MINIO_")):
            del env[k]
    p = subprocess.Popen([BIN, "server", "--address", "127.0.0.1:%d" % port, data],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        deadline = time.time() + 20
        while time.time() < deadline and not any(l.startswith("RootPass:") for l in lines):
            lines.append(p.stdout.readline())
        out = "".join(lines)
        user = re.search(r"RootUser: (\S+)", out).group(1)
        password = re.search(r"RootPass: (\S+)", out).group(1)
        path = os.path.join(data, ".tessera", "root.json")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as f:
            stored = json.load(f)
        assert stored == {"user": user, "password": password}
        srv.port = port
        srv.root_user, srv.root_password = user, password
        s3_client(srv).list_buckets()
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_minio_root_variables_are_accepted(tmp_root):
    srv = Server(os.path.join(tmp_root, "d"), env={"MINIO_ROOT_USER": "minioadmin",
                                                   "MINIO_ROOT_PASSWORD": "minioadmin"})
    srv.root_user = srv.root_password = None  # only the MINIO_ names are set

    def env():
        e = Server.env(srv)
        del e["TESSERA_ROOT_USER"]
        del e["TESSERA_ROOT_PASSWORD"]
        return e

    srv.env = env
    srv.start()
    try:
        srv.root_user, srv.root_password = "minioadmin", "minioadmin"
        s3_client(srv).list_buckets()
    finally:
        srv.stop()


def test_sigterm_stops_cleanly(server):
    assert server.stop(signal.SIGTERM) == 0
    server.start()
    assert server.stop(signal.SIGINT) == 0
    server.start()


def test_tls(tmp_root):
    certs = os.path.join(tmp_root, "certs")
    os.makedirs(certs)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", os.path.join(certs, "private.key"),
                    "-out", os.path.join(certs, "public.crt")],
                   check=True, capture_output=True)
    srv = Server(os.path.join(tmp_root, "d"), certs=certs)
    srv.start()
    try:
        r = requests.get(srv.endpoint + "/health/live", verify=os.path.join(certs, "public.crt"))
        assert r.status_code == 200
        import boto3, botocore.config
        s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.root_user,
                          aws_secret_access_key=srv.root_password, region_name="us-east-1",
                          verify=os.path.join(certs, "public.crt"),
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="tls-bucket")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["tls-bucket"]
    finally:
        srv.stop()


def test_bad_address_is_refused(tmp_root):
    p = subprocess.run([BIN, "server", "--address", "nonsense", os.path.join(tmp_root, "x")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "address" in p.stderr


def test_oversized_headers_are_refused_and_server_survives(server):
    r = requests.get(server.endpoint + "/health/live", headers={"X-Big": "a" * 40000})
    assert r.status_code in (400, 413, 414, 431)
    assert requests.get(server.endpoint + "/health/live").status_code == 200
