"""Issue 18 feature 2: tagging in the embedded store, as AWS.

Object tags (x-amz-tagging on PutObject / CreateMultipartUpload / CopyObject with
x-amz-tagging-directive; Put/Get/DeleteObjectTagging; x-amz-tagging-count), bucket tags
(Put/Get/DeleteBucketTagging), the limits and error codes, crash-safety, and the policy
condition keys s3:ExistingObjectTag/<key>, s3:RequestObjectTag/<key> and
s3:RequestObjectTagKeys, with boto3 (Debian's and pyenv's python), the aws cli and raw
requests."""
import json
import os
import textwrap

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, aws, run_newer_boto3, s3_client


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"].get("Message")


def tagset(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def tags_of(s3, bucket, key):
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def make_user(server, tmp_path, user, secret, statements):
    admin(server, "user", "add", user, secret)
    pol = tmp_path / (user + ".json")
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    admin(server, "policy", "create", user + "-pol", str(pol))
    admin(server, "policy", "attach", user + "-pol", "--user", user)
    return s3_client(server, ak=user, sk=secret)


# ---- object tags ----

def test_object_tags_round_trip(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="tags")
    s3.put_object(Bucket="tags", Key="k", Body=b"hello", Tagging="a=1&b%20c=d%2Be&empty=&solo")
    assert tags_of(s3, "tags", "k") == {"a": "1", "b c": "d+e", "empty": "", "solo": ""}
    assert s3.head_object(Bucket="tags", Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "4"
    got = s3.get_object(Bucket="tags", Key="k")
    assert got["TagCount"] == 4 and got["Body"].read() == b"hello"
    # Put replaces the whole set; Last-Modified and the data stay.
    before = s3.head_object(Bucket="tags", Key="k")
    ten = {"key-%d" % i: "value-%d" % i for i in range(7)}
    ten.update({"b c+d-e=f.g_h:i/j@k": "2 + 2 = 4", "\u00fc" * 128: "\u6587" * 256,
                "\U0001d49c": "x"})
    s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": tagset(ten)})
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == tagset(ten)
    after = s3.head_object(Bucket="tags", Key="k")
    assert after["LastModified"] == before["LastModified"] and after["ETag"] == before["ETag"]
    assert after["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "10"
    assert s3.get_object(Bucket="tags", Key="k")["Body"].read() == b"hello"
    # Delete: 204, an empty set, no count header.
    r = s3.delete_object_tagging(Bucket="tags", Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == []
    assert "x-amz-tagging-count" not in s3.head_object(Bucket="tags", Key="k")[
        "ResponseMetadata"]["HTTPHeaders"]
    # An empty tag set is accepted (it removes the tags).
    s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": [{"Key": "x", "Value": "y"}]})
    s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": []})
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == []
    # Overwriting the object replaces its tags; deleting it removes them.
    s3.put_object(Bucket="tags", Key="k", Body=b"v2", Tagging="t=1")
    s3.put_object(Bucket="tags", Key="k", Body=b"v3")
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == []
    s3.put_object(Bucket="tags", Key="k", Body=b"v4", Tagging="t=2")
    s3.delete_object(Bucket="tags", Key="k")
    s3.put_object(Bucket="tags", Key="k", Body=b"v5")
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == []


def test_object_tagging_missing(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="tags")
    for call in (lambda: s3.get_object_tagging(Bucket="tags", Key="missing"),
                 lambda: s3.put_object_tagging(Bucket="tags", Key="missing",
                                               Tagging={"TagSet": tagset({"a": "1"})}),
                 lambda: s3.delete_object_tagging(Bucket="tags", Key="missing")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e)[:2] == (404, "NoSuchKey")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_tagging(Bucket="no-such-bucket", Key="k")
    assert err(e)[:2] == (404, "NoSuchBucket")


BAD_KEY = (400, "InvalidTag", "The TagKey you have provided is invalid")
BAD_VALUE = (400, "InvalidTag", "The TagValue you have provided is invalid")


@pytest.mark.parametrize("tags,expected", [
    ({"key-%d" % i: "" for i in range(11)}, (400, "BadRequest", "Object tags cannot be greater than 10")),
    ({"k" * 129: "v"}, BAD_KEY),
    ({"": "v"}, BAD_KEY),
    ({"k": "v" * 257}, BAD_VALUE),
    ({"a,b": "v"}, BAD_KEY), ({"k": "a;b"}, BAD_VALUE), ({"a\tb": "v"}, BAD_KEY),
    ({"k": "\U0001f600"}, BAD_VALUE), ({"a#b": "v"}, BAD_KEY), ({"k": "a%b"}, BAD_VALUE),
    ({"aws:cost": "1"}, (400, "InvalidTag", "System tags cannot be added/updated by requester")),
    ({"AWS:cost": "1"}, (400, "InvalidTag", "System tags cannot be added/updated by requester")),
])
def test_object_tag_limits(server, tags, expected):
    s3 = s3_client(server, parameter_validation=False)
    s3.create_bucket(Bucket="tags")
    s3.put_object(Bucket="tags", Key="k", Body=b"x", Tagging="keep=1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": tagset(tags)})
    assert err(e) == expected
    assert tags_of(s3, "tags", "k") == {"keep": "1"}  # nothing changed
    # The same rules for x-amz-tagging (URL-encoded), and nothing is stored.
    header = "&".join("%s=%s" % (requests.utils.quote(k, safe=""), requests.utils.quote(v, safe=""))
                      for k, v in tags.items())
    if "" not in tags:  # "=v" is a header error (below)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket="tags", Key="new", Body=b"x", Tagging=header)
        assert err(e) == expected
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.head_object(Bucket="tags", Key="new")
        assert code(e) == "404"


def test_duplicate_keys_and_bad_documents(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="tags")
    s3.put_object(Bucket="tags", Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": [
            {"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})
    assert err(e) == (400, "InvalidTag", "Cannot provide multiple Tags with the same key")
    msg = ("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
           "parameters without tag name duplicates.")
    for header in ("a=1&a=2", "=1", "a=%FF", "a=%zz"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket="tags", Key="new", Body=b"x", Tagging=header)
        assert err(e) == (400, "InvalidArgument", msg), header
    url = server.endpoint + "/tags/k?tagging"
    for body, expected in (("<Tagging><TagSet>", "MalformedXML"),
                           ("<Tagging></Tagging>", "MalformedXML"),
                           ("<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>", "MalformedXML"),
                           ("<Tags><TagSet></TagSet></Tags>", "MalformedXML"),
                           ("", "MissingRequestBodyError")):
        r = signed(server, "PUT", url, body)
        assert (r.status_code, xml_code(r.text)) == (400, expected), body


def signed(server, method, url, body=b"", headers=None):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers or {})
    creds = botocore.credentials.Credentials(server.root_user, server.root_password)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    p = req.prepare()
    return requests.request(method, p.url, data=body, headers=dict(p.headers), timeout=30)


def xml_code(text):
    import re
    m = re.search(r"<Code>([^<]*)</Code>", text)
    return m.group(1) if m else None


def test_multipart_and_copy_tags(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="tags")
    up = s3.create_multipart_upload(Bucket="tags", Key="mp", Tagging="part=yes&n=2")
    etag = s3.upload_part(Bucket="tags", Key="mp", UploadId=up["UploadId"], PartNumber=1,
                          Body=b"x" * 100)["ETag"]
    s3.complete_multipart_upload(Bucket="tags", Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert tags_of(s3, "tags", "mp") == {"part": "yes", "n": "2"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_multipart_upload(Bucket="tags", Key="mp2", Tagging="aws:x=1")
    assert code(e) == "InvalidTag"
    # CopyObject: COPY (the default) keeps the source's tags, also with metadata REPLACE.
    s3.copy_object(Bucket="tags", Key="c1", CopySource="tags/mp")
    assert tags_of(s3, "tags", "c1") == {"part": "yes", "n": "2"}
    s3.copy_object(Bucket="tags", Key="c2", CopySource="tags/mp", Tagging="ignored=1",
                   MetadataDirective="REPLACE", ContentType="text/plain")
    assert tags_of(s3, "tags", "c2") == {"part": "yes", "n": "2"}
    s3.copy_object(Bucket="tags", Key="c3", CopySource="tags/mp", Tagging="new=1",
                   TaggingDirective="REPLACE")
    assert tags_of(s3, "tags", "c3") == {"new": "1"}
    s3.copy_object(Bucket="tags", Key="c4", CopySource="tags/mp", TaggingDirective="REPLACE")
    assert tags_of(s3, "tags", "c4") == {}
    # A metadata-only copy onto itself keeps the tags (COPY) as AWS.
    s3.copy_object(Bucket="tags", Key="mp", CopySource="tags/mp", MetadataDirective="REPLACE",
                   ContentType="text/csv")
    assert tags_of(s3, "tags", "mp") == {"part": "yes", "n": "2"}
    assert s3.head_object(Bucket="tags", Key="mp")["ContentType"] == "text/csv"
    r = signed(server, "PUT", server.endpoint + "/tags/c5", b"",
               {"x-amz-copy-source": "tags/mp", "x-amz-tagging-directive": "MOVE"})
    assert (r.status_code, xml_code(r.text)) == (400, "InvalidArgument")


# ---- bucket tags ----

def test_bucket_tags(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="btags")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket="btags")
    assert err(e) == (404, "NoSuchTagSet", "The TagSet does not exist.")
    fifty = {"k%02d" % i: "v%d" % i for i in range(50)}
    r = s3.put_bucket_tagging(Bucket="btags", Tagging={"TagSet": tagset(fifty)})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket="btags")["TagSet"] == tagset(fifty)
    fifty["one-more"] = "x"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_tagging(Bucket="btags", Tagging={"TagSet": tagset(fifty)})
    assert err(e) == (400, "BadRequest", "Bucket tags cannot be greater than 50")
    for bad in ({"aws:x": "1"}, {"k" * 129: "v"}, {"k": "v" * 257}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_tagging(Bucket="btags", Tagging={"TagSet": tagset(bad)})
        assert code(e) == "InvalidTag"
    assert len(s3.get_bucket_tagging(Bucket="btags")["TagSet"]) == 50
    r = s3.delete_bucket_tagging(Bucket="btags")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket="btags")
    assert code(e) == "NoSuchTagSet"
    # Tags go with their bucket.
    s3.put_bucket_tagging(Bucket="btags", Tagging={"TagSet": tagset({"env": "test"})})
    s3.delete_bucket(Bucket="btags")
    s3.create_bucket(Bucket="btags")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket="btags")
    assert code(e) == "NoSuchTagSet"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket="no-such-bucket")
    assert code(e) == "NoSuchBucket"


# ---- crash-safety ----

def test_tags_survive_kill(tmp_root):
    srv = Server(os.path.join(tmp_root, "data")).start()
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="tags")
        s3.put_object(Bucket="tags", Key="a", Body=b"x", Tagging="at=put")
        s3.put_object(Bucket="tags", Key="b", Body=b"y")
        s3.put_object_tagging(Bucket="tags", Key="b", Tagging={"TagSet": tagset({"at": "tagging"})})
        s3.put_bucket_tagging(Bucket="tags", Tagging={"TagSet": tagset({"env": "prod"})})
        srv.kill()  # SIGKILL: every answered write must be durable
        srv.start()
        s3 = s3_client(srv)
        assert tags_of(s3, "tags", "a") == {"at": "put"}
        assert tags_of(s3, "tags", "b") == {"at": "tagging"}
        assert s3.get_object(Bucket="tags", Key="b")["Body"].read() == b"y"
        assert s3.get_bucket_tagging(Bucket="tags")["TagSet"] == tagset({"env": "prod"})
    finally:
        srv.stop()


# ---- clients ----

def test_aws_cli(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cli")
    f = tmp_path / "f.txt"
    f.write_text("hello")
    aws(server, "s3api", "put-object", "--bucket", "cli", "--key", "k", "--body", str(f),
        "--tagging", "team=blue&env=dev")
    out = json.loads(aws(server, "s3api", "get-object-tagging", "--bucket", "cli", "--key", "k").stdout)
    assert out["TagSet"] == tagset({"team": "blue", "env": "dev"})
    aws(server, "s3api", "put-object-tagging", "--bucket", "cli", "--key", "k", "--tagging",
        json.dumps({"TagSet": tagset({"team": "red"})}))
    assert tags_of(s3, "cli", "k") == {"team": "red"}
    aws(server, "s3api", "delete-object-tagging", "--bucket", "cli", "--key", "k")
    assert tags_of(s3, "cli", "k") == {}
    aws(server, "s3api", "put-bucket-tagging", "--bucket", "cli", "--tagging",
        json.dumps({"TagSet": tagset({"cost": "42"})}))
    out = json.loads(aws(server, "s3api", "get-bucket-tagging", "--bucket", "cli").stdout)
    assert out["TagSet"] == tagset({"cost": "42"})
    p = aws(server, "s3api", "put-object-tagging", "--bucket", "cli", "--key", "k", "--tagging",
            json.dumps({"TagSet": tagset({"aws:x": "1"})}), check=False)
    assert p.returncode != 0 and "InvalidTag" in p.stderr


PYENV_SCRIPT = textwrap.dedent("""
    import sys, boto3, botocore.config
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                      aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="newer")
    s3.put_object(Bucket="newer", Key="k", Body=b"x" * 100000, Tagging="sdk=new")
    s3.put_object_tagging(Bucket="newer", Key="k",
                          Tagging={"TagSet": [{"Key": "sdk", "Value": "newer"}]})
    assert s3.get_object_tagging(Bucket="newer", Key="k")["TagSet"] == [
        {"Key": "sdk", "Value": "newer"}]
    s3.put_bucket_tagging(Bucket="newer", Tagging={"TagSet": [{"Key": "b", "Value": "1"}]})
    assert s3.get_bucket_tagging(Bucket="newer")["TagSet"] == [{"Key": "b", "Value": "1"}]
    assert s3.head_object(Bucket="newer", Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "1"
    print("ok")
""")


def test_newer_boto3(server):
    """pyenv's boto3 (checksums on every write by default: aws-chunked with trailers)."""
    assert "ok" in run_newer_boto3(server, PYENV_SCRIPT, timeout=120)


# ---- policies ----

def test_existing_object_tag_condition(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cond")
    s3.put_object(Bucket="cond", Key="public", Body=b"p", Tagging="security=public")
    s3.put_object(Bucket="cond", Key="secret", Body=b"s", Tagging="security=secret")
    s3.put_object(Bucket="cond", Key="untagged", Body=b"u")
    u = make_user(server, tmp_path, "tagreader", "tagreader-secret-1", [
        {"Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging",
                    "s3:DeleteObjectTagging"],
         "Resource": "arn:aws:s3:::cond/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/security": "public"}}}])
    assert u.get_object(Bucket="cond", Key="public")["Body"].read() == b"p"
    assert u.head_object(Bucket="cond", Key="public")["ContentLength"] == 1
    assert u.get_object_tagging(Bucket="cond", Key="public")["TagSet"] == tagset({"security": "public"})
    for key in ("secret", "untagged", "missing"):
        for call in (lambda: u.get_object(Bucket="cond", Key=key),
                     lambda: u.get_object_tagging(Bucket="cond", Key=key),
                     lambda: u.put_object_tagging(Bucket="cond", Key=key,
                                                  Tagging={"TagSet": tagset({"security": "public"})}),
                     lambda: u.delete_object_tagging(Bucket="cond", Key=key)):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call()
            assert code(e) == "AccessDenied", key
    assert tags_of(s3, "cond", "secret") == {"security": "secret"}
    # Retagging the public object away locks the user out of it.
    u.put_object_tagging(Bucket="cond", Key="public", Tagging={"TagSet": tagset({"security": "gone"})})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        u.get_object(Bucket="cond", Key="public")
    assert code(e) == "AccessDenied"


