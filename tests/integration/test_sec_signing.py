"""Issue 13, items 2 and 6: what a signature covers.

- Every x-amz-* header of a SigV4 request (header or presigned) must be among its
  SignedHeaders: an x-amz-copy-source added to a presigned PUT or to a replayed header-signed
  PUT must not turn it into a CopyObject (403 AccessDenied, nothing copied).
- STS and the admin API take SigV4 header authentication with a signed payload only: no
  Signature Version 2, no presigned URLs, no UNSIGNED-PAYLOAD (a signature must not be good
  for another body). SigV2 presigned URLs live at most a week.

Requests are signed by botocore's own signers (SigV4Auth, HmacV1Auth, HmacV1QueryAuth,
S3SigV4QueryAuth) and sent with requests or curl, so that a header can be added after signing
as an attacker would.
"""
import hashlib
import json
import subprocess
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import boto3
import pytest
import requests

from conftest import admin, aws, newer_aws_cli, s3_client, sts_client

SECRET = b"the private object nobody but root may read"
NOT_SIGNED = "There were headers present in the request which were not signed"


def creds(server, ak=None, sk=None):
    return botocore.credentials.Credentials(ak or server.root_user, sk or server.root_password)


def v4_signed(server, method, path, body=b"", headers=None, service="s3", payload=None,
              ak=None, sk=None):
    """A request signed by botocore's SigV4Auth; payload sets x-amz-content-sha256 (signed)."""
    h = dict(headers or {})
    if payload is not None:
        h["X-Amz-Content-SHA256"] = payload
    req = botocore.awsrequest.AWSRequest(method=method, url=server.endpoint + path, data=body,
                                         headers=h)
    botocore.auth.SigV4Auth(creds(server, ak, sk), service, "us-east-1").add_auth(req)
    return req.prepare()


def send(prep, body=None, extra=None):
    """Sends a prepared request, optionally with another body and added headers."""
    h = {k: v for k, v in prep.headers.items() if k.lower() != "content-length"}
    h.update(extra or {})
    return requests.request(prep.method, prep.url, headers=h,
                            data=prep.body if body is None else body, timeout=30)


def setup_buckets(server):
    root = s3_client(server)
    root.create_bucket(Bucket="private-bucket")
    root.put_object(Bucket="private-bucket", Key="secret", Body=SECRET)
    root.create_bucket(Bucket="uploads")
    return root


def slot_is_empty(root, key):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.head_object(Bucket="uploads", Key=key)
    return e.value.response["Error"]["Code"] in ("404", "NoSuchKey")


# ---- item 2: unsigned x-amz-* headers ----

def test_presigned_put_with_unsigned_copy_source_is_refused(server):
    root = setup_buckets(server)
    v4 = s3_client(server, signature_version="s3v4")
    url = v4.generate_presigned_url("put_object", ExpiresIn=300,
                                    Params={"Bucket": "uploads", "Key": "slot"})
    assert "X-Amz-SignedHeaders=host" in url
    # requests: the link holder adds x-amz-copy-source.
    r = requests.put(url, data=b"", headers={"x-amz-copy-source": "/private-bucket/secret"})
    assert r.status_code == 403, r.text
    assert "<Code>AccessDenied</Code>" in r.text and NOT_SIGNED in r.text
    assert "x-amz-copy-source" in r.text
    assert slot_is_empty(root, "slot")
    # curl, with a metadata directive too.
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                        "-H", "X-Amz-Copy-Source: private-bucket/secret",
                        "-H", "x-amz-metadata-directive: REPLACE", "--data-binary", "", url],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout == "403"
    assert slot_is_empty(root, "slot")
    # The link itself still works as intended.
    assert requests.put(url, data=b"uploaded").status_code == 200
    assert root.get_object(Bucket="uploads", Key="slot")["Body"].read() == b"uploaded"


