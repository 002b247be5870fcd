"""Bucket lifecycle (issue 19 item 5): Put/Get/DeleteBucketLifecycleConfiguration checked with
AWS's rules, and the lifecycle task carrying the rules out: expiration of current versions
(unversioned and versioned), noncurrent versions with NewerNoncurrentVersions, expired delete
markers, aborts of incomplete uploads, prefix/tag/size filters, disabled rules. Expiry is driven
by `tessera admin lifecycle run --now TIME` (one pass as of a chosen instant), never by sleeping;
the periodic task (TESSERA_LIFECYCLE_INTERVAL) runs on the server's clock. Crash safety: kill -9
during a pass. Clients: boto3 (Debian's and pyenv's), the aws cli, raw signed requests."""
import base64
import datetime
import hashlib
import json
import os
import signal
import subprocess
import time

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, aws, run_newer_boto3, s3_client
from test_gateway import gw, upstream  # noqa: F401 (fixtures)
from test_tagging import make_user


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def put_lc(s3, bucket, rules):
    return s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                                 LifecycleConfiguration={"Rules": rules})


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_pass(server, days=0.0, hours=0.0):
    """One lifecycle pass as of now + days/hours; its counts."""
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days, hours=hours)
    p = admin(server, "--json", "lifecycle", "run", "--now", iso(when))
    return json.loads(p.stdout)


def keys(s3, bucket):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def versions(s3, bucket):
    r = s3.list_object_versions(Bucket=bucket)
    return r.get("Versions", []), r.get("DeleteMarkers", [])


def data_files(server):
    root = os.path.join(server.data_dir, ".tessera", "objects")
    return sum(len(f) for _, _, f in os.walk(root))


# ---- the configuration ----

def test_put_get_delete(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code(e) == "NoSuchLifecycleConfiguration" and status(e) == 404
    rules = [
        {"ID": "legacy", "Prefix": "test1/", "Status": "Enabled", "Expiration": {"Days": 31}},
        {"ID": "date", "Filter": {"Prefix": "old/"}, "Status": "Disabled",
         "Expiration": {"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)}},
        {"ID": "tag", "Filter": {"Tag": {"Key": "tmp", "Value": "yes"}}, "Status": "Enabled",
         "Expiration": {"Days": 2}},
        {"ID": "and", "Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}],
                                         "ObjectSizeGreaterThan": 10,
                                         "ObjectSizeLessThan": 1000}},
         "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 3,
                                                               "NewerNoncurrentVersions": 2}},
        {"ID": "size", "Filter": {"ObjectSizeGreaterThan": 5}, "Status": "Enabled",
         "Expiration": {"Days": 7}},
        {"ID": "dm", "Filter": {}, "Status": "Enabled",
         "Expiration": {"ExpiredObjectDeleteMarker": True},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
    ]
    assert put_lc(s3, "lcb", rules)["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]
    assert got == rules
    # a rule without an ID gets one
    put_lc(s3, "lcb", [{"Prefix": "x/", "Status": "Enabled", "Expiration": {"Days": 1}}])
    got = s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]
    assert len(got) == 1 and len(got[0]["ID"]) > 0 and got[0]["Prefix"] == "x/"
    s3.delete_bucket_lifecycle(Bucket="lcb")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code(e) == "NoSuchLifecycleConfiguration"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put_lc(s3, "no-such-bucket", rules)
    assert code(e) == "NoSuchBucket"


EXP = {"Expiration": {"Days": 1}}
BAD_RULES = [
    ("id-too-long", [dict(ID="a" * 256, Prefix="", Status="Enabled", **EXP)], "InvalidArgument"),
    ("same-id", [dict(ID="r", Prefix="a", Status="Enabled", **EXP),
                 dict(ID="r", Prefix="b", Status="Enabled", **EXP)], "InvalidArgument"),
    ("status", [dict(ID="r", Prefix="", Status="enabled", **EXP)], "MalformedXML"),
    ("days-0", [dict(ID="r", Prefix="", Status="Enabled", Expiration={"Days": 0})],
     "InvalidArgument"),
    ("date-noon", [dict(ID="r", Prefix="", Status="Enabled", Expiration={
        "Date": datetime.datetime(2099, 11, 10, 12, tzinfo=datetime.timezone.utc)})],
     "InvalidArgument"),
    ("date-not-iso", [dict(ID="r", Prefix="", Status="Enabled", Expiration={"Date": "20200101"})],
     "InvalidArgument"),
    ("days-and-dm", [dict(ID="r", Prefix="", Status="Enabled", Expiration={
        "Days": 1, "ExpiredObjectDeleteMarker": True})], "MalformedXML"),
    ("no-action", [dict(ID="r", Prefix="", Status="Enabled")], "InvalidRequest"),
    ("prefix-and-filter", [dict(ID="r", Prefix="", Filter={"Prefix": "a"}, Status="Enabled",
                                **EXP)], "MalformedXML"),
    ("no-filter", [dict(ID="r", Status="Enabled", **EXP)], "MalformedXML"),
    ("two-predicates", [dict(ID="r", Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}},
                             Status="Enabled", **EXP)], "MalformedXML"),
    ("abort-with-tags", [dict(ID="r", Filter={"Tag": {"Key": "k", "Value": "v"}},
                              Status="Enabled",
                              AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})],
     "InvalidRequest"),
    ("size-order", [dict(ID="r", Filter={"And": {"ObjectSizeGreaterThan": 100,
                                                 "ObjectSizeLessThan": 10}},
                         Status="Enabled", **EXP)], "InvalidRequest"),
    ("dup-tags", [dict(ID="r", Filter={"And": {"Tags": [{"Key": "k", "Value": "1"},
                                                        {"Key": "k", "Value": "2"}]}},
                       Status="Enabled", **EXP)], "InvalidRequest"),
    ("newer-101", [dict(ID="r", Prefix="", Status="Enabled", NoncurrentVersionExpiration={
        "NoncurrentDays": 1, "NewerNoncurrentVersions": 101})], "InvalidArgument"),
    ("transition", [dict(ID="r", Prefix="", Status="Enabled",
                         Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])],
     "NotImplemented"),
    ("transition-bad-date", [dict(ID="r", Prefix="", Status="Enabled", Expiration={
        "Date": "2023-09-27"}, Transitions=[{"Date": "20220927", "StorageClass": "GLACIER"}])],
     "InvalidArgument"),
    ("noncurrent-transition", [dict(ID="r", Prefix="", Status="Enabled",
                                    NoncurrentVersionTransitions=[
                                        {"NoncurrentDays": 30, "StorageClass": "GLACIER"}])],
     "NotImplemented"),
    ("1001-rules", [dict(ID="r%d" % i, Prefix="p%d" % i, Status="Enabled", **EXP)
                    for i in range(1001)], "InvalidRequest"),
]


