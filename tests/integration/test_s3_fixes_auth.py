"""Issue 18, "Bugs real clients hit today", last bullet: presigned URLs and what a caller learns
about missing buckets and keys, as S3 answers them.

- Presigned SigV4 URLs: an X-Amz-Expires that is not a number, negative or over a week is
  400 AuthorizationQueryParametersError with S3's messages; 0 is a lifetime that has run out
  (403 AccessDenied "Request has expired"), as is any URL past X-Amz-Date + X-Amz-Expires. The
  other query parameters malformed: 400 AuthorizationQueryParametersError. SigV2 (no 400 in
  its query): a non-numeric Expires is 403 "Invalid date (should be seconds since epoch)".
- The existence rule (objstore/s3_route.c s3_existence): a missing bucket is 404 NoSuchBucket
  for every caller; a missing key is 404 NoSuchKey only for a caller allowed the operation AND
  s3:ListBucket, 403 AccessDenied for anyone else; HEAD answers carry no body.

Clients: boto3 (Debian's python and pyenv's newer one), the aws cli, and URLs built by hand
with requests for the malformed cases no client writes.
"""
import datetime
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from conftest import admin, aws, s3_client

BUCKET = "exist-b"
GETTER = ("getter", "getter-secret-123")    # the operations, not s3:ListBucket
LISTER = ("lister", "lister-secret-123")    # the operations and s3:ListBucket
NOBODY = ("nobody", "nobody-secret-123")    # rights on another bucket only
DENIED = ("denied", "denied-secret-123")    # s3:ListBucket, s3:GetObject explicitly denied
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging",
                  "s3:GetObjectAcl"]


def err(resp):
    """(code, message) of an S3 error document (None, None without one)."""
    if not resp.content:
        return None, None
    root = ET.fromstring(resp.content)
    return root.findtext("Code"), root.findtext("Message")


def code(e):
    return e.value.response["Error"]["Code"]


def status(e):
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---- presigned URLs built by hand (any parameter, any value) ----

def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def presign_v4(server, method, path, creds=None, expires="300", when=None, over=None):
    """A SigV4 presigned URL for path, signed correctly whatever the values: X-Amz-Expires is
    written as given; when (datetime) is X-Amz-Date; over replaces/removes (None) parameters
    after signing."""
    ak, sk = creds or (server.root_user, server.root_password)
    t = when or datetime.datetime.now(datetime.timezone.utc)
    amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256",
         "X-Amz-Credential": "%s/%s/us-east-1/s3/aws4_request" % (ak, day),
         "X-Amz-Date": amz, "X-Amz-Expires": expires, "X-Amz-SignedHeaders": "host"}
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")
    cq = "&".join("%s=%s" % (enc(k), enc(v)) for k, v in sorted(q.items()))
    host = "127.0.0.1:%d" % server.port
    creq = "\n".join([method, path, cq, "host:%s\n" % host, "host", "UNSIGNED-PAYLOAD"])
    scope = "%s/us-east-1/s3/aws4_request" % day
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = _sign(_sign(_sign(_sign(("AWS4" + sk).encode(), day), "us-east-1"), "s3"), "aws4_request")
    q["X-Amz-Signature"] = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    for name, value in (over or {}).items():
        if value is None:
            q.pop(name, None)
        else:
            q[name] = value
    return server.endpoint + path + "?" + "&".join("%s=%s" % (enc(k), enc(v)) for k, v in q.items())


