"""Issue 18 feature 4: browser POST uploads (S3 "POST Object", an HTML form posted as
multipart/form-data to /bucket) in the embedded store, as AWS answers them.

boto3's generate_presigned_post (Debian's: Signature Version 2 by default, V4 with s3v4; and
pyenv's), a V2 form built by hand, temporary credentials from AssumeRole, every policy
failure, anonymous uploads allowed by a bucket policy only, the success_action_* answers,
tagging, metadata and checksum fields, a 64 MiB file with bounded server memory, the gateway's
refusal, and a real browser (headless Chromium) submitting a form from another origin."""
import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import textwrap
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

import botocore.config
import pytest
import requests

from conftest import Server, admin, run_newer_boto3, s3_client, sts_client

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
ASAN = "asan" in os.environ.get("TESSERA_BIN", "")


def v4(server, **kw):
    return s3_client(server, signature_version="s3v4", **kw)


def error(r):
    """(status, Code, Message) of an S3 error answer."""
    root = ET.fromstring(r.content)
    return r.status_code, root.findtext("Code"), root.findtext("Message")


def post(p, fields=None, drop=(), file=("f.txt", b"hello"), **kw):
    """Posts presigned form p (fields changed by `fields`, without `drop`) with file."""
    data = {k: v for k, v in p["fields"].items() if k not in drop}
    data.update(fields or {})
    files = {"file": file} if file is not None else {"other": ("", b"x")}
    return requests.post(p["url"], data=data, files=files, timeout=60, **kw)


@pytest.fixture
def bucket(server):
    s3_client(server).create_bucket(Bucket="uploads")
    return "uploads"


# ---- signed forms ----

@pytest.mark.parametrize("sig", ["s3v4", "s3"])
def test_presigned_post_v4_and_v2(server, bucket, sig):
    s3 = s3_client(server, signature_version=sig)
    p = s3.generate_presigned_post(bucket, "photos/${filename}", ExpiresIn=300,
                                   Conditions=[["starts-with", "$key", "photos/"]])
    assert ("x-amz-signature" in p["fields"]) == (sig == "s3v4")
    r = post(p, file=("cat.jpg", b"\xff\xd8 not really a jpeg \r\n--x\r\n"))
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=bucket, Key="photos/cat.jpg")
    assert got["Body"].read() == b"\xff\xd8 not really a jpeg \r\n--x\r\n"
    assert r.headers["ETag"] == got["ETag"]
    assert r.headers["Location"].endswith("/uploads/photos/cat.jpg")


def test_success_action_status_and_redirect(server, bucket):
    s3 = v4(server)
    for status, want in (("200", 200), ("201", 201), ("204", 204), ("299", 204)):
        p = s3.generate_presigned_post(bucket, "s" + status, Fields={"success_action_status": status},
                                       Conditions=[{"success_action_status": status}])
        r = post(p)
        assert r.status_code == want, r.text
        if want == 201:
            root = ET.fromstring(r.content)
            assert root.tag == "PostResponse"
            assert root.findtext("Bucket") == bucket and root.findtext("Key") == "s201"
            assert root.findtext("ETag") == '"%s"' % hashlib.md5(b"hello").hexdigest()
            assert root.findtext("Location").endswith("/uploads/s201")
        else:
            assert r.content == b""
    back = "https://app.example/done?x=1"
    p = s3.generate_presigned_post(bucket, "a b+c", Fields={"success_action_redirect": back},
                                   Conditions=[{"success_action_redirect": back}])
    r = post(p, allow_redirects=False)
    assert r.status_code == 303, r.text
    loc = urllib.parse.urlsplit(r.headers["Location"])
    q = urllib.parse.parse_qs(loc.query)
    assert loc.netloc == "app.example" and q["x"] == ["1"] and q["bucket"] == [bucket]
    assert q["key"] == ["a b+c"] and q["etag"] == ['"%s"' % hashlib.md5(b"hello").hexdigest()]
    assert s3.head_object(Bucket=bucket, Key="a b+c")["ContentLength"] == 5


