"""Issue 17 item 4: the authorization plugin (OPA-compatible, MinIO's access management plugin).

A small OPA-compatible policy service runs in a thread on a free loopback port (python
http.server); it records every input document and bearer header it receives and answers per
the mode the test sets. Real clients (boto3, the aws cli, `tessera admin`) talk to tessera:
- allow -> the request succeeds (the plugin replaces tessera's policies: the users have none);
- deny, wrong answers (false, {"allow": "yes"}, malformed JSON, other shapes, non-200) -> AccessDenied;
- the service sleeping past TESSERA_POLICY_PLUGIN_TIMEOUT -> denied within about the timeout,
  while the HTTP threads keep serving other requests; the service down -> denied;
- the input document of an S3 GetObject with static keys and with AssumeRole credentials;
- root is never sent to the plugin; the bearer token is sent and never logged.
"""
import http.server
import json
import os
import socketserver
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest

from conftest import Server, admin, aws, free_port, s3_client, sts_client

TOKEN = "opa-t0ken-must-not-leak-7f3a"
BUCKET = "opa-x"


class Policy:
    """The policy service's state: what it answers and what it received."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = "policy"
        self.raw = None
        self.status = 200
        self.sleep = 0
        self.inputs = []
        self.auth = []

    def decide(self, inp):
        """alice: everything; group readers: reads of bucket opa-x; anyone else: nothing."""
        user = inp["claims"].get("parent") or inp["account"]
        if user == "alice":
            return True
        if "readers" in (inp["groups"] or []):
            return inp["bucket"] == BUCKET and inp["action"] in (
                "s3:GetObject", "s3:ListBucket", "s3:HeadBucket", "sts:AssumeRole")
        return False


def make_service(policy):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            doc = json.loads(body)
            with policy.lock:
                policy.inputs.append(doc["input"])
                policy.auth.append(self.headers.get("Authorization"))
                mode, raw, status, sleep = policy.mode, policy.raw, policy.status, policy.sleep
            if sleep:
                time.sleep(sleep)
            if mode == "policy":
                out = json.dumps({"result": {"allow": policy.decide(doc["input"])}}).encode()
            elif mode == "true":
                out = b'{"result": true}'
            else:
                out = raw
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                pass

    class Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    return Threaded(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def opa(tmp_path_factory):
    policy = Policy()
    srv = make_service(policy)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    policy.url = "http://127.0.0.1:%d/v1/data/httpapi/authz" % srv.server_address[1]
    yield policy
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def srv(opa, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("opa"))
    s = Server(os.path.join(d, "data"), env={
        "TESSERA_POLICY_PLUGIN_URL": opa.url,
        "MINIO_IAM_OPA_AUTHTOKEN": TOKEN,  # the guide's alias
        "TESSERA_POLICY_PLUGIN_TIMEOUT": "1s",
    })
    s.start()
    root = s3_client(s)
    root.create_bucket(Bucket=BUCKET)
    root.put_object(Bucket=BUCKET, Key="doc.txt", Body=b"hello opa")
    root.create_bucket(Bucket="other")
    for user, secret in (("alice", "alice-secret-1"), ("bob", "bob-secret-12"),
                         ("carol", "carol-secret-1")):
        admin(s, "user", "add", user, secret)
    admin(s, "group", "add", "readers", "bob")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def reset(opa):
    with opa.lock:
        opa.mode, opa.raw, opa.status, opa.sleep = "policy", None, 200, 0
        opa.inputs.clear()
        opa.auth.clear()
    yield


def code(exc):
    return exc.value.response["Error"]["Code"]


def user_s3(srv, user):
    return s3_client(srv, user, {"alice": "alice-secret-1", "bob": "bob-secret-12",
                                 "carol": "carol-secret-1"}[user])


def test_allow_and_deny_static_users(srv, opa):
    # No tessera policy is attached to anyone: the plugin alone decides.
    assert user_s3(srv, "alice").get_object(Bucket=BUCKET, Key="doc.txt")["Body"].read() == b"hello opa"
    user_s3(srv, "alice").put_object(Bucket=BUCKET, Key="by-alice", Body=b"x" * 70000)
    bob = user_s3(srv, "bob")
    assert bob.get_object(Bucket=BUCKET, Key="doc.txt")["Body"].read() == b"hello opa"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bob.put_object(Bucket=BUCKET, Key="by-bob", Body=b"y" * 70000)
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_s3(srv, "carol").get_object(Bucket=BUCKET, Key="doc.txt")
    assert code(e) == "AccessDenied"
    # ListBuckets asks per bucket: bob sees the bucket readers may list only.
    names = [b["Name"] for b in bob.list_buckets()["Buckets"]]
    assert names == [BUCKET]


def test_aws_cli_allow_and_deny(srv, opa, tmp_path):
    out = tmp_path / "o"
    aws(srv, "s3", "cp", "s3://%s/doc.txt" % BUCKET, str(out), ak="bob", sk="bob-secret-12")
    assert out.read_bytes() == b"hello opa"
    p = aws(srv, "s3api", "get-object", "--bucket", BUCKET, "--key", "doc.txt", str(out),
            ak="carol", sk="carol-secret-1", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr


def test_input_static_user(srv, opa):
    user_s3(srv, "bob").get_object(Bucket=BUCKET, Key="doc.txt")
    inp = [i for i in opa.inputs if i["action"] == "s3:GetObject"][-1]
    assert inp["account"] == "bob"
    assert inp["groups"] == ["readers"]
    assert inp["bucket"] == BUCKET and inp["object"] == "doc.txt"
    assert inp["owner"] is False and inp["claims"] == {}
    cond = inp["conditions"]
    assert all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in cond.values())
    assert cond["SourceIp"] == ["127.0.0.1"] and cond["username"] == ["bob"]
    assert cond["SecureTransport"] == ["false"] and cond["principaltype"] == ["User"]
    assert not any(k.lower() in ("authorization", "x-amz-security-token") for k in cond)
    with open(os.path.join(os.path.dirname(srv.data_dir), "opa-input-static.json"), "w") as f:
        json.dump({"input": inp}, f, indent=2)


def test_input_assumerole_session(srv, opa):
    c = sts_client(srv, "alice", "alice-secret-1").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="s1")["Credentials"]
    s3 = s3_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert s3.get_object(Bucket=BUCKET, Key="doc.txt")["Body"].read() == b"hello opa"
    inp = [i for i in opa.inputs if i["action"] == "s3:GetObject"][-1]
    assert inp["account"] == c["AccessKeyId"]
    assert inp["claims"]["parent"] == "alice"
    assert inp["claims"]["accessKey"] == c["AccessKeyId"]
    assert isinstance(inp["claims"]["exp"], int)
    assert inp["conditions"]["principaltype"] == ["AssumedRole"]
    assert inp["conditions"]["username"] == ["alice"]
    assert not any(k.lower() == "x-amz-security-token" for k in inp["conditions"])
    assert c["SessionToken"] not in json.dumps(inp)
    print(json.dumps({"input": inp}, indent=2))
    # carol may not even assume a role: the plugin decides sts:AssumeRole too.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_client(srv, "carol", "carol-secret-1").assume_role(
            RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="s2")
    assert code(e) == "AccessDenied"


def test_session_policy_still_narrows(srv, opa):
    pol = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*" % BUCKET}]})
    c = sts_client(srv, "alice", "alice-secret-1").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="s3", Policy=pol)["Credentials"]
    s3 = s3_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    s3.get_object(Bucket=BUCKET, Key="doc.txt")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=BUCKET, Key="nope", Body=b"1")
    assert code(e) == "AccessDenied"


def test_admin_api_goes_to_plugin(srv, opa):
    p = admin(srv, "user", "list", ak="alice", sk="alice-secret-1")
    assert "bob" in p.stdout
    assert any(i["action"].startswith("admin:") and i["account"] == "alice" for i in opa.inputs)
    p = admin(srv, "user", "list", ak="carol", sk="carol-secret-1", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr


def test_root_bypasses(srv, opa):
    with opa.lock:
        opa.mode, opa.raw = "raw", b'{"result": false}'
    root = s3_client(srv)
    assert root.get_object(Bucket=BUCKET, Key="doc.txt")["Body"].read() == b"hello opa"
    root.list_buckets()
    admin(srv, "user", "list")
    assert opa.inputs == []


@pytest.mark.parametrize("answer,status", [
    (b'{"result": false}', 200),
    (b'{"result": {"allow": false}}', 200),
    (b'{"result": {"allow": "yes"}}', 200),
    (b'{"result": "true"}', 200),
    (b'{"result": 1}', 200),
    (b'{"result": {"allow": null}}', 200),
    (b'{"result": [true]}', 200),
    (b'{"allow": true}', 200),
    (b'{}', 200),
    (b'[true]', 200),
    (b'true', 200),
    (b'{"result": true', 200),
    (b'not json at all', 200),
    (b'', 200),
    (b'{"result": true, "result": true}', 200),
    (b'{"result": true}', 500),
    (b'{"result": true}', 403),
])
def test_wrong_answers_deny(srv, opa, answer, status):
    with opa.lock:
        opa.mode, opa.raw, opa.status = "raw", answer, status
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_s3(srv, "alice").get_object(Bucket=BUCKET, Key="doc.txt")
    assert code(e) == "AccessDenied"
    assert opa.inputs, "the plugin was not asked"


def test_true_answer_allows(srv, opa):
    with opa.lock:
        opa.mode = "true"
    assert user_s3(srv, "carol").get_object(Bucket=BUCKET, Key="doc.txt")["Body"].read() == b"hello opa"


def test_timeout_denies_and_http_threads_stay_free(srv, opa):
    with opa.lock:
        opa.mode, opa.sleep = "true", 3
    carol = user_s3(srv, "carol")

    def slow():
        t0 = time.time()
        try:
            carol.get_object(Bucket=BUCKET, Key="doc.txt")
            return "allowed", time.time() - t0
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"], time.time() - t0

    with ThreadPoolExecutor(6) as ex:
        futs = [ex.submit(slow) for _ in range(6)]  # more than the HTTP threads
        time.sleep(0.3)
        t0 = time.time()
        with urllib.request.urlopen(srv.endpoint + "/health/live", timeout=5) as r:
            assert r.status == 200
        s3_client(srv).head_object(Bucket=BUCKET, Key="doc.txt")  # root: no plugin
        assert time.time() - t0 < 0.5, "the HTTP threads were held by the plugin calls"
        results = [f.result() for f in futs]
    for res, took in results:
        assert res == "AccessDenied"
        assert 0.9 < took < 2.5, took
    assert "did not answer in time" in srv.read_log()


def test_bearer_token_sent_never_logged(srv, opa):
    user_s3(srv, "alice").get_object(Bucket=BUCKET, Key="doc.txt")
    assert opa.auth and all(a == "Bearer " + TOKEN for a in opa.auth)
    with pytest.raises(botocore.exceptions.ClientError):
        user_s3(srv, "carol").get_object(Bucket=BUCKET, Key="doc.txt")
    assert TOKEN not in srv.read_log()
    with open(srv.audit_path) as f:
        assert TOKEN not in f.read()


def test_service_down_denies(tmp_path):
    port = free_port()  # nothing listens there
    s = Server(str(tmp_path / "data"), env={
        "MINIO_IAM_OPA_URL": "http://127.0.0.1:%d/v1/data/httpapi/authz" % port,  # the guide's alias
        "TESSERA_POLICY_PLUGIN_AUTH_TOKEN": "Bearer " + TOKEN})
    s.start()
    try:
        s3_client(s).create_bucket(Bucket=BUCKET)
        admin(s, "user", "add", "alice", "alice-secret-1")
        t0 = time.time()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            user_s3(s, "alice").list_objects_v2(Bucket=BUCKET)
        assert code(e) == "AccessDenied"
        assert time.time() - t0 < 2.5
        log = s.read_log()
        assert "unreachable" in log and TOKEN not in log
    finally:
        s.stop()


def test_anonymous_uses_bucket_policy_only(srv, opa):
    root = s3_client(srv)
    root.create_bucket(Bucket="opa-pub")
    root.put_object(Bucket="opa-pub", Key="p.txt", Body=b"public")
    root.put_bucket_policy(Bucket="opa-pub", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                "Action": "s3:GetObject",
                                                "Resource": "arn:aws:s3:::opa-pub/*"}]}))
    with urllib.request.urlopen(srv.endpoint + "/opa-pub/p.txt", timeout=5) as r:
        assert r.read() == b"public"
    assert opa.inputs == []