@pytest.fixture
def world(server, tmp_path):
    """A bucket with one object; users with and without s3:ListBucket on it."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="other-b")
    s3.put_object(Bucket=BUCKET, Key="there", Body=b"present")
    obj = "arn:aws:s3:::%s/*" % BUCKET
    policies = {
        GETTER: [{"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": [obj]}],
        LISTER: [{"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": [obj]},
                 {"Effect": "Allow", "Action": ["s3:ListBucket"],
                  "Resource": ["arn:aws:s3:::" + BUCKET]}],
        NOBODY: [{"Effect": "Allow", "Action": ["s3:*"],
                  "Resource": ["arn:aws:s3:::other-b", "arn:aws:s3:::other-b/*"]}],
        DENIED: [{"Effect": "Allow", "Action": ["s3:*"],
                  "Resource": ["arn:aws:s3:::" + BUCKET, obj]},
                 {"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": [obj]}],
    }
    for (user, secret), statements in policies.items():
        admin(server, "user", "add", user, secret)
        path = tmp_path / (user + ".json")
        path.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
        admin(server, "policy", "create", user + "-pol", str(path))
        admin(server, "policy", "attach", user + "-pol", "--user", user)
    return s3


# ---- item 1: presigned URLs ----

MALFORMED_EXPIRES = [
    ("0", "X-Amz-Expires must be greater than 0"),
    ("-1", "X-Amz-Expires must be non-negative"),
    ("-604800", "X-Amz-Expires must be non-negative"),
    ("604801", "X-Amz-Expires must be less than a week (in seconds); that is, the given "
               "X-Amz-Expires must be less than 604800 seconds"),
    ("9223372036854775807", "X-Amz-Expires must be less than a week (in seconds); that is, the "
                            "given X-Amz-Expires must be less than 604800 seconds"),
    ("9223372036854775808", "X-Amz-Expires should be a number"),
    ("foo", "X-Amz-Expires should be a number"),
    ("", "X-Amz-Expires should be a number"),
    ("1e3", "X-Amz-Expires should be a number"),
    ("+60", "X-Amz-Expires should be a number"),
]


@pytest.mark.parametrize("expires,message", MALFORMED_EXPIRES)
def test_presign_v4_malformed_expires_is_400(server, world, expires, message):
    """Signed correctly, X-Amz-Expires out of S3's range: 400 with S3's message, GET and HEAD
    (no body), for an object that exists, one that does not and a bucket that does not."""
    for path in ("/%s/there" % BUCKET, "/%s/missing" % BUCKET, "/no-such-bkt/k"):
        r = requests.get(presign_v4(server, "GET", path, expires=expires), timeout=10)
        assert r.status_code == 400, (path, r.text)
        assert err(r) == ("AuthorizationQueryParametersError", message), r.text
        h = requests.head(presign_v4(server, "HEAD", path, expires=expires), timeout=10)
        assert h.status_code == 400 and h.content == b""


def test_presign_v4_past_is_expired(server, world):
    """A URL past its lifetime is expired: 403 AccessDenied "Request has expired" (not 400)."""
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
    for url in (presign_v4(server, "GET", "/%s/there" % BUCKET, expires="60", when=past),
                presign_v4(server, "GET", "/%s/there" % BUCKET, expires="604800",
                           when=past - datetime.timedelta(days=7))):
        r = requests.get(url, timeout=10)
        assert r.status_code == 403 and err(r) == ("AccessDenied", "Request has expired"), r.text
    ok = requests.get(presign_v4(server, "GET", "/%s/there" % BUCKET, expires="604800"),
                      timeout=10)
    assert ok.status_code == 200 and ok.content == b"present"
    ok = requests.get(presign_v4(server, "GET", "/%s/there" % BUCKET, expires="1"), timeout=10)
    assert ok.status_code in (200, 403)  # a one-second lifetime, maybe over already


def test_presign_boto3_expires_in(server, world):
    """boto3 (Debian's) writes what it is given into X-Amz-Expires: over a week is refused
    with 400; 0 and negative, when this botocore signs them at all (its CRT signer refuses
    them client-side), are expired / refused."""
    s3 = s3_client(server, signature_version="s3v4")

    def url(n):
        try:
            return s3.generate_presigned_url("get_object", ExpiresIn=n,
                                             Params={"Bucket": BUCKET, "Key": "there"})
        except AssertionError:
            return None

    r = requests.get(url(604801), timeout=10)
    assert r.status_code == 400 and err(r)[0] == "AuthorizationQueryParametersError"
    assert requests.get(url(604800), timeout=10).content == b"present"
    if url(0) is not None:
        r = requests.get(url(0), timeout=10)
        assert r.status_code == 403 and err(r) == ("AccessDenied", "Request has expired")
    if url(-5) is not None:
        r = requests.get(url(-5), timeout=10)
        assert (r.status_code, err(r)) == (400, ("AuthorizationQueryParametersError",
                                                 "X-Amz-Expires must be non-negative"))


NEWER_PRESIGN = """
import sys, boto3, botocore.config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                  aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                  config=botocore.config.Config(signature_version="s3v4",
                                                s3={"addressing_style": "path"}))
