"""Object lock in the embedded store (issue 19): CreateBucket with object lock (versioning Enabled
for good), Put/GetObjectLockConfiguration (default retention), Put/GetObjectRetention
(GOVERNANCE, COMPLIANCE, x-amz-bypass-governance-retention with s3:BypassGovernanceRetention),
Put/GetObjectLegalHold, the x-amz-object-lock-* headers of PutObject, CopyObject,
CreateMultipartUpload and of HEAD/GET, and deletes of protected versions refused (DELETE
?versionId, DeleteObjects), with boto3 (Debian's and pyenv's) and the aws cli; crash safety
(kill -9)."""
import datetime
import json
import signal
import textwrap
import time

import botocore.exceptions
import pytest

from conftest import Server, aws, run_newer_boto3, s3_client
from test_gateway import gw, upstream, upstream_requests  # noqa: F401 (fixtures)
from test_gateway import make_user as gw_make_user
from test_tagging import make_user

UTC = datetime.timezone.utc
FAR = datetime.datetime(2030, 1, 1, tzinfo=UTC)
FARTHER = datetime.datetime(2030, 1, 3, tzinfo=UTC)


def err(excinfo):
    r = excinfo.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def raises(fn, *args, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kw)
    return err(e)


def lock_bucket(s3, name):
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def conf(mode="GOVERNANCE", **period):
    return {"ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": dict({"Mode": mode}, **period)}}


def retention(mode, until):
    return {"Mode": mode, "RetainUntilDate": until}


