"""Issue 19's features combined with versioning (issue 18), as AWS: GetObjectAttributes and
GET/HEAD ?partNumber=N of a version (?versionId=: that version's record, its x-amz-version-id;
delete markers answered as GET answers them; the version actions asked), Get/PutObjectAcl of a
version (each version has its own ACL, and the ACL that grants a request is the one of the
version it names), SSE-S3 in a versioned bucket (each version sealed under its own data key,
every version readable, also after a restart). Clients: Debian's boto3 (1.29), the newer boto3
through conftest.run_newer_boto3, unsigned requests (http.client)."""
import textwrap
import urllib.parse

import botocore.exceptions
import pytest

from conftest import run_newer_boto3, s3_client
from test_acl import ALL, anon, grants, make_user
from test_checksums import b64, composite, parts_data, upload_composite
from test_sse import disk_has


def err(excinfo):
    r = excinfo.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def versioned(s3, bucket):
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def multipart_version(s3, bucket, key):
    """A COMPOSITE CRC32 multipart object of two parts: (its version id, the parts)."""
    parts = parts_data()
    uid, etags = upload_composite(s3, bucket, key, "CRC32", parts)
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": etags[i], "ChecksumCRC32": b64("CRC32", parts[i])}
                  for i in range(2)]})
    assert done["ChecksumCRC32"] == composite("CRC32", parts)
    return done["VersionId"], parts


ATTRS = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


# ---- GetObjectAttributes and ?partNumber of a version ----

def test_attributes_of_a_version(server):
    s3 = s3_client(server)
    versioned(s3, "cva")
    v1, parts = multipart_version(s3, "cva", "k")
    v2 = s3.put_object(Bucket="cva", Key="k", Body=b"plain current")["VersionId"]
    assert v1 != v2
    old = s3.get_object_attributes(Bucket="cva", Key="k", VersionId=v1, ObjectAttributes=ATTRS)
    assert old["VersionId"] == v1
    assert old["ObjectSize"] == sum(len(p) for p in parts)
    assert old["ObjectParts"]["TotalPartsCount"] == 2
    assert [p["Size"] for p in old["ObjectParts"]["Parts"]] == [len(p) for p in parts]
    assert old["Checksum"]["ChecksumCRC32"] == composite("CRC32", parts)
    cur = s3.get_object_attributes(Bucket="cva", Key="k", ObjectAttributes=ATTRS)
    assert cur["VersionId"] == v2 and cur["ObjectSize"] == len(b"plain current")
    assert "ObjectParts" not in cur
    byid = s3.get_object_attributes(Bucket="cva", Key="k", VersionId=v2, ObjectAttributes=["ETag"])
    assert byid["VersionId"] == v2 and byid["ETag"] == cur["ETag"]


def test_part_number_of_a_version(server):
    s3 = s3_client(server)
    versioned(s3, "cvp")
    v1, parts = multipart_version(s3, "cvp", "k")
    s3.put_object(Bucket="cvp", Key="k", Body=b"newer, one part")
    g = s3.get_object(Bucket="cvp", Key="k", VersionId=v1, PartNumber=2)
    assert g["Body"].read() == parts[1]
    assert g["PartsCount"] == 2 and g["VersionId"] == v1
    assert g["ContentRange"] == "bytes %d-%d/%d" % (
        len(parts[0]), len(parts[0]) + len(parts[1]) - 1, len(parts[0]) + len(parts[1]))
    h = s3.head_object(Bucket="cvp", Key="k", VersionId=v1, PartNumber=1, ChecksumMode="ENABLED")
    assert h["ContentLength"] == len(parts[0]) and h["VersionId"] == v1
    assert h["ChecksumCRC32"] == b64("CRC32", parts[0])
    # The current version is one part: part 2 is past it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cvp", Key="k", PartNumber=2)
    assert err(e) == (416, "InvalidPartNumber")


