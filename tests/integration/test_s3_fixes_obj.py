"""Bugs real clients hit (issue 18, first part): checksums on ranged GETs, non-ASCII user
metadata, a retried CompleteMultipartUpload. Each with the clients that hit it: the newer boto3
(pyenv, validates response checksums by default), Debian's boto3, raw sockets where no client
sends the bytes."""
import email.header
import hashlib
import json
import os
import socket
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import aws, run_newer_boto3, s3_client


# ---- 1. a ranged GET carries no whole-object checksum ----

RANGED = r'''
import os, sys, tempfile, boto3, botocore.config
from boto3.s3.transfer import TransferConfig
ep, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"},
                                                retries={"max_attempts": 1}))
s3.create_bucket(Bucket=bucket)
body = os.urandom(12 * 1024 * 1024 + 5)
r = s3.put_object(Bucket=bucket, Key="obj", Body=body)
assert "ChecksumCRC32" in r or "ChecksumCRC64NVME" in r, r
# whole object: the checksum comes and the SDK validates it
g = s3.get_object(Bucket=bucket, Key="obj")
assert g["Body"].read() == body
h = g["ResponseMetadata"]["HTTPHeaders"]
assert any(k.startswith("x-amz-checksum-") for k in h), h
# a range: no whole-object checksum, the bytes come back (FlexibleChecksumError before)
g = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=100-199")
assert g["Body"].read() == body[100:200]
assert not any(k.startswith("x-amz-checksum-") for k in g["ResponseMetadata"]["HTTPHeaders"])
g = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-")
assert g["Body"].read() == body
# download_file: a multipart download of ranged GETs
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024,
                     max_concurrency=3)
d = tempfile.mkdtemp()
path = os.path.join(d, "out")
s3.download_file(bucket, "obj", path, Config=cfg)
with open(path, "rb") as f:
    assert f.read() == body
# a multipart object, downloaded the same way
mp = s3.create_multipart_upload(Bucket=bucket, Key="mp")
parts = []
for i, chunk in enumerate([body[:6 << 20], body[6 << 20:]]):
    p = s3.upload_part(Bucket=bucket, Key="mp", UploadId=mp["UploadId"], PartNumber=i + 1,
                       Body=chunk)
    parts.append({"PartNumber": i + 1, "ETag": p["ETag"]})
s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=mp["UploadId"],
                             MultipartUpload={"Parts": parts})
s3.download_file(bucket, "mp", path, Config=cfg)
with open(path, "rb") as f:
    assert f.read() == body
g = s3.get_object(Bucket=bucket, Key="mp", Range="bytes=5-6")
assert g["Body"].read() == body[5:7]
print("ok")
'''


def test_ranged_get_newer_boto3(server):
    assert run_newer_boto3(server, RANGED, "ranged").strip() == "ok"