def test_presigned_get_with_unsigned_header_is_refused(server):
    root = setup_buckets(server)
    root.put_object(Bucket="uploads", Key="pub", Body=b"x")
    v4 = s3_client(server, signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", ExpiresIn=300,
                                    Params={"Bucket": "uploads", "Key": "pub"})
    assert requests.get(url).content == b"x"
    r = requests.get(url, headers={"x-amz-checksum-mode": "ENABLED"})
    assert r.status_code == 403 and NOT_SIGNED in r.text
    # x-amz-content-sha256 is the payload line of the canonical request: unlisted it is
    # accepted as S3 does, but only with the value signed.
    assert requests.get(url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}).content == b"x"
    r = requests.get(url, headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text


def test_header_signed_put_replayed_with_copy_source_is_refused(server):
    root = setup_buckets(server)
    body = b"mine"
    prep = v4_signed(server, "PUT", "/uploads/replayed", body=body,
                     payload=hashlib.sha256(body).hexdigest())
    assert "x-amz-copy-source" not in prep.headers.get("Authorization", "")
    r = send(prep, extra={"x-amz-copy-source": "/private-bucket/secret"})
    assert r.status_code == 403, r.text
    assert "<Code>AccessDenied</Code>" in r.text and NOT_SIGNED in r.text
    assert slot_is_empty(root, "replayed")
    # The same signed request without the extra header is good.
    assert send(prep).status_code == 200
    assert root.get_object(Bucket="uploads", Key="replayed")["Body"].read() == body


def test_unsigned_meta_header_is_refused(server):
    root = setup_buckets(server)
    prep = v4_signed(server, "PUT", "/uploads/meta", body=b"m",
                     payload=hashlib.sha256(b"m").hexdigest(),
                     headers={"x-amz-meta-signed": "yes"})
    r = send(prep, extra={"X-Amz-Meta-Owner": "mallory"})
    assert r.status_code == 403 and NOT_SIGNED in r.text and "x-amz-meta-owner" in r.text
    assert slot_is_empty(root, "meta")
    assert send(prep).status_code == 200
    assert root.head_object(Bucket="uploads", Key="meta")["Metadata"] == {"signed": "yes"}
    # A signed copy, by the same signer, works: the rule is about what was signed.
    prep = v4_signed(server, "PUT", "/uploads/copy", payload=hashlib.sha256(b"").hexdigest(),
                     headers={"x-amz-copy-source": "/private-bucket/secret"})
    assert send(prep).status_code == 200
    assert root.get_object(Bucket="uploads", Key="copy")["Body"].read() == SECRET


def test_sigv2_signs_every_amz_header(server):
    """Signature Version 2 signs all x-amz-* headers (CanonicalizedAmzHeaders): one added to a
    V2 presigned PUT breaks the signature."""
    root = setup_buckets(server)
    v2 = s3_client(server, signature_version="s3")
    url = v2.generate_presigned_url("put_object", ExpiresIn=300,
                                    Params={"Bucket": "uploads", "Key": "v2slot"})
    assert "AWSAccessKeyId=" in url
    r = requests.put(url, data=b"", headers={"x-amz-copy-source": "/private-bucket/secret"})
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    assert slot_is_empty(root, "v2slot")
    assert requests.put(url, data=b"ok").status_code == 200


def test_signed_clients_still_work(server):
    """botocore signs every x-amz-* header it sends, in each of its payload modes."""
    root = setup_buckets(server)
    root.put_object(Bucket="uploads", Key="a", Body=b"1", Metadata={"k": "v"},
                    ChecksumAlgorithm="SHA256", ContentType="text/plain", Tagging="t=1")
    root.copy_object(Bucket="uploads", Key="b", CopySource="private-bucket/secret",
                     MetadataDirective="REPLACE", Metadata={"x": "y"})
    assert root.get_object(Bucket="uploads", Key="b")["Body"].read() == SECRET
    with_token = sts_client(server).assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss")["Credentials"]
    tmp = s3_client(server, with_token["AccessKeyId"], with_token["SecretAccessKey"],
                    with_token["SessionToken"])
    tmp.put_object(Bucket="uploads", Key="c", Body=b"3")
    v4 = s3_client(server, with_token["AccessKeyId"], with_token["SecretAccessKey"],
                   with_token["SessionToken"], signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": "uploads", "Key": "c"})
    assert "X-Amz-Security-Token=" in url
    assert requests.get(url).content == b"3"


# ---- item 6: STS and the admin API ----

def test_admin_api_refuses_sigv2(server):
    url = server.endpoint + "/tessera/admin/v1/users"
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    botocore.auth.HmacV1Auth(creds(server)).add_auth(req)
    r = send(req.prepare())
    assert r.status_code == 403, r.text
    assert r.json()["Code"] == "AccessDenied"
    assert "Signature Version 2" in r.json()["Message"]
    # A SigV2 presigned URL, a year long.
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    botocore.auth.HmacV1QueryAuth(creds(server), expires=365 * 86400).add_auth(req)
    assert "Signature=" in req.url
    r = requests.get(req.url)
    assert r.status_code == 403 and r.json()["Code"] == "AccessDenied"
    # A state-changing call: nothing is created.
    req = botocore.awsrequest.AWSRequest(method="PUT", url=url + "/v2made",
                                         data=json.dumps({"secretKey": "v2made-secret"}),
                                         headers={"Content-Type": "application/json"})
    botocore.auth.HmacV1Auth(creds(server)).add_auth(req)
    assert send(req.prepare()).status_code == 403
    assert "v2made" not in admin(server, "user", "list").stdout


def test_admin_api_refuses_presigned_sigv4(server):
    url = server.endpoint + "/tessera/admin/v1/users"
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    botocore.auth.S3SigV4QueryAuth(creds(server), "s3", "us-east-1", expires=300).add_auth(req)
    assert "X-Amz-Signature=" in req.url
    r = requests.get(req.url)
    assert r.status_code == 403 and r.json()["Code"] == "AccessDenied"


def test_admin_body_swapped_under_unsigned_payload_is_refused(server):
    path = "/tessera/admin/v1/users/eve"
    good = json.dumps({"secretKey": "eve-secret-12345"}).encode()
    evil = json.dumps({"secretKey": "mallory-knows-1"}).encode()
    prep = v4_signed(server, "PUT", path, body=good, payload="UNSIGNED-PAYLOAD",
                     headers={"Content-Type": "application/json"})
    r = send(prep, body=evil)
    assert r.status_code == 403, r.text
    assert r.json()["Code"] == "AccessDenied"
    assert send(prep).status_code == 403  # UNSIGNED-PAYLOAD is refused whatever the body
    for mode in ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"):
        prep = v4_signed(server, "PUT", path, body=good, payload=mode,
                         headers={"Content-Type": "application/json"})
        assert send(prep).status_code == 403
    assert "eve" not in admin(server, "user", "list").stdout
    # A declared hex hash must be the body's.
    prep = v4_signed(server, "PUT", path, body=good, payload=hashlib.sha256(good).hexdigest(),
                     headers={"Content-Type": "application/json"})
    r = send(prep, body=evil)
    assert r.status_code == 400 and r.json()["Code"] == "XAmzContentSHA256Mismatch"
    assert "eve" not in admin(server, "user", "list").stdout
    # Without x-amz-content-sha256 the server hashes the body it got.
    prep = v4_signed(server, "PUT", path, body=good, headers={"Content-Type": "application/json"})
    assert "X-Amz-Content-SHA256" not in prep.headers
    r = send(prep, body=evil)
    assert r.status_code == 403 and r.json()["Code"] == "SignatureDoesNotMatch"
    assert send(prep).status_code == 200
    # eve exists with the signed secret (GetCallerIdentity needs no policy).
    ident = sts_client(server, "eve", "eve-secret-12345").get_caller_identity()
    assert ident["Arn"].endswith("user/eve")


def sts_form(params):
    return urllib.parse.urlencode(params).encode()


STS_HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_sts_body_swapped_under_unsigned_payload_is_refused(server):
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::none/*"}]})
    signed_body = sts_form({"Action": "AssumeRole", "Version": "2011-06-15",
                            "RoleArn": "arn:xxx:xxx:xxx:xxxx", "RoleSessionName": "narrow",
                            "Policy": narrow})
    wide_body = sts_form({"Action": "AssumeRole", "Version": "2011-06-15",
                          "RoleArn": "arn:xxx:xxx:xxx:xxxx", "RoleSessionName": "narrow"})
    prep = v4_signed(server, "POST", "/", body=signed_body, service="sts",
                     payload="UNSIGNED-PAYLOAD", headers=STS_HEADERS)
    r = send(prep, body=wide_body)
    assert r.status_code == 403, r.text
    assert "<Code>AccessDenied</Code>" in r.text and "<Credentials>" not in r.text
    r = send(prep)
    assert r.status_code == 403 and "<Credentials>" not in r.text
    # Signed the usual way (no header: the server hashes the body), a swapped body fails.
    prep = v4_signed(server, "POST", "/", body=signed_body, service="sts", headers=STS_HEADERS)
    r = send(prep, body=wide_body)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    assert send(prep).status_code == 200
    # A declared hex hash is checked against the body.
    prep = v4_signed(server, "POST", "/", body=signed_body, service="sts",
                     payload=hashlib.sha256(signed_body).hexdigest(), headers=STS_HEADERS)
    r = send(prep, body=wide_body)
    assert r.status_code == 400 and "XAmzContentSHA256Mismatch" in r.text
    assert send(prep).status_code == 200


def test_sts_refuses_presigned_and_sigv2(server):
    url = server.endpoint + "/?Action=GetCallerIdentity&Version=2011-06-15"
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    botocore.auth.SigV4QueryAuth(creds(server), "sts", "us-east-1", expires=300).add_auth(req)
    r = requests.get(req.url)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    req = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/",
                                         data=sts_form({"Action": "GetCallerIdentity",
                                                        "Version": "2011-06-15"}),
                                         headers=STS_HEADERS)
    botocore.auth.HmacV1Auth(creds(server)).add_auth(req)
    r = send(req.prepare())
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text


def test_sigv2_presigned_lifetime_is_capped(server):
    root = setup_buckets(server)
    root.put_object(Bucket="uploads", Key="k", Body=b"v")
    v2 = s3_client(server, signature_version="s3")
    year = v2.generate_presigned_url("get_object", ExpiresIn=365 * 86400,
                                     Params={"Bucket": "uploads", "Key": "k"})
    assert "Expires=" in year and "AWSAccessKeyId=" in year
    r = requests.get(year)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    assert "less than a week" in r.text
    week = v2.generate_presigned_url("get_object", ExpiresIn=7 * 86400,
                                     Params={"Bucket": "uploads", "Key": "k"})
    assert requests.get(week).content == b"v"


def test_admin_cli_and_sts_clients_still_work(server):
    admin(server, "user", "add", "carl", "carl-secret-123")
    admin(server, "policy", "attach", "readwrite", "--user", "carl")
    assert "carl" in admin(server, "user", "list").stdout
    ident = json.loads(aws(server, "sts", "get-caller-identity", ak="carl",
                           sk="carl-secret-123").stdout)
    assert ident["Arn"].endswith("user/carl")
    out = json.loads(aws(server, "sts", "assume-role", "--role-arn", "arn:xxx:xxx:xxx:xxxx",
                         "--role-session-name", "ss", ak="carl", sk="carl-secret-123").stdout)
    assert out["Credentials"]["SessionToken"]
    newer = newer_aws_cli()
    if newer:
        ident = json.loads(aws(server, "sts", "get-caller-identity", ak="carl",
                               sk="carl-secret-123", aws_bin=newer).stdout)
        assert ident["Arn"].endswith("user/carl")
    c = boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id="carl",
                     aws_secret_access_key="carl-secret-123", region_name="us-east-1",
                     config=botocore.config.Config(retries={"max_attempts": 1}))
    assert c.get_caller_identity()["Arn"].endswith("user/carl")
