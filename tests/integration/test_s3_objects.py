"""S3 buckets and objects through boto3: naming rules, put/get/head/delete, ranges,
conditional requests, metadata, copies, DeleteObjects, listings (v1/v2, paging, delimiter,
encoding-type=url) and keys that would be dangerous as paths."""
import datetime
import hashlib
import base64
import urllib.parse
import urllib.request

import botocore.exceptions
import pytest

from conftest import s3_client


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(server):
    c = s3_client(server)
    c.create_bucket(Bucket="bkt")
    return c


@pytest.mark.parametrize("name", [
    "ab", "a" * 64, "Upper", "under_score", "-lead", "trail-", ".lead", "trail.", "a..b",
    "192.168.5.4", "xn--punycode", "name-s3alias", "a-.b"])
def test_bucket_naming_errors(server, name):
    c = s3_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_bucket(Bucket=name)
    assert code(e) in ("InvalidBucketName",), name
    assert status(e) == 400


def test_bucket_lifecycle(server):
    c = s3_client(server)
    c.create_bucket(Bucket="my.bucket-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_bucket(Bucket="my.bucket-1")
    assert code(e) == "BucketAlreadyOwnedByYou" and status(e) == 409
    c.create_bucket(Bucket="with-config",
                    CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    names = [b["Name"] for b in c.list_buckets()["Buckets"]]
    assert names == ["my.bucket-1", "with-config"]
    c.head_bucket(Bucket="my.bucket-1")
    assert c.get_bucket_location(Bucket="my.bucket-1").get("LocationConstraint") in (None, "")
    assert "Status" not in c.get_bucket_versioning(Bucket="my.bucket-1")
    acl = c.get_bucket_acl(Bucket="my.bucket-1")
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
    c.put_object(Bucket="my.bucket-1", Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.delete_bucket(Bucket="my.bucket-1")
    assert code(e) == "BucketNotEmpty" and status(e) == 409
    # pending multipart uploads do not keep a bucket alive
    c.create_multipart_upload(Bucket="with-config", Key="pending")
    c.delete_bucket(Bucket="with-config")
    c.delete_object(Bucket="my.bucket-1", Key="k")
    c.delete_bucket(Bucket="my.bucket-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.head_bucket(Bucket="my.bucket-1")
    assert status(e) == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_objects_v2(Bucket="my.bucket-1")
    assert code(e) == "NoSuchBucket"


def test_put_get_head_delete(s3):
    body = b"hello world" * 1000
    r = s3.put_object(Bucket="bkt", Key="dir/obj.txt", Body=body, ContentType="text/plain",
                      Metadata={"color": "blue"}, CacheControl="max-age=60",
                      ContentDisposition="attachment", ContentLanguage="en")
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    g = s3.get_object(Bucket="bkt", Key="dir/obj.txt")
    assert g["Body"].read() == body
    assert g["ContentType"] == "text/plain"
    assert g["Metadata"] == {"color": "blue"}
    assert g["CacheControl"] == "max-age=60"
    assert g["ContentDisposition"] == "attachment"
    assert g["ContentLanguage"] == "en"
    assert g["AcceptRanges"] == "bytes"
    assert g["ContentLength"] == len(body)
    h = s3.head_object(Bucket="bkt", Key="dir/obj.txt")
    assert h["ContentLength"] == len(body) and h["ETag"] == r["ETag"]
    assert h["Metadata"] == {"color": "blue"}
    # large object goes through sendfile
    big = bytes(range(256)) * 4096
    s3.put_object(Bucket="bkt", Key="big", Body=big)
    assert s3.get_object(Bucket="bkt", Key="big")["Body"].read() == big
    # replace
    s3.put_object(Bucket="bkt", Key="dir/obj.txt", Body=b"new")
    assert s3.get_object(Bucket="bkt", Key="dir/obj.txt")["Body"].read() == b"new"
    s3.delete_object(Bucket="bkt", Key="dir/obj.txt")
    s3.delete_object(Bucket="bkt", Key="dir/obj.txt")  # missing: still 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="dir/obj.txt")
    assert code(e) == "NoSuchKey" and status(e) == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="bkt", Key="dir/obj.txt")
    assert status(e) == 404


def test_content_md5(s3):
    body = b"checked"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket="bkt", Key="m", Body=body, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bkt", Key="m2", Body=body, ContentMD5=bad)
    assert code(e) == "BadDigest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bkt", Key="m2", Body=body, ContentMD5="notbase64!")
    assert code(e) == "InvalidDigest"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="bkt", Key="m2")


def test_range_get(s3):
    data = bytes(range(100))
    s3.put_object(Bucket="bkt", Key="r", Body=data)
    g = s3.get_object(Bucket="bkt", Key="r", Range="bytes=10-19")
    assert g["Body"].read() == data[10:20]
    assert g["ContentRange"] == "bytes 10-19/100"
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket="bkt", Key="r", Range="bytes=90-")["Body"].read() == data[90:]
    assert s3.get_object(Bucket="bkt", Key="r", Range="bytes=-5")["Body"].read() == data[95:]
    assert s3.get_object(Bucket="bkt", Key="r", Range="bytes=95-500")["Body"].read() == data[95:]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="r", Range="bytes=100-")
    assert code(e) == "InvalidRange" and status(e) == 416
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes */100"


