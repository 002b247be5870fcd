"""Issue 18 feature 3: CORS (objstore/s3_cors.c) as AWS S3 does it.

- Put/Get/DeleteBucketCors with boto3 (Debian's and pyenv's python), the aws cli and raw signed
  requests for what boto3 will not send: AWS's limits and errors, the IAM actions
  (s3:PutBucketCORS, s3:GetBucketCORS; DeleteBucketCors is s3:PutBucketCORS), kept across a
  kill -9 and removed with the bucket;
- the preflight `OPTIONS /bucket[/key]`, answered from the rules without authentication (also on
  a presigned URL), with S3's 400 and 403 answers;
- the Access-Control-* headers of actual requests from an allowed origin, error answers (403,
  404, a bad signature) included, and presigned requests;
- a web app on another origin in headless Chromium (browser/cors.mjs) uploading and downloading
  with presigned URLs made from credentials tessera minted: it works with a matching rule and
  is a browser CORS error without one;
- the gateway: tessera keeps the rules (IAM store) and answers for the upstream.
"""
import hashlib
import json
import os
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import pytest
import requests

from conftest import aws, free_port, run_newer_boto3, s3_client, sts_client
from test_gateway import gw, upstream  # noqa: F401  (fixtures)
from test_tagging import make_user

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
CHROMIUM = "/usr/bin/chromium"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the "
               "evalution of Origin, request method / Access-Control-Request-Method or "
               "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
ACAO = "Access-Control-Allow-Origin"


def code(e):
    return e.value.response["Error"]["Code"]


def signed(server, method, path, body=b"", headers=None, ak=None, sk=None):
    """A SigV4-signed raw request (root credentials by default)."""
    url = server.endpoint + path
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                         headers=dict(headers or {}))
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    creds = botocore.credentials.Credentials(ak or server.root_user, sk or server.root_password)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return requests.request(method, url, data=body, headers=dict(req.headers), timeout=30)


def err_code(resp):
    return ET.fromstring(resp.content).findtext("Code") if resp.content else None


def err_msg(resp):
    return ET.fromstring(resp.content).findtext("Message")


def rules_xml(*rules):
    return ("<CORSConfiguration>" + "".join("<CORSRule>%s</CORSRule>" % r for r in rules)
            + "</CORSConfiguration>").encode()


# ---- the configuration ----

