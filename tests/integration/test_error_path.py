"""One error path (issue 14, item 4): every phase of a request returns its error as one error
object (code + message) and only the server replies. Errors found before the handler runs --
the S3 names checked by the router, the operation's start, the OpenID token check -- reach the
client with their specific message, in the same XML shape and status as before.
"""
import os
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from conftest import Server, s3_client

from test_oidc import oidc_env, provider  # noqa: F401 (the provider fixture)

STS_NS = {"s": "https://sts.amazonaws.com/doc/2011-06-15/"}


def s3_error(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    err = e.value.response["Error"]
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err["Message"]


@pytest.fixture
def s3(server):
    c = s3_client(server)
    c.create_bucket(Bucket="errs")
    return c


def test_part_number_out_of_range_names_the_range(server, s3):
    up = s3.create_multipart_upload(Bucket="errs", Key="mp")["UploadId"]
    st, code, msg = s3_error(s3.upload_part, Bucket="errs", Key="mp", UploadId=up,
                             PartNumber=10001, Body=b"x")
    assert (st, code) == (400, "InvalidArgument")
    assert msg == "Part number must be an integer between 1 and 10000, inclusive"


def test_malformed_copy_source_range_names_the_form(server, s3):
    s3.put_object(Bucket="errs", Key="src", Body=b"0123456789")
    up = s3.create_multipart_upload(Bucket="errs", Key="mp2")["UploadId"]
    st, code, msg = s3_error(s3.upload_part_copy, Bucket="errs", Key="mp2", UploadId=up,
                             PartNumber=1, CopySource={"Bucket": "errs", "Key": "src"},
                             CopySourceRange="bytes=5-")
    assert (st, code) == (400, "InvalidArgument")
    assert "x-amz-copy-source-range" in msg and "bytes=first-last" in msg
    # Past the source's end: the same message with InvalidRange (found by the handler).
    st, code, msg = s3_error(s3.upload_part_copy, Bucket="errs", Key="mp2", UploadId=up,
                             PartNumber=1, CopySource={"Bucket": "errs", "Key": "src"},
                             CopySourceRange="bytes=5-99")
    assert (st, code) == (416, "InvalidRange")
    assert "bytes=first-last" in msg


def test_invalid_bucket_name_says_what_is_valid(server, s3):
    # Any access: the router's name check.
    st, code, msg = s3_error(s3.get_object, Bucket="ab", Key="k")
    assert (st, code) == (400, "InvalidBucketName")
    assert msg.startswith("The specified bucket is not valid: ") and "3 to 63" in msg
    # CreateBucket: the stricter rules of a new bucket (its start phase).
    st, code, msg = s3_error(s3.create_bucket, Bucket="Upper_Case")
    assert (st, code) == (400, "InvalidBucketName")
    assert "lowercase" in msg and "IP address" in msg


def test_decoded_content_length_message(server, s3):
    """A start-phase error of PutObject: a malformed x-amz-decoded-content-length. (A malformed
    Content-Length never reaches a phase: libmicrohttpd answers it with its own 400 page.)"""
    def bad_header(request, **kw):
        request.headers["x-amz-decoded-content-length"] = "ten"
    s3.meta.events.register("before-sign.s3.PutObject", bad_header)
    st, code, msg = s3_error(s3.put_object, Bucket="errs", Key="dl", Body=b"0123456789")
    assert (st, code) == (400, "InvalidArgument")
    assert msg == "Invalid x-amz-decoded-content-length."


def test_handler_errors_still_specific(server, s3):
    """Errors a handler found (it no longer replies itself) keep their messages."""
    s3.put_object(Bucket="errs", Key="same", Body=b"x")
    st, code, msg = s3_error(s3.copy_object, Bucket="errs", Key="same",
                             CopySource={"Bucket": "errs", "Key": "same"})
    assert (st, code) == (400, "InvalidRequest")
    assert msg.startswith("This copy request is illegal")
    st, code, msg = s3_error(s3.put_bucket_policy, Bucket="errs", Policy="{not json")
    assert (st, code) == (400, "MalformedPolicy")
    st, code, msg = s3_error(s3.list_objects_v2, Bucket="errs", ContinuationToken="!!!")
    assert (st, code) == (400, "InvalidArgument")
    assert msg == "The continuation token provided is incorrect"


# ---- OpenID: the token check's reason reaches the STS error ----

@pytest.fixture
def oidc_server(tmp_root, provider):
    srv = Server(os.path.join(tmp_root, "data"), env=oidc_env(provider)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("token,reason", [
    ("abc.def", "the token is not a compact JWS (three segments)"),
    ("abc.def.", "the token is not signed"),
    ("eyJhbGciOiJub25lIn0.e30.c2ln", "the token's signature algorithm is not allowed"),
])
def test_oidc_reason_in_sts_error(oidc_server, token, reason):
    r = requests.post(oidc_server.endpoint + "/", timeout=30, data={
        "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
        "WebIdentityToken": token, "RoleArn": "arn:minio:iam:::role/x",
        "RoleSessionName": "sess"})
    assert r.status_code == 400, r.text
    doc = ET.fromstring(r.content)
    assert doc.findtext("s:Error/s:Type", namespaces=STS_NS) == "Sender"
    assert doc.findtext("s:Error/s:Code", namespaces=STS_NS) == "InvalidIdentityToken"
    assert doc.findtext("s:Error/s:Message", namespaces=STS_NS) == reason