def test_metadata_tagging_and_content_type(server, bucket):
    s3 = v4(server)
    tagging = ("<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet>"
               "</Tagging>")
    fields = {"Content-Type": "image/png", "Cache-Control": "max-age=60",
              "x-amz-meta-caption": "Grüße", "tagging": tagging, "acl": "private",
              "x-ignore-anything": "not in the policy"}
    conds = [{k: v} for k, v in fields.items() if not k.startswith("x-ignore-")]
    p = s3.generate_presigned_post(bucket, "meta", Fields=fields, Conditions=conds)
    r = post(p)
    assert r.status_code == 204, r.text
    h = s3.head_object(Bucket=bucket, Key="meta")
    assert h["ContentType"] == "image/png" and h["CacheControl"] == "max-age=60"
    assert h["Metadata"]["caption"] == "Grüße"
    assert s3.get_object_tagging(Bucket=bucket, Key="meta")["TagSet"] == [
        {"Key": "team", "Value": "blue"}]
    # A bad Tagging document: as PutObjectTagging answers it; nothing stored.
    bad = "<Tagging><TagSet><Tag><Key>aws:x</Key><Value>1</Value></Tag></TagSet></Tagging>"
    p = s3.generate_presigned_post(bucket, "badtag", Fields={"tagging": bad},
                                   Conditions=[{"tagging": bad}])
    assert error(post(p))[:2] == (400, "InvalidTag")
    # An ACL tessera does not know (issue 19: canned ACLs are kept, test_acl.py).
    p = s3.generate_presigned_post(bucket, "pub", Fields={"acl": "public-everything"},
                                   Conditions=[{"acl": "public-everything"}])
    assert error(post(p))[:2] == (400, "InvalidArgument")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["meta"]