def test_configuration_round_trip(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cfg")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket="cfg")
    assert code(e) == "NoSuchCORSConfiguration"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    rules = [{"ID": "app", "AllowedHeaders": ["x-amz-*", "Content-Type"],
              "AllowedMethods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
              "AllowedOrigins": ["http://*.example.com", "https://app.example.org"],
              "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 3000},
             {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]
    r = s3.put_bucket_cors(Bucket="cfg", CORSConfiguration={"CORSRules": rules})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_cors(Bucket="cfg")["CORSRules"] == rules
    # replaced as a whole
    s3.put_bucket_cors(Bucket="cfg", CORSConfiguration={"CORSRules": rules[1:]})
    assert s3.get_bucket_cors(Bucket="cfg")["CORSRules"] == rules[1:]
    r = s3.delete_bucket_cors(Bucket="cfg")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket="cfg")
    assert code(e) == "NoSuchCORSConfiguration"
    assert s3.delete_bucket_cors(Bucket="cfg")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket="nosuchbucket")
    assert code(e) == "NoSuchBucket"


ORIGIN_GET = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"


@pytest.mark.parametrize("body,status,code_,msg", [
    (rules_xml("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"), 400,
     "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
    (rules_xml("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>"), 400,
     "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is get"),
    (rules_xml("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>OPTIONS</AllowedMethod>"), 400,
     "InvalidRequest", None),
    (rules_xml("<AllowedOrigin>http://*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"),
     400, "InvalidRequest", 'AllowedOrigin "http://*.*.com" can not have more than one wildcard.'),
    (rules_xml(ORIGIN_GET + "<AllowedHeader>x-*-*</AllowedHeader>"), 400, "InvalidRequest",
     'AllowedHeader "x-*-*" can not have more than one wildcard.'),
    (rules_xml(ORIGIN_GET + "<ExposeHeader>*</ExposeHeader>"), 400, "InvalidRequest", None),
    (rules_xml(ORIGIN_GET + "<ExposeHeader>a b</ExposeHeader>"), 400, "InvalidRequest", None),
    (rules_xml(ORIGIN_GET + "<ID>%s</ID>" % ("i" * 256)), 400, "InvalidArgument", None),
    (rules_xml(ORIGIN_GET + "<MaxAgeSeconds>-1</MaxAgeSeconds>"), 400, "MalformedXML", None),
    (rules_xml(ORIGIN_GET + "<MaxAgeSeconds>x</MaxAgeSeconds>"), 400, "MalformedXML", None),
    (rules_xml(ORIGIN_GET + "<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>"),
     400, "MalformedXML", None),
    (rules_xml(ORIGIN_GET + "<Unknown>1</Unknown>"), 400, "MalformedXML", None),
    (rules_xml("<AllowedMethod>GET</AllowedMethod>"), 400, "MalformedXML", None),
    (rules_xml("<AllowedOrigin>*</AllowedOrigin>"), 400, "MalformedXML", None),
    (rules_xml(), 400, "MalformedXML", None),
    (rules_xml(*([ORIGIN_GET] * 101)), 400, "MalformedXML", None),
    (b"<CORSConfiguration><CORSRule>", 400, "MalformedXML", None),
    (b"<Other/>", 400, "MalformedXML", None),
    (b"", 400, "MissingRequestBodyError", None),
    (rules_xml(ORIGIN_GET + "<ExposeHeader>%s</ExposeHeader>" % ("h" * 70000)), 400,
     "MaxMessageLengthExceeded", None),
])
def test_configuration_errors(server, body, status, code_, msg):
    s3_client(server).create_bucket(Bucket="errs")
    r = signed(server, "PUT", "/errs?cors", body)
    assert (r.status_code, err_code(r)) == (status, code_), r.text
    if msg:
        assert err_msg(r) == msg
    with pytest.raises(botocore.exceptions.ClientError):
        s3_client(server).get_bucket_cors(Bucket="errs")  # nothing stored


def test_configuration_limits_accepted(server):
    """100 rules, a document just under 64 KiB, an ID of 255 characters, an empty origin."""
    s3_client(server).create_bucket(Bucket="lims")
    hundred = rules_xml(*(["<ID>%s</ID>" % ("é" * 255) + ORIGIN_GET] * 100))
    assert len(hundred) < 64 * 1024
    assert signed(server, "PUT", "/lims?cors", hundred).status_code == 200
    assert len(s3_client(server).get_bucket_cors(Bucket="lims")["CORSRules"]) == 100
    r = signed(server, "PUT", "/lims?cors",
               rules_xml("<AllowedOrigin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>"))
    assert r.status_code == 200


def test_content_md5_checked(server):
    s3_client(server).create_bucket(Bucket="md5b")
    body = rules_xml(ORIGIN_GET)
    r = signed(server, "PUT", "/md5b?cors", body, {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
    assert (r.status_code, err_code(r)) == (400, "BadDigest")


def test_iam_actions(server, tmp_path):
    s3_client(server).create_bucket(Bucket="iamc")
    reader = make_user(server, tmp_path, "corsreader", "corsreader-secret", [
        {"Effect": "Allow", "Action": ["s3:GetBucketCORS"], "Resource": ["arn:aws:s3:::iamc"]}])
    writer = make_user(server, tmp_path, "corswriter", "corswriter-secret", [
        {"Effect": "Allow", "Action": ["s3:PutBucketCORS"], "Resource": ["arn:aws:s3:::iamc"]}])
    cfg = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.put_bucket_cors(Bucket="iamc", CORSConfiguration=cfg)
    assert code(e) == "AccessDenied"
    writer.put_bucket_cors(Bucket="iamc", CORSConfiguration=cfg)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        writer.get_bucket_cors(Bucket="iamc")
    assert code(e) == "AccessDenied"
    assert reader.get_bucket_cors(Bucket="iamc")["CORSRules"][0]["AllowedOrigins"] == ["*"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.delete_bucket_cors(Bucket="iamc")
    assert code(e) == "AccessDenied"
    writer.delete_bucket_cors(Bucket="iamc")  # s3:PutBucketCORS, as AWS


def test_kept_across_kill_and_removed_with_bucket(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="keep")
    cfg = {"CORSRules": [{"AllowedMethods": ["PUT"], "AllowedOrigins": ["https://x.test"]}]}
    s3.put_bucket_cors(Bucket="keep", CORSConfiguration=cfg)
    server.kill()  # SIGKILL: the configuration was durable when PutBucketCors answered
    server.start()
    s3 = s3_client(server)
    assert s3.get_bucket_cors(Bucket="keep")["CORSRules"] == cfg["CORSRules"]
    s3.delete_bucket(Bucket="keep")
    s3.create_bucket(Bucket="keep")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket="keep")
    assert code(e) == "NoSuchCORSConfiguration"
    r = requests.options(server.endpoint + "/keep/k", headers={
        "Origin": "https://x.test", "Access-Control-Request-Method": "PUT"})
    assert r.status_code == 403


def test_aws_cli(server, tmp_path):
    s3_client(server).create_bucket(Bucket="clib")
    f = tmp_path / "cors.json"
    f.write_text(json.dumps({"CORSRules": [{"AllowedMethods": ["GET", "HEAD"],
                                            "AllowedOrigins": ["https://cli.test"],
                                            "MaxAgeSeconds": 60}]}))
    aws(server, "s3api", "put-bucket-cors", "--bucket", "clib",
        "--cors-configuration", "file://" + str(f))
    out = json.loads(aws(server, "s3api", "get-bucket-cors", "--bucket", "clib").stdout)
    assert out["CORSRules"] == [{"AllowedMethods": ["GET", "HEAD"],
                                 "AllowedOrigins": ["https://cli.test"], "MaxAgeSeconds": 60}]
    aws(server, "s3api", "delete-bucket-cors", "--bucket", "clib")
    p = aws(server, "s3api", "get-bucket-cors", "--bucket", "clib", check=False)
    assert p.returncode != 0 and "NoSuchCORSConfiguration" in p.stderr


PYENV_SCRIPT = textwrap.dedent("""
    import sys, boto3, botocore.config, botocore.exceptions
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                      aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="newer")
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://new.test"],
              "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 10}]
    s3.put_bucket_cors(Bucket="newer", CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket="newer")["CORSRules"] == rules
    s3.delete_bucket_cors(Bucket="newer")
    try:
        s3.get_bucket_cors(Bucket="newer")
        raise SystemExit("still there")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    print("ok")
""")


def test_newer_boto3(server):
    """pyenv's boto3 (a CRC32 checksum header instead of Content-MD5)."""
    assert "ok" in run_newer_boto3(server, PYENV_SCRIPT, timeout=120)


# ---- preflight ----

def origin_rules_bucket(server, bucket="pre"):
    s3_client(server).create_bucket(Bucket=bucket)
    s3_client(server).put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*suffix"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["start*end"]},
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["prefix*"]},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["*.put"]},
        {"AllowedMethods": ["PUT", "POST", "DELETE"], "AllowedOrigins": ["http://*.example.com"],
         "AllowedHeaders": ["x-amz-*", "content-type"], "ExposeHeaders": ["ETag"],
         "MaxAgeSeconds": 3000}]})


