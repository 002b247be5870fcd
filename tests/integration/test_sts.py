"""STS core: AssumeRole and GetCallerIdentity with real clients, and the whole credential
lifecycle (session policy, expiry, revocation, parent changes, key rotation, restarts)."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import botocore.exceptions
import pytest
import requests

from conftest import ROOT, admin, aws, s3_client, sts_client

READ_ALL = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation",
                                   "s3:ListAllMyBuckets"],
     "Resource": ["arn:aws:s3:::*"]}]}

MEDIA_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::tmp"],
     "Condition": {"StringLike": {"s3:prefix": ["media/*"]}}},
    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::tmp/media/*"]}]}


def write_policy(tmpdir, name, doc):
    path = os.path.join(tmpdir, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def make_user(server, tmp_root, name, secret, policy_name, doc):
    admin(server, "user", "add", name, secret)
    if doc is not None:
        admin(server, "policy", "create", policy_name, write_policy(tmp_root, policy_name, doc))
    admin(server, "policy", "attach", policy_name, "--user", name)


def code(exc):
    return exc.value.response["Error"]["Code"]


def test_aws_cli_assume_role_documented_flow(server, tmp_root):
    """MinIO's documented flow, verbatim: assume-role with an inline s3:* policy, then aws s3."""
    s3_client(server).create_bucket(Bucket="docs")
    make_user(server, tmp_root, "foobar", "foo12345", "readwrite", None)
    p = aws(server, "sts", "assume-role", "--policy",
            '{"Version":"2012-10-17","Statement":[{"Sid":"Stmt1","Effect":"Allow",'
            '"Action":"s3:*","Resource":"arn:aws:s3:::*"}]}',
            "--role-arn", "arn:xxx:xxx:xxx:xxxx", "--role-session-name", "anything",
            ak="foobar", sk="foo12345")
    creds = json.loads(p.stdout)["Credentials"]
    assert len(creds["AccessKeyId"]) == 20 and creds["AccessKeyId"].isupper()
    assert len(creds["SecretAccessKey"]) == 40
    src = os.path.join(tmp_root, "hello.txt")
    with open(src, "w") as f:
        f.write("hello from a session")
    aws(server, "s3", "cp", src, "s3://docs/hello.txt", ak=creds["AccessKeyId"],
        sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    ls = aws(server, "s3", "ls", "s3://docs/", ak=creds["AccessKeyId"],
             sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert "hello.txt" in ls.stdout


def test_boto3_readonly_token_flow_and_expiry(server, tmp_root):
    root = s3_client(server)
    root.create_bucket(Bucket="tmp")
    root.put_object(Bucket="tmp", Key="media/hello.txt", Body=b"hello media")
    root.put_object(Bucket="tmp", Key="other/secret.txt", Body=b"secret")
    make_user(server, tmp_root, "stsadmin", "stsadmin-secret", "readall", READ_ALL)

    resp = sts_client(server, "stsadmin", "stsadmin-secret").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/readonly", RoleSessionName="media-reader",
        Policy=json.dumps(MEDIA_ONLY), DurationSeconds=900)
    c = resp["Credentials"]
    assert resp["AssumedRoleUser"]["Arn"]
    s3 = s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="tmp", Prefix="media/")["Contents"]]
    assert keys == ["media/hello.txt"]
    assert s3.get_object(Bucket="tmp", Key="media/hello.txt")["Body"].read() == b"hello media"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket="tmp", Prefix="other/")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="tmp", Key="other/secret.txt")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="tmp", Key="media/new.txt", Body=b"x")
    assert code(e) == "AccessDenied"

    # Sessions survive a restart (nothing is stored for them)...
    server.restart()
    assert s3.get_object(Bucket="tmp", Key="media/hello.txt")["Body"].read() == b"hello media"
    # ...and expire: restart the server 16 minutes in the future.
    server.restart(faketime="+16m")
    try:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.get_object(Bucket="tmp", Key="media/hello.txt")
        assert code(e) == "ExpiredToken"
    finally:
        server.restart(faketime="")