def test_conditional_get(s3):
    etag = s3.put_object(Bucket="bkt", Key="c", Body=b"cond")["ETag"]
    lm = s3.head_object(Bucket="bkt", Key="c")["LastModified"]
    assert s3.get_object(Bucket="bkt", Key="c", IfMatch=etag)["Body"].read() == b"cond"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfMatch='"0000"')
    assert status(e) == 412
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfNoneMatch=etag)
    assert status(e) == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="bkt", Key="c", IfNoneMatch=etag)
    assert status(e) == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfModifiedSince=lm + datetime.timedelta(hours=1))
    assert status(e) == 304
    past = lm - datetime.timedelta(hours=1)
    assert s3.get_object(Bucket="bkt", Key="c", IfModifiedSince=past)["Body"].read() == b"cond"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfUnmodifiedSince=past)
    assert status(e) == 412
    # AWS precedence: If-Match true wins over If-Unmodified-Since false
    assert s3.get_object(Bucket="bkt", Key="c", IfMatch=etag,
                         IfUnmodifiedSince=past)["Body"].read() == b"cond"
    # If-None-Match false (matches) + If-Modified-Since true -> 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfNoneMatch=etag, IfModifiedSince=past)
    assert status(e) == 304


def test_response_overrides(s3):
    s3.put_object(Bucket="bkt", Key="o", Body=b"x", ContentType="text/plain")
    g = s3.get_object(Bucket="bkt", Key="o", ResponseContentType="application/json",
                      ResponseContentDisposition="inline", ResponseCacheControl="no-cache")
    assert g["ContentType"] == "application/json"
    assert g["ContentDisposition"] == "inline"
    assert g["CacheControl"] == "no-cache"


def test_copy_object(s3):
    s3.put_object(Bucket="bkt", Key="src", Body=b"payload", ContentType="text/plain",
                  Metadata={"a": "1"})
    s3.create_bucket(Bucket="other")
    r = s3.copy_object(Bucket="other", Key="dst", CopySource={"Bucket": "bkt", "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"payload").hexdigest()
    g = s3.get_object(Bucket="other", Key="dst")
    assert g["Body"].read() == b"payload" and g["Metadata"] == {"a": "1"}
    assert g["ContentType"] == "text/plain"
    s3.copy_object(Bucket="other", Key="dst2", CopySource="bkt/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="application/x-test")
    g = s3.head_object(Bucket="other", Key="dst2")
    assert g["Metadata"] == {"b": "2"} and g["ContentType"] == "application/x-test"
    # onto itself without REPLACE is refused, with REPLACE it updates metadata
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="bkt", Key="src", CopySource="bkt/src")
    assert code(e) == "InvalidRequest"
    s3.copy_object(Bucket="bkt", Key="src", CopySource="bkt/src", MetadataDirective="REPLACE",
                   Metadata={"c": "3"})
    assert s3.head_object(Bucket="bkt", Key="src")["Metadata"] == {"c": "3"}
    etag = s3.head_object(Bucket="bkt", Key="src")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="other", Key="dst3", CopySource="bkt/src", CopySourceIfMatch='"00"')
    assert status(e) == 412
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="other", Key="dst3", CopySource="bkt/src",
                       CopySourceIfNoneMatch=etag)
    assert status(e) == 412
    s3.copy_object(Bucket="other", Key="dst3", CopySource="bkt/src", CopySourceIfMatch=etag)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="other", Key="dst4", CopySource="bkt/missing")
    assert code(e) == "NoSuchKey"
    # key with characters that need URL-encoding in x-amz-copy-source
    s3.put_object(Bucket="bkt", Key="sp ace/ü?.txt", Body=b"odd")
    s3.copy_object(Bucket="other", Key="odd", CopySource={"Bucket": "bkt", "Key": "sp ace/ü?.txt"})
    assert s3.get_object(Bucket="other", Key="odd")["Body"].read() == b"odd"