def preflight(server, path, origin=None, method=None, headers=None):
    h = {}
    if origin is not None:
        h["Origin"] = origin
    if method is not None:
        h["Access-Control-Request-Method"] = method
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(server.endpoint + path, headers=h, timeout=30)


@pytest.mark.parametrize("origin,method,allowed", [
    ("foo.suffix", "GET", True), ("suffix", "GET", True), ("foo.bar", "GET", False),
    ("foo.suffix.get", "GET", False), ("startend", "GET", True), ("start12end", "GET", True),
    ("0start12end", "GET", False), ("prefix", "GET", True), ("prefix.suffix", "GET", True),
    ("bla.prefix", "GET", False), ("foo.put", "GET", False), ("foo.put", "PUT", True),
    ("foo.suffix", "PUT", False), ("foo.suffix", "get", False), ("FOO.SUFFIX", "GET", False),
    ("http://a.example.com", "DELETE", True), ("https://a.example.com", "DELETE", False),
    ("http://a.example.com/", "DELETE", False), ("http://.example.com", "PUT", True),
])
def test_preflight_origins_and_methods(server, origin, method, allowed):
    origin_rules_bucket(server)
    for path in ("/pre", "/pre/some/key"):
        r = preflight(server, path, origin, method)
        if allowed:
            assert r.status_code == 200, r.text
            assert r.headers[ACAO] == origin
            assert r.headers["Access-Control-Allow-Credentials"] == "true"
            assert r.headers["Vary"] == VARY
            assert r.content == b""
        else:
            assert r.status_code == 403
            assert (err_code(r), err_msg(r)) == ("AccessForbidden", NOT_ALLOWED)
            assert ACAO not in r.headers and "Access-Control-Allow-Methods" not in r.headers