def test_checksum_headers_debian_boto3(server):
    """As S3: the whole object's checksum only on a whole-object answer to a request with
    x-amz-checksum-mode: ENABLED (GET and HEAD alike); never on a 206."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="sums")
    body = os.urandom(100000)
    s3.put_object(Bucket="sums", Key="k", Body=body, ChecksumAlgorithm="CRC32")

    def sums(resp):
        return {k for k in resp["ResponseMetadata"]["HTTPHeaders"] if k.startswith("x-amz-checksum-")}

    assert sums(s3.head_object(Bucket="sums", Key="k")) == set()
    assert sums(s3.get_object(Bucket="sums", Key="k")) == set()
    # the checksum and its type (issue 19: x-amz-checksum-type, as AWS)
    both = {"x-amz-checksum-crc32", "x-amz-checksum-type"}
    assert sums(s3.head_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")) == both
    g = s3.get_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")
    assert sums(g) == both and g["Body"].read() == body
    g = s3.get_object(Bucket="sums", Key="k", ChecksumMode="ENABLED", Range="bytes=10-19")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert sums(g) == set() and g["Body"].read() == body[10:20]
    h = s3.head_object(Bucket="sums", Key="k", ChecksumMode="ENABLED", Range="bytes=10-19")
    assert h["ResponseMetadata"]["HTTPStatusCode"] == 206 and sums(h) == set()


# ---- 2. non-ASCII user metadata: kept as UTF-8 text, answered as sent: ISO-8859-1 bytes
# when every character fits, else RFC 2047-encoded ----

def decode2047(v):
    return str(email.header.make_header(email.header.decode_header(v)))


def with_raw_meta(s3, op, value):
    """Sends x-amz-meta-meta1: value on operation op as the bytes botocore puts on the wire
    (UTF-8), past its ASCII check (as the S3 conformance suite does)."""
    def hook(params, **kw):
        params["headers"]["x-amz-meta-meta1"] = value
    s3.meta.events.register("before-call.s3.%s" % op, hook)


def test_unicode_metadata_comes_back_as_sent(server):
    """The S3 conformance suite's case: boto3 sends "Hello World\xe9" (the byte 0xE9 on the
    wire) and reads back the same string (was "Hello World\xc3\xa9")."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="meta")
    with_raw_meta(s3, "PutObject", "Hello World\xe9")
    s3.put_object(Bucket="meta", Key="foo", Body=b"bar")
    for resp in (s3.get_object(Bucket="meta", Key="foo"), s3.head_object(Bucket="meta", Key="foo")):
        assert resp["Metadata"]["meta1"] == "Hello World\xe9", resp["Metadata"]


