"""Issue 18 feature 5: conditional writes in the embedded store, as AWS.

If-None-Match: * and If-Match: "etag" on PutObject, CopyObject (the destination) and
CompleteMultipartUpload: 412 PreconditionFailed when the condition does not hold, 404 NoSuchKey
for If-Match on a missing key, 501 NotImplemented for an If-None-Match other than *, the check
atomic with the commit (concurrent create-only writes of one key: exactly one wins), nothing
stored changed by a refused write (its data file removed), the s3:if-match / s3:if-none-match
condition keys and s3:GetObject for If-Match. With Debian's boto3 (headers added by an event
hook: its model predates the parameters), pyenv's boto3 (IfNoneMatch / IfMatch parameters),
the newer aws cli and raw signed requests for the error shapes."""
import json
import os
import textwrap
import threading
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

from conftest import admin, aws, newer_aws_cli, run_newer_boto3, s3_client

PART = 5 * 1024 * 1024


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"]


def with_headers(s3, **hdrs):
    """Debian's boto3 has no IfNoneMatch / IfMatch parameters: headers added before signing."""
    def add(request, **kwargs):
        for k, v in hdrs.items():
            request.headers[k] = v
    s3.meta.events.register("before-sign.s3.*", add)
    return s3


def client(server, ak=None, sk=None, **hdrs):
    return with_headers(s3_client(server, ak=ak, sk=sk), **hdrs)


def signed(server, method, path, headers=None, body=b""):
    """A raw SigV4-signed request (root credentials): the error documents as sent."""
    url = server.endpoint + path
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                         headers=dict(headers or {}))
    creds = botocore.credentials.Credentials(server.root_user, server.root_password)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return requests.request(method, url, headers=dict(req.headers.items()), data=body,
                            timeout=60)


def data_files(server):
    n = 0
    for _, _, files in os.walk(os.path.join(server.data_dir, ".tessera", "objects")):
        n += len(files)
    return n


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def make_user(server, tmp_path, user, secret, statements):
    admin(server, "user", "add", user, secret)
    pol = tmp_path / (user + ".json")
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    admin(server, "policy", "create", user + "-pol", str(pol))
    admin(server, "policy", "attach", user + "-pol", "--user", user)


# ---- PutObject ----