def test_preflight_answer_headers(server):
    origin_rules_bucket(server)
    r = preflight(server, "/pre/k", "http://app.example.com", "PUT",
                  "X-Amz-Date,x-amz-content-sha256, Content-Type, x-amz-meta-Foo")
    assert r.status_code == 200, r.text
    assert r.headers[ACAO] == "http://app.example.com"
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, POST, DELETE"
    assert r.headers["Access-Control-Allow-Headers"] == \
        "x-amz-date, x-amz-content-sha256, content-type, x-amz-meta-foo"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag"
    assert r.headers["Access-Control-Max-Age"] == "3000"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Vary"] == VARY
    # one header no AllowedHeader matches: nothing allowed
    r = preflight(server, "/pre/k", "http://app.example.com", "PUT", "x-amz-date, authorization")
    assert r.status_code == 403 and ACAO not in r.headers
    # a rule without AllowedHeader allows no requested header
    r = preflight(server, "/pre/k", "foo.put", "PUT", "content-type")
    assert r.status_code == 403
    r = preflight(server, "/pre/k", "foo.put", "PUT")
    assert r.status_code == 200 and "Access-Control-Allow-Headers" not in r.headers
    assert "Access-Control-Max-Age" not in r.headers
    assert "Access-Control-Expose-Headers" not in r.headers