def test_deny_on_existing_tag(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cond")
    s3.put_object(Bucket="cond", Key="a", Body=b"a")
    s3.put_object(Bucket="cond", Key="b", Body=b"b", Tagging="classified=true")
    u = make_user(server, tmp_path, "denied", "denied-secret-1", [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cond/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cond/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/classified": "true"}}}])
    assert u.get_object(Bucket="cond", Key="a")["Body"].read() == b"a"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        u.get_object(Bucket="cond", Key="b")
    assert code(e) == "AccessDenied"
    # A copy reads its source: the source's tags decide its s3:GetObject too.
    u2 = make_user(server, tmp_path, "copier", "copier-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::cond/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cond/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/classified": "true"}}}])
    u2.copy_object(Bucket="cond", Key="a2", CopySource="cond/a")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        u2.copy_object(Bucket="cond", Key="b2", CopySource="cond/b")
    assert code(e) == "AccessDenied"


def test_request_object_tag_conditions(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="req")
    s3.put_object(Bucket="req", Key="existing", Body=b"x")
    u = make_user(server, tmp_path, "tagger", "tagger-secret-1", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectTagging"],
         "Resource": "arn:aws:s3:::req/*",
         "Condition": {"StringEquals": {"s3:RequestObjectTag/security": "public"},
                       "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["security", "team"]}}}])
    u.put_object(Bucket="req", Key="ok", Body=b"x", Tagging="security=public")
    u.put_object(Bucket="req", Key="ok2", Body=b"x", Tagging="security=public&team=a")
    u.put_object_tagging(Bucket="req", Key="existing", Tagging={"TagSet": tagset({"security": "public"})})
    assert tags_of(s3, "req", "existing") == {"security": "public"}
    for call in (lambda: u.put_object(Bucket="req", Key="no", Body=b"x"),
                 lambda: u.put_object(Bucket="req", Key="no", Body=b"x", Tagging="security=secret"),
                 lambda: u.put_object(Bucket="req", Key="no", Body=b"x", Tagging="security=public&other=1"),
                 lambda: u.put_object_tagging(Bucket="req", Key="existing",
                                              Tagging={"TagSet": tagset({"security": "secret"})}),
                 lambda: u.put_object_tagging(Bucket="req", Key="existing",
                                              Tagging={"TagSet": tagset({"security": "public", "x": "1"})})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    assert tags_of(s3, "req", "existing") == {"security": "public"}
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="req", Key="no")


def test_put_with_tagging_needs_put_object_tagging(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="need")
    u = make_user(server, tmp_path, "putonly", "putonly-secret-1", [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::need/*"}])
    u.put_object(Bucket="need", Key="plain", Body=b"x")
    for call in (lambda: u.put_object(Bucket="need", Key="tagged", Body=b"x", Tagging="a=b"),
                 lambda: u.create_multipart_upload(Bucket="need", Key="mp", Tagging="a=b"),
                 lambda: u.copy_object(Bucket="need", Key="c", CopySource="need/plain",
                                       Tagging="a=b", TaggingDirective="REPLACE"),
                 lambda: u.put_object_tagging(Bucket="need", Key="plain",
                                              Tagging={"TagSet": tagset({"a": "b"})})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="need", Key="tagged")
    assert code(e) == "404"


def test_bucket_tagging_actions(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bact")
    ro = make_user(server, tmp_path, "btreader", "btreader-secret-1", [
        {"Effect": "Allow", "Action": ["s3:GetBucketTagging"], "Resource": "arn:aws:s3:::bact"}])
    s3.put_bucket_tagging(Bucket="bact", Tagging={"TagSet": tagset({"a": "1"})})
    assert ro.get_bucket_tagging(Bucket="bact")["TagSet"] == tagset({"a": "1"})
    for call in (lambda: ro.put_bucket_tagging(Bucket="bact", Tagging={"TagSet": tagset({"b": "2"})}),
                 lambda: ro.delete_bucket_tagging(Bucket="bact")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    assert s3.get_bucket_tagging(Bucket="bact")["TagSet"] == tagset({"a": "1"})


def test_anonymous_tagging_with_bucket_policy(server):
    """The conditions in a bucket policy, for an anonymous caller (s3-tests'
    test_bucket_policy_get_obj_existing_tag)."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="anon")
    s3.put_object(Bucket="anon", Key="pub", Body=b"p", Tagging="security=public")
    s3.put_object(Bucket="anon", Key="priv", Body=b"s", Tagging="security=private")
    s3.put_bucket_policy(Bucket="anon", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:GetObjectTagging"],
         "Resource": "arn:aws:s3:::anon/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/security": "public"}}}]}))
    assert requests.get(server.endpoint + "/anon/pub", timeout=10).content == b"p"
    assert requests.get(server.endpoint + "/anon/pub?tagging", timeout=10).status_code == 200
    assert requests.get(server.endpoint + "/anon/priv", timeout=10).status_code == 403
    assert requests.get(server.endpoint + "/anon/priv?tagging", timeout=10).status_code == 403
    r = requests.put(server.endpoint + "/anon/pub?tagging", timeout=10,
                     data="<Tagging><TagSet></TagSet></Tagging>")
    assert r.status_code == 403
    assert tags_of(s3, "anon", "pub") == {"security": "public"}


# ---- the gateway ----

from test_gateway import gw, upstream  # noqa: E402,F401  (fixtures)


def test_gateway_tag_conditions(gw, upstream, tmp_path):
    """The gateway passes the tagging operations through with their IAM actions and evaluates
    s3:RequestObjectTag/s3:RequestObjectTagKeys itself (from the header or the body). It does
    not ask the upstream for an object's tags: s3:ExistingObjectTag conditions fail closed
    there (an Allow on them never allows, a Deny on them always applies; docs/GATEWAY.md)."""
    root, direct = s3_client(gw), s3_client(upstream)
    root.create_bucket(Bucket="gtags")
    root.put_object(Bucket="gtags", Key="pub", Body=b"p", Tagging="security=public")
    assert tags_of(direct, "gtags", "pub") == {"security": "public"}
    assert tags_of(root, "gtags", "pub") == {"security": "public"}
    req = make_user(gw, tmp_path, "gwtagger", "gwtagger-secret-1", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectTagging"],
         "Resource": "arn:aws:s3:::gtags/*",
         "Condition": {"StringEquals": {"s3:RequestObjectTag/security": "public"}}}])
    req.put_object(Bucket="gtags", Key="ok", Body=b"x", Tagging="security=public")
    req.put_object_tagging(Bucket="gtags", Key="ok", Tagging={"TagSet": tagset({"security": "public"})})
    for call in (lambda: req.put_object(Bucket="gtags", Key="no", Body=b"x", Tagging="security=x"),
                 lambda: req.put_object_tagging(Bucket="gtags", Key="ok",
                                                Tagging={"TagSet": tagset({"security": "x"})})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    assert tags_of(direct, "gtags", "ok") == {"security": "public"}
    # A header the gateway cannot read is refused, never forwarded unchecked.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.put_object(Bucket="gtags", Key="bad", Body=b"x", Tagging="a=%FF")
    assert code(e) == "InvalidArgument"
    allow = make_user(gw, tmp_path, "gwreader", "gwreader-secret-1", [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::gtags/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/security": "public"}}}])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        allow.get_object(Bucket="gtags", Key="pub")
    assert code(e) == "AccessDenied"
    deny = make_user(gw, tmp_path, "gwdeny", "gwdeny-secret-1", [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::gtags/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::gtags/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/classified": "true"}}}])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        deny.get_object(Bucket="gtags", Key="pub")
    assert code(e) == "AccessDenied"
    plain = make_user(gw, tmp_path, "gwplain", "gwplain-secret-1", [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::gtags/*"}])
    assert plain.get_object(Bucket="gtags", Key="pub")["Body"].read() == b"p"
    root.put_bucket_tagging(Bucket="gtags", Tagging={"TagSet": tagset({"env": "gw"})})
    assert direct.get_bucket_tagging(Bucket="gtags")["TagSet"] == tagset({"env": "gw"})