def test_attributes_of_delete_markers(server):
    s3 = s3_client(server)
    versioned(s3, "cvd")
    v1 = s3.put_object(Bucket="cvd", Key="k", Body=b"data")["VersionId"]
    dm = s3.delete_object(Bucket="cvd", Key="k")
    assert dm["DeleteMarker"]
    # The current version is a delete marker: 404 NoSuchKey, x-amz-delete-marker (AWS).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket="cvd", Key="k", ObjectAttributes=["ETag"])
    assert err(e) == (404, "NoSuchKey")
    hdr = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert hdr.get("x-amz-delete-marker") == "true" and hdr.get("x-amz-version-id") == dm["VersionId"]
    # The marker named by its id: 405 MethodNotAllowed with Last-Modified.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket="cvd", Key="k", VersionId=dm["VersionId"],
                                 ObjectAttributes=["ETag"])
    assert err(e) == (405, "MethodNotAllowed")
    hdr = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert hdr.get("x-amz-delete-marker") == "true" and "last-modified" in hdr
    # The version under the marker is still there.
    a = s3.get_object_attributes(Bucket="cvd", Key="k", VersionId=v1, ObjectAttributes=["ObjectSize"])
    assert a["ObjectSize"] == 4 and a["VersionId"] == v1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cvd", Key="k", VersionId=dm["VersionId"], PartNumber=1)
    assert err(e) == (405, "MethodNotAllowed")


def test_attributes_of_a_version_ask_the_version_actions(server, tmp_path):
    s3 = s3_client(server)
    versioned(s3, "cvi")
    v1 = s3.put_object(Bucket="cvi", Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket="cvi", Key="k", Body=b"two")
    cur_only = make_user(server, tmp_path, "attrcur", "attrcur-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetObjectAttributes", "s3:GetObject"],
         "Resource": "arn:aws:s3:::cvi/*"}])
    assert cur_only.get_object_attributes(Bucket="cvi", Key="k",
                                          ObjectAttributes=["ObjectSize"])["ObjectSize"] == 3
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cur_only.get_object_attributes(Bucket="cvi", Key="k", VersionId=v1,
                                       ObjectAttributes=["ObjectSize"])
    assert err(e)[0] == 403
    half = make_user(server, tmp_path, "attrhalf", "attrhalf-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetObjectVersionAttributes"],
         "Resource": "arn:aws:s3:::cvi/*"}])
    with pytest.raises(botocore.exceptions.ClientError) as e:  # s3:GetObjectVersion too (AWS)
        half.get_object_attributes(Bucket="cvi", Key="k", VersionId=v1,
                                   ObjectAttributes=["ObjectSize"])
    assert err(e)[0] == 403
    both = make_user(server, tmp_path, "attrver", "attrver-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetObjectVersionAttributes", "s3:GetObjectVersion"],
         "Resource": "arn:aws:s3:::cvi/*"}])
    a = both.get_object_attributes(Bucket="cvi", Key="k", VersionId=v1,
                                   ObjectAttributes=["ObjectSize"])
    assert a["ObjectSize"] == 3 and a["VersionId"] == v1


# ---- ACLs per version ----

def q(vid):
    return "?versionId=" + urllib.parse.quote(vid)


def test_object_acl_per_version(server):
    s3 = s3_client(server)
    versioned(s3, "cvacl")
    v1 = s3.put_object(Bucket="cvacl", Key="k", Body=b"old public", ACL="public-read")["VersionId"]
    v2 = s3.put_object(Bucket="cvacl", Key="k", Body=b"new private")["VersionId"]
    assert (ALL, "READ") in grants(s3.get_object_acl(Bucket="cvacl", Key="k", VersionId=v1))
    assert (ALL, "READ") not in grants(s3.get_object_acl(Bucket="cvacl", Key="k"))
    assert (ALL, "READ") not in grants(s3.get_object_acl(Bucket="cvacl", Key="k", VersionId=v2))
    # The ACL that grants an unsigned GET is the one of the version it names.
    assert anon(server, "GET", "/cvacl/k" + q(v1)) == (200, b"old public")
    assert anon(server, "GET", "/cvacl/k")[0] == 403
    assert anon(server, "GET", "/cvacl/k" + q(v2))[0] == 403
    # PutObjectAcl ?versionId= changes that version only.
    s3.put_object_acl(Bucket="cvacl", Key="k", VersionId=v1, ACL="private")
    s3.put_object_acl(Bucket="cvacl", Key="k", VersionId=v2, ACL="public-read")
    assert anon(server, "GET", "/cvacl/k" + q(v1))[0] == 403
    assert anon(server, "GET", "/cvacl/k") == (200, b"new private")
    assert (ALL, "READ") in grants(s3.get_object_acl(Bucket="cvacl", Key="k"))
    assert (ALL, "READ") not in grants(s3.get_object_acl(Bucket="cvacl", Key="k", VersionId=v1))
    # PutObjectAcl without a version id: the current one.
    s3.put_object_acl(Bucket="cvacl", Key="k", ACL="private")
    assert anon(server, "GET", "/cvacl/k")[0] == 403
    # The data and tags of each version are untouched by ACL changes.
    assert s3.get_object(Bucket="cvacl", Key="k", VersionId=v1)["Body"].read() == b"old public"
    vs = s3.list_object_versions(Bucket="cvacl")["Versions"]
    assert sorted(v["VersionId"] for v in vs) == sorted([v1, v2])