def test_preflight_wildcard_origin(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="star")
    s3.put_bucket_cors(Bucket="star", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"]}]})
    r = preflight(server, "/star/k", "http://random:1234", "GET", "x-anything")
    assert r.status_code == 200
    assert r.headers[ACAO] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert r.headers["Access-Control-Allow-Headers"] == "x-anything"
    assert r.headers["Vary"] == VARY


def test_preflight_errors(server):
    origin_rules_bucket(server)
    s3_client(server).create_bucket(Bucket="nocors")
    r = preflight(server, "/pre/k")
    assert (r.status_code, err_code(r)) == (400, "BadRequest")
    assert err_msg(r) == "Insufficient information. Origin request header needed."
    r = preflight(server, "/pre/k", method="GET")
    assert (r.status_code, err_code(r)) == (400, "BadRequest")
    r = preflight(server, "/pre/k", "foo.suffix")
    assert (r.status_code, err_code(r)) == (400, "BadRequest")
    assert err_msg(r) == "Invalid Access-Control-Request-Method: null"
    r = preflight(server, "/nocors/k", "foo.suffix", "GET")
    assert (r.status_code, err_code(r)) == (403, "AccessForbidden")
    assert err_msg(r) == "CORSResponse: CORS is not enabled for this bucket."
    r = preflight(server, "/nocors", "foo.suffix")
    assert (r.status_code, err_code(r)) == (403, "AccessForbidden")
    r = preflight(server, "/missing-bucket/k", "foo.suffix", "GET")
    assert (r.status_code, err_code(r)) == (403, "AccessForbidden")
    assert err_msg(r) == "CORSResponse: Bucket not found"
    r = preflight(server, "/", "foo.suffix", "GET")
    assert (r.status_code, err_code(r)) == (403, "AccessForbidden")
    # a signed OPTIONS is a preflight too (a preflight never needs credentials)
    r = signed(server, "OPTIONS", "/pre/k", headers={"Origin": "foo.suffix",
                                                      "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200 and r.headers[ACAO] == "foo.suffix"


# ---- actual requests ----

def test_actual_request_headers(server):
    origin_rules_bucket(server)
    s3_client(server).put_object(Bucket="pre", Key="obj", Body=b"data")
    # a matching origin: the rule's headers, on success and on every error
    r = signed(server, "GET", "/pre/obj", headers={"Origin": "foo.suffix"})
    assert r.status_code == 200 and r.content == b"data"
    assert r.headers[ACAO] == "foo.suffix"
    assert r.headers["Access-Control-Allow-Methods"] == "GET"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Vary"] == VARY
    r = signed(server, "HEAD", "/pre/obj", headers={"Origin": "foo.suffix"})
    assert r.status_code == 200 and ACAO not in r.headers  # no rule allows HEAD: no headers
    r = signed(server, "GET", "/pre/missing", headers={"Origin": "foo.suffix"})
    assert (r.status_code, err_code(r)) == (404, "NoSuchKey")
    assert r.headers[ACAO] == "foo.suffix"
    r = requests.get(server.endpoint + "/pre/obj", headers={"Origin": "foo.suffix"})
    assert (r.status_code, err_code(r)) == (403, "AccessDenied")  # anonymous
    assert r.headers[ACAO] == "foo.suffix"
    r = signed(server, "GET", "/pre/obj", headers={"Origin": "foo.suffix"}, sk="wrong-secret")
    assert (r.status_code, err_code(r)) == (403, "SignatureDoesNotMatch")
    assert r.headers[ACAO] == "foo.suffix"
    r = signed(server, "PUT", "/pre/new", b"x", {"Origin": "http://a.example.com"})
    assert r.status_code == 200
    assert r.headers[ACAO] == "http://a.example.com"
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, POST, DELETE"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag"
    assert r.headers["Access-Control-Max-Age"] == "3000"
    r = signed(server, "DELETE", "/pre/new", headers={"Origin": "http://a.example.com"})
    assert r.status_code == 204 and r.headers[ACAO] == "http://a.example.com"
    # Access-Control-Request-Method decides the match of an actual request (as S3)
    r = requests.put(server.endpoint + "/pre/obj", data=b"x", headers={
        "Origin": "foo.suffix", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 403 and r.headers[ACAO] == "foo.suffix"
    assert r.headers["Access-Control-Allow-Methods"] == "GET"
    # no match, no Origin, no configuration: no CORS headers at all
    for origin in ("foo.bar", None):
        h = {"Origin": origin} if origin else {}
        r = signed(server, "GET", "/pre/obj", headers=h)
        assert r.status_code == 200 and ACAO not in r.headers and "Vary" not in r.headers
    s3_client(server).create_bucket(Bucket="plain")
    r = signed(server, "GET", "/plain", headers={"Origin": "foo.suffix"})
    assert r.status_code == 200 and ACAO not in r.headers


def test_presigned_urls(server):
    origin_rules_bucket(server)
    s3 = s3_client(server, signature_version="s3v4")
    s3.put_object(Bucket="pre", Key="obj", Body=b"data")
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "obj"},
                                        ExpiresIn=300)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "pre", "Key": "up"},
                                        ExpiresIn=300)
    # the preflight of a presigned URL: answered from the rules, its query not verified
    r = requests.options(put_url, headers={"Origin": "foo.put",
                                           "Access-Control-Request-Method": "PUT"})
    assert r.status_code == 200 and r.headers[ACAO] == "foo.put"
    r = requests.options(put_url)
    assert r.status_code == 400
    r = requests.get(get_url, headers={"Origin": "prefix.x"})
    assert r.status_code == 200 and r.content == b"data" and r.headers[ACAO] == "prefix.x"
    r = requests.put(put_url, data=b"up", headers={"Origin": "foo.put"})
    assert r.status_code == 200 and r.headers[ACAO] == "foo.put"
    assert s3.get_object(Bucket="pre", Key="up")["Body"].read() == b"up"
    assert "X-Amz-Signature=" in get_url
    bad = get_url.replace("X-Amz-Signature=", "X-Amz-Signature=0")[:-1]
    r = requests.get(bad, headers={"Origin": "prefix.x"})
    assert (r.status_code, err_code(r)) == (403, "SignatureDoesNotMatch")
    assert r.headers[ACAO] == "prefix.x"  # the page can read why


# ---- a browser on another origin ----

needs_browser = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) or not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules"))
    or shutil.which("node") is None,
    reason="needs Debian's chromium and `npm ci` in tests/integration/browser (.ci/deps.sh)")