@pytest.mark.parametrize("name,rules,want", BAD_RULES, ids=[b[0] for b in BAD_RULES])
def test_validation(server, name, rules, want):
    s3 = s3_client(server, parameter_validation=False)
    s3.create_bucket(Bucket="lcb")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put_lc(s3, "lcb", rules)
    assert code(e) == want, (name, e.value.response["Error"])
    assert status(e) == (501 if want == "NotImplemented" else 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code(e) == "NoSuchLifecycleConfiguration"


def signed(server, method, path, body=b"", headers=None):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    url = server.endpoint + path
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                         headers=dict(headers or {}))
    creds = botocore.credentials.Credentials(server.root_user, server.root_password)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return requests.request(method, url, data=body, headers=dict(req.headers))


DOC = (b'<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
       b'<ID>r</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status>'
       b'<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>')


def test_integrity_header_required(server):
    """AWS requires Content-MD5 (or an x-amz-checksum-*) on PutBucketLifecycleConfiguration."""
    s3_client(server).create_bucket(Bucket="lcb")
    r = signed(server, "PUT", "/lcb?lifecycle", DOC)
    assert r.status_code == 400 and b"<Code>InvalidRequest</Code>" in r.content
    assert b"Content-MD5" in r.content
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = signed(server, "PUT", "/lcb?lifecycle", DOC, {"Content-MD5": bad})
    assert r.status_code == 400 and b"<Code>BadDigest</Code>" in r.content
    good = base64.b64encode(hashlib.md5(DOC).digest()).decode()
    r = signed(server, "PUT", "/lcb?lifecycle", DOC, {"Content-MD5": good})
    assert r.status_code == 200, r.content
    r = signed(server, "GET", "/lcb?lifecycle")
    assert r.status_code == 200 and b"<Prefix>a/</Prefix>" in r.content
    r = signed(server, "PUT", "/lcb?lifecycle", b"<LifecycleConfiguration>",
               {"Content-MD5": base64.b64encode(hashlib.md5(b"<LifecycleConfiguration>")
                                                .digest()).decode()})
    assert r.status_code == 400 and b"<Code>MalformedXML</Code>" in r.content