def test_checksum_and_content_md5_fields(server, bucket):
    s3 = v4(server)
    data = b"checked data"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    good = {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": crc,
            "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode()}
    p = s3.generate_presigned_post(bucket, "ck", Fields=good, Conditions=[{k: v} for k, v in good.items()])
    r = post(p, file=("d", data))
    assert r.status_code == 204, r.text
    h = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == crc
    p = s3.generate_presigned_post(bucket, "ck2", Fields=good, Conditions=[{k: v} for k, v in good.items()])
    st, code_, msg = error(post(p, file=("d", b"other data")))
    assert (st, code_) == (400, "BadDigest")
    bad = {"x-amz-checksum-crc32": crc}
    p = s3.generate_presigned_post(bucket, "ck3", Fields=bad, Conditions=[bad])
    st, code_, msg = error(post(p, file=("d", b"other data")))
    assert (st, code_, msg) == (400, "BadDigest",
                                "The CRC32 you specified did not match the calculated checksum.")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["ck"]


def test_sigv2_form_built_by_hand(server, bucket):
    policy = base64.b64encode(json.dumps({
        "expiration": (datetime.datetime.utcnow() + datetime.timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [{"bucket": bucket}, ["starts-with", "$key", "hand/"],
                       ["content-length-range", 1, 100], ["starts-with", "$Content-Type", ""]],
    }).encode()).decode()
    sig = base64.b64encode(hmac.new(server.root_password.encode(), policy.encode(),
                                    hashlib.sha1).digest()).decode()
    fields = {"key": "hand/${filename}", "AWSAccessKeyId": server.root_user, "policy": policy,
              "signature": sig, "Content-Type": "text/plain"}
    url = server.endpoint + "/" + bucket
    r = requests.post(url, data=fields, files={"file": ("v2.txt", b"by hand")})
    assert r.status_code == 204, r.text
    assert s3_client(server).get_object(Bucket=bucket, Key="hand/v2.txt")["Body"].read() == b"by hand"
    r = requests.post(url, data=dict(fields, signature=base64.b64encode(b"x" * 20).decode()),
                      files={"file": ("v2.txt", b"by hand")})
    assert error(r)[:2] == (403, "SignatureDoesNotMatch")
    r = requests.post(url, data=dict(fields, AWSAccessKeyId="nobody"), files={"file": ("a", b"x")})
    assert error(r)[:2] == (403, "InvalidAccessKeyId")


def test_temporary_credentials_from_assume_role(server, bucket, tmp_path):
    admin(server, "user", "add", "poster", "poster-secret-1")
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": "arn:aws:s3:::uploads/mine/*"}]}))
    admin(server, "policy", "create", "poster-pol", str(pol))
    admin(server, "policy", "attach", "poster-pol", "--user", "poster")
    c = sts_client(server, "poster", "poster-secret-1").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="browser")["Credentials"]
    for sig in ("s3v4", "s3"):
        s3 = s3_client(server, ak=c["AccessKeyId"], sk=c["SecretAccessKey"],
                       token=c["SessionToken"], signature_version=sig)
        p = s3.generate_presigned_post(bucket, "mine/" + sig)
        assert p["fields"]["x-amz-security-token"] == c["SessionToken"]
        r = post(p)
        assert r.status_code == 204, r.text
        # The signer must be allowed s3:PutObject on the key: the normal authorizer decides.
        p = s3.generate_presigned_post(bucket, "theirs/" + sig)
        assert error(post(p))[:2] == (403, "AccessDenied")
        # The token is part of the signed form: a form without it is another signer.
        p = s3.generate_presigned_post(bucket, "mine/x" + sig)
        assert error(post(p, drop=("x-amz-security-token",)))[0] == 403
    keys = sorted(o["Key"] for o in s3_client(server).list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["mine/s3", "mine/s3v4"]


# ---- the policy ----

def test_policy_failures(server, bucket):
    s3 = v4(server)
    cond = [["starts-with", "$key", "in/"], ["content-length-range", 2, 10],
            {"x-amz-meta-who": "me"}, ["eq", "$Content-Type", "text/plain"]]
    fields = {"x-amz-meta-who": "me", "Content-Type": "text/plain"}
    p = s3.generate_presigned_post(bucket, "in/${filename}", Fields=fields, Conditions=cond)
    assert post(p).status_code == 204
    cases = [
        (dict(key="out/x"), None, (403, "AccessDenied",
         'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "in/"]')),
        ({"x-amz-meta-who": "you"}, None, (403, "AccessDenied",
         'Invalid according to Policy: Policy Condition failed: {"x-amz-meta-who": "me"}')),
        ({"Content-Type": "text/html"}, None, (403, "AccessDenied",
         'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "text/plain"]')),
        ({"x-amz-meta-extra": "1"}, None, (403, "AccessDenied",
         "Invalid according to Policy: Extra input fields: x-amz-meta-extra")),
        ({}, ("big", b"x" * 11), (400, "EntityTooLarge",
         "Your proposed upload exceeds the maximum allowed size")),
        ({}, ("small", b"x"), (400, "EntityTooSmall",
         "Your proposed upload is smaller than the minimum allowed size")),
    ]
    for extra, file, want in cases:
        r = post(p, fields=extra, file=file or ("f", b"hello"))
        assert error(r) == want, (extra, r.text)
    # Missing fields.
    assert error(post(p, drop=("key",)))[:3] == (400, "InvalidArgument",
        "Bucket POST must contain a field named 'key'.  If it is specified, please check the "
        "order of the fields.")
    assert error(post(p, drop=("x-amz-signature",)))[:2] == (400, "InvalidArgument")
    assert error(post(p, drop=("policy",)))[:2] == (400, "InvalidArgument")
    assert error(post(p, file=None)) == (400, "InvalidArgument",
                                         "POST requires exactly one file upload per request.")
    # Not a form.
    r = requests.post(p["url"], data=p["fields"])
    assert error(r) == (412, "PreconditionFailed",
                        "Bucket POST must be of the enclosure-type multipart/form-data")
    # A policy changed after signing.
    doc = json.loads(base64.b64decode(p["fields"]["policy"]))
    doc["conditions"].append(["starts-with", "$x-amz-meta-any", ""])
    forged = base64.b64encode(json.dumps(doc).encode()).decode()
    assert error(post(p, fields={"policy": forged}))[:2] == (403, "SignatureDoesNotMatch")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["in/f.txt"]


def sign_v4_policy(server, doc):
    """A V4 form for an arbitrary policy document (text) signed with the root's keys."""
    now = datetime.datetime.utcnow()
    date = now.strftime("%Y%m%d")
    cred = "%s/%s/us-east-1/s3/aws4_request" % (server.root_user, date)
    policy = base64.b64encode(doc.encode()).decode()
    k = ("AWS4" + server.root_password).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, policy.encode(), hashlib.sha256).hexdigest()
    return {"key": "doc", "policy": policy, "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": cred, "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
            "x-amz-signature": sig}


def test_policy_documents(server, bucket):
    url = server.endpoint + "/" + bucket
    later = (datetime.datetime.utcnow() + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = ('[{"bucket": "uploads"}, ["eq", "$key", "doc"], ["starts-with", "$x-amz-algorithm", ""],'
            ' ["starts-with", "$x-amz-credential", ""], ["starts-with", "$x-amz-date", ""]')
    cases = [
        ("not json", (400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")),
        ('{"conditions": []}', (400, "InvalidPolicyDocument",
                                "Invalid Policy: Policy missing expiration.")),
        ('{"expiration": "%s"}' % later, (400, "InvalidPolicyDocument",
                                          "Invalid Policy: Policy missing conditions.")),
        ('{"expiration": "%s", "conditions": %s, {"a": "1", "b": "2"}]}' % (later, base),
         (400, "InvalidPolicyDocument", "Invalid Policy: Invalid Simple-Condition: "
          "Simple-Conditions must have exactly one property specified.")),
        ('{"expiration": "%s", "conditions": %s, ["like", "$key", "d"]]}' % (later, base),
         (400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition: unknown operation 'like'.")),
        ('{"expiration": "2001-01-01T00:00:00Z", "conditions": %s]}' % base,
         (403, "AccessDenied", "Invalid according to Policy: Policy expired.")),
        ('{"expiration": "%s", "conditions": %s, {"bucket": "other"}]}' % (later, base),
         (403, "AccessDenied",
          'Invalid according to Policy: Policy Condition failed: {"bucket": "other"}')),
        ('{"expiration": "%s", "conditions": %s]}' % (later, base), None),
    ]
    for doc, want in cases:
        r = requests.post(url, data=sign_v4_policy(server, doc), files={"file": ("a", b"x")})
        if want is None:
            assert r.status_code == 204, r.text
        else:
            assert error(r) == want, (doc, r.text)


# ---- anonymous uploads ----

def test_anonymous_post_needs_a_bucket_policy(server, bucket):
    url = server.endpoint + "/" + bucket
    r = requests.post(url, data={"key": "drop/a"}, files={"file": ("a", b"anon")})
    assert error(r)[:2] == (403, "AccessDenied")
    s3 = s3_client(server)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::uploads/drop/*"}]}))
    r = requests.post(url, data={"key": "drop/${filename}"}, files={"file": ("a", b"anon")})
    assert r.status_code == 204, r.text
    r = requests.post(url, data={"key": "elsewhere/a"}, files={"file": ("a", b"anon")})
    assert error(r)[:2] == (403, "AccessDenied")
    assert s3.get_object(Bucket=bucket, Key="drop/a")["Body"].read() == b"anon"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["drop/a"]
    r = requests.post(server.endpoint + "/nosuchbucket", data={"key": "k"}, files={"file": ("a", b"x")})
    assert error(r)[:2] == (404, "NoSuchBucket")


# ---- large files, bounded memory ----

class Multipart:
    """A multipart/form-data body of fields and a file of `size` bytes, generated as read."""

    def __init__(self, fields, size, boundary="tessera-post-boundary-1234"):
        self.boundary = boundary
        head = b"".join(b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            boundary.encode(), k.encode(), v.encode()) for k, v in fields.items())
        head += (b'--%s\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
                 b"Content-Type: application/octet-stream\r\n\r\n" % boundary.encode())
        self.parts = [head, None, b"\r\n--%s--\r\n" % boundary.encode()]
        self.size = size
        self.left = size
        self.md5 = hashlib.md5()
        self.total = len(head) + size + len(self.parts[2])
        self.chunk = bytes(range(256)) * 4096

    def __len__(self):
        return self.total

    def read(self, n=-1):
        if self.parts[0]:
            out, self.parts[0] = self.parts[0], b""
            return out
        if self.left > 0:
            out = self.chunk[:min(len(self.chunk), self.left)]
            self.left -= len(out)
            self.md5.update(out)
            return out
        out, self.parts[2] = self.parts[2], b""
        return out


def vm(server, field):
    with open("/proc/%d/status" % server.proc.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def test_64_mib_file_streams_with_bounded_memory(server, bucket):
    s3 = v4(server)
    size = 64 << 20
    p = s3.generate_presigned_post(bucket, "big", Conditions=[["content-length-range", 0, size]])
    base = vm(server, "VmHWM")
    body = Multipart(p["fields"], size)
    r = requests.post(p["url"], data=body, timeout=300,
                      headers={"Content-Type": "multipart/form-data; boundary=" + body.boundary})
    assert r.status_code == 204, r.text
    assert r.headers["ETag"] == '"%s"' % body.md5.hexdigest()
    assert s3.head_object(Bucket=bucket, Key="big")["ContentLength"] == size
    grown = vm(server, "VmHWM") - base
    print("server VmHWM grew by %.1f MiB for a 64 MiB POST" % (grown / 2**20))
    assert grown < ((48 if ASAN else 24) << 20), grown
    # One byte over content-length-range: refused while streaming, nothing stored.
    p2 = s3.generate_presigned_post(bucket, "big2", Conditions=[["content-length-range", 0, size]])
    body = Multipart(p2["fields"], size + 1)
    r = requests.post(p2["url"], data=body, timeout=300,
                      headers={"Content-Type": "multipart/form-data; boundary=" + body.boundary})
    assert error(r)[:2] == (400, "EntityTooLarge")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["big"]


def test_truncated_body_stores_nothing(server, bucket):
    s3 = v4(server)
    p = s3.generate_presigned_post(bucket, "cut")
    body = Multipart(p["fields"], 1000)
    data = b"".join(iter(lambda: body.read(), b""))[:-10]  # the closing boundary cut off
    r = requests.post(p["url"], data=data, timeout=60,
                      headers={"Content-Type": "multipart/form-data; boundary=" + body.boundary})
    assert error(r)[:2] == (400, "MalformedPOSTRequest")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    big = {"key": "cut", "x-ignore-pad": "p" * (70 << 10)}
    body = Multipart(big, 10)
    r = requests.post(p["url"], data=body, timeout=60,
                      headers={"Content-Type": "multipart/form-data; boundary=" + body.boundary})
    assert error(r)[:2] == (400, "MaxPostPreDataLengthExceeded")


# ---- newer SDK, gateway, browser ----

PYENV_SCRIPT = textwrap.dedent("""
    import sys, boto3, botocore.config, requests
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                      aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="newer")
    p = s3.generate_presigned_post("newer", "k/${filename}", Fields={"success_action_status": "201"},
                                   Conditions=[{"success_action_status": "201"}])
    r = requests.post(p["url"], data=p["fields"], files={"file": ("n.txt", b"newer sdk")})
    assert r.status_code == 201, r.text
    assert s3.get_object(Bucket="newer", Key="k/n.txt")["Body"].read() == b"newer sdk"
    print("ok", p["fields"].get("x-amz-algorithm"))
""")


def test_newer_boto3(server):
    assert "ok" in run_newer_boto3(server, PYENV_SCRIPT, timeout=120)


def test_gateway_refuses_post_uploads(tmp_root):
    from test_gateway import UP_PASS, UP_USER, start_gateway
    up = Server(os.path.join(tmp_root, "upstream"))
    up.root_user, up.root_password = UP_USER, UP_PASS
    up.start()
    try:
        gw = start_gateway(tmp_root, up.endpoint)
        try:
            s3 = s3_client(gw, signature_version="s3v4")
            s3.create_bucket(Bucket="gwpost")
            p = s3.generate_presigned_post("gwpost", "k")
            st, c, msg = error(post(p))
            assert (st, c) == (501, "NotImplemented") and "gateway" in msg
            assert "Contents" not in s3_client(up).list_objects_v2(Bucket="gwpost")
        finally:
            gw.stop()
    finally:
        up.stop()


needs_browser = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium") or shutil.which("node") is None
    or not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules")),
    reason="needs Debian's chromium and `npm ci` in tests/integration/browser")


@needs_browser
def test_browser_form_upload_with_temporary_credentials(server, bucket, tmp_path):
    c = sts_client(server).assume_role(RoleArn="arn:aws:iam::000000000000:role/x",
                                       RoleSessionName="browser")["Credentials"]
    s3 = s3_client(server, ak=c["AccessKeyId"], sk=c["SecretAccessKey"], token=c["SessionToken"],
                   signature_version="s3v4")
    p = s3.generate_presigned_post(bucket, "web/${filename}",
                                   Fields={"success_action_status": "201",
                                           "Content-Type": "text/plain"},
                                   Conditions=[["starts-with", "$key", "web/"],
                                               {"success_action_status": "201"},
                                               ["starts-with", "$Content-Type", "text/"]])
    f = tmp_path / "from-browser.txt"
    f.write_bytes(b"picked in a file input\n")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"url": p["url"], "fields": p["fields"], "file": str(f)}))
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "post_upload.mjs"), str(spec)],
                       cwd=BROWSER_DIR, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" not in out, out["error"]
    assert out["origin"] != server.endpoint  # another origin than tessera's
    assert out["status"] == 201, out
    assert "<Key>web/from-browser.txt</Key>" in out["text"]
    got = s3_client(server).get_object(Bucket=bucket, Key="web/from-browser.txt")
    assert got["Body"].read() == b"picked in a file input\n"
    assert got["ContentType"] == "text/plain"
