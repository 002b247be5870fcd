"""Multipart uploads through boto3 and the aws cli: complete/abort, ETag, validation errors
(EntityTooSmall, InvalidPartOrder, InvalidPart), UploadPartCopy, listings, malformed XML."""
import hashlib
import os

import botocore.exceptions
import pytest

from conftest import aws, s3_client

MiB = 1024 * 1024


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def s3(server):
    c = s3_client(server)
    c.create_bucket(Bucket="mpb")
    return c


def test_multipart_complete(s3):
    up = s3.create_multipart_upload(Bucket="mpb", Key="big", ContentType="text/x-big",
                                    Metadata={"m": "v"})["UploadId"]
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail"]
    etags = []
    for i, p in enumerate(parts, 1):
        etags.append(s3.upload_part(Bucket="mpb", Key="big", UploadId=up, PartNumber=i,
                                    Body=p)["ETag"])
    lp = s3.list_parts(Bucket="mpb", Key="big", UploadId=up, MaxParts=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2] and lp["IsTruncated"]
    lp = s3.list_parts(Bucket="mpb", Key="big", UploadId=up, PartNumberMarker=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [3] and lp["Parts"][0]["Size"] == 4
    ups = s3.list_multipart_uploads(Bucket="mpb")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("big", up)]
    r = s3.complete_multipart_upload(Bucket="mpb", Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert r["ETag"] == '"%s"' % want
    assert r["Bucket"] == "mpb" and r["Key"] == "big"
    g = s3.get_object(Bucket="mpb", Key="big")
    assert g["Body"].read() == b"".join(parts)
    assert g["ContentType"] == "text/x-big" and g["Metadata"] == {"m": "v"}
    assert g["ETag"] == '"%s"' % want
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpb")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket="mpb", Key="big", UploadId=up)
    assert code(e) == "NoSuchUpload"


def test_multipart_errors(s3):
    up = s3.create_multipart_upload(Bucket="mpb", Key="k")["UploadId"]
    e1 = s3.upload_part(Bucket="mpb", Key="k", UploadId=up, PartNumber=1, Body=b"small")["ETag"]
    e2 = s3.upload_part(Bucket="mpb", Key="k", UploadId=up, PartNumber=2, Body=b"small")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpb", Key="k", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert code(e) == "EntityTooSmall"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpb", Key="k", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert code(e) == "InvalidPartOrder"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpb", Key="k", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert code(e) == "InvalidPart"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket="mpb", Key="k", UploadId=up, PartNumber=10001, Body=b"x")
    assert code(e) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket="mpb", Key="k", UploadId="0" * 32, PartNumber=1, Body=b"x")
    assert code(e) == "NoSuchUpload"
    # a single small part is fine (the last part has no minimum)
    r = s3.complete_multipart_upload(Bucket="mpb", Key="k", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket="mpb", Key="k")["Body"].read() == b"small"
    assert r["ETag"].endswith('-1"')
    # abort
    up = s3.create_multipart_upload(Bucket="mpb", Key="gone")["UploadId"]
    s3.upload_part(Bucket="mpb", Key="gone", UploadId=up, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="mpb", Key="gone", UploadId=up)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.abort_multipart_upload(Bucket="mpb", Key="gone", UploadId=up)
    assert code(e) == "NoSuchUpload"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="mpb", Key="gone")


