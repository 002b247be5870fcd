"""Hostile and broken input (issue 2 item 7): malformed and oversized XML and policy bodies,
oversized headers and buffered bodies, invalid bucket names, odd and invalid keys, truncated
aws-chunked uploads, bad signatures, skewed clocks, wrong payload hashes and bad Content-MD5.
Each gets the S3 error code and HTTP status S3 uses, nothing is stored, and the server keeps
serving. The limits relied on are listed in docs/SECURITY.md ("Limits").

Requests that boto3 would refuse to send, or would fix up, are signed here with SigV4
computed in Python (hmac/hashlib) and sent with http.client or a raw socket.
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from conftest import admin, s3_client

REGION = "us-east-1"
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret, day, service="s3"):
    k = _hmac(("AWS4" + secret).encode(), day)
    k = _hmac(k, REGION)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


class Signed:
    """A SigV4-signed request. path is already percent-encoded (used as is on the wire and as
    the canonical URI, as S3 does: no double encoding, no dot-segment removal)."""

    def __init__(self, server, method, path, body=b"", query=None, headers=None,
                 payload_hash=None, when=None, secret=None, access_key=None):
        self.server = server
        self.method = method
        self.path = path
        self.body = body
        self.query = sorted((query or {}).items())
        self.when = when or datetime.datetime.now(datetime.timezone.utc)
        self.amzdate = self.when.strftime("%Y%m%dT%H%M%SZ")
        self.day = self.amzdate[:8]
        self.scope = "%s/%s/s3/aws4_request" % (self.day, REGION)
        self.secret = secret or server.root_password
        self.access_key = access_key or server.root_user
        self.payload_hash = payload_hash or hashlib.sha256(body).hexdigest()
        h = {"host": "127.0.0.1:%d" % server.port, "x-amz-date": self.amzdate,
             "x-amz-content-sha256": self.payload_hash}
        for k, v in (headers or {}).items():
            h[k.lower()] = v
        if "content-length" not in h:
            h["content-length"] = str(len(body))
        self.headers = h
        names = sorted(h)
        canon_q = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                       urllib.parse.quote(v, safe="-_.~")) for k, v in self.query)
        creq = "\n".join([method, path, canon_q,
                          "".join("%s:%s\n" % (n, h[n].strip()) for n in names),
                          ";".join(names), self.payload_hash])
        sts = "\n".join(["AWS4-HMAC-SHA256", self.amzdate, self.scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        self.key = signing_key(self.secret, self.day)
        self.signature = hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()
        h["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                              % (self.access_key, self.scope, ";".join(names), self.signature))
        self.url = path + ("?" + canon_q if canon_q else "")

    def chunk_sig(self, prev, data):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amzdate, self.scope, prev, EMPTY_SHA,
                         hashlib.sha256(data).hexdigest()])
        return hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()

    def send(self, body=None):
        """Sends the request with http.client; returns (status, error code or None, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.putrequest(self.method, self.url, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            data = self.body if body is None else body
            try:
                if data:
                    conn.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early and closed; read its answer
            r = conn.getresponse()
            payload = r.read()
            return r.status, error_code(payload), payload
        finally:
            conn.close()


def error_code(payload):
    try:
        root = ET.fromstring(payload)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag == "Code" or el.tag.endswith("}Code"):
            return el.text
    return None


def chunked_body(sig, chunks, final=True):
    """aws-chunked encoding of chunks, each signed in sequence from the seed signature."""
    out, prev = [], sig.signature if sig else "0" * 64
    for c in list(chunks) + ([b""] if final else []):
        s = sig.chunk_sig(prev, c) if sig else "0" * 64
        out.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(c), s.encode(), c))
        prev = s
    return b"".join(out)


def streaming_put(server, path, encoded_len, decoded_len):
    """A signed aws-chunked PUT; Content-Length is signed, so the encoded length comes first
    (chunk signatures have a fixed size: chunked_body(None, ...) gives it)."""
    return Signed(server, "PUT", path, payload_hash=STREAMING, headers={
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(decoded_len),
        "content-length": str(encoded_len)})


def assert_healthy(server, s3):
    assert requests.get(server.endpoint + "/health/live", timeout=10).status_code == 200
    s3.put_object(Bucket="bad", Key="health-probe", Body=b"still ok")
    assert s3.get_object(Bucket="bad", Key="health-probe")["Body"].read() == b"still ok"


def exists(s3, key, bucket="bad"):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False


def keys(s3, bucket="bad"):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


