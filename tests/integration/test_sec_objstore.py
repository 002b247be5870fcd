"""Issue 13, object store items: names checked at the edge with one set of rules (copy source,
part copy, upload id, part number, version id; item 1), one Range parser with S3's semantics
(item 8), no response-* overrides for anonymous readers (item 9), and authorization that
fails closed when a bucket policy cannot be read.

Requests that boto3 refuses to send (a 600-byte bucket name, a bogus part number) are signed
with botocore's own SigV4 signer and sent with http.client, so that the server sees exactly
what a hostile client would send.
"""
import ctypes
import http.client
import json
import os
import time
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import admin, s3_client

PUTTER = ("putter", "putter-secret-123")
MiB = 1 << 20


def error_code(payload):
    try:
        root = ET.fromstring(payload)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag == "Code" or el.tag.endswith("}Code"):
            return el.text
    return None


def signed(server, method, path, creds=None, headers=None, body=b""):
    """Sends a SigV4-signed request (every header signed) with http.client; returns
    (status, error code, headers, body). path is sent as is (already percent-encoded)."""
    creds = creds or (server.root_user, server.root_password)
    url = server.endpoint + path
    h = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    h.update(headers or {})
    req = AWSRequest(method=method, url=url, data=body, headers=h)
    S3SigV4Auth(Credentials(*creds), "s3", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "127.0.0.1:%d" % server.port)
        for k, v in req.headers.items():
            if k.lower() != "host":
                conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        payload = r.read()
        return r.status, error_code(payload), dict(r.getheaders()), payload
    finally:
        conn.close()


def assert_alive(server, s3):
    assert server.proc.poll() is None, "the server died:\n" + server.read_log()
    assert requests.get(server.endpoint + "/health/live", timeout=10).status_code == 200
    assert "dst" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.fixture
