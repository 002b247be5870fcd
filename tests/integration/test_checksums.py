"""Checksums end to end (issue 19, feature 3) and GetObjectAttributes + GET/HEAD ?partNumber=N
(feature 4), with AWS's S3 API reference as the yardstick: CreateMultipartUpload's checksum
algorithm and type, per-part checksums (header or aws-chunked trailer) checked and kept, the
parts' checksums in ListParts and CompleteMultipartUpload, COMPOSITE and FULL_OBJECT object
checksums, CRC64NVME, HEAD/GET with x-amz-checksum-mode, GetObjectAttributes with paginated
ObjectParts, and the bytes of one part. Clients: Debian's boto3 (1.29) and aws cli, the pyenv
boto3 (>= 1.36: trailing checksums and multipart CRC32 by default), and the gateway."""
import base64
import functools
import hashlib
import json
import os
import signal
import threading
import time
import zlib

import botocore.exceptions
import pytest

from conftest import Server, aws, run_newer_boto3, s3_client
from test_gateway import gw, make_user, policy_file, upstream  # noqa: F401 (fixtures)

MIB = 1 << 20


def _reflected_crc(poly, width):
    tab = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        tab.append(c)
    mask = (1 << width) - 1

    def crc(data):
        c = mask
        for b in data:
            c = (c >> 8) ^ tab[(c ^ b) & 0xff]
        return c ^ mask
    return crc


crc32c = _reflected_crc(0x82F63B78, 32)
crc64nvme = _reflected_crc(0x9A6C9329AC4BC9B5, 64)
assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888


@functools.lru_cache(maxsize=64)
def raw(algo, data):
    if algo == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algo == "CRC32C":
        return crc32c(data).to_bytes(4, "big")
    if algo == "CRC64NVME":
        return crc64nvme(data).to_bytes(8, "big")
    return hashlib.new(algo.lower(), data).digest()


def b64(algo, data):
    return base64.b64encode(raw(algo, data)).decode()


def composite(algo, parts):
    return b64(algo, b"".join(raw(algo, p) for p in parts)) + "-%d" % len(parts)


def err(e):
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message")


def with_headers(s3, op, headers):
    """Adds headers to every request of operation op (before signing)."""
    def hook(request, **kw):
        for k, v in headers.items():
            request.headers[k] = v
    s3.meta.events.register("before-sign.s3.%s" % op, hook)
    return hook


@functools.lru_cache(maxsize=1)
def _part1():
    return bytes((i * 7 + (i >> 9)) & 0xff for i in range(5 * MIB))


def parts_data():
    return [_part1(), b"the tail of the object"]


# ---- COMPOSITE: Debian's boto3 ----

def upload_composite(s3, bucket, key, algo, parts, send=(True, False)):
    """A COMPOSITE upload of parts, part i sent with its checksum when send[i]."""
    mp = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algo)
    assert mp["ChecksumAlgorithm"] == algo
    uid = mp["UploadId"]
    etags = []
    for i, data in enumerate(parts):
        kw = {"Checksum" + algo: b64(algo, data)} if send[i] else {}
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i + 1, Body=data, **kw)
        assert r["Checksum" + algo] == b64(algo, data)  # computed here when not sent
        etags.append(r["ETag"])
    return uid, etags


