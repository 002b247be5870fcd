"""Issue 17 items 1-3: `tessera gateway s3 UPSTREAM_URL` in front of a second `tessera server`
(the upstream, whose root keys are the gateway's root keys, MinIO's rule).

Every request is authenticated and authorized by the gateway (the same operation table and
authorizer as the embedded store), then re-signed with the upstream's keys; bodies stream both
ways through bounded buffers. Checked with real clients (boto3 old and new, aws cli, rclone,
the JS SDK, curl-like raw requests), and against a dead, a black-holed and a failing upstream.
The upstream's access log counts what reached it.
"""
import hashlib
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

import test_authz_table as authz_table
import test_bad_input as bad_input
import test_newer_sdks as newer_sdks
import test_other_clients as other_clients
import test_sts as sts_tests
from conftest import BIN, Server, admin, aws, free_port, s3_client

UP_USER, UP_PASS = "upstream-root", "upstream-root-secret-1"
ASAN = "asan" in BIN


class Gateway(Server):
    """`tessera gateway s3 --state-dir DATA UPSTREAM` on a free port; root = the upstream's."""

    def __init__(self, data_dir, upstream_url, env=None):
        super().__init__(data_dir, env=env)
        self.root_user, self.root_password = UP_USER, UP_PASS
        self.upstream_url = upstream_url

    def start(self, faketime=None):
        if self.port is None:
            self.port = free_port()
        cmd = [self.bin, "gateway", "s3", "--address", "127.0.0.1:%d" % self.port,
               "--state-dir", self.data_dir, self.upstream_url]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=self.env(), stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited:\n" + self.read_log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("gateway did not start:\n" + self.read_log())

    def vm(self, field):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0


def upstream_requests(up):
    """How many requests the upstream answered (its access log lines)."""
    return up.read_log_full().count('"event":"access"')


def _read_log_full(self):
    try:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


Server.read_log_full = _read_log_full


@pytest.fixture
def upstream(tmp_root):
    srv = Server(os.path.join(tmp_root, "upstream"))
    srv.root_user, srv.root_password = UP_USER, UP_PASS
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def start_gateway(tmp_root, url, env=None, name="gw"):
    gw = Gateway(os.path.join(tmp_root, name), url, env=env)
    gw.log_path = os.path.join(tmp_root, name + ".log")
    gw.audit_path = os.path.join(tmp_root, name + "-audit.log")
    return gw.start()


@pytest.fixture
def gw(tmp_root, upstream):
    g = start_gateway(tmp_root, upstream.endpoint)
    try:
        yield g
    finally:
        g.stop()


def code(e):
    return e.value.response["Error"]["Code"]


