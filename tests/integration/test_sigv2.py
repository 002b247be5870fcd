"""Signature Version 2 for S3: Debian's boto3 presigns with it by default, and older clients
sign headers with it (MinIO accepts both). STS keeps requiring SigV4."""
import subprocess
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from conftest import admin, s3_client


def v2_client(server, ak=None, sk=None, token=None):
    return boto3.client("s3", endpoint_url=server.endpoint,
                        aws_access_key_id=ak or server.root_user,
                        aws_secret_access_key=sk or server.root_password,
                        aws_session_token=token, region_name="us-east-1",
                        config=botocore.config.Config(signature_version="s3",
                                                      s3={"addressing_style": "path"},
                                                      retries={"max_attempts": 1}))


def test_v2_presigned_urls_with_curl(server):
    s3 = v2_client(server)
    s3.create_bucket(Bucket="v2bucket")
    s3.put_object(Bucket="v2bucket", Key="dir/hello world.txt", Body=b"hello v2")
    url = s3.generate_presigned_url("get_object", ExpiresIn=300,
                                    Params={"Bucket": "v2bucket", "Key": "dir/hello world.txt"})
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    p = subprocess.run(["curl", "-sf", url], capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b"hello v2"
    # Tampered signature, other key, expired URL: refused.
    bad = url.replace("Signature=", "Signature=A")
    r = requests.get(bad)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    other = url.replace("hello%20world", "hello%20there")
    assert requests.get(other).status_code == 403
    expired = s3.generate_presigned_url("get_object", ExpiresIn=-10,
                                        Params={"Bucket": "v2bucket", "Key": "dir/hello world.txt"})
    r = requests.get(expired)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    # A presigned PUT.
    put = s3.generate_presigned_url("put_object", ExpiresIn=300,
                                    Params={"Bucket": "v2bucket", "Key": "up.txt"})
    assert requests.put(put, data=b"uploaded").status_code == 200
    assert s3_client(server).get_object(Bucket="v2bucket", Key="up.txt")["Body"].read() == b"uploaded"


def test_v2_header_auth_operations(server):
    s3 = v2_client(server)
    s3.create_bucket(Bucket="v2ops")
    s3.put_object(Bucket="v2ops", Key="a", Body=b"1", Metadata={"Colour": "blue"},
                  ContentType="text/plain")
    head = s3.head_object(Bucket="v2ops", Key="a")
    assert head["Metadata"] == {"colour": "blue"}
    keys = [o["Key"] for o in s3.list_objects(Bucket="v2ops")["Contents"]]
    assert keys == ["a"]
    # (Debian's botocore 1.29 signs valueless sub-resources such as "?uploads" and "?delete"
    # twice with V2 headers, which no server can verify; those operations are covered with
    # SigV4 elsewhere.)
    s3.copy_object(Bucket="v2ops", Key="b", CopySource={"Bucket": "v2ops", "Key": "a"})
    assert s3.get_object(Bucket="v2ops", Key="b", Range="bytes=0-0")["Body"].read() == b"1"
    s3.delete_object(Bucket="v2ops", Key="a")
    s3.delete_object(Bucket="v2ops", Key="b")
    assert "Contents" not in s3.list_objects(Bucket="v2ops")


def test_v2_wrong_secret_and_policies(server):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        v2_client(server, server.root_user, "wrong-secret-123").list_buckets()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    admin(server, "user", "add", "v2reader", "v2reader-secret")
    admin(server, "policy", "attach", "readonly", "--user", "v2reader")
    s3_client(server).create_bucket(Bucket="v2ro")
    s3_client(server).put_object(Bucket="v2ro", Key="k", Body=b"v")
    ro = v2_client(server, "v2reader", "v2reader-secret")
    assert ro.get_object(Bucket="v2ro", Key="k")["Body"].read() == b"v"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ro.put_object(Bucket="v2ro", Key="k2", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_v2_with_temporary_credentials(server):
    admin(server, "user", "add", "v2temp", "v2temp-secret")
    admin(server, "policy", "attach", "readwrite", "--user", "v2temp")
    sts = boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id="v2temp",
                       aws_secret_access_key="v2temp-secret", region_name="us-east-1")
    c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x",
                        RoleSessionName="v2")["Credentials"]
    s3 = v2_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    s3.create_bucket(Bucket="v2tmp")
    s3.put_object(Bucket="v2tmp", Key="k", Body=b"temp")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "v2tmp", "Key": "k"},
                                    ExpiresIn=300)
    assert requests.get(url).content == b"temp"