@needs_browser
def test_browser_upload_download(server, tmp_path):
    """A page on http://127.0.0.1:A PUTs and GETs objects of tessera (http://127.0.0.1:B) with
    presigned URLs made from AssumeRole credentials tessera minted."""
    s3 = s3_client(server)
    port = free_port()
    origin = "http://127.0.0.1:%d" % port
    for b in ("webok", "webno", "webother"):
        s3.create_bucket(Bucket=b)
    s3.put_bucket_cors(Bucket="webok", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": [origin], "AllowedHeaders": ["*"],
         "ExposeHeaders": ["ETag"]}]})
    s3.put_bucket_cors(Bucket="webother", CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://elsewhere.test"],
         "AllowedHeaders": ["*"]}]})
    s3.put_object(Bucket="webno", Key="there", Body=b"not for the page")
    make_user(server, tmp_path, "webapp", "webapp-secret", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::web*"]}])
    creds = sts_client(server, "webapp", "webapp-secret").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/web", RoleSessionName="page")["Credentials"]
    tmp = s3_client(server, creds["AccessKeyId"], creds["SecretAccessKey"],
                    creds["SessionToken"], signature_version="s3v4")

    def url(method, bucket, key):
        return tmp.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key},
                                          ExpiresIn=600)
    scenarios = [
        {"name": "ok", "put": url("put_object", "webok", "from-page"),
         "body": "hello from the browser", "get": url("get_object", "webok", "from-page")},
        {"name": "ok_missing", "put": None, "get": url("get_object", "webok", "missing")},
        {"name": "no_rules", "put": url("put_object", "webno", "from-page"), "body": "x",
         "get": url("get_object", "webno", "there")},
        {"name": "other_origin", "put": url("put_object", "webother", "from-page"), "body": "x",
         "get": None},
    ]
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "cors.mjs"), str(port),
                        json.dumps(scenarios)], capture_output=True, text=True, timeout=120,
                       cwd=BROWSER_DIR)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    ok = out["ok"]
    assert ok["put_status"] == 200, ok
    assert ok["put_etag"] == '"%s"' % hashlib.md5(b"hello from the browser").hexdigest()
    assert (ok["get_status"], ok["get_body"]) == (200, "hello from the browser")
    assert out["ok_missing"]["get_status"] == 404  # the page can read the error
    assert "NoSuchKey" in out["ok_missing"]["get_body"]
    for name in ("no_rules", "other_origin"):
        assert "Failed to fetch" in out[name]["put_error"], out[name]
    assert "Failed to fetch" in out["no_rules"]["get_error"]
    for b in ("webno", "webother"):  # the preflight failed: the PUT was never sent
        with pytest.raises(botocore.exceptions.ClientError):
            s3.head_object(Bucket=b, Key="from-page")
    assert s3.get_object(Bucket="webok", Key="from-page")["Body"].read() == \
        b"hello from the browser"


# ---- the gateway ----

def test_gateway_keeps_the_rules(gw, upstream):  # noqa: F811
    g, up = gw, upstream
    s3 = s3_client(g)
    s3.create_bucket(Bucket="gwc")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket="gwc")
    assert code(e) == "NoSuchCORSConfiguration"
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://app.test"],
              "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]
    s3.put_bucket_cors(Bucket="gwc", CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket="gwc")["CORSRules"] == rules
    with pytest.raises(botocore.exceptions.ClientError) as e:  # never sent upstream
        s3_client(up).get_bucket_cors(Bucket="gwc")
    assert code(e) == "NoSuchCORSConfiguration"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_cors(Bucket="nosuchgw", CORSConfiguration={"CORSRules": rules})
    assert code(e) == "NoSuchBucket"
    r = preflight(g, "/gwc/k", "https://app.test", "PUT", "content-type")
    assert r.status_code == 200 and r.headers[ACAO] == "https://app.test"
    r = preflight(g, "/gwc/k", "https://evil.test", "PUT")
    assert r.status_code == 403 and err_code(r) == "AccessForbidden"
    s3.put_object(Bucket="gwc", Key="k", Body=b"v")
    r = signed(g, "GET", "/gwc/k", headers={"Origin": "https://app.test"})
    assert r.status_code == 200 and r.content == b"v"
    assert r.headers[ACAO] == "https://app.test"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag"
    r = signed(g, "GET", "/gwc/missing", headers={"Origin": "https://app.test"})
    assert r.status_code == 404 and r.headers[ACAO] == "https://app.test"
    s3.delete_bucket_cors(Bucket="gwc")
    assert preflight(g, "/gwc/k", "https://app.test", "PUT").status_code == 403
    s3.put_bucket_cors(Bucket="gwc", CORSConfiguration={"CORSRules": rules})
    s3.delete_object(Bucket="gwc", Key="k")
    s3.delete_bucket(Bucket="gwc")  # its rules go with it
    s3.create_bucket(Bucket="gwc")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket="gwc")
    assert code(e) == "NoSuchCORSConfiguration"