def test_bounds(server, tmp_root):
    make_user(server, tmp_root, "bounds", "bounds-secret", "readonly", None)
    sts = sts_client(server, "bounds", "bounds-secret", validate=False)
    for d in (899, 43201):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess",
                            DurationSeconds=d)
        assert code(e) in ("ValidationError", "InvalidParameterValue")
    for d in (900, 43200):
        c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess",
                            DurationSeconds=d)["Credentials"]
        left = c["Expiration"].timestamp() - time.time()
        assert d - 60 < left <= d + 5
    pad = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/"}]}
    text = json.dumps(pad, separators=(",", ":"))
    filler = 2049 - len(text)
    pad["Statement"][0]["Resource"] += "x" * filler
    big = json.dumps(pad, separators=(",", ":"))
    assert len(big) == 2049
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess",
                        Policy=big)
    assert code(e) in ("PackedPolicyTooLarge", "ValidationError")
    ok = big[:-len('x"}]}') - 1] + '"}]}'
    assert len(ok) <= 2048
    sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess", Policy=ok)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess",
                        Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}')
    assert code(e) == "MalformedPolicyDocument"
    # Missing Version: a raw (unsigned is fine: it must fail on Version first) request.
    r = requests.post(server.endpoint + "/", data={"Action": "AssumeRole"})
    assert r.status_code == 400
    assert "<Code>MissingParameter</Code>" in r.text or "<Code>InvalidParameterValue</Code>" in r.text
    assert "<ErrorResponse" in r.text


def test_session_never_exceeds_parent(server, tmp_root):
    root = s3_client(server)
    root.create_bucket(Bucket="robkt")
    root.put_object(Bucket="robkt", Key="k", Body=b"v")
    make_user(server, tmp_root, "reader", "reader-secret", "readonly", None)
    c = sts_client(server, "reader", "reader-secret").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"}]}))["Credentials"]
    s3 = s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert s3.get_object(Bucket="robkt", Key="k")["Body"].read() == b"v"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="robkt", Key="k2", Body=b"x")
    assert code(e) == "AccessDenied"
    # No role chaining.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).assume_role(
            RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="again")
    assert code(e) == "AccessDenied"


def test_get_caller_identity(server, tmp_root):
    make_user(server, tmp_root, "alice", "alice-secret", "readonly", None)
    root_id = sts_client(server).get_caller_identity()
    assert root_id["Arn"].endswith(":root")
    user_id = sts_client(server, "alice", "alice-secret").get_caller_identity()
    assert user_id["Arn"].endswith(":user/alice")
    assert user_id["Account"] == root_id["Account"]
    c = sts_client(server, "alice", "alice-secret").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess1")["Credentials"]
    temp_id = sts_client(server, c["AccessKeyId"], c["SecretAccessKey"],
                         c["SessionToken"]).get_caller_identity()
    # role/x names no role: the session is alice's own (its ARN is hers, never the request's)
    assert temp_id["Arn"] == user_id["Arn"]
    assert temp_id["UserId"] == c["AccessKeyId"] + ":sess1"