def test_composite_crc32_upload_parts_attributes(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cks")
    parts = parts_data()
    uid, etags = upload_composite(s3, "cks", "obj", "CRC32", parts)
    lp = s3.list_parts(Bucket="cks", Key="obj", UploadId=uid)
    assert [p["ChecksumCRC32"] for p in lp["Parts"]] == [b64("CRC32", p) for p in parts]
    assert lp["ChecksumAlgorithm"] == "CRC32"
    # COMPOSITE: every Part element must carry its checksum, and the right one.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="cks", Key="obj", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etags[0], "ChecksumCRC32": b64("CRC32", parts[0])},
                      {"PartNumber": 2, "ETag": etags[1]}]})
    assert err(e) == (400, "InvalidRequest", "The upload was created using a crc32 checksum. The "
                      "complete request must include the checksum for each part. It was missing "
                      "for part 2 in the request.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="cks", Key="obj", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": i + 1, "ETag": etags[i], "ChecksumCRC32": b64("CRC32", b"x")}
                      for i in range(2)]})
    assert err(e)[:2] == (400, "InvalidPart")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="cks", Key="obj", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": i + 1, "ETag": etags[i], "ChecksumCRC32": "not base64!"}
                      for i in range(2)]})
    assert err(e) == (400, "InvalidArgument",
                      "Invalid Base64 or multiple checksums present in request")
    done = s3.complete_multipart_upload(Bucket="cks", Key="obj", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": etags[i], "ChecksumCRC32": b64("CRC32", parts[i])}
                  for i in range(2)]})
    want = composite("CRC32", parts)
    assert done["ChecksumCRC32"] == want
    h = s3.head_object(Bucket="cks", Key="obj", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == want
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "COMPOSITE"
    assert "ChecksumCRC32" not in s3.head_object(Bucket="cks", Key="obj")  # not asked for

    # GET/HEAD ?partNumber=N: the bytes of part N, 206, its checksum.
    g = s3.get_object(Bucket="cks", Key="obj", PartNumber=2, ChecksumMode="ENABLED")
    assert g["Body"].read() == parts[1]
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["PartsCount"] == 2
    assert g["ContentRange"] == "bytes %d-%d/%d" % (5 * MIB, 5 * MIB + len(parts[1]) - 1,
                                                   5 * MIB + len(parts[1]))
    assert g["ChecksumCRC32"] == b64("CRC32", parts[1])
    h1 = s3.head_object(Bucket="cks", Key="obj", PartNumber=1)
    assert h1["ContentLength"] == 5 * MIB and h1["PartsCount"] == 2
    assert h1["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert "ChecksumCRC32" not in h1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cks", Key="obj", PartNumber=3)
    assert err(e) == (416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cks", Key="obj", PartNumber=1, Range="bytes=0-1")
    assert err(e) == (400, "InvalidRequest",
                      "Cannot specify both Range header and partNumber query parameter")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cks", Key="obj", PartNumber=0)
    assert err(e)[:2] == (400, "InvalidArgument")

    # GetObjectAttributes, ObjectParts one page at a time.
    a = s3.get_object_attributes(Bucket="cks", Key="obj", MaxParts=1, ObjectAttributes=[
        "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
    assert a["ETag"] == h["ETag"].strip('"')
    assert a["Checksum"]["ChecksumCRC32"] == want
    assert a["StorageClass"] == "STANDARD" and a["ObjectSize"] == h["ContentLength"]
    op = a["ObjectParts"]
    assert op["TotalPartsCount"] == 2 and op["IsTruncated"] and op["NextPartNumberMarker"] == 1
    assert op["Parts"] == [{"PartNumber": 1, "Size": 5 * MIB,
                            "ChecksumCRC32": b64("CRC32", parts[0])}]
    a2 = s3.get_object_attributes(Bucket="cks", Key="obj", MaxParts=1, PartNumberMarker=1,
                                  ObjectAttributes=["ObjectParts"])
    assert a2["ObjectParts"]["Parts"] == [{"PartNumber": 2, "Size": len(parts[1]),
                                           "ChecksumCRC32": b64("CRC32", parts[1])}]
    assert not a2["ObjectParts"]["IsTruncated"]
    assert set(a2) - {"ResponseMetadata", "LastModified"} == {"ObjectParts"}

    # A copy is one piece: no parts, no composite checksum; partNumber=1 is the whole object.
    s3.copy_object(Bucket="cks", Key="copy", CopySource="cks/obj")
    c = s3.get_object_attributes(Bucket="cks", Key="copy", ObjectAttributes=["ObjectParts",
                                                                            "Checksum", "ETag"])
    assert "ObjectParts" not in c and "Checksum" not in c and "-" not in c["ETag"]
    g = s3.get_object(Bucket="cks", Key="copy", PartNumber=1)
    assert g["Body"].read() == b"".join(parts)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cks", Key="copy", PartNumber=2)
    assert err(e)[:2] == (416, "InvalidPartNumber")


def test_composite_sha256_and_upload_part_copy(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="sha")
    parts = parts_data()
    s3.put_object(Bucket="sha", Key="src", Body=parts[0])
    mp = s3.create_multipart_upload(Bucket="sha", Key="o", ChecksumAlgorithm="SHA256")
    uid = mp["UploadId"]
    cp = s3.upload_part_copy(Bucket="sha", Key="o", UploadId=uid, PartNumber=1,
                             CopySource="sha/src")
    assert cp["CopyPartResult"]["ChecksumSHA256"] == b64("SHA256", parts[0])
    p2 = s3.upload_part(Bucket="sha", Key="o", UploadId=uid, PartNumber=2, Body=parts[1],
                        ChecksumSHA256=b64("SHA256", parts[1]))
    done = s3.complete_multipart_upload(Bucket="sha", Key="o", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": cp["CopyPartResult"]["ETag"],
                   "ChecksumSHA256": b64("SHA256", parts[0])},
                  {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumSHA256": b64("SHA256", parts[1])}]})
    assert done["ChecksumSHA256"] == composite("SHA256", parts)


def test_bad_digest_stores_nothing(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bad")
    mp = s3.create_multipart_upload(Bucket="bad", Key="o", ChecksumAlgorithm="CRC32")
    for algo in ("CRC32", "SHA256"):
        kw = {"Checksum" + algo: b64(algo, b"other bytes")}
        if algo == "CRC32":
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.upload_part(Bucket="bad", Key="o", UploadId=mp["UploadId"], PartNumber=1,
                               Body=b"some bytes", **kw)
            assert err(e) == (400, "BadDigest",
                              "The CRC32 you specified did not match the calculated checksum.")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket="bad", Key="single-" + algo, Body=b"some bytes", **kw)
        assert err(e) == (400, "BadDigest",
                          "The %s you specified did not match the calculated checksum." % algo)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.head_object(Bucket="bad", Key="single-" + algo)
        assert err(e)[0] == 404
    assert "Parts" not in s3.list_parts(Bucket="bad", Key="o", UploadId=mp["UploadId"])
    # A part of another algorithm than the upload's.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket="bad", Key="o", UploadId=mp["UploadId"], PartNumber=1,
                       Body=b"some bytes", ChecksumSHA256=b64("SHA256", b"some bytes"))
    assert err(e) == (400, "InvalidRequest", "Checksum Type mismatch occurred, expected checksum "
                      "Type: crc32, actual checksum Type: sha256")


@pytest.mark.parametrize("headers,msg", [
    ({"x-amz-checksum-algorithm": "SHA256", "x-amz-checksum-type": "FULL_OBJECT"},
     "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm."),
    ({"x-amz-checksum-algorithm": "CRC64NVME", "x-amz-checksum-type": "COMPOSITE"},
     "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."),
    ({"x-amz-checksum-type": "COMPOSITE"},
     "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."),
    ({"x-amz-checksum-algorithm": "MD5"}, "Checksum algorithm provided is unsupported. Please "
     "try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"),
    ({"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "BOTH"},
     "Value for x-amz-checksum-type header is invalid."),
])
def test_create_rules(server, headers, msg):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="rules")
    with_headers(s3, "CreateMultipartUpload", headers)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_multipart_upload(Bucket="rules", Key="o")
    assert err(e) == (400, "InvalidRequest", msg)
    assert s3.list_multipart_uploads(Bucket="rules").get("Uploads", []) == []


# ---- FULL_OBJECT: CRC combined from the parts' (CRC32C, CRC64NVME by header) ----

@pytest.mark.parametrize("algo", ["CRC32C", "CRC64NVME", "CRC32"])
def test_full_object_checksums(server, algo):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="full")
    parts = parts_data()
    hdr = "x-amz-checksum-" + algo.lower()
    create = {"x-amz-checksum-algorithm": algo}
    if algo != "CRC64NVME":  # the default type of CRC64NVME
        create["x-amz-checksum-type"] = "FULL_OBJECT"
    with_headers(s3, "CreateMultipartUpload", create)
    mp = s3.create_multipart_upload(Bucket="full", Key="o")
    assert mp["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "FULL_OBJECT"
    uid, etags = mp["UploadId"], []
    for i, data in enumerate(parts):
        hook = with_headers(s3, "UploadPart", {hdr: b64(algo, data)} if i == 0 else {})
        r = s3.upload_part(Bucket="full", Key="o", UploadId=uid, PartNumber=i + 1, Body=data)
        s3.meta.events.unregister("before-sign.s3.UploadPart", hook)
        assert r["ResponseMetadata"]["HTTPHeaders"][hdr] == b64(algo, data)
        etags.append(r["ETag"])
    whole = b"".join(parts)
    ref = [{"PartNumber": i + 1, "ETag": etags[i]} for i in range(2)]  # FULL_OBJECT: optional
    hook = with_headers(s3, "CompleteMultipartUpload", {hdr: b64(algo, b"wrong")})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="full", Key="o", UploadId=uid,
                                     MultipartUpload={"Parts": ref})
    assert err(e) == (400, "BadDigest", "The %s you specified did not match the calculated "
                      "checksum." % algo.lower())
    s3.meta.events.unregister("before-sign.s3.CompleteMultipartUpload", hook)
    with_headers(s3, "CompleteMultipartUpload", {hdr: b64(algo, whole)})
    done = s3.complete_multipart_upload(Bucket="full", Key="o", UploadId=uid,
                                        MultipartUpload={"Parts": ref})
    if algo in ("CRC32", "CRC32C"):  # the members Debian's botocore knows
        assert done["Checksum" + algo] == b64(algo, whole)
    h = s3.head_object(Bucket="full", Key="o", ChecksumMode="ENABLED")
    assert h["ResponseMetadata"]["HTTPHeaders"][hdr] == b64(algo, whole)
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "FULL_OBJECT"


def test_crc64nvme_single_put(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="nvme")
    body = b"crc64nvme body" * 1000
    with_headers(s3, "PutObject", {"x-amz-checksum-crc64nvme": b64("CRC64NVME", body)})
    r = s3.put_object(Bucket="nvme", Key="o", Body=body)
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-crc64nvme"] == \
        b64("CRC64NVME", body)
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "FULL_OBJECT"
    h = s3.head_object(Bucket="nvme", Key="o", ChecksumMode="ENABLED")
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-crc64nvme"] == \
        b64("CRC64NVME", body)
    s3b = s3_client(server)
    with_headers(s3b, "PutObject", {"x-amz-checksum-crc64nvme": b64("CRC64NVME", b"x")})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3b.put_object(Bucket="nvme", Key="o", Body=b"changed")
    assert err(e) == (400, "BadDigest",
                      "The CRC64NVME you specified did not match the calculated checksum.")
    assert s3.get_object(Bucket="nvme", Key="o")["Body"].read() == body


def test_get_object_attributes_errors_and_single_object(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="attr")
    s3.put_object(Bucket="attr", Key="o", Body=b"hello", ChecksumSHA256=b64("SHA256", b"hello"))
    a = s3.get_object_attributes(Bucket="attr", Key="o", ObjectAttributes=[
        "ETag", "Checksum", "ObjectParts", "ObjectSize"])
    assert a["ETag"] == hashlib.md5(b"hello").hexdigest()
    assert a["Checksum"]["ChecksumSHA256"] == b64("SHA256", b"hello")
    assert "ObjectParts" not in a and a["ObjectSize"] == 5
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket="attr", Key="o", ObjectAttributes=["Colour"])
    assert err(e) == (400, "InvalidArgument", "Invalid attribute name specified.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket="attr", Key="missing", ObjectAttributes=["ETag"])
    assert err(e)[:2] == (404, "NoSuchKey")


def test_get_object_attributes_needs_get_object_too(server, tmp_root):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="iam")
    s3.put_object(Bucket="iam", Key="o", Body=b"x")
    res = "arn:aws:s3:::iam/*"
    for user, actions in (("attronly", ["s3:GetObjectAttributes"]), ("getonly", ["s3:GetObject"]),
                          ("both", ["s3:GetObject", "s3:GetObjectAttributes"])):
        make_user(server, tmp_root, user, user + "-secret-123",
                  [{"Effect": "Allow", "Action": actions, "Resource": res}])
    for user, ok in (("attronly", False), ("getonly", False), ("both", True)):
        c = s3_client(server, ak=user, sk=user + "-secret-123")
        if ok:
            assert c.get_object_attributes(Bucket="iam", Key="o",
                                           ObjectAttributes=["ObjectSize"])["ObjectSize"] == 1
        else:
            with pytest.raises(botocore.exceptions.ClientError) as e:
                c.get_object_attributes(Bucket="iam", Key="o", ObjectAttributes=["ObjectSize"])
            assert err(e)[:2] == (403, "AccessDenied")


# ---- the aws cli (Debian's) ----

def test_aws_cli_sha256_multipart_and_attributes(server, tmp_root):
    aws(server, "s3", "mb", "s3://cli")
    parts = parts_data()
    up = json.loads(aws(server, "s3api", "create-multipart-upload", "--bucket", "cli", "--key",
                        "o", "--checksum-algorithm", "SHA256").stdout)
    assert up["ChecksumAlgorithm"] == "SHA256"
    done = []
    for i, data in enumerate(parts):
        path = os.path.join(tmp_root, "p%d" % i)
        with open(path, "wb") as f:
            f.write(data)
        r = json.loads(aws(server, "s3api", "upload-part", "--bucket", "cli", "--key", "o",
                           "--upload-id", up["UploadId"], "--part-number", str(i + 1), "--body",
                           path, "--checksum-sha256", b64("SHA256", data)).stdout)
        done.append({"PartNumber": i + 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    c = json.loads(aws(server, "s3api", "complete-multipart-upload", "--bucket", "cli", "--key",
                       "o", "--upload-id", up["UploadId"], "--multipart-upload",
                       json.dumps({"Parts": done})).stdout)
    assert c["ChecksumSHA256"] == composite("SHA256", parts)
    a = json.loads(aws(server, "s3api", "get-object-attributes", "--bucket", "cli", "--key", "o",
                       "--object-attributes", "ETag", "Checksum", "ObjectParts").stdout)
    assert a["Checksum"]["ChecksumSHA256"] == composite("SHA256", parts)
    assert a["ObjectParts"]["TotalPartsCount"] == 2
    assert [p["ChecksumSHA256"] for p in a["ObjectParts"]["Parts"]] == \
        [b64("SHA256", p) for p in parts]


# ---- the newer boto3 (pyenv): trailing checksums, multipart CRC32 by default ----

NEWER = r'''
import base64, os, sys, zlib, boto3, botocore.config
from boto3.s3.transfer import TransferConfig
ep, ak, sk, bucket, tmp = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
data = os.urandom(12 * 1024 * 1024 + 5)
src = os.path.join(tmp, "src")
with open(src, "wb") as f:
    f.write(data)
# upload_file: CreateMultipartUpload with CRC32 (COMPOSITE), parts with CRC32 trailers.
s3.upload_file(src, bucket, "big", Config=cfg)
h = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
assert h["ChecksumCRC32"].endswith("-3") and h["ChecksumType"] == "COMPOSITE", h
dst = os.path.join(tmp, "dst")
s3.download_file(bucket, "big", dst, Config=cfg)
assert open(dst, "rb").read() == data
# Each part validated against its checksum by the client (x-amz-checksum-mode: ENABLED).
g = s3.get_object(Bucket=bucket, Key="big", PartNumber=2, ChecksumMode="ENABLED")
assert g["Body"].read() == data[5 << 20:10 << 20] and g["PartsCount"] == 3
a = s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["ObjectParts", "Checksum"])
assert a["Checksum"]["ChecksumType"] == "COMPOSITE", a
assert [p["Size"] for p in a["ObjectParts"]["Parts"]] == [5 << 20, 5 << 20, 2 * 1024 * 1024 + 5]
# A full-object CRC32 given by the caller: FULL_OBJECT, combined from the parts' CRCs, which the
# client validates against the whole body on GET.
whole = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
s3.upload_file(src, bucket, "full", Config=cfg, ExtraArgs={"ChecksumCRC32": whole})
h = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
assert h["ChecksumCRC32"] == whole and h["ChecksumType"] == "FULL_OBJECT", h
assert s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")["Body"].read() == data
# ChecksumType on CreateMultipartUpload, and the answer's.
mp = s3.create_multipart_upload(Bucket=bucket, Key="t", ChecksumAlgorithm="CRC32",
                                ChecksumType="FULL_OBJECT")
assert mp["ChecksumType"] == "FULL_OBJECT", mp
p = s3.upload_part(Bucket=bucket, Key="t", UploadId=mp["UploadId"], PartNumber=1, Body=b"abc",
                   ChecksumAlgorithm="CRC32")
c = s3.complete_multipart_upload(Bucket=bucket, Key="t", UploadId=mp["UploadId"],
                                 ChecksumType="FULL_OBJECT",
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
assert c["ChecksumType"] == "FULL_OBJECT" and c["ChecksumCRC32"] == p["ChecksumCRC32"], c
print("ok")
'''


def test_newer_boto3_upload_file_download_file(server, tmp_root):
    s3_client(server).create_bucket(Bucket="newer")
    assert run_newer_boto3(server, NEWER, "newer", tmp_root, timeout=300).strip() == "ok"


# ---- the gateway passes them through, with their IAM actions ----

def test_gateway_passes_checksums_attributes_and_parts_through(gw, upstream, tmp_root):  # noqa: F811
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="gwck")
    parts = parts_data()
    uid, etags = upload_composite(s3, "gwck", "obj", "CRC32", parts)
    done = s3.complete_multipart_upload(Bucket="gwck", Key="obj", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": etags[i], "ChecksumCRC32": b64("CRC32", parts[i])}
                  for i in range(2)]})
    assert done["ChecksumCRC32"] == composite("CRC32", parts)
    a = s3.get_object_attributes(Bucket="gwck", Key="obj", ObjectAttributes=["ObjectParts"])
    assert a["ObjectParts"]["TotalPartsCount"] == 2
    g = s3.get_object(Bucket="gwck", Key="obj", PartNumber=2)
    assert g["Body"].read() == parts[1] and g["PartsCount"] == 2
    make_user(gw, tmp_root, "gwattr", "gwattr-secret-123", [
        {"Effect": "Allow", "Action": ["s3:GetObjectAttributes"], "Resource": "arn:aws:s3:::gwck/*"}])
    c = s3_client(gw, ak="gwattr", sk="gwattr-secret-123")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object_attributes(Bucket="gwck", Key="obj", ObjectAttributes=["ObjectSize"])
    assert err(e)[:2] == (403, "AccessDenied")


def test_kill9_during_checksummed_writes(tmp_root):
    """kill -9 while threads upload checksummed parts, complete uploads and PUT objects with
    checksums: after the restart every acknowledged part keeps its checksum (ListParts), every
    acknowledged object answers its checksum, and each upload still completes with checksums
    that tessera verifies."""
    srv = Server(os.path.join(tmp_root, "data"))
    srv.start()
    acked_parts, acked_objs, uploads = {}, {}, {}
    stop = threading.Event()
    lock = threading.Lock()
    threads = []

    def writer(t):
        s3 = s3_client(srv)
        i = 0
        while not stop.is_set():
            data = b"%d-%d " % (t, i) * 1000
            key = "t%d-%d" % (t, i)
            try:
                if i % 2 == 0:
                    s3.put_object(Bucket="ck9", Key=key, Body=data,
                                  ChecksumSHA256=b64("SHA256", data))
                    with lock:
                        acked_objs[key] = b64("SHA256", data)
                else:
                    uid = s3.create_multipart_upload(Bucket="ck9", Key=key,
                                                     ChecksumAlgorithm="CRC32C")["UploadId"]
                    with lock:
                        uploads[key] = (uid, data)
                    s3.upload_part(Bucket="ck9", Key=key, UploadId=uid, PartNumber=1, Body=data,
                                   ChecksumCRC32C=b64("CRC32C", data))
                    with lock:
                        acked_parts[key] = b64("CRC32C", data)
            except Exception:  # the kill cuts requests in flight
                return
            i += 1

    try:
        s3_client(srv).create_bucket(Bucket="ck9")
        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        deadline = time.time() + 20
        while len(acked_parts) < 20 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        srv.stop(signal.SIGKILL)
        stop.set()
        for th in threads:
            th.join(timeout=30)
    assert len(acked_parts) >= 5 and len(acked_objs) >= 5
    srv = Server(os.path.join(tmp_root, "data"))
    srv.start()
    try:
        s3 = s3_client(srv)
        for key, want in acked_objs.items():
            h = s3.head_object(Bucket="ck9", Key=key, ChecksumMode="ENABLED")
            assert h["ChecksumSHA256"] == want
        for key, want in acked_parts.items():
            uid, data = uploads[key]
            lp = s3.list_parts(Bucket="ck9", Key=key, UploadId=uid)
            assert lp["ChecksumAlgorithm"] == "CRC32C"
            assert [p["ChecksumCRC32C"] for p in lp["Parts"]] == [want]
            done = s3.complete_multipart_upload(Bucket="ck9", Key=key, UploadId=uid,
                                                MultipartUpload={"Parts": [{
                                                    "PartNumber": 1, "ETag": lp["Parts"][0]["ETag"],
                                                    "ChecksumCRC32C": want}]})
            assert done["ChecksumCRC32C"] == composite("CRC32C", [data])
            assert s3.get_object(Bucket="ck9", Key=key)["Body"].read() == data
    finally:
        srv.stop()