def test_lock_configuration(server):
    s3 = s3_client(server)
    b = lock_bucket(s3, "lockcfg")
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"}
    for c in (conf(Days=1), conf("COMPLIANCE", Years=1)):
        assert s3.put_object_lock_configuration(
            Bucket=b, ObjectLockConfiguration=c)["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == c
    # Versioning can no longer be suspended (as S3: 409).
    assert raises(s3.put_bucket_versioning, Bucket=b,
                  VersioningConfiguration={"Status": "Suspended"}) == (409, "InvalidBucketState")
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    # Validation, as s3-tests expect it.
    bad = [(conf(Days=1, Years=1), (400, "MalformedXML")),
           (conf(Days=0), (400, "InvalidArgument")),
           (conf(Years=-1), (400, "InvalidArgument")),
           (conf("abc", Years=1), (400, "MalformedXML")),
           (conf("governance", Years=1), (400, "MalformedXML")),
           (dict(conf(Years=1), ObjectLockEnabled="Disabled"), (400, "MalformedXML")),
           ({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Days": 1}}},
            (400, "MalformedXML"))]
    for c, want in bad:
        assert raises(s3.put_object_lock_configuration, Bucket=b,
                      ObjectLockConfiguration=c) == want, c
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == conf(
        "COMPLIANCE", Years=1)
    # A bucket created without it: 404 on GET; PUT needs versioning Enabled (409 otherwise).
    s3.create_bucket(Bucket="plaincfg")
    assert raises(s3.get_object_lock_configuration, Bucket="plaincfg") == (
        404, "ObjectLockConfigurationNotFoundError")
    assert raises(s3.put_object_lock_configuration, Bucket="plaincfg",
                  ObjectLockConfiguration=conf(Days=1)) == (409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket="plaincfg", VersioningConfiguration={"Status": "Suspended"})
    assert raises(s3.put_object_lock_configuration, Bucket="plaincfg",
                  ObjectLockConfiguration=conf(Days=1)) == (409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket="plaincfg", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket="plaincfg", ObjectLockConfiguration=conf(Days=1))
    assert raises(s3.put_bucket_versioning, Bucket="plaincfg",
                  VersioningConfiguration={"Status": "Suspended"}) == (409, "InvalidBucketState")


def test_retention(server):
    s3 = s3_client(server)
    b = lock_bucket(s3, "ret")
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    assert raises(s3.get_object_retention, Bucket=b, Key="k") == (
        404, "NoSuchObjectLockConfiguration")
    s3.put_object_retention(Bucket=b, Key="k", Retention=retention("GOVERNANCE", FAR))
    assert s3.get_object_retention(Bucket=b, Key="k")["Retention"] == retention("GOVERNANCE", FAR)
    h = s3.head_object(Bucket=b, Key="k", VersionId=v1)
    assert h["ObjectLockMode"] == "GOVERNANCE" and h["ObjectLockRetainUntilDate"] == FAR
    assert h["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-object-lock-retain-until-date"] == "2030-01-01T00:00:00.000Z"
    # Extending is allowed; shortening, removing or turning COMPLIANCE needs the bypass.
    s3.put_object_retention(Bucket=b, Key="k", Retention=retention("GOVERNANCE", FARTHER))
    assert raises(s3.put_object_retention, Bucket=b, Key="k",
                  Retention=retention("GOVERNANCE", FAR)) == (403, "AccessDenied")
    assert raises(s3.put_object_retention, Bucket=b, Key="k",
                  Retention=retention("COMPLIANCE", FARTHER)) == (403, "AccessDenied")
    assert raises(s3.put_object_retention, Bucket=b, Key="k", Retention={}) == (
        403, "AccessDenied")
    s3.put_object_retention(Bucket=b, Key="k", Retention=retention("GOVERNANCE", FAR),
                            BypassGovernanceRetention=True)
    assert s3.get_object_retention(Bucket=b, Key="k")["Retention"] == retention("GOVERNANCE", FAR)
    # A version named by its id; a date in the past; modes S3 does not take.
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
    s3.put_object_retention(Bucket=b, Key="k", VersionId=v1,
                            Retention=retention("GOVERNANCE", FARTHER))
    assert s3.get_object_retention(Bucket=b, Key="k", VersionId=v1)["Retention"][
        "RetainUntilDate"] == FARTHER
    assert raises(s3.get_object_retention, Bucket=b, Key="k", VersionId=v2)[0] == 404
    past = datetime.datetime(2020, 1, 1, tzinfo=UTC)
    assert raises(s3.put_object_retention, Bucket=b, Key="k",
                  Retention=retention("GOVERNANCE", past)) == (400, "InvalidArgument")
    for mode in ("governance", "abc"):
        assert raises(s3.put_object_retention, Bucket=b, Key="k",
                      Retention=retention(mode, FAR)) == (400, "MalformedXML")
    # Deleting the protected version: refused, then allowed with the bypass.
    assert raises(s3.delete_object, Bucket=b, Key="k", VersionId=v1) == (403, "AccessDenied")
    r = s3.delete_object(Bucket=b, Key="k", VersionId=v1, BypassGovernanceRetention=True)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    # A bucket without object lock: InvalidRequest for all four object operations.
    s3.create_bucket(Bucket="retplain")
    s3.put_object(Bucket="retplain", Key="k", Body=b"x")
    for fn, kw in ((s3.put_object_retention, {"Retention": retention("GOVERNANCE", FAR)}),
                   (s3.get_object_retention, {}),
                   (s3.put_object_legal_hold, {"LegalHold": {"Status": "ON"}}),
                   (s3.get_object_legal_hold, {})):
        assert raises(fn, Bucket="retplain", Key="k", **kw) == (400, "InvalidRequest")


def test_delete_marker_and_multi_delete(server):
    s3 = s3_client(server)
    b = lock_bucket(s3, "mdel")
    v1 = s3.put_object(Bucket=b, Key="k1", Body=b"a")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="k2", Body=b"b")["VersionId"]
    s3.put_object_retention(Bucket=b, Key="k1", Retention=retention("GOVERNANCE", FAR))
    # A plain DELETE only adds a delete marker: allowed; the version stays protected.
    r = s3.delete_object(Bucket=b, Key="k1")
    assert r["DeleteMarker"] is True
    assert raises(s3.delete_object, Bucket=b, Key="k1", VersionId=v1) == (403, "AccessDenied")
    s3.delete_object(Bucket=b, Key="k1", VersionId=r["VersionId"])  # the marker itself: allowed
    d = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k1", "VersionId": v1},
                                                        {"Key": "k2", "VersionId": v2}]})
    assert [(e["Key"], e["VersionId"], e["Code"]) for e in d["Errors"]] == [
        ("k1", v1, "AccessDenied")]
    assert [(e["Key"], e["VersionId"]) for e in d["Deleted"]] == [("k2", v2)]
    # A bucket with a protected version is not empty.
    assert raises(s3.delete_bucket, Bucket=b) == (409, "BucketNotEmpty")
    d = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k1", "VersionId": v1}]},
                          BypassGovernanceRetention=True)
    assert not d.get("Errors") and [(e["Key"], e["VersionId"]) for e in d["Deleted"]] == [
        ("k1", v1)]
    s3.delete_bucket(Bucket=b)


