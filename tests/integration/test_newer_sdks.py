"""Current AWS SDKs (botocore >= 1.36) send aws-chunked bodies with trailing checksums by
default (STREAMING-UNSIGNED-PAYLOAD-TRAILER and x-amz-checksum-crc32 / crc64nvme). This
machine's pyenv Python carries such a boto3 and an aws cli v1 built on it; Debian's are older.
Both generations must work. The newer ones are found at run time; when a machine has none,
these tests are skipped with that reason (Debian's clients are covered by every other test)."""
import hashlib
import os
import subprocess

import pytest

from conftest import aws, newer_aws_cli, newer_python, s3_client


SCRIPT = r'''
import hashlib, os, sys, boto3, botocore.config
ep, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
body = os.urandom(3 * 1024 * 1024 + 17)
r = s3.put_object(Bucket=bucket, Key="trailer/one", Body=body)
assert "ChecksumCRC32" in r or "ChecksumCRC64NVME" in r, r
got = s3.get_object(Bucket=bucket, Key="trailer/one")["Body"].read()
assert got == body
algos = ["CRC32", "SHA1", "SHA256"]
try:
    import awscrt  # CRC32C and CRC64NVME need the CRT in botocore
    algos += ["CRC32C", "CRC64NVME"]
except ImportError:
    pass
for algo in algos:
    s3.put_object(Bucket=bucket, Key="trailer/" + algo, Body=body[:1000], ChecksumAlgorithm=algo)
    h = s3.head_object(Bucket=bucket, Key="trailer/" + algo, ChecksumMode="ENABLED")
    assert ("Checksum" + algo) in h, (algo, h)
# multipart with checksums
mp = s3.create_multipart_upload(Bucket=bucket, Key="trailer/mp", ChecksumAlgorithm="CRC32")
parts = []
for i in range(2):
    data = body if i == 0 else b"tail"
    data = (data * 2)[:5 * 1024 * 1024] if i == 0 else data
    p = s3.upload_part(Bucket=bucket, Key="trailer/mp", UploadId=mp["UploadId"], PartNumber=i + 1,
                       Body=data, ChecksumAlgorithm="CRC32")
    parts.append({"PartNumber": i + 1, "ETag": p["ETag"], "ChecksumCRC32": p.get("ChecksumCRC32")})
    if parts[-1]["ChecksumCRC32"] is None:
        del parts[-1]["ChecksumCRC32"]
s3.complete_multipart_upload(Bucket=bucket, Key="trailer/mp", UploadId=mp["UploadId"],
                             MultipartUpload={"Parts": parts})
n = s3.head_object(Bucket=bucket, Key="trailer/mp")["ContentLength"]
assert n == 5 * 1024 * 1024 + 4, n
print("ok")
'''


def test_newer_boto3_with_checksum_trailers(server):
    py = newer_python()
    if py is None:
        pytest.skip("no Python with botocore >= 1.36 on this machine (Debian ships 1.29)")
    s3_client(server).create_bucket(Bucket="newer")
    p = subprocess.run([py, "-c", SCRIPT, server.endpoint, server.root_user, server.root_password,
                        "newer"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip() == "ok"


def test_newer_aws_cli_cp_and_sync(server, tmp_root):
    cli = newer_aws_cli()
    if cli is None:
        pytest.skip("no aws cli other than Debian's /usr/bin/aws on PATH")
    s3_client(server).create_bucket(Bucket="newcli")
    src = os.path.join(tmp_root, "big.bin")
    data = os.urandom(21 * 1024 * 1024 + 5)
    with open(src, "wb") as f:
        f.write(data)
    aws(server, "s3", "cp", src, "s3://newcli/big.bin", aws_bin=cli)
    dst = os.path.join(tmp_root, "back.bin")
    aws(server, "s3", "cp", "s3://newcli/big.bin", dst, aws_bin=cli)
    with open(dst, "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
    d = os.path.join(tmp_root, "tree")
    os.makedirs(os.path.join(d, "sub"))
    for name in ("a.txt", "sub/b.txt", "sub/c d.txt"):
        with open(os.path.join(d, name), "w") as f:
            f.write(name)
    aws(server, "s3", "sync", d, "s3://newcli/tree", aws_bin=cli)
    ls = aws(server, "s3", "ls", "--recursive", "s3://newcli/tree/", aws_bin=cli).stdout
    for name in ("tree/a.txt", "tree/sub/b.txt", "tree/sub/c d.txt"):
        assert name in ls