def test_rfc2047_metadata_from_the_client(server):
    """A value the client encoded itself is decoded before it is kept (as S3 does): the same
    text comes back, RFC 2047-encoded when it has characters beyond U+00FF, else plain."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="meta")
    cases = {
        "=?UTF-8?B?SGVsbG8gV29ybGTDqQ==?=": "Hello World\xe9",
        "=?utf-8?q?caf=C3=A9_cr=C3=A8me?=": "caf\xe9 cr\xe8me",
        "=?UTF-8?Q?a?= =?UTF-8?B?5Lit?=": "=?UTF-8?Q?a=E4=B8=AD?=",
        "=?UTF-8?B?aGVsbG8=?=": "hello",
        "plain text, kept": "plain text, kept",
        "=?UTF-8?B?not-an-encoded-word": "=?UTF-8?B?not-an-encoded-word",
        "=?ISO-8859-2?Q?x?=": "=?ISO-8859-2?Q?x?=",
    }
    for sent, want in cases.items():
        s3.put_object(Bucket="meta", Key="k", Body=b"", Metadata={"m": sent})
        assert s3.head_object(Bucket="meta", Key="k")["Metadata"]["m"] == want, sent
    # the aws cli sends and shows the same
    aws(server, "s3api", "put-object", "--bucket", "meta", "--key", "cli", "--metadata",
        json.dumps({"m": "=?UTF-8?B?w6k=?="}))
    out = aws(server, "s3api", "head-object", "--bucket", "meta", "--key", "cli").stdout
    assert json.loads(out)["Metadata"] == {"m": "\xe9"}


def test_latin1_metadata_bytes(server):
    """Header bytes that are not UTF-8 are read as ISO-8859-1, as S3 reads them (curl sends the
    byte 0xE9 as given) and answered as sent; UTF-8 beyond U+00FF comes back RFC 2047-encoded."""
    s3_client(server).create_bucket(Bucket="meta")
    base = ["curl", "-s", "--user", "%s:%s" % (server.root_user, server.root_password),
            "--aws-sigv4", "aws:amz:us-east-1:s3"]
    p = subprocess.run(base + ["-X", "PUT", "-H", b"x-amz-meta-l: caf\xe9", "--data-binary", "x",
                               "-o", "/dev/null", "-w", "%{http_code}",
                               server.endpoint + "/meta/lat"], capture_output=True)
    assert p.stdout == b"200", p
    p = subprocess.run(base + ["-I", server.endpoint + "/meta/lat"], capture_output=True)
    assert b"x-amz-meta-l: caf\xe9\r\n" in p.stdout, p.stdout  # the bytes as sent
    p = subprocess.run(base + ["-X", "PUT", "-H", "x-amz-meta-u: caf\u00e9 \u4e2d".encode(),
                               "--data-binary", "x", "-o", "/dev/null", "-w", "%{http_code}",
                               server.endpoint + "/meta/u8"], capture_output=True)
    assert p.stdout == b"200", p
    p = subprocess.run(base + ["-I", server.endpoint + "/meta/u8"], capture_output=True)
    assert b"x-amz-meta-u: =?UTF-8?Q?caf=C3=A9_=E4=B8=AD?=\r\n" in p.stdout, p.stdout


def test_utf8_metadata_copy_and_multipart(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="meta")
    s3.put_object(Bucket="meta", Key="src", Body=b"data")
    # CopyObject with REPLACE takes the new metadata the same way; COPY keeps it
    with_raw_meta(s3, "CopyObject", "na\xefve")
    s3.copy_object(Bucket="meta", Key="dst", CopySource="meta/src", MetadataDirective="REPLACE")
    got = s3.head_object(Bucket="meta", Key="dst")["Metadata"]["meta1"]
    assert got == "na\xefve", got
    s3.copy_object(Bucket="meta", Key="dst2", CopySource="meta/dst")
    assert s3.head_object(Bucket="meta", Key="dst2")["Metadata"]["meta1"] == got
    # CreateMultipartUpload: the completed object carries it
    with_raw_meta(s3, "CreateMultipartUpload", "\u4e2d\u6587")
    mp = s3.create_multipart_upload(Bucket="meta", Key="mp")
    p = s3.upload_part(Bucket="meta", Key="mp", UploadId=mp["UploadId"], PartNumber=1, Body=b"z")
    s3.complete_multipart_upload(Bucket="meta", Key="mp", UploadId=mp["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    got = s3.get_object(Bucket="meta", Key="mp")["Metadata"]["meta1"]
    assert got == "=?UTF-8?Q?=E4=B8=AD=E6=96=87?=" and decode2047(got) == "\u4e2d\u6587"


# ---- 3. a retried CompleteMultipartUpload answers as the first one ----

def upload_two_parts(s3, bucket, key, create=True):
    if create:
        s3.create_bucket(Bucket=bucket)
    mp = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"a": "b"})
    parts = []
    for i, data in enumerate([b"x" * (5 << 20), b"tail"]):
        p = s3.upload_part(Bucket=bucket, Key=key, UploadId=mp["UploadId"], PartNumber=i + 1,
                           Body=data)
        parts.append({"PartNumber": i + 1, "ETag": p["ETag"]})
    return mp["UploadId"], parts


def complete_raw(s3, bucket, key, uid, parts):
    """CompleteMultipartUpload; returns (parsed answer, raw XML body)."""
    got = {}

    def grab(http_response, **kw):
        got["body"] = http_response.content

    s3.meta.events.register("after-call.s3.CompleteMultipartUpload", grab)
    try:
        r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                         MultipartUpload={"Parts": parts})
    finally:
        s3.meta.events.unregister("after-call.s3.CompleteMultipartUpload", grab)
    return r, got.get("body")


def no_such_upload(fn):
    with pytest.raises(ClientError) as e:
        fn()
    assert e.value.response["Error"]["Code"] == "NoSuchUpload", e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_complete_retried(server):
    s3 = s3_client(server)
    uid, parts = upload_two_parts(s3, "retry", "obj")
    first, xml1 = complete_raw(s3, "retry", "obj", uid, parts)
    again, xml2 = complete_raw(s3, "retry", "obj", uid, parts)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert again["ETag"] == first["ETag"] and xml2 == xml1
    # the object is the one completed, once
    h = s3.head_object(Bucket="retry", Key="obj")
    assert h["ETag"] == first["ETag"] and h["ContentLength"] == (5 << 20) + 4
    assert h["Metadata"] == {"a": "b"}
    # another parts list is not a retry
    no_such_upload(lambda: s3.complete_multipart_upload(
        Bucket="retry", Key="obj", UploadId=uid, MultipartUpload={"Parts": parts[:1]}))
    # the upload itself is gone
    no_such_upload(lambda: s3.upload_part(Bucket="retry", Key="obj", UploadId=uid, PartNumber=3,
                                          Body=b"z"))
    no_such_upload(lambda: s3.list_parts(Bucket="retry", Key="obj", UploadId=uid))
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="retry")
    # the record survives kill -9 (written with the completion)
    server.kill()
    server.start()
    s3 = s3_client(server)
    again, xml3 = complete_raw(s3, "retry", "obj", uid, parts)
    assert again["ETag"] == first["ETag"] and xml3 == xml1
    # once the object is overwritten, the upload is gone
    s3.put_object(Bucket="retry", Key="obj", Body=b"new")
    no_such_upload(lambda: s3.complete_multipart_upload(
        Bucket="retry", Key="obj", UploadId=uid, MultipartUpload={"Parts": parts}))
    # and after a delete
    uid2, parts2 = upload_two_parts(s3, "retry", "obj2", create=False)
    s3.complete_multipart_upload(Bucket="retry", Key="obj2", UploadId=uid2,
                                 MultipartUpload={"Parts": parts2})
    s3.delete_object(Bucket="retry", Key="obj2")
    no_such_upload(lambda: s3.complete_multipart_upload(
        Bucket="retry", Key="obj2", UploadId=uid2, MultipartUpload={"Parts": parts2}))
    # never completed: still NoSuchUpload
    no_such_upload(lambda: s3.complete_multipart_upload(
        Bucket="retry", Key="obj", UploadId="0" * 32, MultipartUpload={"Parts": parts}))


RETRY = r'''
import sys, boto3, botocore.config
ep, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"},
                                                retries={"max_attempts": 1}))
s3.create_bucket(Bucket=bucket)
mp = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")
parts = []
for i, data in enumerate([b"y" * (5 << 20), b"end"]):
    p = s3.upload_part(Bucket=bucket, Key="k", UploadId=mp["UploadId"], PartNumber=i + 1,
                       Body=data, ChecksumAlgorithm="CRC32")
    part = {"PartNumber": i + 1, "ETag": p["ETag"]}
    if p.get("ChecksumCRC32"):
        part["ChecksumCRC32"] = p["ChecksumCRC32"]
    parts.append(part)
a = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=mp["UploadId"],
                                 MultipartUpload={"Parts": parts})
b = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=mp["UploadId"],
                                 MultipartUpload={"Parts": parts})
assert a["ETag"] == b["ETag"], (a, b)
print(mp["UploadId"], a["ETag"])
'''

LATER = r'''
import sys, boto3, botocore.config
ep, ak, sk, bucket, uid, e1, e2 = sys.argv[1:8]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"},
                                                retries={"max_attempts": 1}))
try:
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    print("completed")
except s3.exceptions.NoSuchUpload:
    print("NoSuchUpload")
'''


def test_complete_retried_newer_boto3_and_expiry(server):
    """The newer boto3 retries a completion the same way; an hour later (the server's and the
    client's clocks moved together with libfaketime) the record is gone: NoSuchUpload."""
    out = run_newer_boto3(server, RETRY, "newer").split()
    uid = out[0]
    s3 = s3_client(server)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="newer")["Contents"]] == ["k"]
    # the part ETags, for the late retry
    e1 = '"%s"' % hashlib.md5(b"y" * (5 << 20)).hexdigest()
    e2 = '"%s"' % hashlib.md5(b"end").hexdigest()

    def later(offset):
        from conftest import FAKETIME_LIB
        server.restart(faketime=offset)
        env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME=offset or "+0",
                   FAKETIME_DONT_RESET="1")
        p = subprocess.run(["/usr/bin/python3", "-c", LATER, server.endpoint, server.root_user,
                            server.root_password, "newer", uid, e1, e2],
                           capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 0, p.stderr[-3000:]
        return p.stdout.strip()

    assert later("+50m") == "completed"
    assert later("+61m") == "NoSuchUpload"
    server.restart(faketime="")