def test_upload_part_copy(s3):
    src = os.urandom(6 * MiB)
    s3.put_object(Bucket="mpb", Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket="mpb", Key="dst")["UploadId"]
    p1 = s3.upload_part_copy(Bucket="mpb", Key="dst", UploadId=up, PartNumber=1,
                             CopySource="mpb/src", CopySourceRange="bytes=0-%d" % (5 * MiB - 1))
    p2 = s3.upload_part_copy(Bucket="mpb", Key="dst", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": "mpb", "Key": "src"},
                             CopySourceRange="bytes=%d-%d" % (5 * MiB, 6 * MiB - 1))
    assert p1["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(src[:5 * MiB]).hexdigest()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part_copy(Bucket="mpb", Key="dst", UploadId=up, PartNumber=3,
                            CopySource="mpb/src", CopySourceRange="bytes=0-%d" % (7 * MiB))
    assert code(e) == "InvalidRange"
    s3.complete_multipart_upload(Bucket="mpb", Key="dst", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                  {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="mpb", Key="dst")["Body"].read() == src


def test_multipart_survives_restart(server, s3):
    up = s3.create_multipart_upload(Bucket="mpb", Key="later")["UploadId"]
    e1 = s3.upload_part(Bucket="mpb", Key="later", UploadId=up, PartNumber=1, Body=b"abc")["ETag"]
    server.restart()
    s3 = s3_client(server)
    s3.complete_multipart_upload(Bucket="mpb", Key="later", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket="mpb", Key="later")["Body"].read() == b"abc"


def test_malformed_xml_stores_nothing(server, s3):
    up = s3.create_multipart_upload(Bucket="mpb", Key="x")["UploadId"]
    s3.upload_part(Bucket="mpb", Key="x", UploadId=up, PartNumber=1, Body=b"abc")

    def bad_body(request, **kwargs):
        request.data = b"<CompleteMultipartUpload><Part><PartNumber>1</Part>"
        if "Content-MD5" in request.headers:
            del request.headers["Content-MD5"]
    s3.meta.events.register("before-sign.s3.CompleteMultipartUpload", bad_body)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpb", Key="x", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "x"}]})
    assert code(e) == "MalformedXML"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="mpb", Key="x")
    s3.put_object(Bucket="mpb", Key="keep", Body=b"k")

    def bad_delete(request, **kwargs):
        request.data = b"<Delete><Object><Key>keep</Key></Object>"
        for h in [h for h in request.headers if h.lower().startswith(("content-md5", "x-amz-checksum", "x-amz-sdk-checksum"))]:
            del request.headers[h]
    s3.meta.events.register("before-sign.s3.DeleteObjects", bad_delete)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_objects(Bucket="mpb", Delete={"Objects": [{"Key": "keep"}]})
    assert code(e) == "MalformedXML"
    assert s3.get_object(Bucket="mpb", Key="keep")["Body"].read() == b"k"


def test_aws_cli(server, tmp_path):
    aws(server, "s3", "mb", "s3://cli")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(21 * MiB))
    aws(server, "s3", "cp", str(big), "s3://cli/dir/big.bin")
    out = tmp_path / "back.bin"
    aws(server, "s3", "cp", "s3://cli/dir/big.bin", str(out))
    assert out.read_bytes() == big.read_bytes()
    head = aws(server, "s3api", "head-object", "--bucket", "cli", "--key", "dir/big.bin").stdout
    assert '-' in head.split('"ETag"')[1].split("\n")[0]  # multipart ETag
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    for name in ("a.txt", "sub/b.txt", "sub/c d.txt"):
        (src / name).write_text(name)
    aws(server, "s3", "sync", str(src), "s3://cli/tree")
    ls = aws(server, "s3", "ls", "--recursive", "s3://cli/tree/").stdout
    assert "tree/a.txt" in ls and "tree/sub/b.txt" in ls and "tree/sub/c d.txt" in ls
    ls = aws(server, "s3", "ls", "s3://cli/tree/").stdout
    assert "PRE sub/" in ls
    aws(server, "s3", "rm", "--recursive", "s3://cli/tree")
    ls = aws(server, "s3", "ls", "--recursive", "s3://cli/").stdout
    assert "tree/" not in ls and "dir/big.bin" in ls
    aws(server, "s3api", "put-object", "--bucket", "cli", "--key", "api", "--body", str(src / "a.txt"))
    got = aws(server, "s3api", "get-object", "--bucket", "cli", "--key", "api", str(tmp_path / "o")).stdout
    assert "ETag" in got and (tmp_path / "o").read_text() == "a.txt"
