"""Authorization of S3 operations: bucket policies (public-read with anonymous curl), policy
validation, presigned URLs with curl, and identity policies of a static user."""
import json
import subprocess

import botocore.exceptions
import pytest

from conftest import admin, s3_client


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def curl(*args):
    p = subprocess.run(["curl", "-s", "-o", "/dev/stderr", "-w", "%{http_code}"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return int(p.stdout), p.stderr


PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                   "Resource": ["arn:aws:s3:::pub/*"]}],
}


def test_bucket_policy_public_read(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="pub")
    s3.put_object(Bucket="pub", Key="hello.txt", Body=b"public bytes")
    st, _ = curl(server.endpoint + "/pub/hello.txt")
    assert st == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket="pub")
    assert code(e) == "NoSuchBucketPolicy"
    s3.put_bucket_policy(Bucket="pub", Policy=json.dumps(PUBLIC_READ))
    assert json.loads(s3.get_bucket_policy(Bucket="pub")["Policy"]) == PUBLIC_READ
    st, body = curl(server.endpoint + "/pub/hello.txt")
    assert st == 200 and body == "public bytes"
    st, body = curl("-X", "PUT", "--data-binary", "x", server.endpoint + "/pub/new.txt")
    assert st == 403 and "AccessDenied" in body
    st, body = curl(server.endpoint + "/pub")
    assert st == 403 and "AccessDenied" in body
    st, body = curl("-X", "DELETE", server.endpoint + "/pub/hello.txt")
    assert st == 403
    st, _ = curl(server.endpoint + "/pub/missing.txt")
    assert st == 403  # public GetObject without s3:ListBucket: a missing key is not named
    s3.delete_bucket_policy(Bucket="pub")
    st, _ = curl(server.endpoint + "/pub/hello.txt")
    assert st == 403
    assert s3.get_object(Bucket="pub", Key="hello.txt")["Body"].read() == b"public bytes"


def test_bucket_policy_validation(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="val")
    for bad in ["not json", '{"Version":"2012-10-17"}',
                '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*",'
                '"Action":"s3:GetObject","Resource":"arn:aws:s3:::val/*"}]}']:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_policy(Bucket="val", Policy=bad)
        assert code(e) == "MalformedPolicy", bad
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket="val", Policy=json.dumps(PUBLIC_READ) + " " * 21000)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket="val")
    assert code(e) == "NoSuchBucketPolicy"


def test_presigned_curl(server):
    s3 = s3_client(server, signature_version="s3v4")
    s3.create_bucket(Bucket="pre")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "pre", "Key": "up load.txt"},
                                    ExpiresIn=300)
    st, _ = curl("-X", "PUT", "--data-binary", "via curl", url)
    assert st == 200
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "up load.txt"})
    st, body = curl(url)
    assert st == 200 and body == "via curl"
    st, body = curl("-r", "4-6", url)
    assert st == 206 and body == "cur"
    sig = url.split("X-Amz-Signature=")[1][:64]
    forged = url.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    st, _ = curl(forged)
    assert st == 403


def test_identity_policy(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="ro-bucket")
    s3.put_object(Bucket="ro-bucket", Key="k", Body=b"v")
    admin(server, "user", "add", "reader", "reader-secret-123")
    pol = tmp_path / "list-read.json"
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::ro-bucket", "arn:aws:s3:::ro-bucket/*"]}]}))
    admin(server, "policy", "create", "list-read", str(pol))
    admin(server, "policy", "attach", "list-read", "--user", "reader")
    r = s3_client(server, ak="reader", sk="reader-secret-123")
    assert r.get_object(Bucket="ro-bucket", Key="k")["Body"].read() == b"v"
    assert [o["Key"] for o in r.list_objects_v2(Bucket="ro-bucket")["Contents"]] == ["k"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r.put_object(Bucket="ro-bucket", Key="k2", Body=b"x")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r.delete_object(Bucket="ro-bucket", Key="k")
    assert code(e) == "AccessDenied"
    res = r.delete_objects(Bucket="ro-bucket", Delete={"Objects": [{"Key": "k"}]})
    assert res["Errors"][0]["Code"] == "AccessDenied" and "Deleted" not in res
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r.copy_object(Bucket="ro-bucket", Key="copy", CopySource="ro-bucket/k")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        r.create_bucket(Bucket="nope-bucket")
    assert code(e) == "AccessDenied"
    assert s3.get_object(Bucket="ro-bucket", Key="k")["Body"].read() == b"v"