def test_iam_actions(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    reader = make_user(server, tmp_path, "lcreader", "lcreader-secret", [
        {"Effect": "Allow", "Action": ["s3:GetLifecycleConfiguration"],
         "Resource": ["arn:aws:s3:::lcb"]}])
    rules = [{"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}]
    for call in (lambda: put_lc(reader, "lcb", rules),
                 lambda: reader.delete_bucket_lifecycle(Bucket="lcb")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    put_lc(s3, "lcb", rules)
    assert reader.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"] == rules
    writer = make_user(server, tmp_path, "lcwriter", "lcwriter-secret", [
        {"Effect": "Allow", "Action": ["s3:PutLifecycleConfiguration"],
         "Resource": ["arn:aws:s3:::lcb"]}])
    writer.delete_bucket_lifecycle(Bucket="lcb")  # DeleteBucketLifecycle: s3:PutLifecycle...
    with pytest.raises(botocore.exceptions.ClientError) as e:
        writer.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code(e) == "AccessDenied"
    # the admin endpoint: admin credentials only
    p = admin(server, "lifecycle", "run", ak="lcwriter", sk="lcwriter-secret", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    p = admin(server, "lifecycle", "run", "--now", "yesterday", check=False)
    assert p.returncode != 0 and "RFC 3339" in p.stderr


def test_aws_cli(server, tmp_path):
    s3_client(server).create_bucket(Bucket="lcb")
    conf = {"Rules": [{"ID": "cli", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
                       "Expiration": {"Days": 30},
                       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]}
    f = tmp_path / "lc.json"
    f.write_text(json.dumps(conf))
    aws(server, "s3api", "put-bucket-lifecycle-configuration", "--bucket", "lcb",
        "--lifecycle-configuration", "file://" + str(f))
    got = json.loads(aws(server, "s3api", "get-bucket-lifecycle-configuration",
                         "--bucket", "lcb").stdout)
    assert got["Rules"] == conf["Rules"]
    aws(server, "s3api", "delete-bucket-lifecycle", "--bucket", "lcb")
    p = aws(server, "s3api", "get-bucket-lifecycle-configuration", "--bucket", "lcb", check=False)
    assert p.returncode != 0 and "NoSuchLifecycleConfiguration" in p.stderr


NEWER = r"""
import sys, boto3, botocore.config
ep, ak, sk = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=botocore.config.Config(
                      s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
s3.create_bucket(Bucket="newer")
rules = [{"ID": "n", "Filter": {"Prefix": "p/"}, "Status": "Enabled",
          "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}}]
s3.put_bucket_lifecycle_configuration(Bucket="newer", LifecycleConfiguration={"Rules": rules})
assert s3.get_bucket_lifecycle_configuration(Bucket="newer")["Rules"] == rules
s3.delete_bucket_lifecycle(Bucket="newer")
print("ok")
"""


def test_newer_boto3(server):
    assert run_newer_boto3(server, NEWER).strip() == "ok"


# ---- the task, driven by `tessera admin lifecycle run --now` ----

def test_expire_unversioned(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    for k in ("logs/a", "logs/b", "keep/c"):
        s3.put_object(Bucket="lcb", Key=k, Body=b"x" * 10)
    before = data_files(server)
    put_lc(s3, "lcb", [{"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
                       "Expiration": {"Days": 1}}])
    n = run_pass(server)  # as of now: nothing is young enough to go
    assert n["expired"] == 0 and n["buckets"] == 1 and n["scanned"] == 3
    assert keys(s3, "lcb") == ["keep/c", "logs/a", "logs/b"]
    assert run_pass(server, days=0.9)["expired"] == 0  # before the first midnight after 1 day
    n = run_pass(server, days=2, hours=1)
    assert n["expired"] == 2 and n["errors"] == 0
    assert keys(s3, "lcb") == ["keep/c"]
    assert data_files(server) == before - 2
    assert run_pass(server, days=3)["expired"] == 0  # idempotent


def test_disabled_rule_and_date(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_object(Bucket="lcb", Key="past/a", Body=b"x")
    s3.put_object(Bucket="lcb", Key="off/a", Body=b"x")
    s3.put_object(Bucket="lcb", Key="future/a", Body=b"x")
    put_lc(s3, "lcb", [
        {"ID": "past", "Prefix": "past/", "Status": "Enabled", "Expiration": {"Date": "2015-01-01"}},
        {"ID": "off", "Prefix": "off/", "Status": "Disabled", "Expiration": {"Date": "2015-01-01"}},
        {"ID": "future", "Prefix": "future/", "Status": "Enabled",
         "Expiration": {"Date": "2099-01-01"}}])
    assert run_pass(server)["expired"] == 1
    assert keys(s3, "lcb") == ["future/a", "off/a"]


def test_expire_versioned(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_bucket_versioning(Bucket="lcb", VersioningConfiguration={"Status": "Enabled"})
    vid = s3.put_object(Bucket="lcb", Key="test1/a", Body=b"x")["VersionId"]
    put_lc(s3, "lcb", [{"ID": "r", "Prefix": "test1/", "Status": "Enabled",
                       "Expiration": {"Days": 1}}])
    assert run_pass(server)["expired"] == 0
    assert run_pass(server, days=2, hours=1)["expired"] == 1
    vs, dms = versions(s3, "lcb")
    assert [v["VersionId"] for v in vs] == [vid] and not vs[0]["IsLatest"]
    assert len(dms) == 1 and dms[0]["IsLatest"]
    # the delete marker it added is not the only version: it stays
    assert run_pass(server, days=5)["deleteMarkersRemoved"] == 0
    assert s3.get_object(Bucket="lcb", Key="test1/a", VersionId=vid)["Body"].read() == b"x"


def test_noncurrent_newer_versions(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_bucket_versioning(Bucket="lcb", VersioningConfiguration={"Status": "Enabled"})
    vids = [s3.put_object(Bucket="lcb", Key="k", Body=b"v%d" % i)["VersionId"] for i in range(6)]
    s3.put_object(Bucket="lcb", Key="other", Body=b"o1")
    s3.put_object(Bucket="lcb", Key="other", Body=b"o2")
    put_lc(s3, "lcb", [{"ID": "nc", "Filter": {"Prefix": "k"}, "Status": "Enabled",
                       "NoncurrentVersionExpiration": {"NoncurrentDays": 1,
                                                       "NewerNoncurrentVersions": 2}}])
    assert run_pass(server)["noncurrentExpired"] == 0
    assert run_pass(server, hours=20)["noncurrentExpired"] == 0
    n = run_pass(server, days=2, hours=1)
    assert n["noncurrentExpired"] == 3 and n["expired"] == 0
    vs, _ = versions(s3, "lcb")
    assert [v["VersionId"] for v in vs if v["Key"] == "k"] == vids[::-1][:3]
    assert len([v for v in vs if v["Key"] == "other"]) == 2  # outside the filter
    assert s3.get_object(Bucket="lcb", Key="k")["Body"].read() == b"v5"


def test_delete_marker_cleanup(server):
    """s3-tests' test_lifecycle_deletemarker_expiration, without waiting: noncurrent versions
    go, then the delete marker left alone goes too (in the same pass)."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_bucket_versioning(Bucket="lcb", VersioningConfiguration={"Status": "Enabled"})
    for k in ("test1/a", "test2/abc"):
        s3.put_object(Bucket="lcb", Key=k, Body=b"x")
        s3.delete_object(Bucket="lcb", Key=k)
    s3.put_object(Bucket="lcb", Key="test1/live", Body=b"x")
    put_lc(s3, "lcb", [{"ID": "r", "Prefix": "test1/", "Status": "Enabled",
                       "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                       "Expiration": {"ExpiredObjectDeleteMarker": True}}])
    n = run_pass(server)  # the marker still hides a version: nothing
    assert n["deleteMarkersRemoved"] == 0 and n["noncurrentExpired"] == 0
    n = run_pass(server, days=2, hours=1)
    assert n["noncurrentExpired"] == 1 and n["deleteMarkersRemoved"] == 1
    vs, dms = versions(s3, "lcb")
    assert sorted(v["Key"] for v in vs) == ["test1/live", "test2/abc"]
    assert [d["Key"] for d in dms] == ["test2/abc"]


def test_abort_incomplete_uploads(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    ups = {}
    for k in ("tmp/a", "keep/b"):
        u = s3.create_multipart_upload(Bucket="lcb", Key=k)["UploadId"]
        s3.upload_part(Bucket="lcb", Key=k, UploadId=u, PartNumber=1, Body=b"p" * 100)
        ups[k] = u
    before = data_files(server)
    put_lc(s3, "lcb", [{"ID": "mpu", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
                       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}])
    assert run_pass(server, days=1)["uploadsAborted"] == 0
    assert run_pass(server, days=3, hours=1)["uploadsAborted"] == 1
    left = [u["Key"] for u in s3.list_multipart_uploads(Bucket="lcb").get("Uploads", [])]
    assert left == ["keep/b"]
    assert data_files(server) == before - 1  # the part's file went with the upload
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket="lcb", Key="tmp/a", UploadId=ups["tmp/a"])
    assert code(e) == "NoSuchUpload"


def test_tag_and_size_filters(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_object(Bucket="lcb", Key="days1/tom", Body=b"t", Tagging="tom=sawyer")
    s3.put_object(Bucket="lcb", Key="days1/huck", Body=b"h", Tagging="tom=sawyer&huck=finn")
    s3.put_object(Bucket="lcb", Key="days1/none", Body=b"n")
    s3.put_object(Bucket="lcb", Key="big", Body=b"b" * 2000)
    s3.put_object(Bucket="lcb", Key="small", Body=b"s" * 10)
    s3.put_object(Bucket="lcb", Key="mid", Body=b"m" * 500)
    put_lc(s3, "lcb", [
        {"ID": "and", "Status": "Enabled", "Expiration": {"Days": 1},
         "Filter": {"And": {"Prefix": "days1/", "Tags": [{"Key": "huck", "Value": "finn"},
                                                          {"Key": "tom", "Value": "sawyer"}]}}},
        {"ID": "gt", "Status": "Enabled", "Expiration": {"Days": 1},
         "Filter": {"ObjectSizeGreaterThan": 1000}},
        {"ID": "lt", "Status": "Enabled", "Expiration": {"Days": 1},
         "Filter": {"ObjectSizeLessThan": 100}}])
    n = run_pass(server, days=2, hours=1)
    # huck (both tags); big (> 1000); small, tom, none (< 100: tiny bodies) -- mid stays
    assert keys(s3, "lcb") == ["mid"] and n["expired"] == 5
    s3.put_object(Bucket="lcb", Key="days1/tom", Body=b"t" * 200, Tagging="tom=sawyer")
    put_lc(s3, "lcb", [{"ID": "tag", "Status": "Enabled", "Expiration": {"Days": 1},
                       "Filter": {"Tag": {"Key": "tom", "Value": "sawyer"}}}])
    assert run_pass(server, days=2, hours=1)["expired"] == 1
    assert keys(s3, "lcb") == ["mid"]


def test_metrics_and_log(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_object(Bucket="lcb", Key="a", Body=b"x")
    put_lc(s3, "lcb", [{"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}])
    run_pass(server, days=3)
    m = requests.get(server.endpoint + "/metrics").text
    assert 'tessera_lifecycle_actions_total{action="expired"} 1' in m
    assert "tessera_lifecycle_passes_total 1" in m
    assert '"event":"lifecycle.pass"' in server.read_log()


def test_background_task(tmp_root):
    """The periodic task (real clock): a rule whose Date has passed is carried out without any
    admin call."""
    srv = Server(os.path.join(tmp_root, "data"), env={"TESSERA_LIFECYCLE_INTERVAL": "1"})
    srv.start()
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="lcb")
        s3.put_object(Bucket="lcb", Key="old/a", Body=b"x")
        s3.put_object(Bucket="lcb", Key="new/a", Body=b"x")
        put_lc(s3, "lcb", [{"ID": "r", "Prefix": "old/", "Status": "Enabled",
                           "Expiration": {"Date": "2015-01-01"}}])
        deadline = time.time() + 15
        while keys(s3, "lcb") != ["new/a"] and time.time() < deadline:
            time.sleep(0.2)
        assert keys(s3, "lcb") == ["new/a"]
    finally:
        assert srv.stop() == 0  # SIGTERM stops the task promptly


def test_kill9_during_pass(tmp_root):
    """kill -9 while a pass deletes: after the restart every object is there or expired, the
    metadata is consistent, and the next pass leaves no data file behind."""
    srv = Server(os.path.join(tmp_root, "data"), env={"TESSERA_LIFECYCLE_INTERVAL": "0"})
    srv.start()
    n = 400
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="lcb")
        s3.put_bucket_versioning(Bucket="lcb", VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket="plain")
        for i in range(n):
            s3.put_object(Bucket="plain", Key="k%04d" % i, Body=b"x%d" % i)
            if i % 4 == 0:
                s3.put_object(Bucket="lcb", Key="v%03d" % i, Body=b"1")
                s3.put_object(Bucket="lcb", Key="v%03d" % i, Body=b"2")
        rules = [{"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1},
                  "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]
        put_lc(s3, "plain", rules)
        put_lc(s3, "lcb", rules)
        when = iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3))
        env = dict(os.environ, TESSERA_ENDPOINT=srv.endpoint, TESSERA_ACCESS_KEY=srv.root_user,
                   TESSERA_SECRET_KEY=srv.root_password)
        p = subprocess.Popen([srv.bin, "admin", "lifecycle", "run", "--now", when], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while len(keys(s3, "plain")) == n and time.time() < deadline:
            time.sleep(0.01)
    finally:
        srv.stop(signal.SIGKILL)
        p.wait(timeout=30)
    srv = Server(os.path.join(tmp_root, "data"), env={"TESSERA_LIFECYCLE_INTERVAL": "0"})
    srv.start()
    try:
        s3 = s3_client(srv)
        left = keys(s3, "plain")
        assert len(left) < n
        for k in left:  # each remaining object reads whole
            i = int(k[1:])
            assert s3.get_object(Bucket="plain", Key=k)["Body"].read() == b"x%d" % i
        for k in ("k%04d" % i for i in range(n)):
            if k not in left:
                with pytest.raises(botocore.exceptions.ClientError) as e:
                    s3.head_object(Bucket="plain", Key=k)
                assert status(e) == 404
        after = run_pass(srv, days=3)
        assert after["errors"] == 0
        assert keys(s3, "plain") == [] and keys(s3, "lcb") == []
        vs, dms = versions(s3, "lcb")
        # the markers the expirations added are the only versions left as of +3 days: gone too
        assert vs == [] and dms == []
        assert data_files(srv) == 0
    finally:
        srv.stop()


def test_gateway_passes_through(gw, upstream):  # noqa: F811
    """The gateway forwards the three operations (authorized with their actions) to its
    upstream, which keeps and runs the configuration."""
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="lcb")
    rules = [{"ID": "g", "Filter": {"Prefix": "x/"}, "Status": "Enabled",
              "Expiration": {"Days": 3}}]
    put_lc(s3, "lcb", rules)
    assert s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"] == rules
    assert s3_client(upstream).get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"] == rules
    s3.delete_bucket_lifecycle(Bucket="lcb")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code(e) == "NoSuchLifecycleConfiguration"
    p = admin(gw, "lifecycle", "run", check=False)
    assert p.returncode != 0 and "NotImplemented" in p.stderr


def test_locked_versions_outlive_their_rules(server):
    """Lifecycle removes versions only through the store's delete, so object lock protects
    them from it too: a pass (even as of a later day) skips a version under retention or a
    legal hold, and removes it once unprotected. Lock times are the server's real clock."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcl", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="lcl", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    old = s3.put_object(Bucket="lcl", Key="k", Body=b"old")["VersionId"]
    held = s3.put_object(Bucket="lcl", Key="h", Body=b"held",
                         ObjectLockLegalHoldStatus="ON")["VersionId"]
    s3.put_object_retention(Bucket="lcl", Key="h", VersionId=held, BypassGovernanceRetention=True,
                            Retention={})
    s3.put_object(Bucket="lcl", Key="k", Body=b"new")
    s3.put_object(Bucket="lcl", Key="h", Body=b"newer")
    put_lc(s3, "lcl", [{"ID": "nc", "Filter": {"Prefix": ""}, "Status": "Enabled",
                       "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}])
    n = run_pass(server, days=3)
    assert n["noncurrentExpired"] == 0 and n["skipped"] == 2 and n["errors"] == 0
    vs, _ = versions(s3, "lcl")
    assert {old, held} <= {v["VersionId"] for v in vs}
    # Unprotected: the retention removed with the bypass, the legal hold lifted.
    s3.put_object_retention(Bucket="lcl", Key="k", VersionId=old, BypassGovernanceRetention=True,
                            Retention={})
    s3.put_object_legal_hold(Bucket="lcl", Key="h", VersionId=held, LegalHold={"Status": "OFF"})
    n = run_pass(server, days=3)
    assert n["noncurrentExpired"] == 2 and n["errors"] == 0
    vs, _ = versions(s3, "lcl")
    assert not {old, held} & {v["VersionId"] for v in vs}


# ---- x-amz-expiration: what the rules say of an object, on PUT/COPY/complete/HEAD/GET ----

def exp_header(resp):
    """The x-amz-expiration value of a boto3 response, or None."""
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-expiration")


def parse_exp(value):
    """(expiry instant, rule id) of an x-amz-expiration value, checking AWS's form."""
    import email.utils
    import re
    import urllib.parse
    m = re.fullmatch(r'expiry-date="([^"]+ GMT)", rule-id="([^"]*)"', value)
    assert m, value
    when = email.utils.parsedate_to_datetime(m.group(1))
    assert when.tzinfo is not None and (when.hour, when.minute, when.second) == (0, 0, 0)
    return when, urllib.parse.unquote(m.group(2))


def due(last_modified, days):
    """AWS's rounding: the first midnight UTC at or after last_modified + days."""
    t = last_modified.astimezone(datetime.timezone.utc) + datetime.timedelta(days=days)
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == t else midnight + datetime.timedelta(days=1)


def assert_exp(resp, rule_id, last_modified, days):
    when, rid = parse_exp(exp_header(resp))
    assert rid == rule_id
    assert when == due(last_modified, days), (when, last_modified)


def test_expiration_header_put_head_get(server):
    """As ceph's s3-tests test_lifecycle_expiration_header_put/_head check it: after PUT, on
    HEAD and GET (a range too), for a key the rule's prefix matches; none for another key."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    put_lc(s3, "lcb", [{"ID": "rule1", "Expiration": {"Days": 1}, "Prefix": "days1/",
                        "Status": "Enabled"}])
    now = datetime.datetime.now()
    r = s3.put_object(Bucket="lcb", Key="days1/foo", Body=b"bar")
    h = s3.head_object(Bucket="lcb", Key="days1/foo")
    lm = h["LastModified"]
    assert_exp(r, "rule1", lm, 1)
    assert r["Expiration"] == exp_header(r)  # boto3 reads it as the Expiration field
    # ceph's check: (expiry - now).days == 1, with now taken before the PUT
    assert (parse_exp(exp_header(r))[0].replace(tzinfo=None) - now).days == 1
    assert_exp(h, "rule1", lm, 1)
    g = s3.get_object(Bucket="lcb", Key="days1/foo")
    assert g["Body"].read() == b"bar"
    assert_exp(g, "rule1", lm, 1)
    g = s3.get_object(Bucket="lcb", Key="days1/foo", Range="bytes=0-0")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert_exp(g, "rule1", lm, 1)
    r = s3.put_object(Bucket="lcb", Key="other/foo", Body=b"bar")
    assert exp_header(r) is None and "Expiration" not in r
    assert exp_header(s3.head_object(Bucket="lcb", Key="other/foo")) is None
    assert exp_header(s3.get_object(Bucket="lcb", Key="other/foo")) is None


def test_expiration_header_copy_and_complete(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    put_lc(s3, "lcb", [{"ID": "d/", "Filter": {"Prefix": "d/"}, "Status": "Enabled",
                        "Expiration": {"Days": 3}}])
    s3.put_object(Bucket="lcb", Key="src", Body=b"x" * 10)
    r = s3.copy_object(Bucket="lcb", Key="d/copy", CopySource={"Bucket": "lcb", "Key": "src"})
    assert_exp(r, "d/", s3.head_object(Bucket="lcb", Key="d/copy")["LastModified"], 3)
    assert exp_header(s3.copy_object(Bucket="lcb", Key="e/copy",
                                     CopySource={"Bucket": "lcb", "Key": "src"})) is None
    up = s3.create_multipart_upload(Bucket="lcb", Key="d/mp")["UploadId"]
    e = s3.upload_part(Bucket="lcb", Key="d/mp", UploadId=up, PartNumber=1, Body=b"y" * 100)
    r = s3.complete_multipart_upload(Bucket="lcb", Key="d/mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e["ETag"]}]})
    assert_exp(r, "d/", s3.head_object(Bucket="lcb", Key="d/mp")["LastModified"], 3)
    assert r["Expiration"] == exp_header(r)


def test_expiration_header_tags(server):
    """ceph's test_lifecycle_expiration_header_tags_head and _and_tags_head: a Tag filter
    matches the object's current tags (set after the PUT); an And of two tags needs both."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    put_lc(s3, "lcb", [{"Filter": {"Tag": {"Key": "key1", "Value": "tag1"}}, "Status": "Enabled",
                        "Expiration": {"Days": 1}, "ID": "rule1"}])
    r = s3.put_object(Bucket="lcb", Key="obj_key1", Body=b"obj_key1_body")
    assert exp_header(r) is None  # no tags yet
    s3.put_object_tagging(Bucket="lcb", Key="obj_key1", Tagging={"TagSet": [
        {"Key": "key1", "Value": "tag1"}, {"Key": "key5", "Value": "tag5"}]})
    h = s3.head_object(Bucket="lcb", Key="obj_key1")
    assert_exp(h, "rule1", h["LastModified"], 1)
    put_lc(s3, "lcb", [{"Filter": {"Tag": {"Key": "key2", "Value": "tag1"}}, "Status": "Enabled",
                        "Expiration": {"Days": 1}, "ID": "rule1"}])
    assert exp_header(s3.head_object(Bucket="lcb", Key="obj_key1")) is None
    put_lc(s3, "lcb", [{"Filter": {"And": {"Tags": [{"Key": "key1", "Value": "tag1"},
                                                    {"Key": "key5", "Value": "tag6"}]}},
                        "Status": "Enabled", "Expiration": {"Days": 1}, "ID": "rule1"}])
    assert exp_header(s3.head_object(Bucket="lcb", Key="obj_key1")) is None
    put_lc(s3, "lcb", [{"Filter": {"And": {"Prefix": "obj_", "Tags": [
        {"Key": "key1", "Value": "tag1"}, {"Key": "key5", "Value": "tag5"}]}},
                        "Status": "Enabled", "Expiration": {"Days": 2}, "ID": "both"}])
    assert_exp(s3.head_object(Bucket="lcb", Key="obj_key1"), "both", h["LastModified"], 2)
    # tags given with the PUT itself count for the PUT's answer
    r = s3.put_object(Bucket="lcb", Key="obj_key2", Body=b"x", Tagging="key1=tag1&key5=tag5")
    assert parse_exp(exp_header(r))[1] == "both"


def test_expiration_header_size_date_earliest(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    put_lc(s3, "lcb", [
        {"ID": "big", "Filter": {"ObjectSizeGreaterThan": 5}, "Status": "Enabled",
         "Expiration": {"Days": 10}},
        {"ID": "future date", "Filter": {"Prefix": "dated/"}, "Status": "Enabled",
         "Expiration": {"Date": "2099-01-01"}},
        {"ID": "past/date", "Filter": {"Prefix": "dated/past"}, "Status": "Enabled",
         "Expiration": {"Date": "2015-01-01"}},
        {"ID": "off", "Filter": {"Prefix": "off/"}, "Status": "Disabled",
         "Expiration": {"Days": 1}},
        {"ID": "nc", "Filter": {"Prefix": "off/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    ])
    assert exp_header(s3.put_object(Bucket="lcb", Key="small", Body=b"12345")) is None
    r = s3.put_object(Bucket="lcb", Key="large", Body=b"123456")
    assert_exp(r, "big", s3.head_object(Bucket="lcb", Key="large")["LastModified"], 10)
    r = s3.put_object(Bucket="lcb", Key="dated/a", Body=b"1")
    assert parse_exp(exp_header(r)) == (
        datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc), "future date")
    # several rules match: the earliest expiry wins (the size rule, before 2099)
    r = s3.put_object(Bucket="lcb", Key="dated/b", Body=b"123456")
    assert parse_exp(exp_header(r))[1] == "big"
    # a Date already past is still the expiry AWS announces (the next pass removes it);
    # the rule id is URL-encoded in the header (AWS)
    r = s3.put_object(Bucket="lcb", Key="dated/past", Body=b"123456")
    assert exp_header(r) == 'expiry-date="Thu, 01 Jan 2015 00:00:00 GMT", rule-id="past%2Fdate"'
    # disabled rules and rules without Expiration say nothing
    assert exp_header(s3.put_object(Bucket="lcb", Key="off/a", Body=b"1")) is None
    assert exp_header(s3.head_object(Bucket="lcb", Key="off/a")) is None


def test_expiration_header_follows_configuration_writes(server):
    """The parsed rules are cached with the bucket's configuration: a new configuration, its
    deletion, and the bucket's deletion and re-creation are seen by the next request."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_object(Bucket="lcb", Key="k", Body=b"1")
    assert exp_header(s3.head_object(Bucket="lcb", Key="k")) is None
    put_lc(s3, "lcb", [{"ID": "one", "Filter": {}, "Status": "Enabled",
                        "Expiration": {"Days": 1}}])
    assert parse_exp(exp_header(s3.head_object(Bucket="lcb", Key="k")))[1] == "one"
    put_lc(s3, "lcb", [{"ID": "two", "Filter": {}, "Status": "Enabled",
                        "Expiration": {"Days": 2}}])
    assert parse_exp(exp_header(s3.head_object(Bucket="lcb", Key="k")))[1] == "two"
    put_lc(s3, "lcb", [{"ID": "two", "Filter": {}, "Status": "Disabled",
                        "Expiration": {"Days": 2}}])
    assert exp_header(s3.head_object(Bucket="lcb", Key="k")) is None
    put_lc(s3, "lcb", [{"ID": "three", "Filter": {}, "Status": "Enabled",
                        "Expiration": {"Days": 3}}])
    assert parse_exp(exp_header(s3.get_object(Bucket="lcb", Key="k")))[1] == "three"
    s3.delete_bucket_lifecycle(Bucket="lcb")
    assert exp_header(s3.head_object(Bucket="lcb", Key="k")) is None
    assert exp_header(s3.get_object(Bucket="lcb", Key="k")) is None
    put_lc(s3, "lcb", [{"ID": "four", "Filter": {}, "Status": "Enabled",
                        "Expiration": {"Days": 4}}])
    assert parse_exp(exp_header(s3.head_object(Bucket="lcb", Key="k")))[1] == "four"
    s3.delete_object(Bucket="lcb", Key="k")
    s3.delete_bucket(Bucket="lcb")
    s3.create_bucket(Bucket="lcb")  # the configuration went with the bucket
    assert exp_header(s3.put_object(Bucket="lcb", Key="k", Body=b"1")) is None
    assert exp_header(s3.head_object(Bucket="lcb", Key="k")) is None


def test_expiration_header_versions(server):
    """Only the current version is announced: HEAD/GET naming it by its id answer the header,
    a noncurrent version and a delete marker do not."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="lcb")
    s3.put_bucket_versioning(Bucket="lcb", VersioningConfiguration={"Status": "Enabled"})
    put_lc(s3, "lcb", [{"ID": "cur", "Filter": {}, "Status": "Enabled",
                        "Expiration": {"Days": 1},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}])
    v1 = s3.put_object(Bucket="lcb", Key="k", Body=b"1")
    assert parse_exp(exp_header(v1))[1] == "cur"
    v2 = s3.put_object(Bucket="lcb", Key="k", Body=b"2")
    assert parse_exp(exp_header(v2))[1] == "cur"
    cur = s3.head_object(Bucket="lcb", Key="k", VersionId=v2["VersionId"])
    assert_exp(cur, "cur", cur["LastModified"], 1)
    assert exp_header(s3.head_object(Bucket="lcb", Key="k", VersionId=v1["VersionId"])) is None
    assert exp_header(s3.get_object(Bucket="lcb", Key="k", VersionId=v1["VersionId"])) is None
    dm = s3.delete_object(Bucket="lcb", Key="k")
    assert dm["DeleteMarker"] and exp_header(dm) is None
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="lcb", Key="k")
    assert "x-amz-expiration" not in e.value.response["ResponseMetadata"]["HTTPHeaders"]
    # v2 is noncurrent now
    assert exp_header(s3.head_object(Bucket="lcb", Key="k", VersionId=v2["VersionId"])) is None


NEWER_EXP = r"""
import sys, boto3, botocore.config
ep, ak, sk = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="lcn")
s3.put_bucket_lifecycle_configuration(Bucket="lcn", LifecycleConfiguration={"Rules": [
    {"ID": "n", "Filter": {"Prefix": "t/"}, "Status": "Enabled", "Expiration": {"Days": 2}}]})
r = s3.put_object(Bucket="lcn", Key="t/a", Body=b"x" * 100)
assert r["Expiration"].endswith('rule-id="n"'), r
assert s3.head_object(Bucket="lcn", Key="t/a")["Expiration"] == r["Expiration"]
g = s3.get_object(Bucket="lcn", Key="t/a", ChecksumMode="ENABLED")
assert g["Expiration"] == r["Expiration"] and g["Body"].read() == b"x" * 100
assert "Expiration" not in s3.put_object(Bucket="lcn", Key="u/a", Body=b"x")
s3.delete_bucket_lifecycle(Bucket="lcn")
assert "Expiration" not in s3.head_object(Bucket="lcn", Key="t/a")
print("ok")
"""


def test_expiration_header_newer_boto3(server):
    assert run_newer_boto3(server, NEWER_EXP).strip() == "ok"


def test_expiration_header_through_gateway(gw, upstream):  # noqa: F811
    """The gateway keeps no lifecycle of its own: it relays the upstream's x-amz-expiration
    (every x-amz-* response header but the request ids is relayed), here a tessera's."""
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="lcb")
    put_lc(s3, "lcb", [{"ID": "g", "Filter": {"Prefix": "x/"}, "Status": "Enabled",
                        "Expiration": {"Days": 3}}])
    r = s3.put_object(Bucket="lcb", Key="x/a", Body=b"1")
    lm = s3_client(upstream).head_object(Bucket="lcb", Key="x/a")["LastModified"]
    assert_exp(r, "g", lm, 3)
    assert_exp(s3.head_object(Bucket="lcb", Key="x/a"), "g", lm, 3)
    assert_exp(s3.get_object(Bucket="lcb", Key="x/a"), "g", lm, 3)
    assert exp_header(s3.put_object(Bucket="lcb", Key="y/a", Body=b"1")) is None