def test_object_acl_of_delete_markers_and_missing_versions(server):
    s3 = s3_client(server)
    versioned(s3, "cvacd")
    v1 = s3.put_object(Bucket="cvacd", Key="k", Body=b"x", ACL="public-read")["VersionId"]
    dm = s3.delete_object(Bucket="cvacd", Key="k")["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_acl(Bucket="cvacd", Key="k", VersionId=dm)
    assert err(e) == (405, "MethodNotAllowed")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket="cvacd", Key="k", VersionId=dm, ACL="public-read")
    assert err(e) == (405, "MethodNotAllowed")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_acl(Bucket="cvacd", Key="k")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_acl(Bucket="cvacd", Key="k", VersionId="0" * 32)
    assert err(e) == (404, "NoSuchVersion")
    # The version under the marker keeps its ACL; an unsigned reader of the current gets 403.
    assert (ALL, "READ") in grants(s3.get_object_acl(Bucket="cvacd", Key="k", VersionId=v1))
    assert anon(server, "GET", "/cvacd/k" + q(v1)) == (200, b"x")
    assert anon(server, "GET", "/cvacd/k")[0] == 403


def test_copy_source_acl_is_the_source_versions(server, tmp_path):
    """A copy is granted its source by the ACL of the source version it reads: a ?versionId= on
    the copy request itself names the target, never the source."""
    s3 = s3_client(server)
    versioned(s3, "cvsrc")
    s3.create_bucket(Bucket="cvdst")
    v1 = s3.put_object(Bucket="cvsrc", Key="k", Body=b"old public", ACL="public-read")["VersionId"]
    s3.put_object(Bucket="cvsrc", Key="k", Body=b"new private")
    copier = make_user(server, tmp_path, "copier", "copier-secret-1", [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::cvdst/*"}])
    copier.copy_object(Bucket="cvdst", Key="a", CopySource={"Bucket": "cvsrc", "Key": "k",
                                                            "VersionId": v1})
    assert s3.get_object(Bucket="cvdst", Key="a")["Body"].read() == b"old public"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        copier.copy_object(Bucket="cvdst", Key="b", CopySource={"Bucket": "cvsrc", "Key": "k"})
    assert err(e)[0] == 403

    def add_version_id(request, **kw):  # ?versionId=<the public version> on the copy itself
        request.url += ("&" if "?" in request.url else "?") + "versionId=" + v1
    copier.meta.events.register("before-sign.s3.CopyObject", add_version_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        copier.copy_object(Bucket="cvdst", Key="c", CopySource={"Bucket": "cvsrc", "Key": "k"})
    assert err(e)[0] in (400, 403)
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="cvdst", Key="c")


# ---- SSE-S3 in a versioned bucket ----

def test_sse_each_version_has_its_own_key(server):
    s3 = s3_client(server)
    versioned(s3, "cvsse")
    one, two = b"first-secret-version-" * 300, b"second-secret-version-" * 300
    v1 = s3.put_object(Bucket="cvsse", Key="k", Body=one, ServerSideEncryption="AES256")
    v2 = s3.put_object(Bucket="cvsse", Key="k", Body=two, ServerSideEncryption="AES256")
    assert v1["ServerSideEncryption"] == "AES256" and v2["ServerSideEncryption"] == "AES256"
    s3.put_bucket_encryption(Bucket="cvsse", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    three = b"third-by-default-" * 300
    v3 = s3.put_object(Bucket="cvsse", Key="k", Body=three)
    assert v3["ServerSideEncryption"] == "AES256"
    for _ in range(2):  # before and after a restart
        for v, body in ((v1, one), (v2, two), (v3, three)):
            g = s3.get_object(Bucket="cvsse", Key="k", VersionId=v["VersionId"])
            assert g["Body"].read() == body and g["ServerSideEncryption"] == "AES256"
            r = s3.get_object(Bucket="cvsse", Key="k", VersionId=v["VersionId"], Range="bytes=5-20")
            assert r["Body"].read() == body[5:21]
        assert s3.get_object(Bucket="cvsse", Key="k")["Body"].read() == three
        server.restart()
        s3 = s3_client(server)
    for needle in (b"first-secret-version-", b"second-secret-version-", b"third-by-default-"):
        assert not disk_has(server, needle)
    # A copy of an old version, and an encrypted multipart version.
    c = s3.copy_object(Bucket="cvsse", Key="copy", CopySource={"Bucket": "cvsse", "Key": "k",
                                                               "VersionId": v1["VersionId"]})
    assert c["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="cvsse", Key="copy")["Body"].read() == one
    vm, parts = multipart_version(s3, "cvsse", "k")
    g = s3.get_object(Bucket="cvsse", Key="k", VersionId=vm, PartNumber=2)
    assert g["Body"].read() == parts[1] and g["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="cvsse", Key="k", VersionId=v2["VersionId"])["Body"].read() == two
    # Deleting a version removes it; the others still open.
    s3.delete_object(Bucket="cvsse", Key="k", VersionId=v2["VersionId"])
    assert s3.get_object(Bucket="cvsse", Key="k", VersionId=v1["VersionId"])["Body"].read() == one


# ---- the newer boto3 ----

NEWER = textwrap.dedent("""
    import sys, boto3, botocore.config
    ep, ak, sk = sys.argv[1:4]
    s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                      region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="cvnew")
    s3.put_bucket_versioning(Bucket="cvnew", VersioningConfiguration={"Status": "Enabled"})
    big = bytes(range(256)) * (24 * 1024)  # 6 MiB: two parts, CRC32 by default
    s3.upload_fileobj(__import__("io").BytesIO(big), "cvnew", "k",
                      ExtraArgs={"ServerSideEncryption": "AES256", "ACL": "public-read"},
                      Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 << 20,
                                                              multipart_chunksize=5 << 20))
    v1 = s3.head_object(Bucket="cvnew", Key="k")["VersionId"]
    v2 = s3.put_object(Bucket="cvnew", Key="k", Body=b"small", ServerSideEncryption="AES256")["VersionId"]
    a = s3.get_object_attributes(Bucket="cvnew", Key="k", VersionId=v1,
                                 ObjectAttributes=["ObjectParts", "ObjectSize", "Checksum"])
    assert a["VersionId"] == v1 and a["ObjectSize"] == len(big), a
    assert a["ObjectParts"]["TotalPartsCount"] == 2, a
    g = s3.get_object(Bucket="cvnew", Key="k", VersionId=v1, PartNumber=2)
    assert g["Body"].read() == big[5 << 20:] and g["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="cvnew", Key="k", VersionId=v2)["Body"].read() == b"small"
    acl = s3.get_object_acl(Bucket="cvnew", Key="k", VersionId=v1)
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in acl["Grants"]), acl
    acl = s3.get_object_acl(Bucket="cvnew", Key="k", VersionId=v2)
    assert not any(g["Grantee"].get("URI") for g in acl["Grants"]), acl
    print("ok")
""")


def test_newer_boto3_versions_with_attributes_acl_and_sse(server):
    assert "ok" in run_newer_boto3(server, NEWER, timeout=300)