def test_legal_hold(server):
    s3 = s3_client(server)
    b = lock_bucket(s3, "hold")
    v = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
    assert raises(s3.get_object_legal_hold, Bucket=b, Key="k")[0] == 404
    s3.put_object_legal_hold(Bucket=b, Key="k", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=b, Key="k")["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=b, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    assert raises(s3.put_object_legal_hold, Bucket=b, Key="k",
                  LegalHold={"Status": "abc"}) == (400, "MalformedXML")
    # A legal hold blocks the delete whatever the bypass, until it is removed.
    assert raises(s3.delete_object, Bucket=b, Key="k", VersionId=v) == (403, "AccessDenied")
    assert raises(s3.delete_object, Bucket=b, Key="k", VersionId=v,
                  BypassGovernanceRetention=True) == (403, "AccessDenied")
    s3.put_object_legal_hold(Bucket=b, Key="k", LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=b, Key="k")["LegalHold"] == {"Status": "OFF"}
    assert s3.delete_object(Bucket=b, Key="k", VersionId=v)["ResponseMetadata"][
        "HTTPStatusCode"] == 204


def test_compliance_by_nobody(server):
    """COMPLIANCE can be neither shortened, removed nor changed, even by root with the bypass;
    extending it is allowed. GOVERNANCE becomes COMPLIANCE only with the bypass."""
    s3 = s3_client(server)
    b = lock_bucket(s3, "comp")
    v = s3.put_object(Bucket=b, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=FAR)["VersionId"]
    for r in (retention("COMPLIANCE", datetime.datetime(2029, 1, 1, tzinfo=UTC)),
              retention("GOVERNANCE", FAR), retention("GOVERNANCE", FARTHER), {}):
        for bypass in (False, True):
            assert raises(s3.put_object_retention, Bucket=b, Key="k", Retention=r,
                          BypassGovernanceRetention=bypass) == (403, "AccessDenied"), (r, bypass)
    for bypass in (False, True):
        assert raises(s3.delete_object, Bucket=b, Key="k", VersionId=v,
                      BypassGovernanceRetention=bypass) == (403, "AccessDenied")
    s3.put_object_retention(Bucket=b, Key="k", Retention=retention("COMPLIANCE", FARTHER))
    assert s3.get_object_retention(Bucket=b, Key="k")["Retention"] == retention(
        "COMPLIANCE", FARTHER)
    soon = datetime.datetime.now(UTC) + datetime.timedelta(seconds=30)
    s3.put_object(Bucket=b, Key="g", Body=b"x", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=soon)
    assert raises(s3.put_object_retention, Bucket=b, Key="g",
                  Retention=retention("COMPLIANCE", soon)) == (403, "AccessDenied")
    s3.put_object_retention(Bucket=b, Key="g", Retention=retention("COMPLIANCE", soon),
                            BypassGovernanceRetention=True)