def test_assume_role_can_be_denied_by_policy(server, tmp_root):
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"},
        {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}
    make_user(server, tmp_root, "nosts", "nosts-secret", "nosts", deny)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_client(server, "nosts", "nosts-secret").assume_role(
            RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess")
    assert code(e) == "AccessDenied"


def sessions(server, tmp_root, user):
    make_user(server, tmp_root, user, user + "-secret", "readwrite", None)
    out = []
    for i in range(2):
        c = sts_client(server, user, user + "-secret").assume_role(
            RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="s%d" % i)["Credentials"]
        out.append(s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
    return out


def denied(s3, bucket="life"):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    return code(e)


def test_revocation_and_parent_lifecycle(server, tmp_root):
    s3_client(server).create_bucket(Bucket="life")
    a, b = sessions(server, tmp_root, "rev1")
    a.list_objects_v2(Bucket="life")
    b.list_objects_v2(Bucket="life")
    # One access key.
    ak = a._request_signer._credentials.access_key
    admin(server, "sts", "revoke", "--access-key", ak)
    assert denied(a) in ("InvalidToken", "AccessDenied", "ExpiredToken", "InvalidAccessKeyId")
    b.list_objects_v2(Bucket="life")
    server.restart()
    assert denied(a) in ("InvalidToken", "AccessDenied", "ExpiredToken", "InvalidAccessKeyId")
    b.list_objects_v2(Bucket="life")
    # Everything a user holds.
    admin(server, "sts", "revoke", "--user", "rev1")
    assert denied(b) in ("InvalidToken", "AccessDenied", "ExpiredToken", "InvalidAccessKeyId")

    # Disabling the parent revokes its sessions: they stay refused after it is enabled again,
    # while sessions issued after the enable work.
    c, d = sessions(server, tmp_root, "rev2")
    admin(server, "user", "disable", "rev2")
    assert denied(c) in ("AccessDenied", "InvalidAccessKeyId", "InvalidToken")
    admin(server, "user", "enable", "rev2")
    assert denied(c) in ("AccessDenied", "InvalidAccessKeyId", "InvalidToken")
    cred = sts_client(server, "rev2", "rev2-secret").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="after")["Credentials"]
    e = s3_client(server, cred["AccessKeyId"], cred["SecretAccessKey"], cred["SessionToken"])
    e.list_objects_v2(Bucket="life")
    # Detaching the parent's policy removes it from the session at once.
    admin(server, "policy", "detach", "readwrite", "--user", "rev2")
    assert denied(e) == "AccessDenied"
    admin(server, "policy", "attach", "readwrite", "--user", "rev2")
    e.list_objects_v2(Bucket="life")
    # Removing the parent kills its sessions for good.
    admin(server, "user", "remove", "rev2")
    assert denied(e) in ("AccessDenied", "InvalidAccessKeyId", "InvalidToken")


def test_rotate_key_keeps_old_sessions(server, tmp_root):
    s3_client(server).create_bucket(Bucket="life")
    (old, _) = sessions(server, tmp_root, "rot")
    admin(server, "sts", "rotate-key")
    (new, _) = sessions(server, tmp_root, "rot2")
    old.list_objects_v2(Bucket="life")
    new.list_objects_v2(Bucket="life")
    server.restart()
    old.list_objects_v2(Bucket="life")
    new.list_objects_v2(Bucket="life")


def test_tampered_tokens_are_refused(server, tmp_root):
    s3_client(server).create_bucket(Bucket="life")
    make_user(server, tmp_root, "tamper", "tamper-secret", "readwrite", None)
    c = sts_client(server, "tamper", "tamper-secret").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess")["Credentials"]
    tok = c["SessionToken"]
    for bad in (tok[:-5], tok[:10], tok[:20] + ("A" if tok[20] != "A" else "B") + tok[21:], "x", ""):
        s3 = s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], bad or None)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.list_objects_v2(Bucket="life")
        assert code(e) in ("InvalidToken", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied")
    assert requests.get(server.endpoint + "/health/live").status_code == 200


def test_javascript_sdk_and_minio_client(server, tmp_root):
    jsdir = os.path.join(ROOT, "tests", "integration", "js")
    if not os.path.isdir(os.path.join(jsdir, "node_modules")):
        pytest.fail("tests/integration/js/node_modules missing: run .ci/deps.sh")
    s3_client(server).create_bucket(Bucket="jsb")
    make_user(server, tmp_root, "jsuser", "jsuser-secret", "readwrite", None)
    env = dict(os.environ, ENDPOINT=server.endpoint, AK="jsuser", SK="jsuser-secret", BUCKET="jsb")
    p = subprocess.run(["node", "sts_s3.mjs"], cwd=jsdir, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["sdkBody"] == "from the js sdk"
    assert out["minioBody"] == "from minio-js"
    assert out["sdkCallerArn"].endswith(":user/jsuser")  # a role-less session is its parent
    assert len(out["sdkAccessKeyId"]) == 20 and len(out["minioAccessKeyId"]) == 20
