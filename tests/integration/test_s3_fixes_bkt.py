"""Issue 18, bugs real clients hit: bucket owners (CreateBucket of another principal's bucket is
BucketAlreadyExists), ListBuckets pagination (max-buckets, continuation-token, prefix,
bucket-region), ListObjectsV2 with an empty continuation-token, and keys with control
characters in listings (URL-encoded only with encoding-type=url, well-formed XML always).

Clients: Debian's boto3 and aws cli v2, pyenv's newer boto3 and aws cli v1 (which know
ListBuckets' paging parameters), and raw requests signed by botocore where a client hides the
wire."""
import base64
import hashlib
import json
import os
import urllib.parse
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, aws, newer_aws_cli, run_newer_boto3, s3_client, sts_client
from test_gateway import start_gateway, upstream  # noqa: F401 (fixture)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ROOT_ID = "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4"
ALL_S3 = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}


def code(e):
    return e.value.response["Error"]["Code"]


def status(e):
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def make_user(server, tmp_root, name, secret, doc):
    admin(server, "user", "add", name, secret)
    path = os.path.join(str(tmp_root), name + "-pol.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    admin(server, "policy", "create", name + "-pol", path)
    admin(server, "policy", "attach", name + "-pol", "--user", name)


def raw(server, method, path, query=(), creds=None):
    """A request signed by botocore (SigV4) with exactly this query, sent by requests."""
    creds = creds or (server.root_user, server.root_password, None)
    qs = urllib.parse.urlencode(list(query), quote_via=urllib.parse.quote)
    url = server.endpoint + path + ("?" + qs if qs else "")
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=b"", headers={
        "X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(*creds), "s3",
                            "us-east-1").add_auth(req)
    p = req.prepare()
    return requests.request(p.method, p.url, headers=dict(p.headers), data=p.body, timeout=30)


def xml_of(r):
    assert r.status_code == 200, r.text
    return ET.fromstring(r.content)  # expat: fails on anything not well-formed


def names(doc):
    return [b.findtext(NS + "Name") for b in doc.iter(NS + "Bucket")]


def error_code(r):
    return ET.fromstring(r.content).findtext("Code")


# ---- item 1: bucket owners ----

def session(server, ak, sk):
    c = sts_client(server, ak, sk).assume_role(
        RoleArn="arn:aws:iam::000000000000:role/any", RoleSessionName="sess")["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


def test_create_bucket_of_another_owner_is_bucket_already_exists(server, tmp_root):
    root = s3_client(server)
    make_user(server, tmp_root, "alice", "alice-secret-1", ALL_S3)
    alice = s3_client(server, "alice", "alice-secret-1")
    root.create_bucket(Bucket="roots")
    alice.create_bucket(Bucket="alices")
    for client, bucket, want in [(alice, "roots", "BucketAlreadyExists"),
                                 (root, "alices", "BucketAlreadyExists"),
                                 (root, "roots", "BucketAlreadyOwnedByYou"),
                                 (alice, "alices", "BucketAlreadyOwnedByYou")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client.create_bucket(Bucket=bucket)
        assert (status(e), code(e)) == (409, want), bucket
    # Temporary credentials own what their parent owns (as MinIO), root's sessions root's.
    a_sess = s3_client(server, *session(server, "alice", "alice-secret-1"))
    r_sess = s3_client(server, *session(server, server.root_user, server.root_password))
    for client, bucket, want in [(a_sess, "alices", "BucketAlreadyOwnedByYou"),
                                 (a_sess, "roots", "BucketAlreadyExists"),
                                 (r_sess, "roots", "BucketAlreadyOwnedByYou"),
                                 (r_sess, "alices", "BucketAlreadyExists")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client.create_bucket(Bucket=bucket)
        assert (status(e), code(e)) == (409, want), bucket
    a_sess.create_bucket(Bucket="alices-2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        alice.create_bucket(Bucket="alices-2")
    assert code(e) == "BucketAlreadyOwnedByYou"
    # The aws cli says so too.
    p = aws(server, "s3", "mb", "s3://roots", ak="alice", sk="alice-secret-1", check=False)
    assert p.returncode != 0 and "BucketAlreadyExists" in p.stderr, p.stderr
    # Ownership decides nothing else: root still reaches alice's bucket by its policies.
    root.put_object(Bucket="alices", Key="k", Body=b"v")
    assert alice.get_object(Bucket="alices", Key="k")["Body"].read() == b"v"


def test_bucket_owner_in_acl_and_list_buckets(server, tmp_root):
    root = s3_client(server)
    make_user(server, tmp_root, "bob", "bob-secret-12", ALL_S3)
    bob = s3_client(server, "bob", "bob-secret-12")
    root.create_bucket(Bucket="rootb")
    bob.create_bucket(Bucket="bobb")
    bob_id = hashlib.sha256(b"arn:aws:iam::000000000000:user/bob").hexdigest()
    acl = root.get_bucket_acl(Bucket="bobb")
    assert acl["Owner"] == {"ID": bob_id, "DisplayName": "user/bob"}
    assert acl["Grants"][0]["Grantee"]["ID"] == bob_id
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert bob.get_bucket_acl(Bucket="rootb")["Owner"] == {"ID": ROOT_ID,
                                                          "DisplayName": "tessera"}
    # ListBuckets' one Owner is the caller's (AWS: the account that asks), root's unchanged.
    assert root.list_buckets()["Owner"] == {"ID": ROOT_ID, "DisplayName": "tessera"}
    lb = bob.list_buckets()
    assert lb["Owner"]["ID"] == bob_id
    assert [b["Name"] for b in lb["Buckets"]] == ["bobb", "rootb"]


def strip_owner(data, bucket):
    """Rewrites bucket's record in the stopped server's LMDB as a tessera from before owners
    wrote it: the creation time (LE64) alone."""
    import lmdb  # Debian's python3-lmdb (.ci/deps.sh)

    env = lmdb.open(os.path.join(data, ".tessera", "meta"), max_dbs=32, subdir=True)
    try:
        dbi = env.open_db(b"buckets", create=False)
        with env.begin(write=True, db=dbi) as txn:
            rec = txn.get(bucket.encode())
            assert rec is not None and len(rec) > 8, "the bucket's record has an owner"
            txn.put(bucket.encode(), rec[:8])
    finally:
        env.close()


def test_buckets_from_before_owners_are_roots(tmp_root):
    """A data directory written by a tessera that kept no owners: its buckets read as root's."""
    data = os.path.join(tmp_root, "data")
    srv = Server(data)
    srv.start()
    try:
        make_user(srv, tmp_root, "carol", "carol-secret-1", ALL_S3)
        s3_client(srv, "carol", "carol-secret-1").create_bucket(Bucket="legacy")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_client(srv).create_bucket(Bucket="legacy")
        assert code(e) == "BucketAlreadyExists"  # carol's, before the rewrite
    finally:
        srv.stop()
    strip_owner(data, "legacy")
    new = Server(data)
    new.start()
    try:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_client(new).create_bucket(Bucket="legacy")
        assert code(e) == "BucketAlreadyOwnedByYou"
        carol = s3_client(new, "carol", "carol-secret-1")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            carol.create_bucket(Bucket="legacy")
        assert code(e) == "BucketAlreadyExists"
        assert carol.get_bucket_acl(Bucket="legacy")["Owner"]["ID"] == ROOT_ID
        assert [b["Name"] for b in carol.list_buckets()["Buckets"]] == ["legacy"]
    finally:
        new.stop()


# ---- item 2: ListBuckets pagination ----

BUCKETS = ["a-one", "a-two", "b-one", "b-two", "c-one"]


@pytest.fixture
def five(server):
    s3 = s3_client(server)
    for b in BUCKETS:
        s3.create_bucket(Bucket=b)
    return server


def pages(server, query, creds=None):
    """Every page of ListBuckets with query, following ContinuationToken."""
    out, token = [], None
    for _ in range(20):
        q = list(query) + ([("continuation-token", token)] if token else [])
        doc = xml_of(raw(server, "GET", "/", q, creds))
        out.append(names(doc))
        token = doc.findtext(NS + "ContinuationToken")
        if not token:
            return out, doc
    raise AssertionError("no end of pages")


def test_list_buckets_pages_on_the_wire(five):
    got, last = pages(five, [("max-buckets", "2")])
    assert got == [["a-one", "a-two"], ["b-one", "b-two"], ["c-one"]]
    assert last.findtext(NS + "Prefix") is None
    got, last = pages(five, [("max-buckets", "1"), ("prefix", "b-")])
    assert got == [["b-one"], ["b-two"]] and last.findtext(NS + "Prefix") == "b-"
    # One page of everything: no token; every bucket carries its region.
    doc = xml_of(raw(five, "GET", "/", [("max-buckets", "10000")]))
    assert names(doc) == BUCKETS and doc.find(NS + "ContinuationToken") is None
    assert {b.findtext(NS + "BucketRegion") for b in doc.iter(NS + "Bucket")} == {"us-east-1"}
    assert names(xml_of(raw(five, "GET", "/", [("bucket-region", "us-east-1")]))) == BUCKETS
    assert names(xml_of(raw(five, "GET", "/", [("bucket-region", "eu-west-1")]))) == []
    # Without any parameter: every bucket, no token, as before.
    doc = xml_of(raw(five, "GET", "/"))
    assert names(doc) == BUCKETS and doc.find(NS + "ContinuationToken") is None
    # An empty token starts at the beginning (0 characters are allowed).
    assert names(xml_of(raw(five, "GET", "/", [("continuation-token", "")]))) == BUCKETS


def test_list_buckets_bad_arguments(five):
    for v in ["0", "10001", "-1", "x", "", "99999999999999999999999"]:
        r = raw(five, "GET", "/", [("max-buckets", v)])
        assert (r.status_code, error_code(r)) == (400, "InvalidArgument"), v
    good = xml_of(raw(five, "GET", "/", [("max-buckets", "2")])).findtext(NS + "ContinuationToken")
    for tok in ["!!", "bm90IGEgYnVja2V0IG5hbWUgYXQgYWxs===", "A" * 300,
                base64.urlsafe_b64encode(b"x\x00yz").decode().rstrip("="),
                base64.urlsafe_b64encode(b"No_Such..Name/").decode().rstrip("="), good + "A"]:
        r = raw(five, "GET", "/", [("continuation-token", tok)])
        assert (r.status_code, error_code(r)) == (400, "InvalidArgument"), tok
        assert "continuation token" in r.text


def test_list_buckets_pages_show_only_what_the_caller_may_see(five, tmp_root):
    """A token is a position, never a permission: a forged one shows nothing more."""
    make_user(five, tmp_root, "pager", "pager-secret-1", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": ["arn:aws:s3:::a-two", "arn:aws:s3:::b-two", "arn:aws:s3:::c-one"]}]})
    creds = ("pager", "pager-secret-1", None)
    got, _ = pages(five, [("max-buckets", "1")], creds)
    assert got == [["a-two"], ["b-two"], ["c-one"]]
    forged = base64.urlsafe_b64encode(b"a-one").decode().rstrip("=")
    doc = xml_of(raw(five, "GET", "/", [("continuation-token", forged)], creds))
    assert names(doc) == ["a-two", "b-two", "c-one"]
    # A prefix that matches none of its buckets is an empty page, not a denial.
    assert names(xml_of(raw(five, "GET", "/", [("prefix", "zzz")], creds))) == []
    # Someone who may see nothing is still denied (audited), paged or not.
    admin(five, "user", "add", "nobody", "nobody-secret-1")
    for q in [[], [("max-buckets", "1")]]:
        r = raw(five, "GET", "/", q, ("nobody", "nobody-secret-1", None))
        assert (r.status_code, error_code(r)) == (403, "AccessDenied")


NEW_BOTO = r'''
import sys, boto3, botocore.config
ep, ak, sk = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=botocore.config.Config(s3={"addressing_style": "path"}))
r = s3.list_buckets(MaxBuckets=2)
assert [b["Name"] for b in r["Buckets"]] == ["a-one", "a-two"], r
assert r["ContinuationToken"] and r["Buckets"][0]["BucketRegion"] == "us-east-1", r
r2 = s3.list_buckets(MaxBuckets=2, ContinuationToken=r["ContinuationToken"])
assert [b["Name"] for b in r2["Buckets"]] == ["b-one", "b-two"], r2
seen = []
for page in s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 2}):
    seen.append([b["Name"] for b in page["Buckets"]])
assert seen == [["a-one", "a-two"], ["b-one", "b-two"], ["c-one"]], seen
r = s3.list_buckets(Prefix="b-", BucketRegion="us-east-1")
assert [b["Name"] for b in r["Buckets"]] == ["b-one", "b-two"] and r["Prefix"] == "b-", r
print("ok")
'''


def test_list_buckets_pages_with_newer_boto3_and_aws_cli(five):
    assert "ok" in run_newer_boto3(five, NEW_BOTO, timeout=120)
    cli = newer_aws_cli()
    if cli is None:
        pytest.skip("no newer aws cli on this machine")
    out = json.loads(aws(five, "s3api", "list-buckets", "--max-items", "2", aws_bin=cli).stdout)
    assert [b["Name"] for b in out["Buckets"]] == ["a-one", "a-two"] and out["NextToken"]
    out = json.loads(aws(five, "s3api", "list-buckets", "--max-items", "2", "--starting-token",
                         out["NextToken"], aws_bin=cli).stdout)
    assert [b["Name"] for b in out["Buckets"]] == ["b-one", "b-two"]
    out = json.loads(aws(five, "s3api", "list-buckets", "--page-size", "2", aws_bin=cli).stdout)
    assert [b["Name"] for b in out["Buckets"]] == BUCKETS


def test_list_buckets_with_debian_clients(five):
    """Debian's boto3 and aws cli v2 know no paging: they see every bucket, as before."""
    s3 = s3_client(five)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == BUCKETS
    ls = aws(five, "s3", "ls").stdout.split("\n")
    assert [line.split()[-1] for line in ls if line.strip()] == BUCKETS
    out = json.loads(aws(five, "s3api", "list-buckets").stdout)
    assert [b["Name"] for b in out["Buckets"]] == BUCKETS


def test_gateway_list_buckets_pages(upstream, tmp_root):  # noqa: F811
    gw = start_gateway(tmp_root, upstream.endpoint)
    try:
        root = s3_client(gw)
        for b in BUCKETS:
            root.create_bucket(Bucket=b)
        got, _ = pages(gw, [("max-buckets", "2")])
        assert got == [["a-one", "a-two"], ["b-one", "b-two"], ["c-one"]]
        assert names(xml_of(raw(gw, "GET", "/", [("prefix", "c")]))) == ["c-one"]
        r = raw(gw, "GET", "/", [("max-buckets", "0")])
        assert (r.status_code, error_code(r)) == (400, "InvalidArgument")
        make_user(gw, tmp_root, "gwl", "gwl-secret-12", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": ["arn:aws:s3:::a-one", "arn:aws:s3:::c-one"]}]})
        got, _ = pages(gw, [("max-buckets", "1")], ("gwl", "gwl-secret-12", None))
        assert got == [["a-one"], ["c-one"]]
    finally:
        gw.stop()


# ---- item 3: ListObjectsV2's empty token, control characters in listings ----

def test_list_objects_v2_empty_continuation_token(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="ctok")
    keys = ["bar", "baz", "foo", "quxx"]
    for k in keys:
        s3.put_object(Bucket="ctok", Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket="ctok", ContinuationToken="")
    assert r["ContinuationToken"] == "" and r["IsTruncated"] is False
    assert [o["Key"] for o in r["Contents"]] == keys
    r = s3.list_objects_v2(Bucket="ctok", ContinuationToken="", StartAfter="baz")
    assert [o["Key"] for o in r["Contents"]] == ["foo", "quxx"]
    # A token that is not one of ours is still refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket="ctok", ContinuationToken="!not-a-token!")
    assert (status(e), code(e)) == (400, "InvalidArgument")


CTRL_KEYS = ["ctl/a\x01b", "ctl/c\rd", "ctl/e\x1ff", "ctl/tab\there", "ctl/x\x7fy", "ctl/plus+ sp"]


def test_control_characters_in_listings(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="ctl")
    for k in CTRL_KEYS:
        s3.put_object(Bucket="ctl", Key=k, Body=b"x")
    want = sorted(CTRL_KEYS)
    # boto3 asks for encoding-type=url itself and decodes: every key comes back exactly.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="ctl")["Contents"]] == want
    assert [o["Key"] for o in s3.list_objects(Bucket="ctl")["Contents"]] == want
    assert [v["Key"] for v in s3.list_object_versions(Bucket="ctl")["Versions"]] == want
    enc = [urllib.parse.quote(k, safe="/-_.~") for k in want]
    for q in [[("list-type", "2")], [], [("versions", "")]]:
        doc = xml_of(raw(server, "GET", "/ctl", q + [("encoding-type", "url"),
                                                      ("prefix", "ctl/"), ("delimiter", "\x02")]))
        assert [k.text for k in doc.iter(NS + "Key")] == enc, q
        assert doc.findtext(NS + "EncodingType") == "url"
        assert doc.findtext(NS + "Delimiter") == "%02"
        # Without encoding-type the document is still well-formed XML 1.0 (parsed by expat
        # above): characters XML cannot carry become U+FFFD; CR, tab and DEL round-trip.
        doc = xml_of(raw(server, "GET", "/ctl", q + [("prefix", "ctl/")]))
        got = [k.text for k in doc.iter(NS + "Key")]
        assert got == [k.replace("\x01", "\ufffd").replace("\x1f", "\ufffd") for k in want], q
    r = raw(server, "GET", "/ctl", [("encoding-type", "gzip")])
    assert (r.status_code, error_code(r)) == (400, "InvalidArgument")


def test_list_multipart_uploads_encoding_type(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="mpu")
    for k in ["up/a\x01b", "up/c d+e"]:
        s3.create_multipart_upload(Bucket="mpu", Key=k)
    doc = xml_of(raw(server, "GET", "/mpu", [("uploads", ""), ("encoding-type", "url"),
                                              ("prefix", "up/"), ("key-marker", "up/\x01"),
                                              ("max-uploads", "1")]))
    assert [k.text for k in doc.iter(NS + "Key")] == ["up/a%01b"]
    assert doc.findtext(NS + "EncodingType") == "url"
    assert doc.findtext(NS + "KeyMarker") == "up/%01"
    assert doc.findtext(NS + "NextKeyMarker") == "up/a%01b"
    assert doc.findtext(NS + "Prefix") == "up/"
    doc = xml_of(raw(server, "GET", "/mpu", [("uploads", "")]))
    assert [k.text for k in doc.iter(NS + "Key")] == ["up/a\ufffdb", "up/c d+e"]
    assert doc.find(NS + "EncodingType") is None
    r = raw(server, "GET", "/mpu", [("uploads", ""), ("encoding-type", "base64")])
    assert (r.status_code, error_code(r)) == (400, "InvalidArgument")
    ups = s3.list_multipart_uploads(Bucket="mpu", EncodingType="url")["Uploads"]
    assert [urllib.parse.unquote(u["Key"]) for u in ups] == ["up/a\x01b", "up/c d+e"]