def test_write_headers_and_default(server):
    s3 = s3_client(server)
    b = lock_bucket(s3, "hdrs")
    s3.put_object(Bucket=b, Key="k", Body=b"abc", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=FAR, ObjectLockLegalHoldStatus="ON")
    h = s3.head_object(Bucket=b, Key="k")
    assert (h["ObjectLockMode"], h["ObjectLockRetainUntilDate"],
            h["ObjectLockLegalHoldStatus"]) == ("GOVERNANCE", FAR, "ON")
    g = s3.get_object(Bucket=b, Key="k")
    assert g["ObjectLockMode"] == "GOVERNANCE" and g["Body"].read() == b"abc"
    # A copy gets the request's lock, never the source's.
    s3.copy_object(Bucket=b, Key="c1", CopySource={"Bucket": b, "Key": "k"})
    h = s3.head_object(Bucket=b, Key="c1")
    assert "ObjectLockMode" not in h and "ObjectLockLegalHoldStatus" not in h
    s3.copy_object(Bucket=b, Key="c2", CopySource={"Bucket": b, "Key": "k"},
                   ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FARTHER)
    assert s3.head_object(Bucket=b, Key="c2")["ObjectLockMode"] == "COMPLIANCE"
    # A multipart upload's headers protect the object it completes into.
    up = s3.create_multipart_upload(Bucket=b, Key="mp", ObjectLockMode="GOVERNANCE",
                                    ObjectLockRetainUntilDate=FAR)["UploadId"]
    e = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    mv = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"ETag": e, "PartNumber": 1}]})["VersionId"]
    assert raises(s3.delete_object, Bucket=b, Key="mp", VersionId=mv) == (403, "AccessDenied")
    s3.delete_object(Bucket=b, Key="mp", VersionId=mv, BypassGovernanceRetention=True)
    # The bucket's default retention on new versions (not on those written before).
    s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=conf(Days=1))
    before = datetime.datetime.now(UTC)
    v = s3.put_object(Bucket=b, Key="d", Body=b"x")["VersionId"]
    r = s3.get_object_retention(Bucket=b, Key="d")["Retention"]
    assert r["Mode"] == "GOVERNANCE"
    assert abs((r["RetainUntilDate"] - before).total_seconds() - 86400) < 10
    assert raises(s3.delete_object, Bucket=b, Key="d", VersionId=v) == (403, "AccessDenied")
    assert "ObjectLockMode" not in s3.head_object(Bucket=b, Key="c1")
    # Refusals: one of mode / date alone, a past date, a bad mode, a bucket without lock.
    assert raises(s3.put_object, Bucket=b, Key="x", Body=b"x", ObjectLockMode="GOVERNANCE") == (
        400, "InvalidArgument")
    assert raises(s3.put_object, Bucket=b, Key="x", Body=b"x", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=datetime.datetime(2020, 1, 1, tzinfo=UTC)) == (
        400, "InvalidArgument")
    assert raises(s3.put_object, Bucket=b, Key="x", Body=b"x", ObjectLockMode="governance",
                  ObjectLockRetainUntilDate=FAR) == (400, "InvalidArgument")
    assert raises(s3.head_object, Bucket=b, Key="x")[0] == 404
    s3.create_bucket(Bucket="hdrplain")
    assert raises(s3.put_object, Bucket="hdrplain", Key="x", Body=b"x" * 100000,
                  ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR) == (
        400, "InvalidRequest")
    assert raises(s3.head_object, Bucket="hdrplain", Key="x")[0] == 404


def test_retention_expires(server):
    """A retention a few seconds ahead protects until the server's clock passes it."""
    s3 = s3_client(server)
    b = lock_bucket(s3, "expire")
    until = datetime.datetime.now(UTC).replace(microsecond=0) + datetime.timedelta(seconds=3)
    v = s3.put_object(Bucket=b, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    assert raises(s3.delete_object, Bucket=b, Key="k", VersionId=v) == (403, "AccessDenied")
    time.sleep(max(0.0, (until - datetime.datetime.now(UTC)).total_seconds()) + 1.2)
    assert s3.delete_object(Bucket=b, Key="k", VersionId=v)["ResponseMetadata"][
        "HTTPStatusCode"] == 204


def test_bypass_needs_permission(server, tmp_path):
    """x-amz-bypass-governance-retention is s3:BypassGovernanceRetention: a user whose policy
    lacks it is refused (DeleteObject, PutObjectRetention, per key in DeleteObjects), and sees
    no lock headers without s3:GetObjectRetention / s3:GetObjectLegalHold."""
    s3 = s3_client(server)
    b = lock_bucket(s3, "bypass")
    v = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
    s3.put_object_retention(Bucket=b, Key="k", Retention=retention("GOVERNANCE", FAR))
    actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
               "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:ListBucket"]
    u = make_user(server, tmp_path, "nobypass", "nobypass-secret-1", [
        {"Effect": "Allow", "Action": actions,
         "Resource": ["arn:aws:s3:::bypass", "arn:aws:s3:::bypass/*"]}])
    assert raises(u.delete_object, Bucket=b, Key="k", VersionId=v,
                  BypassGovernanceRetention=True) == (403, "AccessDenied")
    assert raises(u.delete_object, Bucket=b, Key="k", VersionId=v) == (403, "AccessDenied")
    assert raises(u.put_object_retention, Bucket=b, Key="k", Retention=retention(
        "GOVERNANCE", datetime.datetime(2029, 1, 1, tzinfo=UTC)),
        BypassGovernanceRetention=True) == (403, "AccessDenied")
    d = u.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": v}]},
                         BypassGovernanceRetention=True)
    assert [(e["Key"], e["Code"]) for e in d["Errors"]] == [("k", "AccessDenied")]
    h = u.head_object(Bucket=b, Key="k")
    assert "ObjectLockMode" not in h and "ObjectLockRetainUntilDate" not in h
    assert s3.head_object(Bucket=b, Key="k")["ObjectLockMode"] == "GOVERNANCE"
    # With the permission the same user may bypass.
    u2 = make_user(server, tmp_path, "canbypass", "canbypass-secret-1", [
        {"Effect": "Allow", "Action": actions + ["s3:BypassGovernanceRetention"],
         "Resource": ["arn:aws:s3:::bypass", "arn:aws:s3:::bypass/*"]}])
    assert u2.delete_object(Bucket=b, Key="k", VersionId=v, BypassGovernanceRetention=True)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204


