"""Buckets named like the paths the server answers itself.

/metrics, /health/..., /minio/health/... and /minio/v2/metrics/cluster (like /login) are
unsigned pages: a signed S3 request to those paths is an S3 call on a bucket of that name. The
admin API's paths (/tessera/admin/v1/...) are signed like S3 requests, so the bucket name
"tessera" is refused.
"""

import botocore.exceptions
import pytest
import requests

from conftest import aws, s3_client


@pytest.mark.parametrize("bucket", ["metrics", "health", "minio"])
def test_signed_requests_reach_buckets_named_like_server_pages(server, bucket):
    s3 = s3_client(server)
    s3.create_bucket(Bucket=bucket)
    key = {"metrics": "x", "health": "live", "minio": "health/live"}[bucket]
    s3.put_object(Bucket=bucket, Key=key, Body=b"an object")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"an object"
    # Presigned (query-signed) requests are S3 calls too.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    assert requests.get(url, timeout=10).content == b"an object"
    # The unsigned pages still answer as before.
    r = requests.get(server.endpoint + "/metrics", timeout=10)
    assert r.status_code == 200 and "tessera_" in r.text
    for path in ("/health/live", "/minio/health/live"):
        r = requests.get(server.endpoint + path, timeout=10)
        assert (r.status_code, r.text) == (200, "OK\n")
    out = aws(server, "s3", "ls", "s3://" + bucket + "/").stdout
    assert key.split("/")[0] in out
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


def test_bucket_named_tessera_refused(server):
    s3 = s3_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="tessera")
    assert e.value.response["Error"]["Code"] == "InvalidBucketName"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "tessera" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # The admin API is still there at its paths.
    r = requests.get(server.endpoint + "/tessera/admin/v1/users", timeout=10)
    assert r.status_code == 403