def test_put_if_none_match(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cwb")
    cond = client(server, **{"If-None-Match": "*"})
    r = cond.put_object(Bucket="cwb", Key="k", Body=b"first")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    files = data_files(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cond.put_object(Bucket="cwb", Key="k", Body=b"second")
    assert err(e) == (412, "PreconditionFailed")
    assert body(s3, "cwb", "k") == b"first"
    assert data_files(server) == files, "the refused write's data file is removed"
    # Once the key is deleted, a create-only write succeeds again.
    s3.delete_object(Bucket="cwb", Key="k")
    cond.put_object(Bucket="cwb", Key="k", Body=b"third")
    assert body(s3, "cwb", "k") == b"third"


def test_put_if_match(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cwb")
    etag = s3.put_object(Bucket="cwb", Key="k", Body=b"v1")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-Match": '"0123456789abcdef0123456789abcdef"'}).put_object(
            Bucket="cwb", Key="k", Body=b"nope")
    assert err(e) == (412, "PreconditionFailed")
    assert body(s3, "cwb", "k") == b"v1"
    # The ETag as S3 accepts it: quoted, unquoted, or with one quote.
    etag2 = client(server, **{"If-Match": etag}).put_object(Bucket="cwb", Key="k", Body=b"v2")["ETag"]
    etag3 = client(server, **{"If-Match": etag2.strip('"')}).put_object(
        Bucket="cwb", Key="k", Body=b"v3")["ETag"]
    client(server, **{"If-Match": etag3[1:]}).put_object(Bucket="cwb", Key="k", Body=b"v4")
    assert body(s3, "cwb", "k") == b"v4"
    # A stale ETag: 412.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-Match": etag}).put_object(Bucket="cwb", Key="k", Body=b"v5")
    assert err(e) == (412, "PreconditionFailed")
    # A missing key: 404 NoSuchKey (AWS), nothing written.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-Match": etag}).put_object(Bucket="cwb", Key="missing", Body=b"x")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="cwb", Key="missing")


def test_error_shapes(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cwb")
    s3.put_object(Bucket="cwb", Key="k", Body=b"v1")
    r = signed(server, "PUT", "/cwb/k", {"If-None-Match": "*"}, b"v2")
    assert r.status_code == 412
    doc = ET.fromstring(r.content)
    assert doc.find("Code").text == "PreconditionFailed"
    assert doc.find("Message").text.startswith("At least one of the pre-conditions")
    assert doc.find("Key").text == "k" and doc.find("BucketName").text == "cwb"
    # If-None-Match with an ETag (or anything but *): 501 NotImplemented, nothing stored.
    for v in ('"0123456789abcdef0123456789abcdef"', "abc", "*, *"):
        r = signed(server, "PUT", "/cwb/new", {"If-None-Match": v}, b"x")
        assert r.status_code == 501, (v, r.text)
        assert ET.fromstring(r.content).find("Code").text == "NotImplemented"
    r = signed(server, "PUT", "/cwb/new", {"If-None-Match": "*"}, b"x")
    assert r.status_code == 200
    r = signed(server, "PUT", "/cwb/absent", {"If-Match": '"abc"'}, b"x")
    assert r.status_code == 404 and ET.fromstring(r.content).find("Code").text == "NoSuchKey"
    # Fail fast: a refused create-only PUT is answered before its body is read.
    r = signed(server, "PUT", "/cwb/k", {"If-None-Match": "*"}, b"y" * (1 << 20))
    assert r.status_code == 412


# ---- CompleteMultipartUpload ----

def upload_parts(s3, bucket, key, n=2):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for i in range(1, n + 1):
        data = bytes([64 + i]) * (PART if i < n else 10)
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=data)["ETag"]
        parts.append({"PartNumber": i, "ETag": etag})
    return up, {"Parts": parts}


def test_complete_if_none_match(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cwb")
    up, parts = upload_parts(s3, "cwb", "mp")
    # An upload in progress is no object: a conditional PUT may take the key first.
    client(server, **{"If-None-Match": "*"}).put_object(Bucket="cwb", Key="mp", Body=b"put won")
    files = data_files(server)
    cond = client(server, **{"If-None-Match": "*"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cond.complete_multipart_upload(Bucket="cwb", Key="mp", UploadId=up, MultipartUpload=parts)
    assert err(e) == (412, "PreconditionFailed")
    assert body(s3, "cwb", "mp") == b"put won"
    assert data_files(server) == files, "the refused concatenation is removed"
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="cwb").get("Uploads", [])] == [up]
    # On a new key it completes.
    up2, parts2 = upload_parts(s3, "cwb", "mp2")
    r = cond.complete_multipart_upload(Bucket="cwb", Key="mp2", UploadId=up2, MultipartUpload=parts2)
    assert r["ETag"].endswith('-2"')
    assert len(body(s3, "cwb", "mp2")) == PART + 10


def test_complete_if_match_checked_at_completion(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cwb")
    etag_a = s3.put_object(Bucket="cwb", Key="mp", Body=b"A")["ETag"]
    up, parts = upload_parts(s3, "cwb", "mp")
    # The object changes after the upload started: If-Match on the old ETag fails at completion.
    etag_b = s3.put_object(Bucket="cwb", Key="mp", Body=b"B")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-Match": etag_a}).complete_multipart_upload(
            Bucket="cwb", Key="mp", UploadId=up, MultipartUpload=parts)
    assert err(e) == (412, "PreconditionFailed")
    assert body(s3, "cwb", "mp") == b"B"
    r = client(server, **{"If-Match": etag_b}).complete_multipart_upload(
        Bucket="cwb", Key="mp", UploadId=up, MultipartUpload=parts)
    assert r["ETag"].endswith('-2"')
    # A retry of that completion (a lost answer) answers the same, though the key now exists.
    again = client(server, **{"If-Match": etag_b}).complete_multipart_upload(
        Bucket="cwb", Key="mp", UploadId=up, MultipartUpload=parts)
    assert again["ETag"] == r["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        up3, parts3 = upload_parts(s3, "cwb", "nokey")
        client(server, **{"If-Match": etag_b}).complete_multipart_upload(
            Bucket="cwb", Key="nokey", UploadId=up3, MultipartUpload=parts3)
    assert err(e) == (404, "NoSuchKey")


# ---- CopyObject (the destination) ----

def test_copy_destination(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cwb")
    s3.put_object(Bucket="cwb", Key="src", Body=b"source")
    dst_etag = s3.put_object(Bucket="cwb", Key="dst", Body=b"dest")["ETag"]
    src = {"Bucket": "cwb", "Key": "src"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-None-Match": "*"}).copy_object(Bucket="cwb", Key="dst", CopySource=src)
    assert err(e) == (412, "PreconditionFailed")
    assert body(s3, "cwb", "dst") == b"dest"
    client(server, **{"If-None-Match": "*"}).copy_object(Bucket="cwb", Key="new", CopySource=src)
    assert body(s3, "cwb", "new") == b"source"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-Match": '"ffffffffffffffffffffffffffffffff"'}).copy_object(
            Bucket="cwb", Key="dst", CopySource=src)
    assert err(e) == (412, "PreconditionFailed")
    client(server, **{"If-Match": dst_etag}).copy_object(Bucket="cwb", Key="dst", CopySource=src)
    assert body(s3, "cwb", "dst") == b"source"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-Match": dst_etag}).copy_object(Bucket="cwb", Key="gone",
                                                             CopySource=src)
    assert err(e) == (404, "NoSuchKey")


# ---- the race: the check is atomic with the commit ----

def test_race_put(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="race")
    for rnd in range(3):
        key = "k%d" % rnd
        results = {}
        go = threading.Barrier(12)

        def racer(i):
            c = client(server, **{"If-None-Match": "*"})
            go.wait()
            try:
                c.put_object(Bucket="race", Key=key, Body=b"racer %d" % i + b"x" * 100000)
                results[i] = 200
            except botocore.exceptions.ClientError as ex:
                results[i] = err_status(ex)

        ths = [threading.Thread(target=racer, args=(i,)) for i in range(12)]
        [t.start() for t in ths]
        [t.join() for t in ths]
        winners = [i for i, s in results.items() if s == 200]
        assert len(winners) == 1, results
        assert all(s in (409, 412) for i, s in results.items() if i not in winners), results
        assert body(s3, "race", key).startswith(b"racer %d" % winners[0])


def err_status(ex):
    return ex.response["ResponseMetadata"]["HTTPStatusCode"]


def test_race_put_and_complete(server):
    """Create-only PUTs against a create-only completion of the same key: exactly one wins."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="race")
    for rnd in range(3):
        key = "mp%d" % rnd
        up, parts = upload_parts(s3, "race", key)
        results = {}
        go = threading.Barrier(6)

        def putter(i):
            c = client(server, **{"If-None-Match": "*"})
            go.wait()
            try:
                c.put_object(Bucket="race", Key=key, Body=b"put %d" % i)
                results[i] = 200
            except botocore.exceptions.ClientError as ex:
                results[i] = err_status(ex)

        def completer():
            c = client(server, **{"If-None-Match": "*"})
            go.wait()
            try:
                c.complete_multipart_upload(Bucket="race", Key=key, UploadId=up,
                                            MultipartUpload=parts)
                results["mp"] = 200
            except botocore.exceptions.ClientError as ex:
                results["mp"] = err_status(ex)

        ths = [threading.Thread(target=putter, args=(i,)) for i in range(5)]
        ths.append(threading.Thread(target=completer))
        [t.start() for t in ths]
        [t.join() for t in ths]
        winners = [i for i, s in results.items() if s == 200]
        assert len(winners) == 1, results
        assert all(s in (409, 412) for i, s in results.items() if i not in winners), results
        got = body(s3, "race", key)
        if winners == ["mp"]:
            assert len(got) == PART + 10
        else:
            assert got == b"put %d" % winners[0]


# ---- IAM ----

def test_condition_keys_and_get_object_for_if_match(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="enf")
    etag = s3.put_object(Bucket="enf", Key="existing", Body=b"e")["ETag"]
    # AWS's "enforce conditional writes" policy: PutObject only with If-None-Match.
    make_user(server, tmp_path, "creator", "creator-secret-1", [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::enf/*",
         "Condition": {"Null": {"s3:if-none-match": "false"}}},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::enf"}])
    plain = s3_client(server, ak="creator", sk="creator-secret-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        plain.put_object(Bucket="enf", Key="a", Body=b"x")
    assert err(e) == (403, "AccessDenied")
    cond = client(server, ak="creator", sk="creator-secret-1", **{"If-None-Match": "*"})
    cond.put_object(Bucket="enf", Key="a", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cond.put_object(Bucket="enf", Key="a", Body=b"y")
    assert err(e) == (412, "PreconditionFailed")
    # If-Match: s3:PutObject and s3:GetObject (AWS), and the s3:if-match key.
    make_user(server, tmp_path, "writer", "writer-secret-1", [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::enf/*"}])
    w = client(server, ak="writer", sk="writer-secret-1", **{"If-Match": etag})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        w.put_object(Bucket="enf", Key="existing", Body=b"w")
    assert err(e) == (403, "AccessDenied")
    make_user(server, tmp_path, "updater", "updater-secret-1", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": "arn:aws:s3:::enf/*",
         "Condition": {"StringEquals": {"s3:if-match": etag}}}])
    u = client(server, ak="updater", sk="updater-secret-1", **{"If-Match": etag})
    u.put_object(Bucket="enf", Key="existing", Body=b"u")
    with pytest.raises(botocore.exceptions.ClientError) as e:  # the condition key no longer holds
        client(server, ak="updater", sk="updater-secret-1", **{"If-Match": '"other"'}).put_object(
            Bucket="enf", Key="existing", Body=b"v")
    assert err(e) == (403, "AccessDenied")
    # A missing key named by If-Match: 403 without s3:ListBucket (the existence rule).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        u.put_object(Bucket="enf", Key="nope", Body=b"u")
    assert err(e) == (403, "AccessDenied")


# ---- the newer SDK and the aws cli ----

PYENV_SCRIPT = textwrap.dedent("""
    import sys, boto3, botocore.config, botocore.exceptions
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                      aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"},
                                                    retries={"max_attempts": 1}))
    def code(f):
        try:
            f()
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]
        return "ok"
    s3.create_bucket(Bucket="newer")
    e1 = s3.put_object(Bucket="newer", Key="k", Body=b"x" * 100000, IfNoneMatch="*")["ETag"]
    assert code(lambda: s3.put_object(Bucket="newer", Key="k", Body=b"y", IfNoneMatch="*")) \\
        == "PreconditionFailed"
    e2 = s3.put_object(Bucket="newer", Key="k", Body=b"z", IfMatch=e1)["ETag"]
    assert code(lambda: s3.put_object(Bucket="newer", Key="k", Body=b"w", IfMatch=e1)) \\
        == "PreconditionFailed"
    assert code(lambda: s3.put_object(Bucket="newer", Key="none", Body=b"w", IfMatch=e1)) \\
        == "NoSuchKey"
    up = s3.create_multipart_upload(Bucket="newer", Key="k")["UploadId"]
    p = s3.upload_part(Bucket="newer", Key="k", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    mpu = {"Parts": [{"PartNumber": 1, "ETag": p}]}
    assert code(lambda: s3.complete_multipart_upload(Bucket="newer", Key="k", UploadId=up,
                MultipartUpload=mpu, IfNoneMatch="*")) == "PreconditionFailed"
    s3.complete_multipart_upload(Bucket="newer", Key="k", UploadId=up, MultipartUpload=mpu,
                                 IfMatch=e2)
    assert code(lambda: s3.copy_object(Bucket="newer", Key="k", IfNoneMatch="*",
                CopySource={"Bucket": "newer", "Key": "k"},
                MetadataDirective="REPLACE")) == "PreconditionFailed"
    assert s3.get_object(Bucket="newer", Key="k")["Body"].read() == b"p"
    print("ok")
""")


def test_newer_boto3(server):
    """pyenv's boto3: IfNoneMatch / IfMatch parameters (and aws-chunked uploads)."""
    assert "ok" in run_newer_boto3(server, PYENV_SCRIPT, timeout=120)


def test_aws_cli(server, tmp_path):
    cli = newer_aws_cli()
    if cli is None:
        pytest.skip("no aws cli with --if-none-match")
    f = tmp_path / "f"
    f.write_bytes(b"cli")
    aws(server, "s3api", "create-bucket", "--bucket", "cli", aws_bin=cli)
    aws(server, "s3api", "put-object", "--bucket", "cli", "--key", "k", "--body", str(f),
        "--if-none-match", "*", aws_bin=cli)
    p = aws(server, "s3api", "put-object", "--bucket", "cli", "--key", "k", "--body", str(f),
            "--if-none-match", "*", aws_bin=cli, check=False)
    assert p.returncode != 0 and "PreconditionFailed" in p.stderr
    p = aws(server, "s3api", "put-object", "--bucket", "cli", "--key", "k", "--body", str(f),
            "--if-match", '"0000"', aws_bin=cli, check=False)
    assert p.returncode != 0 and "PreconditionFailed" in p.stderr


# ---- with versioning: the condition is checked against the current version ----

def test_versioned_bucket_current_version(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cwver")
    s3.put_bucket_versioning(Bucket="cwver", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="cwver", Key="k", Body=b"one")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-None-Match": "*"}).put_object(Bucket="cwver", Key="k", Body=b"x")
    assert err(e) == (412, "PreconditionFailed")
    v2 = client(server, **{"If-Match": v1["ETag"]}).put_object(Bucket="cwver", Key="k",
                                                                Body=b"two")
    assert v2["VersionId"] != v1["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:  # an older version's ETag
        client(server, **{"If-Match": v1["ETag"]}).put_object(Bucket="cwver", Key="k", Body=b"x")
    assert err(e) == (412, "PreconditionFailed")
    s3.delete_object(Bucket="cwver", Key="k")  # a delete marker is now current: absent
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(server, **{"If-Match": v2["ETag"]}).put_object(Bucket="cwver", Key="k", Body=b"x")
    assert err(e) == (404, "NoSuchKey")
    v3 = client(server, **{"If-None-Match": "*"}).put_object(Bucket="cwver", Key="k",
                                                              Body=b"three")
    assert body(s3, "cwver", "k") == b"three"
    vs = s3.list_object_versions(Bucket="cwver", Prefix="k")
    assert [v["VersionId"] for v in vs["Versions"]] == [v3["VersionId"], v2["VersionId"],
                                                        v1["VersionId"]]
    assert len(vs["DeleteMarkers"]) == 1