for n in sys.argv[4:]:
    print(s3.generate_presigned_url("get_object", ExpiresIn=int(n),
                                    Params={"Bucket": "%s", "Key": "there"}))
""" % BUCKET


def test_presign_newer_boto3(server, world):
    """pyenv's newer boto3 presigns the same way; the server answers the same."""
    py = shutil.which("python3", path="/root/.pyenv/shims") or shutil.which("python3")
    if py is None or os.path.realpath(py) == os.path.realpath("/usr/bin/python3"):
        pytest.skip("no python3 besides Debian's")
    p = subprocess.run([py, "-c", NEWER_PRESIGN, server.endpoint, server.root_user,
                        server.root_password, "0", "604801", "-1", "300"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    zero, week, neg, good = p.stdout.split()
    assert "X-Amz-Expires=0" in zero
    assert (requests.get(zero, timeout=10).status_code, err(requests.get(zero, timeout=10))) == \
        (400, ("AuthorizationQueryParametersError", "X-Amz-Expires must be greater than 0"))
    assert requests.get(week, timeout=10).status_code == 400
    assert err(requests.get(neg, timeout=10)) == ("AuthorizationQueryParametersError",
                                                  "X-Amz-Expires must be non-negative")
    assert requests.get(good, timeout=10).content == b"present"


def test_presign_aws_cli(server, world):
    """aws s3 presign --expires-in: over a week is refused by the server with 400."""
    for n, want in (("604801", 400), ("300", 200)):
        p = aws(server, "s3", "presign", "s3://%s/there" % BUCKET, "--expires-in", n)
        url = p.stdout.strip()
        if "X-Amz-Expires" not in url:
            pytest.skip("this aws cli presigns with SigV2")
        assert requests.get(url, timeout=10).status_code == want, url


MALFORMED_PARAMS = [
    ({"X-Amz-Date": "2024-01-01T00:00:00Z"},
     "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""),
    ({"X-Amz-Date": None}, "Query-string authentication version 4 requires"),
    ({"X-Amz-Expires": None}, "Query-string authentication version 4 requires"),
    ({"X-Amz-Signature": None}, "Query-string authentication version 4 requires"),
    ({"X-Amz-Credential": "AKID/2024/us-east-1/s3"},
     "Error parsing the X-Amz-Credential parameter"),
    ({"X-Amz-Credential": "AKID/20240101/us-east-1/s3/aws4_requestX"},
     "Error parsing the X-Amz-Credential parameter"),
    ({"X-Amz-Credential": "AKID/19990101/us-east-1/s3/aws4_request"},
     "Error parsing the X-Amz-Credential parameter; incorrect date format"),
    ({"X-Amz-SignedHeaders": "content-type"}, "X-Amz-SignedHeaders"),
    ({"X-Amz-SignedHeaders": "Host"}, "X-Amz-SignedHeaders"),
    ({"X-Amz-SignedHeaders": "host;;x"}, "X-Amz-SignedHeaders"),
    ({"X-Amz-Signature": "ABCDEF"}, "X-Amz-Signature"),
    ({"X-Amz-Algorithm": "AWS4-HMAC-SHA1"}, "X-Amz-Algorithm only supports"),
]


@pytest.mark.parametrize("over,message", MALFORMED_PARAMS)
def test_presign_v4_malformed_params_are_400(server, world, over, message):
    """The same class for the other presign parameters: 400 AuthorizationQueryParametersError,
    for any caller, before anything is looked up."""
    for path in ("/%s/there" % BUCKET, "/no-such-bkt/k"):
        r = requests.get(presign_v4(server, "GET", path, over=over), timeout=10)
        c, m = err(r)
        assert r.status_code == 400 and c == "AuthorizationQueryParametersError", r.text
        assert m.startswith(message), r.text


def test_presign_v2_expires(server, world):
    """SigV2 has no 400 for its query (S3 answers 403): Expires not a time is 403 AccessDenied
    "Invalid date (should be seconds since epoch): ..."; a time past (negative included) is
    "Request has expired"."""
    v2 = s3_client(server, signature_version="s3")
    url = v2.generate_presigned_url("get_object", ExpiresIn=300,
                                    Params={"Bucket": BUCKET, "Key": "there"})
    assert "Expires=" in url and "AWSAccessKeyId=" in url
    assert requests.get(url, timeout=10).content == b"present"
    exp = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["Expires"][0]
    for bad in ("foo", "", "1e9", "99999999999999999999"):
        r = requests.get(url.replace("Expires=" + exp, "Expires=" + bad), timeout=10)
        assert (r.status_code, err(r)) == (403, (
            "AccessDenied", "Invalid date (should be seconds since epoch): " + bad)), r.text
    for past in ("-5", "0", "1000"):
        r = requests.get(url.replace("Expires=" + exp, "Expires=" + past), timeout=10)
        assert (r.status_code, err(r)) == (403, ("AccessDenied", "Request has expired")), r.text


# ---- item 2: missing buckets and keys ----

def client(server, creds):
    return s3_client(server, *creds)


def test_missing_key_needs_list_bucket(server, world):
    """GetObject, HeadObject, GetObjectTagging, GetObjectAcl of a missing key: 404 NoSuchKey
    with s3:ListBucket, 403 AccessDenied without; an existing key reads the same for both."""
    getter, lister = client(server, GETTER), client(server, LISTER)
    for s3 in (getter, lister):
        assert s3.get_object(Bucket=BUCKET, Key="there")["Body"].read() == b"present"
    calls = [
        lambda s3: s3.get_object(Bucket=BUCKET, Key="missing"),
        lambda s3: s3.get_object_tagging(Bucket=BUCKET, Key="missing"),
        lambda s3: s3.get_object_acl(Bucket=BUCKET, Key="missing"),
        lambda s3: s3.get_object(Bucket=BUCKET, Key="missing", Range="bytes=0-1"),
    ]
    for call in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(getter)
        assert (status(e), code(e)) == (403, "AccessDenied")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(lister)
        assert (status(e), code(e)) == (404, "NoSuchKey")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getter.head_object(Bucket=BUCKET, Key="missing")
    assert status(e) == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lister.head_object(Bucket=BUCKET, Key="missing")
    assert status(e) == 404


def test_missing_copy_source_needs_list_bucket_on_source(server, world):
    getter, lister = client(server, GETTER), client(server, LISTER)
    src = {"Bucket": BUCKET, "Key": "missing"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getter.copy_object(Bucket=BUCKET, Key="dst", CopySource=src)
    assert (status(e), code(e)) == (403, "AccessDenied")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lister.copy_object(Bucket=BUCKET, Key="dst", CopySource=src)
    assert (status(e), code(e)) == (404, "NoSuchKey")
    lister.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "there"})


def test_missing_key_never_turns_a_deny_into_an_allow(server, world):
    """The operation is authorized first: s3:ListBucket does not make a denied GetObject a 404,
    and a caller with no right on the bucket learns nothing about its keys."""
    for creds in (DENIED, NOBODY):
        s3 = client(server, creds)
        for key in ("missing", "there"):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.get_object(Bucket=BUCKET, Key=key)
            assert (status(e), code(e)) == (403, "AccessDenied"), (creds, key)
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.head_object(Bucket=BUCKET, Key=key)
            assert status(e) == 403


def test_missing_key_presigned_raw(server, world):
    """Presigned by the getter and the lister, HEAD and GET: the body of a HEAD is empty."""
    for creds, want, c in ((GETTER, 403, "AccessDenied"), (LISTER, 404, "NoSuchKey")):
        r = requests.get(presign_v4(server, "GET", "/%s/missing" % BUCKET, creds), timeout=10)
        assert (r.status_code, err(r)[0]) == (want, c), r.text
        h = requests.head(presign_v4(server, "HEAD", "/%s/missing" % BUCKET, creds), timeout=10)
        assert h.status_code == want and h.content == b""


def test_missing_key_anonymous_by_bucket_policy(server, world):
    """Anonymous callers follow the bucket policy: public GetObject alone gives 403 for a
    missing key; with s3:ListBucket granted too, 404."""
    s3 = world
    grant = lambda actions: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::%s/*" % BUCKET]}] + actions})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=grant([]))
    base = "%s/%s/" % (server.endpoint, BUCKET)
    assert requests.get(base + "there", timeout=10).content == b"present"
    r = requests.get(base + "missing", timeout=10)
    assert (r.status_code, err(r)[0]) == (403, "AccessDenied")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=grant([
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:ListBucket"],
         "Resource": ["arn:aws:s3:::" + BUCKET]}]))
    r = requests.get(base + "missing", timeout=10)
    assert (r.status_code, err(r)[0]) == (404, "NoSuchKey")
    h = requests.head(base + "missing", timeout=10)
    assert h.status_code == 404 and h.content == b""


def test_missing_bucket_is_404_for_everyone(server, world):
    """A bucket that does not exist: 404 NoSuchBucket whatever the caller's rights, signed
    (boto3 v4, v2), presigned or anonymous, for object and bucket operations; HEAD bodyless."""
    nobody, getter = client(server, NOBODY), client(server, GETTER)
    for s3 in (nobody, getter, client(server, NOBODY)):
        for call in (lambda: s3.get_object(Bucket="no-such-bkt", Key="k"),
                     lambda: s3.put_object(Bucket="no-such-bkt", Key="k", Body=b"x"),
                     lambda: s3.delete_object(Bucket="no-such-bkt", Key="k"),
                     lambda: s3.list_objects_v2(Bucket="no-such-bkt"),
                     lambda: s3.get_bucket_policy(Bucket="no-such-bkt"),
                     lambda: s3.get_object_tagging(Bucket="no-such-bkt", Key="k"),
                     lambda: s3.delete_objects(Bucket="no-such-bkt",
                                               Delete={"Objects": [{"Key": "k"}]}),
                     lambda: s3.delete_bucket(Bucket="no-such-bkt")):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call()
            assert (status(e), code(e)) == (404, "NoSuchBucket")
        for call in (lambda: s3.head_bucket(Bucket="no-such-bkt"),
                     lambda: s3.head_object(Bucket="no-such-bkt", Key="k")):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call()
            assert status(e) == 404
    v2 = s3_client(server, *NOBODY, signature_version="s3")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        v2.get_object(Bucket="no-such-bkt", Key="k")
    assert (status(e), code(e)) == (404, "NoSuchBucket")
    for url in (server.endpoint + "/no-such-bkt/k", server.endpoint + "/no-such-bkt",
                presign_v4(server, "GET", "/no-such-bkt/k", NOBODY)):
        r = requests.get(url, timeout=10)
        assert (r.status_code, err(r)[0]) == (404, "NoSuchBucket"), (url, r.text)
    h = requests.head(server.endpoint + "/no-such-bkt/k", timeout=10)
    assert h.status_code == 404 and h.content == b""
    # CreateBucket is the one operation whose bucket need not exist; rights still apply.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nobody.create_bucket(Bucket="no-such-bkt")
    assert (status(e), code(e)) == (403, "AccessDenied")


def test_authentication_still_comes_first(server, world):
    """A bad signature or an unknown key to a missing bucket is refused as such (403), before
    the bucket is looked up."""
    bad = s3_client(server, NOBODY[0], "wrong-secret-000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.get_object(Bucket="no-such-bkt", Key="k")
    assert (status(e), code(e)) == (403, "SignatureDoesNotMatch")
    unknown = s3_client(server, "NOSUCHKEY0000", "whatever-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.get_object(Bucket="no-such-bkt", Key="k")
    assert (status(e), code(e)) == (403, "InvalidAccessKeyId")


def test_aws_cli_missing_key_and_bucket(server, world):
    """The aws cli shows Forbidden / Not Found as S3 would."""
    p = aws(server, "s3api", "head-object", "--bucket", BUCKET, "--key", "missing",
            ak=GETTER[0], sk=GETTER[1], check=False)
    assert p.returncode != 0 and "Forbidden" in p.stderr, p.stderr
    p = aws(server, "s3api", "head-object", "--bucket", BUCKET, "--key", "missing",
            ak=LISTER[0], sk=LISTER[1], check=False)
    assert p.returncode != 0 and "Not Found" in p.stderr, p.stderr
    p = aws(server, "s3api", "get-object", "--bucket", "no-such-bkt", "--key", "k", "/dev/null",
            ak=NOBODY[0], sk=NOBODY[1], check=False)
    assert p.returncode != 0 and "NoSuchBucket" in p.stderr, p.stderr