def test_delete_objects(s3):
    for k in ("d1", "d2", "d3"):
        s3.put_object(Bucket="bkt", Key=k, Body=b"x")
    r = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "d1"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["d1", "nope"]
    r = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "d2"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt").get("Contents", [])]
    assert keys == ["d3"]


def test_odd_keys(s3):
    keys = ["a", "a/", "a/b", "..", "../x", "a/../b", "with space", "ünïcødé/ключ", "x+y=z&w",
            "pct%20", "tab\tkey", "k" * 1024]
    for k in keys:
        s3.put_object(Bucket="bkt", Key=k, Body=k.encode())
    for k in keys:
        assert s3.get_object(Bucket="bkt", Key=k)["Body"].read() == k.encode(), k
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bkt"):
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert listed == sorted(keys, key=lambda s: s.encode())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"


def test_list_paging_delimiter(s3):
    keys = ["a", "a/", "a/b", "a/c/d", "b/1", "b/2", "c", "d/x/y"]
    keys += ["p/%03d" % i for i in range(25)]
    for k in keys:
        s3.put_object(Bucket="bkt", Key=k, Body=b"")
    # v2 paging with a delimiter: prefixes and keys exactly once
    seen, token = [], None
    while True:
        kw = {"Bucket": "bkt", "Delimiter": "/", "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        page = [o["Key"] for o in r.get("Contents", [])] + \
               ["P:" + p["Prefix"] for p in r.get("CommonPrefixes", [])]
        assert r["KeyCount"] == len(page) <= 2
        seen += page
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert sorted(seen) == sorted(["a", "P:a/", "P:b/", "c", "P:d/", "P:p/"])
    # v1 with marker and NextMarker
    seen, marker = [], ""
    while True:
        r = s3.list_objects(Bucket="bkt", Prefix="p/", MaxKeys=10, Marker=marker)
        seen += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        marker = r.get("NextMarker") or r["Contents"][-1]["Key"]
    assert seen == ["p/%03d" % i for i in range(25)]
    r = s3.list_objects(Bucket="bkt", Delimiter="/", MaxKeys=1)
    assert r["IsTruncated"] and r["NextMarker"] == "a"
    r = s3.list_objects_v2(Bucket="bkt", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/", "a/b"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/c/"]
    r = s3.list_objects_v2(Bucket="bkt", StartAfter="p/020", Prefix="p/")
    assert [o["Key"] for o in r["Contents"]] == ["p/%03d" % i for i in range(21, 25)]
    r = s3.list_objects_v2(Bucket="bkt", Prefix="a", FetchOwner=True, MaxKeys=1)
    assert r["Contents"][0]["Owner"]["ID"]
    v = s3.list_object_versions(Bucket="bkt", Prefix="c")
    assert v["Versions"][0]["VersionId"] == "null" and v["Versions"][0]["IsLatest"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket="bkt", ContinuationToken="!!!")
    assert code(e) == "InvalidArgument"


def test_encoding_type_url(server, s3):
    s3.put_object(Bucket="bkt", Key="sp ace/ü&<x>", Body=b"")
    # raw request, so that botocore does not decode for us
    c = s3_client(server, signature_version="s3v4")
    url = c.generate_presigned_url("list_objects_v2", Params={
        "Bucket": "bkt", "EncodingType": "url", "Delimiter": "/"})
    body = urllib.request.urlopen(url).read().decode()
    assert "<Prefix>sp%20ace/</Prefix>" in body
    assert "<EncodingType>url</EncodingType>" in body
    url = c.generate_presigned_url("list_objects", Params={"Bucket": "bkt", "EncodingType": "url"})
    body = urllib.request.urlopen(url).read().decode()
    assert "<Key>sp%20ace/%C3%BC%26%3Cx%3E</Key>" in body
    # boto3 decodes what it asked to be encoded
    assert [o["Key"] for o in s3.list_objects(Bucket="bkt")["Contents"]] == ["sp ace/ü&<x>"]


def test_missing_content_length(server, s3):
    import http.client
    u = urllib.parse.urlparse(server.endpoint)
    url = s3_client(server, signature_version="s3v4").generate_presigned_url("put_object",
                                                   Params={"Bucket": "bkt", "Key": "nolen"})
    p = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.putrequest("PUT", p.path + "?" + p.query)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read().decode()
    assert resp.status == 411 and "MissingContentLength" in body
