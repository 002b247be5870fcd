"""Versioning in the embedded store (issue 18): Put/GetBucketVersioning, version ids on every
write, GET/HEAD/DELETE ?versionId=, delete markers, the null version (before versioning and
while Suspended), ListObjectVersions (markers, delimiter, pages), DeleteObjects with versions,
copies from a version, tags per version, DeleteBucket, IAM *Version actions, the existence rule,
crash safety (kill -9), with boto3 (Debian's and pyenv's python) and the aws cli."""
import json
import signal
import textwrap

import botocore.exceptions
import pytest
import requests

from conftest import Server, aws, run_newer_boto3, s3_client
from test_tagging import make_user


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def signed_put(server, path, body):
    """A SigV4-signed PUT of a raw body (what no SDK sends)."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    url = server.endpoint + path
    req = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=body)
    creds = botocore.credentials.Credentials(server.root_user, server.root_password)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return requests.put(url, data=body, headers=dict(req.headers))


def enable(s3, bucket, state="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": state})


def versions(s3, bucket, **kw):
    r = s3.list_object_versions(Bucket=bucket, **kw)
    out = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in r.get("Versions", [])]
    out += [(v["Key"], v["VersionId"], v["IsLatest"], True) for v in r.get("DeleteMarkers", [])]
    return r, out


def test_bucket_versioning_config(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="vcfg")
    r = s3.get_bucket_versioning(Bucket="vcfg")
    assert "Status" not in r  # never versioned: an empty configuration
    enable(s3, "vcfg")
    assert s3.get_bucket_versioning(Bucket="vcfg")["Status"] == "Enabled"
    enable(s3, "vcfg", "Suspended")
    assert s3.get_bucket_versioning(Bucket="vcfg")["Status"] == "Suspended"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_versioning(Bucket="vcfg", VersioningConfiguration={
            "Status": "Enabled", "MFADelete": "Enabled"})
    assert code(e) == "AccessDenied"
    for body in (b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
                 b"<nope", b"<Other/>"):
        r = signed_put(server, "/vcfg?versioning", body)
        assert r.status_code == 400 and b"MalformedXML" in r.content, r.content
    # The aws cli.
    aws(server, "s3api", "put-bucket-versioning", "--bucket", "vcfg",
        "--versioning-configuration", "Status=Enabled")
    p = aws(server, "s3api", "get-bucket-versioning", "--bucket", "vcfg")
    assert json.loads(p.stdout)["Status"] == "Enabled"


def test_versions_markers_and_null(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="ver")
    r = s3.put_object(Bucket="ver", Key="k", Body=b"legacy")
    assert "VersionId" not in r  # unversioned: no version id
    enable(s3, "ver")
    v1 = s3.put_object(Bucket="ver", Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="ver", Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    g = s3.get_object(Bucket="ver", Key="k")
    assert g["Body"].read() == b"two" and g["VersionId"] == v2
    assert s3.get_object(Bucket="ver", Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket="ver", Key="k", VersionId="null")["Body"].read() == b"legacy"
    assert s3.head_object(Bucket="ver", Key="k", VersionId=v1)["ContentLength"] == 3
    _, vs = versions(s3, "ver")
    assert vs == [("k", v2, True, False), ("k", v1, False, False), ("k", "null", False, False)]
    # A delete marker.
    d = s3.delete_object(Bucket="ver", Key="k")
    assert d["DeleteMarker"] is True
    dm = d["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="ver", Key="k")
    assert code(e) == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="ver", Key="k", VersionId=dm)
    assert status(e) == 405 and code(e) == "MethodNotAllowed"
    assert s3.list_objects_v2(Bucket="ver").get("KeyCount") == 0
    assert "Contents" not in s3.list_objects(Bucket="ver")
    _, vs = versions(s3, "ver")
    assert vs[0] == ("k", v2, False, False) and ("k", dm, True, True) in vs
    # Removing the marker brings v2 back; removing v2 makes v1 current.
    d = s3.delete_object(Bucket="ver", Key="k", VersionId=dm)
    assert d["DeleteMarker"] is True and d["VersionId"] == dm
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket="ver", Key="k", VersionId=v2)
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"one"
    # Version ids: one rule.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="ver", Key="k", VersionId="not-an-id")
    assert code(e) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="ver", Key="k", VersionId=v2)
    assert code(e) == "NoSuchVersion"
    # Suspended: a PUT replaces the null version, a DELETE makes a null marker.
    enable(s3, "ver", "Suspended")
    r = s3.put_object(Bucket="ver", Key="k", Body=b"snull")
    assert r["VersionId"] == "null"
    _, vs = versions(s3, "ver")
    assert vs == [("k", "null", True, False), ("k", v1, False, False)]
    d = s3.delete_object(Bucket="ver", Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"
    _, vs = versions(s3, "ver")
    assert sorted(vs) == sorted([("k", "null", True, True), ("k", v1, False, False)])
    # DeleteBucket refuses while versions remain.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket="ver")
    assert code(e) == "BucketNotEmpty"
    r = s3.delete_objects(Bucket="ver", Delete={"Objects": [
        {"Key": "k", "VersionId": v1}, {"Key": "k", "VersionId": "null"}]})
    assert len(r["Deleted"]) == 2
    assert any(x.get("DeleteMarker") and x.get("DeleteMarkerVersionId") == "null"
               for x in r["Deleted"])
    s3.delete_bucket(Bucket="ver")


def test_list_versions_pages_and_delimiter(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="vlist")
    enable(s3, "vlist")
    keys = ["a", "d/1", "d/2", "z", "l" * 900 + "1", "l" * 900 + "0"]
    for _ in range(3):
        for k in keys:
            s3.put_object(Bucket="vlist", Key=k, Body=b"x")
    s3.delete_objects(Bucket="vlist", Delete={"Objects": [{"Key": "z"}]})
    _, whole = versions(s3, "vlist")
    r = s3.list_object_versions(Bucket="vlist")
    order = [(v["Key"], v["VersionId"]) for v in
             sorted(r["Versions"] + r["DeleteMarkers"],
                    key=lambda v: (v["Key"], [x["VersionId"] for x in
                                              r["Versions"] + r["DeleteMarkers"]].index(
                                                  v["VersionId"])))]
    assert len(order) == 19
    # Pages of 4 with the markers.
    seen, km, vm = [], None, None
    while True:
        kw = {"MaxKeys": 4}
        if km:
            kw.update(KeyMarker=km, VersionIdMarker=vm)
        p = s3.list_object_versions(Bucket="vlist", **kw)
        seen += [(v["Key"], v["VersionId"]) for v in p.get("Versions", []) + p.get(
            "DeleteMarkers", [])]
        if not p["IsTruncated"]:
            break
        km, vm = p["NextKeyMarker"], p["NextVersionIdMarker"]
    assert sorted(seen) == sorted(order) and len(seen) == len(set(seen))
    # Delimiter, prefix, paginator of the SDK, encoding-type.
    d = s3.list_object_versions(Bucket="vlist", Delimiter="/")
    assert [c["Prefix"] for c in d["CommonPrefixes"]] == ["d/"]
    assert {v["Key"] for v in d["Versions"]} == {"a", "z", "l" * 900 + "0", "l" * 900 + "1"}
    p = s3.list_object_versions(Bucket="vlist", Prefix="d/")
    assert [v["Key"] for v in p["Versions"]] == ["d/1"] * 3 + ["d/2"] * 3
    assert [v["IsLatest"] for v in p["Versions"]] == [True, False, False] * 2
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket="vlist", PaginationConfig={"PageSize": 5})
    assert sum(len(pg.get("Versions", [])) + len(pg.get("DeleteMarkers", []))
               for pg in pages) == 19
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_object_versions(Bucket="vlist", VersionIdMarker="null")
    assert code(e) == "InvalidArgument"
    # The aws cli.
    out = json.loads(aws(server, "s3api", "list-object-versions", "--bucket", "vlist",
                         "--prefix", "a").stdout)
    assert len(out["Versions"]) == 3
    vid = out["Versions"][2]["VersionId"]
    aws(server, "s3api", "get-object", "--bucket", "vlist", "--key", "a", "--version-id", vid,
        "/dev/null")


def test_copy_multipart_post_tags_versions(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="vcp")
    enable(s3, "vcp")
    v1 = s3.put_object(Bucket="vcp", Key="src", Body=b"first", Tagging="n=1")["VersionId"]
    s3.put_object(Bucket="vcp", Key="src", Body=b"second")
    r = s3.copy_object(Bucket="vcp", Key="dst", CopySource={"Bucket": "vcp", "Key": "src",
                                                            "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and len(r["VersionId"]) == 32
    assert s3.get_object(Bucket="vcp", Key="dst")["Body"].read() == b"first"
    # Tags per version.
    assert s3.get_object_tagging(Bucket="vcp", Key="src", VersionId=v1)["TagSet"] == [
        {"Key": "n", "Value": "1"}]
    assert s3.get_object_tagging(Bucket="vcp", Key="src")["TagSet"] == []
    s3.put_object_tagging(Bucket="vcp", Key="src", VersionId=v1,
                          Tagging={"TagSet": [{"Key": "n", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket="vcp", Key="src", VersionId=v1)["TagSet"][0][
        "Value"] == "one"
    # Multipart: the version id of Complete, UploadPartCopy from a version.
    up = s3.create_multipart_upload(Bucket="vcp", Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket="vcp", Key="mp", UploadId=up, PartNumber=1,
                               CopySource={"Bucket": "vcp", "Key": "src", "VersionId": v1})
    c = s3.complete_multipart_upload(Bucket="vcp", Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert len(c["VersionId"]) == 32
    assert s3.get_object(Bucket="vcp", Key="mp")["Body"].read() == b"first"
    # A browser POST upload answers its version id.
    post = s3.generate_presigned_post("vcp", "posted")
    resp = requests.post(post["url"], data=post["fields"], files={"file": b"form"})
    assert resp.status_code == 204 and len(resp.headers["x-amz-version-id"]) == 32
    # A copy from a delete marker by id is refused.
    dm = s3.delete_object(Bucket="vcp", Key="posted")["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="vcp", Key="x", CopySource={"Bucket": "vcp", "Key": "posted",
                                                          "VersionId": dm})
    assert code(e) == "InvalidRequest"


def test_version_actions_and_existence(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="vauth")
    enable(s3, "vauth")
    v1 = s3.put_object(Bucket="vauth", Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket="vauth", Key="k", Body=b"2")
    cur = make_user(server, tmp_path, "veronly", "veronly-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::vauth/*"}])
    assert cur.get_object(Bucket="vauth", Key="k")["Body"].read() == b"2"
    for call in (lambda: cur.get_object(Bucket="vauth", Key="k", VersionId=v1),
                 lambda: cur.delete_object(Bucket="vauth", Key="k", VersionId=v1),
                 lambda: cur.list_object_versions(Bucket="vauth")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    r = cur.delete_objects(Bucket="vauth", Delete={"Objects": [{"Key": "k", "VersionId": v1}]})
    assert r["Errors"][0]["Code"] == "AccessDenied"
    ver = make_user(server, tmp_path, "verall", "verall-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetObjectVersion", "s3:ListBucketVersions"],
         "Resource": ["arn:aws:s3:::vauth/*", "arn:aws:s3:::vauth"]}])
    assert ver.get_object(Bucket="vauth", Key="k", VersionId=v1)["Body"].read() == b"1"
    assert len(ver.list_object_versions(Bucket="vauth")["Versions"]) == 2
    # A version that does not exist: 403 without s3:ListBucket (the existence rule).
    missing = "0" * 32
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ver.get_object(Bucket="vauth", Key="k", VersionId=missing)
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="vauth", Key="k", VersionId=missing)
    assert code(e) == "NoSuchVersion"
    # The delete-marker headers go only to a caller that may know.
    s3.delete_object(Bucket="vauth", Key="k")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cur.get_object(Bucket="vauth", Key="k")
    assert code(e) == "AccessDenied"
    assert "x-amz-delete-marker" not in e.value.response["ResponseMetadata"]["HTTPHeaders"]


PYENV_SCRIPT = textwrap.dedent("""
    import sys, boto3, botocore.config
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                      aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="newver")
    s3.put_bucket_versioning(Bucket="newver", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="newver", Key="k", Body=b"x" * 100000)["VersionId"]
    s3.put_object(Bucket="newver", Key="k", Body=b"y")
    assert s3.get_object(Bucket="newver", Key="k", VersionId=v1)["Body"].read() == b"x" * 100000
    r = s3.get_object(Bucket="newver", Key="k", VersionId=v1, Range="bytes=0-9")
    assert r["Body"].read() == b"x" * 10
    assert len(s3.list_object_versions(Bucket="newver")["Versions"]) == 2
    print("ok")
""")


def test_newer_boto3(server):
    assert "ok" in run_newer_boto3(server, PYENV_SCRIPT, timeout=120)


def test_kill9_versioned_writes(tmp_path):
    """kill -9 during versioned writes and deletes: every acknowledged version is readable
    after the restart, data files of noncurrent versions survive the recovery's collection."""
    data = str(tmp_path / "data")
    srv = Server(data)
    srv.start()
    acked = {}
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="crash")
        enable(s3, "crash")
        for i in range(40):
            body = b"v%d" % i
            vid = s3.put_object(Bucket="crash", Key="k%d" % (i % 4), Body=body)["VersionId"]
            acked[vid] = ("k%d" % (i % 4), body)
            if i % 7 == 0:
                s3.delete_object(Bucket="crash", Key="k%d" % (i % 4))
    finally:
        srv.stop(signal.SIGKILL)
    srv = Server(data)
    srv.start()
    try:
        s3 = s3_client(srv)
        for vid, (key, body) in acked.items():
            assert s3.get_object(Bucket="crash", Key=key, VersionId=vid)["Body"].read() == body
        _, vs = versions(s3, "crash")
        assert len([v for v in vs if not v[3]]) == 40
    finally:
        srv.stop()
