"""Bugs real clients hit (issue 18, first part): checksums on ranged GETs, non-ASCII user
metadata, a retried CompleteMultipartUpload. Each with the clients that hit it: the newer boto3
(pyenv, validates response checksums by default), Debian's boto3, raw sockets where no client
sends the bytes."""
import email.header
import os
import socket
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import s3_client
from test_newer_sdks import newer_python


def run_newer(server, script, *args):
    py = newer_python()
    if py is None:
        pytest.skip("no Python with botocore >= 1.36 on this machine (Debian ships 1.29)")
    p = subprocess.run([py, "-c", script, server.endpoint, server.root_user, server.root_password]
                       + list(args), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


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
    assert run_newer(server, RANGED, "ranged").strip() == "ok"


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
    assert sums(s3.head_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")) == {"x-amz-checksum-crc32"}
    g = s3.get_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")
    assert sums(g) == {"x-amz-checksum-crc32"} and g["Body"].read() == body
    g = s3.get_object(Bucket="sums", Key="k", ChecksumMode="ENABLED", Range="bytes=10-19")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert sums(g) == set() and g["Body"].read() == body[10:20]
    h = s3.head_object(Bucket="sums", Key="k", ChecksumMode="ENABLED", Range="bytes=10-19")
    assert h["ResponseMetadata"]["HTTPStatusCode"] == 206 and sums(h) == set()