def policy_file(tmp_root, name, statements):
    path = os.path.join(str(tmp_root), name + ".json")
    with open(path, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": statements}, f)
    return path


def make_user(gw, tmp_root, user, secret, statements):
    admin(gw, "user", "add", user, secret)
    admin(gw, "policy", "create", user + "-pol", policy_file(tmp_root, user, statements))
    admin(gw, "policy", "attach", user + "-pol", "--user", user)


def assert_no_upstream_keys(*texts):
    for t in texts:
        assert UP_PASS not in t
        assert UP_USER not in t


# ---- objects, listings, ranges, copies, multipart ----

def test_objects_land_in_the_upstream(gw, upstream):
    s3, direct = s3_client(gw), s3_client(upstream)
    s3.create_bucket(Bucket="gwb")
    assert "gwb" in [b["Name"] for b in direct.list_buckets()["Buckets"]]
    body = os.urandom(300000)
    r = s3.put_object(Bucket="gwb", Key="dir/sp ace+plus%.bin", Body=body,
                      ContentType="application/x-test", Metadata={"color": "blue"})
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = direct.get_object(Bucket="gwb", Key="dir/sp ace+plus%.bin")
    assert got["Body"].read() == body and got["Metadata"] == {"color": "blue"}
    g = s3.get_object(Bucket="gwb", Key="dir/sp ace+plus%.bin")
    assert g["Body"].read() == body and g["ContentType"] == "application/x-test"
    assert g["Metadata"] == {"color": "blue"}
    assert s3.get_object(Bucket="gwb", Key="dir/sp ace+plus%.bin",
                         Range="bytes=10-19")["Body"].read() == body[10:20]
    assert s3.get_object(Bucket="gwb", Key="dir/sp ace+plus%.bin",
                         Range="bytes=-5")["Body"].read() == body[-5:]
    h = s3.head_object(Bucket="gwb", Key="dir/sp ace+plus%.bin")
    assert h["ContentLength"] == len(body)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="gwb", Key="dir/sp ace+plus%.bin", IfNoneMatch=h["ETag"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    s3.put_object(Bucket="gwb", Key="empty", Body=b"")
    assert s3.get_object(Bucket="gwb", Key="empty")["Body"].read() == b""
    s3.copy_object(Bucket="gwb", Key="copy", CopySource={"Bucket": "gwb", "Key": "dir/sp ace+plus%.bin"})
    assert direct.get_object(Bucket="gwb", Key="copy")["Body"].read() == body
    for i in range(5):
        s3.put_object(Bucket="gwb", Key="list/%d" % i, Body=b"x")
    v2 = s3.list_objects_v2(Bucket="gwb", Prefix="list/", MaxKeys=2)
    assert [o["Key"] for o in v2["Contents"]] == ["list/0", "list/1"] and v2["IsTruncated"]
    v2b = s3.list_objects_v2(Bucket="gwb", Prefix="list/", ContinuationToken=v2["NextContinuationToken"])
    assert [o["Key"] for o in v2b["Contents"]] == ["list/2", "list/3", "list/4"]
    v1 = s3.list_objects(Bucket="gwb", Delimiter="/")
    assert sorted(p["Prefix"] for p in v1["CommonPrefixes"]) == ["dir/", "list/"]
    s3.delete_object(Bucket="gwb", Key="copy")
    r = s3.delete_objects(Bucket="gwb", Delete={"Objects": [{"Key": "list/0"}, {"Key": "list/1"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["list/0", "list/1"]
    keys = [o["Key"] for o in direct.list_objects_v2(Bucket="gwb")["Contents"]]
    assert keys == ["dir/sp ace+plus%.bin", "empty", "list/2", "list/3", "list/4"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="gwb", Key="nope")
    assert code(e) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket="nobucket")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_multipart_with_upload_part_copy(gw, upstream):
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="mpb")
    src = os.urandom(6 << 20)
    s3.put_object(Bucket="mpb", Key="src", Body=src)
    mp = s3.create_multipart_upload(Bucket="mpb", Key="big")
    p1 = os.urandom(5 << 20)
    e1 = s3.upload_part(Bucket="mpb", Key="big", UploadId=mp["UploadId"], PartNumber=1, Body=p1)
    e2 = s3.upload_part_copy(Bucket="mpb", Key="big", UploadId=mp["UploadId"], PartNumber=2,
                             CopySource={"Bucket": "mpb", "Key": "src"},
                             CopySourceRange="bytes=100-5243000")
    parts = s3.list_parts(Bucket="mpb", Key="big", UploadId=mp["UploadId"])["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2]
    ups = s3.list_multipart_uploads(Bucket="mpb")["Uploads"]
    assert [u["Key"] for u in ups] == ["big"]
    s3.complete_multipart_upload(Bucket="mpb", Key="big", UploadId=mp["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1["ETag"]},
                  {"PartNumber": 2, "ETag": e2["CopyPartResult"]["ETag"]}]})
    want = p1 + src[100:5243001]
    assert s3_client(upstream).get_object(Bucket="mpb", Key="big")["Body"].read() == want
    mp2 = s3.create_multipart_upload(Bucket="mpb", Key="aborted")
    s3.abort_multipart_upload(Bucket="mpb", Key="aborted", UploadId=mp2["UploadId"])
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpb")


def test_presigned_get_and_put(gw, upstream):
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="pre")
    put = s3.generate_presigned_url("put_object", Params={"Bucket": "pre", "Key": "p"}, ExpiresIn=300)
    r = requests.put(put, data=b"presigned body", timeout=30)
    assert r.status_code == 200, r.text
    get = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "p"}, ExpiresIn=300)
    r = requests.get(get, timeout=30)
    assert r.status_code == 200 and r.content == b"presigned body"
    bad = re.sub(r"(Signature=)(.)", lambda m: m.group(1) + ("A" if m.group(2) != "A" else "B"), get)
    assert requests.get(bad, timeout=30).status_code == 403
    assert s3_client(upstream).get_object(Bucket="pre", Key="p")["Body"].read() == b"presigned body"


# ---- other clients ----

def test_aws_cli(gw, upstream, tmp_root):
    aws(gw, "s3", "mb", "s3://cli-bucket")
    src = os.path.join(tmp_root, "f.bin")
    data = os.urandom(9 << 20)  # multipart with the cli's 8 MiB parts
    with open(src, "wb") as f:
        f.write(data)
    aws(gw, "s3", "cp", src, "s3://cli-bucket/f.bin")
    out = os.path.join(tmp_root, "back.bin")
    aws(gw, "s3", "cp", "s3://cli-bucket/f.bin", out)
    with open(out, "rb") as f:
        assert f.read() == data
    assert "f.bin" in aws(gw, "s3", "ls", "s3://cli-bucket/").stdout
    assert s3_client(upstream).head_object(Bucket="cli-bucket", Key="f.bin")["ContentLength"] == len(data)


def test_rclone(gw, tmp_root):
    other_clients.test_rclone_sync_both_ways(gw, tmp_root)


def test_javascript_sdks_with_temporary_credentials(gw, tmp_root):
    sts_tests.test_javascript_sdk_and_minio_client(gw, tmp_root)


def test_newer_boto3_checksum_trailers(gw):
    py = newer_sdks.newer_python()
    if py is None:
        pytest.skip("no python with botocore >= 1.36 on this machine")
    s3_client(gw).create_bucket(Bucket="newer")
    p = subprocess.run([py, "-c", TRAILER_SCRIPT, gw.endpoint, UP_USER, UP_PASS, "newer"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr


TRAILER_SCRIPT = r'''
import os, sys, boto3, botocore.config
ep, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=botocore.config.Config(
                      s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
body = os.urandom(3 * 1024 * 1024 + 17)
s3.put_object(Bucket=bucket, Key="t/one", Body=body)
assert s3.get_object(Bucket=bucket, Key="t/one")["Body"].read() == body
for algo in ["CRC32", "SHA1", "SHA256"]:
    s3.put_object(Bucket=bucket, Key="t/" + algo, Body=body[:1000], ChecksumAlgorithm=algo)
    assert s3.get_object(Bucket=bucket, Key="t/" + algo)["Body"].read() == body[:1000]
mp = s3.create_multipart_upload(Bucket=bucket, Key="t/mp")
p = s3.upload_part(Bucket=bucket, Key="t/mp", UploadId=mp["UploadId"], PartNumber=1, Body=body)
s3.complete_multipart_upload(Bucket=bucket, Key="t/mp", UploadId=mp["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
assert s3.get_object(Bucket=bucket, Key="t/mp")["Body"].read() == body
'''


# ---- integrity of streamed bodies ----

def send_in_two(gw, sig, first, rest, pause=1.0):
    """Sends sig's request with its body in two writes, pause seconds apart."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    try:
        conn.putrequest(sig.method, sig.url, skip_host=True, skip_accept_encoding=True)
        for k, v in sig.headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        conn.send(first)
        time.sleep(pause)
        conn.send(rest)
        r = conn.getresponse()
        payload = r.read()
        return r.status, bad_input.error_code(payload)
    finally:
        conn.close()


@pytest.mark.parametrize("where", ["middle", "final"])
def test_bad_chunk_signature_is_never_committed(gw, upstream, where):
    """aws-chunked signatures are tessera's to check (the upstream gets the decoded body): a
    body whose chunk signature fails -- even the final, empty chunk's -- never completes
    upstream, so nothing is stored there."""
    s3_client(gw).create_bucket(Bucket="bad")
    data = os.urandom(150 << 10)
    chunks = [data[:64 << 10], data[64 << 10:128 << 10], data[128 << 10:]]
    sig = bad_input.streaming_put(gw, "/bad/obj", len(bad_input.chunked_body(None, chunks)), len(data))
    body = bad_input.chunked_body(sig, chunks)
    last = body.rindex(b"0;chunk-signature=")
    i = body.rindex(b"chunk-signature=") if where == "final" else body.index(b"chunk-signature=", 100)
    i += len(b"chunk-signature=")
    body = body[:i] + (b"0" if body[i:i + 1] != b"0" else b"1") + body[i + 1:]
    if where == "final":
        # every data byte first; the final chunk (its signature wrong) only once the gateway
        # had all the time to send them on: it holds the last one back until the end is checked
        st, err = send_in_two(gw, sig, body[:last], body[last:])
    else:
        st, err, _ = sig.send(body)
    assert (st, err) == (403, "SignatureDoesNotMatch")
    time.sleep(0.5)
    assert "Contents" not in s3_client(upstream).list_objects_v2(Bucket="bad")
    good = bad_input.streaming_put(gw, "/bad/obj", len(bad_input.chunked_body(None, chunks)), len(data))
    assert good.send(bad_input.chunked_body(good, chunks))[0] == 200
    assert s3_client(upstream).get_object(Bucket="bad", Key="obj")["Body"].read() == data


def test_payload_hash_and_content_md5_are_checked(gw, upstream):
    s3_client(gw).create_bucket(Bucket="dig")
    st, err, _ = bad_input.Signed(gw, "PUT", "/dig/k", b"actual body",
                                  payload_hash=hashlib.sha256(b"other").hexdigest()).send()
    assert (st, err) == (400, "XAmzContentSHA256Mismatch")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3_client(gw).put_object(Bucket="dig", Key="k", Body=b"abc",
                                 ContentMD5=bad_input.md5_b64(b"abd"))
    assert code(e) == "BadDigest"
    assert "Contents" not in s3_client(upstream).list_objects_v2(Bucket="dig")


class Stream:
    """total bytes of a repeated random block, read in pieces (requests sends its length)."""

    def __init__(self, total, piece=1 << 20):
        self.block, self.left = os.urandom(piece), total

    def __len__(self):
        return self.left

    def read(self, n=-1):
        n = len(self.block) if n is None or n < 0 or n > len(self.block) else n
        n = min(n, self.left)
        self.left -= n
        return self.block[:n]


def test_one_gib_streams_with_bounded_memory(gw, upstream):
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="huge")
    base = gw.vm("VmRSS")
    total = 1 << 30
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "huge", "Key": "g"}, ExpiresIn=600)
    r = requests.put(url, data=Stream(total), timeout=600)
    assert r.status_code == 200, r.text
    assert s3_client(upstream).head_object(Bucket="huge", Key="g")["ContentLength"] == total
    get = s3.generate_presigned_url("get_object", Params={"Bucket": "huge", "Key": "g"}, ExpiresIn=600)
    n = 0
    with requests.get(get, stream=True, timeout=600) as r:
        assert r.status_code == 200
        for chunk in r.iter_content(1 << 20):
            n += len(chunk)
    assert n == total
    grown = gw.vm("VmHWM") - base
    print("gateway VmHWM grew by %.1f MiB (VmHWM %.1f MiB)" % (grown / 2**20, gw.vm("VmHWM") / 2**20))
    limit = (256 if ASAN else 64) << 20
    assert grown < limit, "the gateway grew by %d MiB streaming 1 GiB" % (grown >> 20)


# ---- authorization before the upstream ----

def test_prefix_user_refused_before_reaching_upstream(gw, upstream, tmp_root):
    root = s3_client(gw)
    root.create_bucket(Bucket="media")
    root.put_object(Bucket="media", Key="other/x", Body=b"secret")
    make_user(gw, tmp_root, "media-user", "media-user-secret", [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::media/tmp/media/*"}])
    s3 = s3_client(gw, "media-user", "media-user-secret")
    s3.put_object(Bucket="media", Key="tmp/media/ok.txt", Body=b"fine")
    assert s3.get_object(Bucket="media", Key="tmp/media/ok.txt")["Body"].read() == b"fine"
    time.sleep(0.3)
    before = upstream_requests(upstream)
    for call in (lambda: s3.get_object(Bucket="media", Key="other/x"),
                 lambda: s3.put_object(Bucket="media", Key="other/y", Body=b"no"),
                 lambda: s3.put_object(Bucket="media", Key="tmp/mediax", Body=os.urandom(5 << 20)),
                 lambda: s3.delete_object(Bucket="media", Key="tmp/media/ok.txt"),
                 lambda: s3.list_objects_v2(Bucket="media"),
                 lambda: s3.copy_object(Bucket="media", Key="tmp/media/stolen",
                                        CopySource={"Bucket": "media", "Key": "other/x"})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    time.sleep(0.3)
    assert upstream_requests(upstream) == before
    # ListBuckets asks the upstream for the list (to filter it), and shows nothing
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_buckets()
    assert code(e) == "AccessDenied"
    assert root.get_object(Bucket="media", Key="tmp/media/ok.txt")["Body"].read() == b"fine"


def test_every_operation_is_authorized_before_the_upstream(gw, upstream, tmp_root):
    """The operation table's every row (read from the source, as test_authz_table does),
    anonymous and by a user without policies: denied by the gateway, nothing forwarded (but
    ListBuckets, which reads the upstream's list to filter it, and answers AccessDenied;
    PostObject, a browser form, is refused with 501 NotImplemented)."""
    s3_client(gw).create_bucket(Bucket="authz-bkt")
    s3_client(gw).put_object(Bucket="authz-bkt", Key="source", Body=b"s")
    admin(gw, "user", "add", "nobody1", "nobody-secret-1")
    time.sleep(0.3)
    before = upstream_requests(upstream)
    for creds in (None, ("nobody1", "nobody-secret-1")):
        for row in authz_table.s3_ops():
            if row[4] == "ListBuckets":
                continue
            r = authz_table.s3_request(gw, row, creds)
            if row[4] == "DeleteObjects":
                assert r.status_code == 200 and "<Deleted>" not in r.text, r.text
                continue
            if row[4] == "PostObject":  # browser forms: refused by the gateway (GATEWAY.md)
                assert r.status_code == 501 and "NotImplemented" in r.text, r.text
                continue
            assert r.status_code == 403, (row, r.status_code, r.text)
    time.sleep(0.3)
    assert upstream_requests(upstream) == before


def test_list_buckets_shows_what_the_caller_may_see(gw, upstream, tmp_root):
    root = s3_client(gw)
    for b in ("alpha-b", "beta-b", "gamma-b"):
        root.create_bucket(Bucket=b)
    make_user(gw, tmp_root, "lister", "lister-secret-1", [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::beta-b"}])
    names = [b["Name"] for b in s3_client(gw, "lister", "lister-secret-1").list_buckets()["Buckets"]]
    assert names == ["beta-b"]
    assert [b["Name"] for b in root.list_buckets()["Buckets"]] == ["alpha-b", "beta-b", "gamma-b"]


def test_bucket_policy_lives_in_tessera_and_deny_wins(gw, upstream, tmp_root):
    root = s3_client(gw)
    root.create_bucket(Bucket="pol")
    root.put_object(Bucket="pol", Key="private/a", Body=b"a")
    root.put_object(Bucket="pol", Key="public/a", Body=b"b")
    make_user(gw, tmp_root, "reader", "reader-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::pol/*"}])
    reader = s3_client(gw, "reader", "reader-secret-1")
    assert reader.get_object(Bucket="pol", Key="private/a")["Body"].read() == b"a"
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::pol/private/*"]},
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::pol/public/*"]}]})
    root.put_bucket_policy(Bucket="pol", Policy=doc)
    assert json.loads(root.get_bucket_policy(Bucket="pol")["Policy"]) == json.loads(doc)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_object(Bucket="pol", Key="private/a")
    assert code(e) == "AccessDenied"
    assert requests.get(gw.endpoint + "/pol/public/a", timeout=10).content == b"b"  # anonymous
    assert requests.get(gw.endpoint + "/pol/private/a", timeout=10).status_code == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:  # never sent to the upstream
        s3_client(upstream).get_bucket_policy(Bucket="pol")
    assert code(e) == "NoSuchBucketPolicy"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.put_bucket_policy(Bucket="no-such-bucket", Policy=doc)
    assert code(e) == "NoSuchBucket"
    root.delete_bucket_policy(Bucket="pol")
    assert reader.get_object(Bucket="pol", Key="private/a")["Body"].read() == b"a"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.get_bucket_policy(Bucket="pol")
    assert code(e) == "NoSuchBucketPolicy"


def test_delete_objects_is_authorized_per_key(gw, upstream, tmp_root):
    root = s3_client(gw)
    root.create_bucket(Bucket="dels")
    for k in ("mine/a", "mine/b", "theirs/c"):
        root.put_object(Bucket="dels", Key=k, Body=b"x")
    make_user(gw, tmp_root, "deleter", "deleter-secret-1", [
        {"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": "arn:aws:s3:::dels/mine/*"}])
    r = s3_client(gw, "deleter", "deleter-secret-1").delete_objects(Bucket="dels", Delete={
        "Objects": [{"Key": "mine/a"}, {"Key": "theirs/c"}, {"Key": "mine/b"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["mine/a", "mine/b"]
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("theirs/c", "AccessDenied")]
    assert [o["Key"] for o in s3_client(upstream).list_objects_v2(Bucket="dels")["Contents"]] == ["theirs/c"]


def test_pass_through_operations_use_their_own_action(gw, upstream, tmp_root):
    """Tagging: the gateway authorizes it with its own action (s3:PutObjectTagging, also for
    x-amz-tagging on PutObject), then the upstream answers (this upstream, a tessera store,
    keeps the tags since issue 18)."""
    root = s3_client(gw)
    root.create_bucket(Bucket="tags")
    make_user(gw, tmp_root, "putter", "putter-secret-1", [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::tags/*"}])
    putter = s3_client(gw, "putter", "putter-secret-1")
    putter.put_object(Bucket="tags", Key="plain", Body=b"x")
    time.sleep(0.3)
    before = upstream_requests(upstream)
    for call in (lambda: putter.put_object_tagging(Bucket="tags", Key="plain", Tagging={
                     "TagSet": [{"Key": "a", "Value": "b"}]}),
                 lambda: putter.put_object(Bucket="tags", Key="tagged", Body=b"x", Tagging="a=b")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    time.sleep(0.3)
    assert upstream_requests(upstream) == before
    root.put_object_tagging(Bucket="tags", Key="plain", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert s3_client(upstream).get_object_tagging(Bucket="tags", Key="plain")["TagSet"] == [
        {"Key": "a", "Value": "b"}]  # the upstream's answer
    r = requests.get(gw.endpoint + "/tags?unknownsub", timeout=10,
                     auth=None)
    assert r.status_code in (403, 501)


# ---- upstream failures ----

def test_upstream_down(tmp_root):
    port = free_port()  # nothing listens there
    g = start_gateway(tmp_root, "http://127.0.0.1:%d" % port, name="down")
    try:
        t = time.time()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_client(g).list_objects_v2(Bucket="any-bucket")
        assert time.time() - t < 10
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "127.0.0.1:%d" % port in e.value.response["Error"]["Message"]
        assert requests.get(g.endpoint + "/health/live", timeout=5).status_code == 200
    finally:
        g.stop()


def test_upstream_black_hole_times_out(tmp_root):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)  # accepts (the kernel does) and never answers
    g = start_gateway(tmp_root, "http://127.0.0.1:%d" % lsock.getsockname()[1],
                      env={"TESSERA_GATEWAY_TIMEOUT": "2"}, name="hole")
    try:
        t = time.time()
        r = requests.get(g.endpoint + "/bkt/key", timeout=30,
                         auth=None, headers={})
        assert r.status_code in (403,)  # anonymous: denied before the upstream
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_client(g).get_object(Bucket="bkt", Key="key")
        took = time.time() - t
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert "did not answer within 2 s" in e.value.response["Error"]["Message"]
        assert took < 15
        assert requests.get(g.endpoint + "/health/live", timeout=5).status_code == 200
    finally:
        g.stop()
        lsock.close()


class Failing(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if "/creds" in self.path:
            body = (b"<Error><Code>InvalidAccessKeyId</Code><Message>The key %s does not "
                    b"exist</Message></Error>" % UP_USER.encode())
            self.send_response(403)
        else:
            body = b"<Error><Code>InternalError</Code><Message>disk on fire</Message></Error>"
            self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, *a):
        pass


def test_upstream_errors_become_clear_s3_errors(tmp_root):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    g = start_gateway(tmp_root, "http://127.0.0.1:%d" % srv.server_address[1], name="fail")
    try:
        s3 = s3_client(g)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket="bkt", Key="k", Body=b"x" * 1000)
        err = e.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 502 and err["Error"]["Code"] == "BadGateway"
        assert "InternalError" in err["Error"]["Message"] and "disk on fire" in err["Error"]["Message"]
        r = requests.get(s3.generate_presigned_url("get_object", Params={"Bucket": "creds", "Key": "k"}),
                         timeout=10)
        assert r.status_code == 502 and "credentials (InvalidAccessKeyId)" in r.text, r.text
        assert_no_upstream_keys(r.text)
        assert requests.get(g.endpoint + "/health/live", timeout=5).status_code == 200
    finally:
        g.stop()
        srv.shutdown()
    with open(g.log_path) as f:
        assert_no_upstream_keys(f.read())


def test_upstream_keys_never_leave_the_gateway(gw, upstream, tmp_root):
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="leak")
    s3.put_object(Bucket="leak", Key="k", Body=b"x")
    texts = []
    for path in ("/leak/k", "/leak", "/", "/leak/missing", "/nobucket/k"):
        r = requests.get(gw.endpoint + path, timeout=10)
        texts.append(r.text + json.dumps(dict(r.headers)))
    r = requests.get(s3.generate_presigned_url("get_object", Params={"Bucket": "leak", "Key": "k"}),
                     timeout=10)
    texts.append(r.text + json.dumps(dict(r.headers)))
    assert_no_upstream_keys(*texts)
    with open(gw.log_path) as f:
        log = f.read()
    assert UP_PASS not in log


# ---- the MinIO guide's environment, identity state in etcd ----

def test_guide_environment_two_gateways_on_one_etcd(tmp_root, upstream):
    """`MINIO_ACCESS_KEY`/`MINIO_SECRET_KEY` are the upstream's keys and `MINIO_ETCD_ENDPOINTS`
    holds the identity state: two gateways on one etcd share users, policies and bucket
    policies (stored by tessera in the IAM store, so in etcd)."""
    import etcd
    cluster = etcd.EtcdCluster(1, root=os.path.join(tmp_root, "etcd")).start()
    gws = []
    try:
        for name in ("gw-a", "gw-b"):
            g = Gateway(os.path.join(tmp_root, name), upstream.endpoint, env={
                "MINIO_ACCESS_KEY": UP_USER, "MINIO_SECRET_KEY": UP_PASS,
                "MINIO_ETCD_ENDPOINTS": cluster.endpoints,
                "MINIO_ETCD_PATH_PREFIX": "/gateway-it/"})
            g.iam_store = "etcd"
            g.log_path = os.path.join(tmp_root, name + ".log")

            def env(g=g):
                e = Server.env(g)
                e.pop("TESSERA_ROOT_USER", None)  # the guide's variables only
                e.pop("TESSERA_ROOT_PASSWORD", None)
                return e
            g.env = env
            gws.append(g.start())
        a, b = gws
        s3_client(a).create_bucket(Bucket="shared")
        s3_client(a).put_object(Bucket="shared", Key="pub/x", Body=b"x")
        make_user(a, tmp_root, "etcd-user", "etcd-user-secret", [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::shared/*"}])
        s3_client(a).put_bucket_policy(Bucket="shared", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": ["*"]},
                                                   "Action": ["s3:GetObject"],
                                                   "Resource": ["arn:aws:s3:::shared/pub/*"]}]}))
        deadline = time.time() + 5
        while True:  # b follows etcd (a watch): in force there within a second
            try:
                s3_client(b, "etcd-user", "etcd-user-secret").get_object(Bucket="shared", Key="pub/x")
                err = None
            except botocore.exceptions.ClientError as e:
                err = e.response["Error"]["Code"]
            if err == "AccessDenied" or time.time() > deadline:
                break
            time.sleep(0.1)
        assert err == "AccessDenied"
        assert json.loads(s3_client(b).get_bucket_policy(Bucket="shared")["Policy"])["Statement"]
    finally:
        for g in gws:
            g.stop()
        cluster.stop()