def test_lock_aws_cli(server, tmp_path):
    s3 = s3_client(server)
    aws(server, "s3api", "create-bucket", "--bucket", "clilock",
        "--object-lock-enabled-for-bucket")
    aws(server, "s3api", "put-object-lock-configuration", "--bucket", "clilock",
        "--object-lock-configuration",
        '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE",'
        '"Days":2}}}')
    got = json.loads(aws(server, "s3api", "get-object-lock-configuration", "--bucket",
                         "clilock").stdout)
    assert got["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "GOVERNANCE", "Days": 2}
    f = tmp_path / "f"
    f.write_bytes(b"cli")
    v = json.loads(aws(server, "s3api", "put-object", "--bucket", "clilock", "--key", "k",
                       "--body", str(f)).stdout)["VersionId"]
    aws(server, "s3api", "put-object-retention", "--bucket", "clilock", "--key", "k",
        "--retention", '{"Mode":"GOVERNANCE","RetainUntilDate":"2030-01-01T00:00:00Z"}')
    aws(server, "s3api", "put-object-legal-hold", "--bucket", "clilock", "--key", "k",
        "--legal-hold", '{"Status":"ON"}')
    p = aws(server, "s3api", "delete-object", "--bucket", "clilock", "--key", "k",
            "--version-id", v, "--bypass-governance-retention", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr  # the legal hold
    aws(server, "s3api", "put-object-legal-hold", "--bucket", "clilock", "--key", "k",
        "--legal-hold", '{"Status":"OFF"}')
    p = aws(server, "s3api", "delete-object", "--bucket", "clilock", "--key", "k",
            "--version-id", v, check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr  # the retention
    aws(server, "s3api", "delete-object", "--bucket", "clilock", "--key", "k", "--version-id", v,
        "--bypass-governance-retention")
    assert raises(s3.head_object, Bucket="clilock", Key="k", VersionId=v)[0] == 404


NEWER = textwrap.dedent("""
    import datetime, sys, boto3, botocore.config, botocore.exceptions
    ep, ak, sk = sys.argv[1:4]
    s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                      region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    far = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    s3.create_bucket(Bucket="newlock", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="newlock", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}}})
    v = s3.put_object(Bucket="newlock", Key="k", Body=b"x" * 70000, ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=far, ObjectLockLegalHoldStatus="OFF")["VersionId"]
    s3.put_object_retention(Bucket="newlock", Key="k",
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": far})
    s3.put_object_legal_hold(Bucket="newlock", Key="k", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket="newlock", Key="k")["LegalHold"]["Status"] == "ON"
    d = s3.delete_objects(Bucket="newlock", Delete={"Objects": [{"Key": "k", "VersionId": v}]},
                          BypassGovernanceRetention=True)
    assert [e["Code"] for e in d["Errors"]] == ["AccessDenied"], d
    s3.put_object_legal_hold(Bucket="newlock", Key="k", LegalHold={"Status": "OFF"})
    try:
        s3.delete_object(Bucket="newlock", Key="k", VersionId=v)
        raise SystemExit("deleted a protected version")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied"
    s3.delete_object(Bucket="newlock", Key="k", VersionId=v, BypassGovernanceRetention=True)
    print("ok")
""")


def test_lock_newer_boto3(server):
    assert run_newer_boto3(server, NEWER).strip() == "ok"


def test_post_form_lock_fields_refused(server):
    """A browser POST upload with x-amz-object-lock-* fields is refused (501), not ignored."""
    s3 = s3_client(server)
    b = lock_bucket(s3, "postlock")
    post = s3.generate_presigned_post(b, "k", Fields={"x-amz-object-lock-legal-hold": "ON"},
                                      Conditions=[{"x-amz-object-lock-legal-hold": "ON"}])
    import requests
    r = requests.post(post["url"], data=post["fields"], files={"file": ("k", b"x")})
    assert r.status_code == 501 and b"NotImplemented" in r.content


def test_kill9_lock_writes(tmp_path):
    """kill -9 after lock configuration, retention and legal hold writes: every acknowledged one
    is there after the restart, and still protects its version."""
    data = str(tmp_path / "data")
    srv = Server(data)
    srv.start()
    acked = {}
    try:
        s3 = s3_client(srv)
        lock_bucket(s3, "crashlock")
        s3.put_object_lock_configuration(Bucket="crashlock",
                                         ObjectLockConfiguration=conf("COMPLIANCE", Days=3))
        for i in range(30):
            key = "k%d" % (i % 3)
            v = s3.put_object(Bucket="crashlock", Key=key, Body=b"v%d" % i)["VersionId"]
            if i % 2:
                s3.put_object_retention(Bucket="crashlock", Key=key, VersionId=v,
                                        Retention=retention("COMPLIANCE", FAR))
            s3.put_object_legal_hold(Bucket="crashlock", Key=key, VersionId=v,
                                     LegalHold={"Status": "ON" if i % 3 else "OFF"})
            acked[v] = (key, i)
    finally:
        srv.stop(signal.SIGKILL)
    srv = Server(data)
    srv.start()
    try:
        s3 = s3_client(srv)
        assert s3.get_object_lock_configuration(Bucket="crashlock")[
            "ObjectLockConfiguration"] == conf("COMPLIANCE", Days=3)
        for v, (key, i) in acked.items():
            r = s3.get_object_retention(Bucket="crashlock", Key=key, VersionId=v)["Retention"]
            assert r["Mode"] == "COMPLIANCE"
            assert (r["RetainUntilDate"] == FAR) == bool(i % 2)
            assert s3.get_object_legal_hold(Bucket="crashlock", Key=key, VersionId=v)[
                "LegalHold"]["Status"] == ("ON" if i % 3 else "OFF")
            assert raises(s3.delete_object, Bucket="crashlock", Key=key, VersionId=v,
                          BypassGovernanceRetention=True) == (403, "AccessDenied")
        assert raises(s3.put_bucket_versioning, Bucket="crashlock",
                      VersioningConfiguration={"Status": "Suspended"}) == (
            409, "InvalidBucketState")
    finally:
        srv.stop()


def test_gateway_passes_lock_through_with_its_actions(gw, upstream, tmp_root):
    """The gateway forwards object lock to its upstream (here a tessera store, which keeps it),
    authorized with the same actions: the bypass header needs s3:BypassGovernanceRetention,
    for DeleteObject (whole request) and per key in DeleteObjects, before the upstream is
    reached."""
    root = s3_client(gw)
    lock_bucket(root, "gwlock")
    v = root.put_object(Bucket="gwlock", Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=FAR)["VersionId"]
    assert root.get_object_retention(Bucket="gwlock", Key="k")["Retention"] == retention(
        "GOVERNANCE", FAR)
    assert s3_client(upstream).get_object_retention(Bucket="gwlock", Key="k")["Retention"][
        "Mode"] == "GOVERNANCE"
    gw_make_user(gw, tmp_root, "gwdel", "gwdel-secret-1", [
        {"Effect": "Allow", "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
         "Resource": "arn:aws:s3:::gwlock/*"}])
    u = s3_client(gw, "gwdel", "gwdel-secret-1")
    time.sleep(0.3)
    before = upstream_requests(upstream)
    assert raises(u.delete_object, Bucket="gwlock", Key="k", VersionId=v,
                  BypassGovernanceRetention=True) == (403, "AccessDenied")
    d = u.delete_objects(Bucket="gwlock", Delete={"Objects": [{"Key": "k", "VersionId": v}]},
                         BypassGovernanceRetention=True)
    assert [(e["Key"], e["Code"]) for e in d["Errors"]] == [("k", "AccessDenied")]
    time.sleep(0.3)
    assert upstream_requests(upstream) == before  # refused by the gateway itself
    assert raises(u.delete_object, Bucket="gwlock", Key="k", VersionId=v) == (
        403, "AccessDenied")  # the upstream's answer: protected
    d = root.delete_objects(Bucket="gwlock", Delete={"Objects": [{"Key": "k", "VersionId": v}]},
                            BypassGovernanceRetention=True)
    assert [e["Key"] for e in d["Deleted"]] == ["k"] and not d.get("Errors")