def world(server, tmp_path):
    """Bucket dst with object src (6 MiB), and user putter allowed only s3:PutObject on
    dst/up/* (which covers CreateMultipartUpload, UploadPart and UploadPartCopy)."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="dst")
    s3.put_object(Bucket="dst", Key="src", Body=os.urandom(6 * MiB))
    admin(server, "user", "add", *PUTTER)
    pol = tmp_path / "put-only.json"
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::dst/up/*"]}]}))
    admin(server, "policy", "create", "put-only", str(pol))
    admin(server, "policy", "attach", "put-only", "--user", PUTTER[0])
    return s3


def new_upload(server, creds, key="up/mpu"):
    st, code, _, body = signed(server, "POST", "/dst/%s?uploads" % key, creds)
    assert st == 200, (st, code, body)
    return ET.fromstring(body).find("{*}UploadId").text


# ---- item 1: copy source and part copy ----

LONG_BUCKET = "/" + "A" * 600 + "/key"


@pytest.mark.parametrize("who", ["putter", "root"])
def test_copy_object_long_source_bucket(server, world, who):
    """The reported crash: a 600-byte source bucket overflowed the LMDB key buffer. It is
    refused as the same name would be in the URI, before any authorization or lookup."""
    creds = PUTTER if who == "putter" else None
    st, code, _, body = signed(server, "PUT", "/dst/up/x", creds,
                               {"x-amz-copy-source": LONG_BUCKET})
    assert (st, code) == (400, "InvalidBucketName"), body
    assert_alive(server, world)


@pytest.mark.parametrize("who", ["putter", "root"])
def test_upload_part_copy_long_source_bucket(server, world, who):
    creds = PUTTER if who == "putter" else None
    uid = new_upload(server, creds)
    st, code, _, body = signed(server, "PUT", "/dst/up/mpu?partNumber=1&uploadId=" + uid, creds,
                               {"x-amz-copy-source": LONG_BUCKET})
    assert (st, code) == (400, "InvalidBucketName"), body
    st, code, _, body = signed(server, "PUT", "/dst/up/mpu?partNumber=1&uploadId=" + uid, creds,
                               {"x-amz-copy-source": LONG_BUCKET,
                                "x-amz-copy-source-range": "bytes=0-1"})
    assert (st, code) == (400, "InvalidBucketName"), body
    assert_alive(server, world)


BAD_SOURCES = [
    ("/" + "b" * 64 + "/key", "InvalidBucketName"),
    ("/" + "b" * 255 + "/key", "InvalidBucketName"),
    ("/ab/key", "InvalidBucketName"),
    ("/bad%21name/key", "InvalidBucketName"),
    ("/dst/" + "k" * 1025, "KeyTooLongError"),
    ("/dst/" + "%C3%A9" * 513, "KeyTooLongError"),
    ("/dst/%FF%FE", "InvalidArgument"),
    ("/dst/a%00b", "InvalidArgument"),
    ("/dst/src?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "InvalidArgument"),
    ("/dst/src?versionId=" + "v" * 600, "InvalidArgument"),
    ("/dst/src?other=1", "InvalidArgument"),
    ("/dst", "InvalidArgument"),
    ("//src", "InvalidArgument"),
]


@pytest.mark.parametrize("source,want", BAD_SOURCES)
def test_copy_sources_checked_like_destinations(server, world, source, want):
    """Every copy-source name is checked with the rules of the request's own names, for
    CopyObject and UploadPartCopy alike, as root (no authorization in the way) and as the
    put-only user (checked before authorization)."""
    uid = new_upload(server, None)
    for creds in (None, PUTTER):
        for path in ("/dst/up/x", "/dst/up/mpu?partNumber=1&uploadId=" + uid):
            st, code, _, body = signed(server, "PUT", path, creds, {"x-amz-copy-source": source})
            assert (st, code) == (400, want), (source, path, creds, body)
    assert_alive(server, world)


def test_copy_source_version_null_and_longest_names(server, world):
    """What the rules accept still works: versionId=null (the one version of an unversioned
    object), a 63-byte bucket, a 1024-byte key."""
    s3 = world
    st, code, _, body = signed(server, "PUT", "/dst/copy1", None,
                               {"x-amz-copy-source": "/dst/src?versionId=null"})
    assert st == 200, body
    long_bucket, long_key = "b" * 63, "k" * 1024
    s3.create_bucket(Bucket=long_bucket)
    s3.put_object(Bucket=long_bucket, Key=long_key, Body=b"long names")
    s3.copy_object(Bucket="dst", Key="copy2", CopySource={"Bucket": long_bucket, "Key": long_key})
    assert s3.get_object(Bucket="dst", Key="copy2")["Body"].read() == b"long names"
    st, _, _, body = signed(server, "GET", "/dst/copy2?versionId=null")
    assert st == 200 and body == b"long names"


@pytest.mark.parametrize("query,want", [
    ("partNumber=0&uploadId={uid}", "InvalidArgument"),
    ("partNumber=10001&uploadId={uid}", "InvalidArgument"),
    ("partNumber=-1&uploadId={uid}", "InvalidArgument"),
    ("partNumber=1x&uploadId={uid}", "InvalidArgument"),
    ("partNumber=99999999999999999999999&uploadId={uid}", "InvalidArgument"),
    ("partNumber=&uploadId={uid}", "InvalidArgument"),
    ("uploadId={uid}", "InvalidArgument"),
    ("partNumber=1&uploadId=" + "A" * 600, "NoSuchUpload"),
    ("partNumber=1&uploadId=..%2F..%2Fetc", "NoSuchUpload"),
    ("partNumber=1&uploadId=", "NoSuchUpload"),
])
def test_part_copy_bad_part_and_upload(server, world, query, want):
    uid = new_upload(server, PUTTER)
    path = "/dst/up/mpu?" + query.format(uid=uid)
    for headers in ({"x-amz-copy-source": "/dst/src"}, {}):  # UploadPartCopy, UploadPart
        st, code, _, body = signed(server, "PUT", path, PUTTER, headers, b"" if headers else b"x")
        assert code == want and st in (400, 404), (path, headers, st, body)
    assert_alive(server, world)


@pytest.mark.parametrize("rng", ["bytes=5-2", "bytes=0-", "bytes=-5", "bytes=0-1,3-4", "bytes=x-y",
                                 "bytes=0-" + "9" * 30, "0-1", "bytes=-"])
def test_part_copy_bad_range(server, world, rng):
    """x-amz-copy-source-range takes bytes=first-last only, checked before the source is."""
    uid = new_upload(server, PUTTER)
    st, code, _, body = signed(server, "PUT", "/dst/up/mpu?partNumber=1&uploadId=" + uid, None,
                               {"x-amz-copy-source": "/dst/src", "x-amz-copy-source-range": rng})
    if rng == "bytes=0-" + "9" * 30:
        assert (st, code) == (416, "InvalidRange"), body  # well-formed, past the source
    else:
        assert (st, code) == (400, "InvalidArgument"), (rng, body)
    assert_alive(server, world)


def test_part_copy_still_works(server, world):
    s3 = world
    uid = s3.create_multipart_upload(Bucket="dst", Key="mp")["UploadId"]
    p1 = s3.upload_part_copy(Bucket="dst", Key="mp", UploadId=uid, PartNumber=1,
                             CopySource="dst/src", CopySourceRange="bytes=0-%d" % (5 * MiB - 1))
    p2 = s3.upload_part_copy(Bucket="dst", Key="mp", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": "dst", "Key": "src", "VersionId": "null"},
                             CopySourceRange="bytes=%d-%d" % (5 * MiB, 6 * MiB - 1))
    s3.complete_multipart_upload(Bucket="dst", Key="mp", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert (s3.get_object(Bucket="dst", Key="mp")["Body"].read()
            == s3.get_object(Bucket="dst", Key="src")["Body"].read())


@pytest.mark.parametrize("path,want", [
    ("/" + "A" * 600 + "/k", "InvalidBucketName"),
    ("/" + "a" * 64 + "/k", "InvalidBucketName"),
    ("/" + "a" * 200, "InvalidBucketName"),
    ("/dst/src?versionId=abc", "InvalidArgument"),
])
def test_destination_names(server, world, path, want):
    for method in ("GET", "HEAD", "DELETE"):
        st, code, _, _ = signed(server, method, path)
        assert st == 400 and (method == "HEAD" or code == want), (method, path, st, code)
    assert_alive(server, world)


# ---- item 8: Range ----

SMALL = bytes(range(256)) * 4  # 1 KiB
LARGE = os.urandom(256 << 10)  # 256 KiB, served with sendfile


@pytest.fixture
def public(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="pub")
    s3.put_object(Bucket="pub", Key="small", Body=SMALL)
    s3.put_object(Bucket="pub", Key="large", Body=LARGE)
    s3.put_object(Bucket="pub", Key="page", Body=b"<script>alert(1)</script>",
                  ContentType="text/plain")
    s3.put_bucket_policy(Bucket="pub", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
                       "Resource": ["arn:aws:s3:::pub/*"]}]}))
    return s3


def ranges(size):
    """(Range header, expected status, expected first, expected last) as S3 answers."""
    return [
        ("bytes=5-2", 200, 0, size - 1),  # last < first: not a range, ignored
        ("bytes=0-1,3-4", 200, 0, size - 1),  # several ranges: S3 serves the whole object
        ("bytes=abc", 200, 0, size - 1),
        ("bytes=1-2-3", 200, 0, size - 1),
        ("bytes=-", 200, 0, size - 1),
        ("items=0-1", 200, 0, size - 1),
        ("bytes=5-", 206, 5, size - 1),
        ("bytes=-10", 206, size - 10, size - 1),
        ("bytes=-%d" % (size + 5), 206, 0, size - 1),
        ("bytes=5-%d" % (size * 4), 206, 5, size - 1),
        ("bytes=0-0", 206, 0, 0),
        ("bytes=%d-%d" % (size - 1, size - 1), 206, size - 1, size - 1),
        ("bytes=%d-" % size, 416, None, None),
        ("bytes=%d-%d" % (size, size + 10), 416, None, None),
        ("bytes=" + "9" * 30 + "-", 416, None, None),
        ("bytes=-0", 416, None, None),
    ]


@pytest.mark.parametrize("key", ["small", "large"])
def test_range_semantics_and_connection_reuse(server, public, key):
    """Each answer is exact (status, Content-Range, body bytes), and the same keep-alive
    connection serves the next request at once: nothing of a refused range is left behind."""
    data = SMALL if key == "small" else LARGE
    size = len(data)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for rng, want, first, last in ranges(size) + [(None, 200, 0, size - 1)]:
            t0 = time.time()
            conn.request("GET", "/pub/" + key, headers={"Range": rng} if rng else {})
            r = conn.getresponse()
            body = r.read()
            assert r.status == want, (rng, r.status, body[:200])
            if want == 416:
                assert error_code(body) == "InvalidRange"
                assert r.getheader("Content-Range") == "bytes */%d" % size
            elif want == 206:
                assert r.getheader("Content-Range") == "bytes %d-%d/%d" % (first, last, size)
                assert body == data[first:last + 1], rng
            else:
                assert r.getheader("Content-Range") is None, rng
                assert len(body) == size and body == data, rng
            assert time.time() - t0 < 3, ("slow answer", rng)
            assert not r.will_close or want == 416, rng
            if r.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    finally:
        conn.close()
    # boto3 agrees
    got = public.get_object(Bucket="pub", Key=key, Range="bytes=5-2")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and got["Body"].read() == data


def test_range_head(server, public):
    for rng, want in (("bytes=5-2", 200), ("bytes=2-5", 206), ("bytes=%d-" % len(SMALL), 416)):
        r = requests.head(server.endpoint + "/pub/small", headers={"Range": rng}, timeout=10)
        assert r.status_code == want, rng
        if want == 200:
            assert int(r.headers["Content-Length"]) == len(SMALL)
        if want == 206:
            assert int(r.headers["Content-Length"]) == 4


# ---- item 9: response-* overrides ----

OVERRIDES = ["response-content-type=text/html", "response-content-disposition=inline",
             "response-cache-control=no-cache", "response-content-language=fr",
             "response-expires=0", "response-content-encoding=gzip"]


@pytest.mark.parametrize("q", OVERRIDES + [
    "response-content-type=text/html&response-content-disposition=inline"])
def test_anonymous_response_overrides_refused(server, public, q):
    for method in ("GET", "HEAD"):
        r = requests.request(method, server.endpoint + "/pub/page?" + q, timeout=10)
        assert r.status_code == 400, (method, q, r.status_code)
        assert "text/html" not in r.headers.get("Content-Type", "")
        if method == "GET":
            assert error_code(r.content) == "InvalidRequest"
            assert b"anonymous" in r.content
            assert b"<script>" not in r.content


def test_signed_response_overrides_still_work(server, public):
    r = requests.get(server.endpoint + "/pub/page", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain"
    got = public.get_object(Bucket="pub", Key="page", ResponseContentType="text/html",
                            ResponseContentDisposition="inline")
    assert got["ContentType"] == "text/html" and got["ContentDisposition"] == "inline"
    url = public.generate_presigned_url("get_object", Params={
        "Bucket": "pub", "Key": "page", "ResponseContentType": "application/x-test"})
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-test"


# ---- fail closed: a bucket policy that cannot be read denies ----

class MDBVal(ctypes.Structure):
    _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]


def lmdb_put(metadir, dbname, key, value):
    """Writes key=value into the named database of the LMDB environment at metadir (the
    server must be stopped), through liblmdb itself."""
    lib = ctypes.CDLL("liblmdb.so.0")
    env, txn, dbi = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint()
    assert lib.mdb_env_create(ctypes.byref(env)) == 0
    try:
        lib.mdb_env_set_maxdbs(env, 8)
        lib.mdb_env_set_mapsize(env, ctypes.c_size_t(32 << 30))
        assert lib.mdb_env_open(env, metadir.encode(), 0, 0o600) == 0
        assert lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)) == 0
        assert lib.mdb_dbi_open(txn, dbname.encode(), 0, ctypes.byref(dbi)) == 0
        kb, vb = ctypes.create_string_buffer(key, len(key)), ctypes.create_string_buffer(value,
                                                                                          len(value))
        k = MDBVal(len(key), ctypes.cast(kb, ctypes.c_void_p))
        v = MDBVal(len(value), ctypes.cast(vb, ctypes.c_void_p))
        assert lib.mdb_put(txn, dbi, ctypes.byref(k), ctypes.byref(v), 0) == 0
        assert lib.mdb_txn_commit(txn) == 0
    finally:
        lib.mdb_env_close(env)


def test_unreadable_bucket_policy_denies(server, tmp_path):
    """A stored bucket policy that no longer parses (a damaged record, or one written by
    another version) is not "no policy": its Deny keeps applying, as a denial of everything
    but root, with a log line. Before, the Deny silently stopped applying."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="fcb")
    s3.put_object(Bucket="fcb", Key="secret", Body=b"secret")
    s3.put_object(Bucket="fcb", Key="open", Body=b"open")
    admin(server, "user", "add", "reader", "reader-secret-123")
    pol = tmp_path / "read.json"
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::fcb/*"]}]}))
    admin(server, "policy", "create", "read-fcb", str(pol))
    admin(server, "policy", "attach", "read-fcb", "--user", "reader")
    s3.put_bucket_policy(Bucket="fcb", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::fcb/secret"]}]}))
    reader = s3_client(server, ak="reader", sk="reader-secret-123")
    assert reader.get_object(Bucket="fcb", Key="open")["Body"].read() == b"open"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_object(Bucket="fcb", Key="secret")
    assert e.value.response["Error"]["Code"] == "AccessDenied"

    server.stop()
    lmdb_put(os.path.join(server.data_dir, ".tessera", "meta"), "policies", b"fcb",
             b'{"Version":"2012-10-17","Statement":[{"Effect":"Deny",')
    server.start()
    reader = s3_client(server, ak="reader", sk="reader-secret-123")
    for key in ("secret", "open"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            reader.get_object(Bucket="fcb", Key=key)
        assert e.value.response["Error"]["Code"] == "AccessDenied", key
    st, _, _, _ = signed(server, "GET", "/fcb/open", ("reader", "reader-secret-123"))
    assert st == 403
    log = server.read_log()
    assert "obj.policy" in log and "does not parse" in log
    # root is not subject to policies: it can still see and replace the damaged one
    s3 = s3_client(server)
    assert s3.get_object(Bucket="fcb", Key="open")["Body"].read() == b"open"
    s3.delete_bucket_policy(Bucket="fcb")
    assert reader.get_object(Bucket="fcb", Key="secret")["Body"].read() == b"secret"