@pytest.fixture
def s3(server):
    c = s3_client(server)
    c.create_bucket(Bucket="bad")
    c.put_object(Bucket="bad", Key="existing", Body=b"old content")
    yield c
    assert_healthy(server, c)
    log = server.read_log()
    assert "Sanitizer" not in log and "runtime error" not in log, log


def md5_b64(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


# ---- XML and policy bodies ----

MALFORMED = [b"", b"<Delete>", b"<Delete><Object><Key>a</Key></Object>", b"not xml at all",
             b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
             b"<Delete><Object><Key>&e;</Key></Object></Delete>",
             b"<a><b></a></b>", b"\xff\xfe<\x00D\x00"]


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_delete_objects(server, s3, body):
    st, code, _ = Signed(server, "POST", "/bad", body, query={"delete": ""},
                         headers={"content-md5": md5_b64(body)}).send()
    assert (st, code) == (400, "MalformedXML")
    assert keys(s3) == ["existing"]


def test_xml_entity_expansion_is_refused(server, s3):
    bomb = (b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'>"
            b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
            b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
            b"<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>]>"
            b"<Delete><Object><Key>&d;</Key></Object></Delete>")
    st, code, _ = Signed(server, "POST", "/bad", bomb, query={"delete": ""},
                         headers={"content-md5": md5_b64(bomb)}).send()
    assert st == 400 and code == "MalformedXML"


def test_huge_delete_objects(server, s3):
    one = b"<Object><Key>existing</Key></Object>"
    body = b"<Delete>" + one * ((1 << 20) // len(one) + 1) + b"</Delete>"
    st, code, _ = Signed(server, "POST", "/bad", body, query={"delete": ""},
                         headers={"content-md5": md5_b64(body)}).send()
    assert (st, code) == (400, "MaxMessageLengthExceeded")
    # more than 1000 keys in a body under the limit
    body = b"<Delete>" + one * 1001 + b"</Delete>"
    st, code, _ = Signed(server, "POST", "/bad", body, query={"delete": ""},
                         headers={"content-md5": md5_b64(body)}).send()
    assert (st, code) == (400, "MalformedXML")
    assert keys(s3) == ["existing"]


@pytest.mark.parametrize("body", MALFORMED + [
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
    b"</CompleteMultipartUpload>"])
def test_malformed_complete_multipart(server, s3, body):
    up = s3.create_multipart_upload(Bucket="bad", Key="mp")["UploadId"]
    e = s3.upload_part(Bucket="bad", Key="mp", UploadId=up, PartNumber=1, Body=b"part")["ETag"]
    st, code, _ = Signed(server, "POST", "/bad/mp", body, query={"uploadId": up}).send()
    assert st == 400 and code in ("MalformedXML", "InvalidPart", "InvalidArgument"), code
    assert not exists(s3, "mp")
    # the upload is untouched and still completes
    s3.complete_multipart_upload(Bucket="bad", Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert s3.get_object(Bucket="bad", Key="mp")["Body"].read() == b"part"


def test_huge_complete_multipart(server, s3):
    up = s3.create_multipart_upload(Bucket="bad", Key="mp-huge")["UploadId"]
    part = (b"<Part><PartNumber>1</PartNumber>"
            b"<ETag>\"0123456789abcdef0123456789abcdef\"</ETag></Part>")
    body = b"<CompleteMultipartUpload>" + part * ((1 << 20) // len(part) + 1) + \
        b"</CompleteMultipartUpload>"
    st, code, _ = Signed(server, "POST", "/bad/mp-huge", body, query={"uploadId": up}).send()
    assert st == 400 and code in ("MaxMessageLengthExceeded", "EntityTooLarge"), code
    assert not exists(s3, "mp-huge")


@pytest.mark.parametrize("body", [
    b"<CreateBucketConfiguration>", b"garbage",
    b"<CreateBucketConfiguration xmlns='http://s3.amazonaws.com/doc/2006-03-01/'>"
    b"<LocationConstraint>us-east-1</LocationConstraint>"])
def test_malformed_create_bucket_configuration(server, s3, body):
    st, code, _ = Signed(server, "PUT", "/newbucket", body).send()
    assert (st, code) == (400, "MalformedXML")
    assert "newbucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_huge_create_bucket_configuration(server, s3):
    body = (b"<CreateBucketConfiguration><LocationConstraint>" + b"x" * (2 << 20) +
            b"</LocationConstraint></CreateBucketConfiguration>")
    st, code, _ = Signed(server, "PUT", "/hugebucket", body).send()
    assert st == 400 and code in ("MaxMessageLengthExceeded", "EntityTooLarge"), code
    assert "hugebucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("body,want", [
    (b"{", "MalformedPolicy"), (b"", "MalformedPolicy"), (b"<xml/>", "MalformedPolicy"),
    (b'{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:GetObject",'
     b'"Principal":"*","Resource":"arn:aws:s3:::bad/*"}]}', "MalformedPolicy"),
    (b'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",'
     b'"Principal":"*","Resource":"arn:aws:s3:::bad/*","Sid":"' + b"x" * (21 << 10) + b'"}]}',
     "EntityTooLarge")])
def test_bad_bucket_policy(server, s3, body, want):
    st, code, _ = Signed(server, "PUT", "/bad", body, query={"policy": ""}).send()
    assert (st, code) == (400, want)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket="bad")
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


# ---- headers and buffered bodies ----

def test_oversized_header(server, s3):
    st, code, _ = Signed(server, "PUT", "/bad/hdr", b"x",
                         headers={"x-amz-meta-big": "a" * (64 << 10)}).send()
    assert st == 431  # answered by libmicrohttpd itself, without an S3 error body
    # 16 KiB of headers are always accepted
    st, code, _ = Signed(server, "PUT", "/bad/hdr16", b"x",
                         headers={"x-amz-meta-big": "a" * (16 << 10)}).send()
    assert st == 200, code
    s3.delete_object(Bucket="bad", Key="hdr16")
    assert not exists(s3, "hdr")
    # many medium headers adding up to more than the limit
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sk:
        req = b"GET /health/live HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(100)) + b"\r\n"
        try:
            sk.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = sk.recv(4096)
    assert resp == b"" or resp.split(b" ")[1] in (b"400", b"413", b"431")


def test_oversized_buffered_bodies(server, s3):
    big = b"a" * ((1 << 20) + 1)
    # STS: a form body over 1 MiB
    r = requests.post(server.endpoint + "/", data=big,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code == 400 and error_code(r.content) == "EntityTooLarge", r.text
    # admin API: over 64 KiB
    st, _, body = Signed(server, "PUT", "/tessera/admin/v1/users/huge",
                         b"{" + b" " * (65 << 10) + b"}").send()
    assert st == 400 and b'"Code":"EntityTooLarge"' in body, body
    assert json.loads(admin(server, "--json", "user", "list").stdout)["users"] == []
    # a bucket policy over its 20 KiB limit, declared up front and never sent
    sig = Signed(server, "PUT", "/bad", big, query={"policy": ""})
    st, code, _ = sig.send()
    assert (st, code) == (400, "EntityTooLarge")


# ---- names ----

BAD_BUCKETS = ["ab", "a" * 64, "UPPER", "under_score", "-lead", "trail-", ".lead", "trail.",
               "a..b", "a.-b", "a-.b", "192.168.1.1", "xn--abc", "sthree-x", "name-s3alias",
               "name--ol-s3", "sp%20ace", "caf%C3%A9", "a%00b", "%FF%FEab"]


@pytest.mark.parametrize("name", BAD_BUCKETS)
def test_invalid_bucket_names(server, s3, name):
    st, code, _ = Signed(server, "PUT", "/" + name).send()
    # a NUL byte is refused while the URI is parsed, before the name is looked at
    want = "InvalidURI" if "%00" in name else "InvalidBucketName"
    assert (st, code) == (400, want), (name, st, code)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bad"]


GOOD_BUCKETS = ["abc", "a" * 63, "a-b.c-d", "1bucket", "192.168.1.1a", "x.y.z"]


def test_valid_bucket_names(server, s3):
    for n in GOOD_BUCKETS:
        st, code, _ = Signed(server, "PUT", "/" + n).send()
        assert st == 200, (n, st, code)


@pytest.mark.parametrize("raw", ["..", "../../etc/passwd", "./", "a//b", "//lead", ".",
                                 "dir/../../../../etc/passwd"])
def test_traversal_like_keys_stay_keys(server, s3, raw):
    """S3 keys are opaque: dot segments and double slashes are stored as given (never resolved
    against the file system) and read back under the same name."""
    body = b"content of " + raw.encode()
    st, code, _ = Signed(server, "PUT", "/bad/" + raw, body).send()
    key = urllib.parse.unquote(raw)
    if st == 200:
        st, code, got = Signed(server, "GET", "/bad/" + raw).send()
        assert st == 200 and got == body
        assert key in keys(s3)
    else:
        assert st == 400 and code in ("InvalidURI", "InvalidArgument", "XMinioInvalidObjectName")
        assert keys(s3) == ["existing"]
    assert not os.path.exists(os.path.join(os.path.dirname(server.data_dir), "etc"))
    assert open("/etc/passwd", "rb").read() != body


@pytest.mark.parametrize("raw,code", [("a%00b", None), ("%FF", "InvalidURI"),
                                      ("%C0%AF", "InvalidURI"), ("%ED%A0%80", "InvalidURI"),
                                      ("x" * 1025, "KeyTooLongError"),
                                      ("%C3%A9" * 513, "KeyTooLongError")])
def test_invalid_keys(server, s3, raw, code):
    st, got, _ = Signed(server, "PUT", "/bad/" + raw, b"v").send()
    assert st == 400, (raw, st, got)
    if code:
        assert got == code
    assert keys(s3) == ["existing"]


def test_longest_key_is_accepted(server, s3):
    s3.put_object(Bucket="bad", Key="k" * 1024, Body=b"v")
    assert s3.get_object(Bucket="bad", Key="k" * 1024)["Body"].read() == b"v"
    s3.delete_object(Bucket="bad", Key="k" * 1024)


# ---- aws-chunked ----

def test_streaming_put_round_trip(server, s3):
    """The hand-made signer and encoder are right: a complete upload is stored."""
    data = os.urandom(200 << 10)
    chunks = [data[:64 << 10], data[64 << 10:128 << 10], data[128 << 10:]]
    sig = streaming_put(server, "/bad/streamed", len(chunked_body(None, chunks)), len(data))
    body = chunked_body(sig, chunks)
    st, code, _ = sig.send(body)
    assert st == 200, code
    assert s3.get_object(Bucket="bad", Key="streamed")["Body"].read() == data


MISSED_FIN = ("libmicrohttpd 0.9.75 (edge-triggered epoll pool) misses the close of a client "
              "whose last bytes and FIN arrive together (a short read clears its read-ready "
              "state; no new edge follows): the request and its temp file linger until the "
              "60 s connection timeout. Measured: 18 of 30 such cuts vs 0 of 30 with 50 ms "
              "between the data and the close. Nothing is stored; a restart cleans up.")


def cut_mid_body(srv, request_head, partial):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sk:
        sk.sendall(request_head + partial)


def tmp_files(srv):
    return os.listdir(os.path.join(srv.data_dir, ".tessera", "tmp"))


@pytest.mark.parametrize("kind", ["aws-chunked", "plain"])
def test_body_cut_mid_way(tmp_root, kind):
    """A client that hangs up mid-body stores nothing (fresh key absent, existing key keeps
    its old content); the temp file goes away, at the latest at the next start."""
    from conftest import Server
    srv = Server(os.path.join(tmp_root, "data")).start()
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="bad")
        s3.put_object(Bucket="bad", Key="existing", Body=b"old content")
        data = os.urandom(300 << 10)
        for key in ("fresh", "existing"):
            if kind == "aws-chunked":
                chunks = [data[i:i + (64 << 10)] for i in range(0, len(data), 64 << 10)]
                sig = streaming_put(srv, "/bad/" + key, len(chunked_body(None, chunks)), len(data))
                body = chunked_body(sig, chunks)
            else:
                sig = Signed(srv, "PUT", "/bad/" + key, data)
                body = data
            head = "".join("%s: %s\r\n" % kv for kv in sig.headers.items())
            cut_mid_body(srv, ("PUT %s HTTP/1.1\r\n%s\r\n" % (sig.url, head)).encode(),
                         body[:len(body) // 2])
        time.sleep(0.2)
        assert not exists(s3, "fresh")
        assert s3.get_object(Bucket="bad", Key="existing")["Body"].read() == b"old content"
        deadline = time.time() + 3
        while tmp_files(srv) and time.time() < deadline:
            time.sleep(0.05)
        lingering = tmp_files(srv)
        assert_healthy(srv, s3)
        srv.kill()
        srv.start()
        assert tmp_files(srv) == []
        s3 = s3_client(srv)
        assert keys(s3) == ["existing", "health-probe"]
        assert s3.get_object(Bucket="bad", Key="existing")["Body"].read() == b"old content"
        if lingering:
            pytest.xfail(MISSED_FIN)
    finally:
        srv.kill()


@pytest.mark.parametrize("case", ["no-final-chunk", "short-decoded", "long-decoded",
                                  "bad-chunk-signature", "bad-chunk-size", "truncated-chunk"])
@pytest.mark.parametrize("key", ["fresh", "existing"])
def test_streaming_put_broken_body(server, s3, case, key):
    data = os.urandom(150 << 10)
    chunks = [data[:64 << 10], data[64 << 10:128 << 10], data[128 << 10:]]
    decoded = len(data)
    if case == "short-decoded":
        decoded = len(data) + 10  # declares more than the chunks carry
    elif case == "long-decoded":
        decoded = len(data) - 10
    final = case != "no-final-chunk"
    enc_len = len(chunked_body(None, chunks, final))
    if case == "truncated-chunk":
        enc_len -= 200
    elif case == "bad-chunk-size":
        enc_len = len(b"zz;chunk-signature=" + b"0" * 64 + b"\r\n" + data + b"\r\n")
    sig = streaming_put(server, "/bad/" + key, enc_len, decoded)
    body = chunked_body(sig, chunks, final)
    if case == "bad-chunk-signature":
        i = body.index(b"chunk-signature=", 100) + len(b"chunk-signature=")
        body = body[:i] + (b"0" if body[i:i + 1] != b"0" else b"1") + body[i + 1:]
    elif case == "bad-chunk-size":
        body = b"zz;chunk-signature=" + b"0" * 64 + b"\r\n" + data + b"\r\n"
    elif case == "truncated-chunk":
        body = body[:enc_len]
    assert len(body) == enc_len
    st, code, _ = sig.send(body)
    assert st in (400, 403), (case, st, code)
    assert code in ("IncompleteBody", "SignatureDoesNotMatch", "InvalidRequest",
                    "InvalidArgument", "MalformedXML"), (case, code)
    if case in ("no-final-chunk", "short-decoded", "truncated-chunk"):
        assert code == "IncompleteBody", (case, code)
    if case == "bad-chunk-signature":
        assert code == "SignatureDoesNotMatch"
    if key == "fresh":
        assert not exists(s3, key)
    else:
        assert s3.get_object(Bucket="bad", Key=key)["Body"].read() == b"old content"


# ---- signatures, clocks, digests ----

@pytest.mark.parametrize("key", ["fresh", "existing"])
def test_wrong_signature(server, s3, key):
    st, code, _ = Signed(server, "PUT", "/bad/" + key, b"new", secret="wrong-secret").send()
    assert (st, code) == (403, "SignatureDoesNotMatch")
    bad = s3_client(server, sk="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.put_object(Bucket="bad", Key=key, Body=b"new")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    st, code, _ = Signed(server, "PUT", "/bad/" + key, b"new", access_key="nobody").send()
    assert (st, code) == (403, "InvalidAccessKeyId")
    if key == "fresh":
        assert not exists(s3, key)
    else:
        assert s3.get_object(Bucket="bad", Key=key)["Body"].read() == b"old content"


@pytest.mark.parametrize("skew", [-16 * 60, 16 * 60, -86400 * 3])
def test_skewed_date(server, s3, skew):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=skew)
    st, code, _ = Signed(server, "PUT", "/bad/skewed", b"new", when=when).send()
    assert (st, code) == (403, "RequestTimeTooSkewed")
    assert not exists(s3, "skewed")


def test_small_skew_is_accepted(server, s3):
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    st, code, _ = Signed(server, "PUT", "/bad/skew-ok", b"new", when=when).send()
    assert st == 200, code


@pytest.mark.parametrize("key", ["fresh", "existing"])
def test_content_sha256_mismatch(server, s3, key):
    body = b"the real body" * 10000
    sig = Signed(server, "PUT", "/bad/" + key, body,
                 payload_hash=hashlib.sha256(b"another body").hexdigest())
    st, code, _ = sig.send()
    assert (st, code) == (400, "XAmzContentSHA256Mismatch")
    st, code, _ = Signed(server, "PUT", "/bad/" + key, body, payload_hash="nothex").send()
    assert st in (400, 403)
    if key == "fresh":
        assert not exists(s3, key)
    else:
        assert s3.get_object(Bucket="bad", Key=key)["Body"].read() == b"old content"


@pytest.mark.parametrize("key", ["fresh", "existing"])
def test_bad_content_md5(server, s3, key):
    body = b"x" * 200000
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bad", Key=key, Body=body, ContentMD5=md5_b64(b"other"))
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    st, code, _ = Signed(server, "PUT", "/bad/" + key, body,
                         headers={"content-md5": "not base64!"}).send()
    assert (st, code) == (400, "InvalidDigest")
    if key == "fresh":
        assert not exists(s3, key)
    else:
        assert s3.get_object(Bucket="bad", Key=key)["Body"].read() == b"old content"


def test_bad_part_digest_keeps_upload(server, s3):
    up = s3.create_multipart_upload(Bucket="bad", Key="mpd")["UploadId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket="bad", Key="mpd", UploadId=up, PartNumber=1, Body=b"p" * 1000,
                       ContentMD5=md5_b64(b"q"))
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert s3.list_parts(Bucket="bad", Key="mpd", UploadId=up).get("Parts", []) == []
