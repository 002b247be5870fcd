"""IAM policies end to end (issue 3), with boto3 and the `tessera admin` CLI against a real
server: AWS's home-folder policy with ${aws:username}, explicit Deny over Allow, aws:SourceIp
and aws:SecureTransport conditions, MinIO's `diagnostics` and `writeonly` canned policies,
group policies, removal of users, and all of it surviving a restart."""
import json
import os
import subprocess

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, s3_client, sts_client

BUCKET = "home-bucket"


def write(tmp_root, name, doc):
    path = os.path.join(tmp_root, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def denied(fn, *args, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kw)
    assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response["Error"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return e


def listed(s3, prefix=None, bucket=BUCKET):
    kw = {"Bucket": bucket}
    if prefix is not None:
        kw["Prefix"] = prefix
    return sorted(o["Key"] for o in s3.list_objects_v2(**kw).get("Contents", []))


# AWS's "allow users to access their home folder" example, as in the IAM user guide.
HOME = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AllowListingOfUserFolder", "Effect": "Allow", "Action": ["s3:ListBucket"],
     "Resource": ["arn:aws:s3:::%s" % BUCKET],
     "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*",
                                                "home/${aws:username}/"]}}},
    {"Sid": "AllowAllS3ActionsInUserFolder", "Effect": "Allow",
     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::%s/home/${aws:username}/*" % BUCKET]}]}

DENY_SECRET = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::%s/secret/*" % BUCKET]}]}


def ip_policy(cidr, bucket):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket],
         "Condition": {"IpAddress": {"aws:SourceIp": cidr}}}]}


DENY_INSECURE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def setup_home(server, tmp_root):
    root = s3_client(server)
    root.create_bucket(Bucket=BUCKET)
    for u in ("alice", "bob"):
        root.put_object(Bucket=BUCKET, Key="home/%s/by-root.txt" % u, Body=u.encode())
    root.put_object(Bucket=BUCKET, Key="shared.txt", Body=b"shared")
    admin(server, "policy", "create", "home-folder", write(tmp_root, "home.json", HOME))
    admin(server, "user", "add", "alice", "alice-secret-1")
    admin(server, "user", "add", "bob", "bob-secret-12")
    admin(server, "group", "add", "homers", "alice", "bob")
    admin(server, "policy", "attach", "home-folder", "--group", "homers")


def check_home(server, name, secret, other):
    s3 = s3_client(server, name, secret)
    s3.put_object(Bucket=BUCKET, Key="home/%s/notes.txt" % name, Body=b"mine " + name.encode())
    assert s3.get_object(Bucket=BUCKET, Key="home/%s/notes.txt" % name)["Body"].read() == \
        b"mine " + name.encode()
    assert listed(s3, "home/%s/" % name) == ["home/%s/by-root.txt" % name,
                                             "home/%s/notes.txt" % name]
    # the other user's folder, the bucket root and other prefixes are off limits
    denied(s3.list_objects_v2, Bucket=BUCKET, Prefix="home/%s/" % other)
    denied(s3.list_objects_v2, Bucket=BUCKET)
    denied(s3.list_objects_v2, Bucket=BUCKET, Prefix="home/")
    denied(s3.get_object, Bucket=BUCKET, Key="home/%s/by-root.txt" % other)
    denied(s3.put_object, Bucket=BUCKET, Key="home/%s/intruder.txt" % other, Body=b"x")
    denied(s3.delete_object, Bucket=BUCKET, Key="home/%s/by-root.txt" % other)
    denied(s3.get_object, Bucket=BUCKET, Key="shared.txt")
    denied(s3.list_buckets)
    return s3


def test_home_folder_policy(server, tmp_root):
    setup_home(server, tmp_root)
    check_home(server, "alice", "alice-secret-1", "bob")
    check_home(server, "bob", "bob-secret-12", "alice")
    # a key that merely starts with the user name is not inside the folder
    alice = s3_client(server, "alice", "alice-secret-1")
    denied(alice.put_object, Bucket=BUCKET, Key="home/alice-evil/x", Body=b"x")
    denied(alice.put_object, Bucket=BUCKET, Key="home/alice", Body=b"x")
    # DeleteObjects is authorized per key
    res = alice.delete_objects(Bucket=BUCKET, Delete={"Objects": [
        {"Key": "home/alice/notes.txt"}, {"Key": "home/bob/notes.txt"}]})
    assert [d["Key"] for d in res.get("Deleted", [])] == ["home/alice/notes.txt"]
    assert [(e["Key"], e["Code"]) for e in res["Errors"]] == [
        ("home/bob/notes.txt", "AccessDenied")]
    root = s3_client(server)
    assert listed(root, "home/") == ["home/alice/by-root.txt", "home/bob/by-root.txt",
                                     "home/bob/notes.txt"]

    # AssumeRole credentials of alice: ${aws:username} is still alice
    c = sts_client(server, "alice", "alice-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="session")["Credentials"]
    tmp = s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    tmp.put_object(Bucket=BUCKET, Key="home/alice/from-sts.txt", Body=b"sts")
    assert "home/alice/from-sts.txt" in listed(tmp, "home/alice/")
    denied(tmp.list_objects_v2, Bucket=BUCKET, Prefix="home/bob/")
    denied(tmp.get_object, Bucket=BUCKET, Key="home/bob/by-root.txt")


def test_explicit_deny_beats_allow(server, tmp_root):
    root = s3_client(server)
    root.create_bucket(Bucket=BUCKET)
    root.put_object(Bucket=BUCKET, Key="secret/plans.txt", Body=b"top secret")
    admin(server, "policy", "create", "deny-secret", write(tmp_root, "deny.json", DENY_SECRET))
    admin(server, "user", "add", "carol", "carol-secret-1")
    admin(server, "policy", "attach", "readwrite", "--user", "carol")
    admin(server, "policy", "attach", "deny-secret", "--user", "carol")
    s3 = s3_client(server, "carol", "carol-secret-1")
    s3.put_object(Bucket=BUCKET, Key="public/a.txt", Body=b"a")
    assert s3.get_object(Bucket=BUCKET, Key="public/a.txt")["Body"].read() == b"a"
    denied(s3.get_object, Bucket=BUCKET, Key="secret/plans.txt")
    denied(s3.put_object, Bucket=BUCKET, Key="secret/new.txt", Body=b"x")
    denied(s3.delete_object, Bucket=BUCKET, Key="secret/plans.txt")
    denied(s3.copy_object, Bucket=BUCKET, Key="public/copy.txt",
           CopySource={"Bucket": BUCKET, "Key": "secret/plans.txt"})
    denied(s3.copy_object, Bucket=BUCKET, Key="secret/copy.txt",
           CopySource={"Bucket": BUCKET, "Key": "public/a.txt"})
    denied(s3.create_multipart_upload, Bucket=BUCKET, Key="secret/mp")
    res = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "secret/plans.txt"},
                                                               {"Key": "public/a.txt"}]})
    assert [d["Key"] for d in res["Deleted"]] == ["public/a.txt"]
    assert [e["Code"] for e in res["Errors"]] == ["AccessDenied"]
    assert root.get_object(Bucket=BUCKET, Key="secret/plans.txt")["Body"].read() == b"top secret"

    # a Deny that comes through a group beats the user's own Allow; leaving the group lifts it
    admin(server, "user", "add", "dave", "dave-secret-1")
    admin(server, "policy", "attach", "readwrite", "--user", "dave")
    admin(server, "group", "add", "no-secrets", "dave")
    admin(server, "policy", "attach", "deny-secret", "--group", "no-secrets")
    dave = s3_client(server, "dave", "dave-secret-1")
    denied(dave.get_object, Bucket=BUCKET, Key="secret/plans.txt")
    admin(server, "group", "remove", "no-secrets", "dave")
    assert dave.get_object(Bucket=BUCKET, Key="secret/plans.txt")["Body"].read() == b"top secret"

    # a session policy cannot lift a Deny either
    c = sts_client(server, "carol", "carol-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="session",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"}]}))["Credentials"]
    tmp = s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    denied(tmp.get_object, Bucket=BUCKET, Key="secret/plans.txt")


def test_source_ip_condition(server, tmp_root):
    root = s3_client(server)
    for b in ("ip-ok", "ip-no"):
        root.create_bucket(Bucket=b)
        root.put_object(Bucket=b, Key="k", Body=b"v")
    admin(server, "policy", "create", "from-loopback",
          write(tmp_root, "lo.json", ip_policy("127.0.0.1/32", "ip-ok")))
    admin(server, "policy", "create", "from-ten",
          write(tmp_root, "ten.json", ip_policy(["10.0.0.0/8", "192.168.0.0/16"], "ip-no")))
    admin(server, "user", "add", "ipuser", "ipuser-secret")
    admin(server, "policy", "attach", "from-loopback", "--user", "ipuser")
    admin(server, "policy", "attach", "from-ten", "--user", "ipuser")
    s3 = s3_client(server, "ipuser", "ipuser-secret")
    assert s3.get_object(Bucket="ip-ok", Key="k")["Body"].read() == b"v"
    s3.put_object(Bucket="ip-ok", Key="k2", Body=b"v2")
    assert listed(s3, bucket="ip-ok") == ["k", "k2"]
    denied(s3.get_object, Bucket="ip-no", Key="k")
    denied(s3.put_object, Bucket="ip-no", Key="k2", Body=b"v2")
    denied(s3.list_objects_v2, Bucket="ip-no")
    # X-Forwarded-For from the client is not trusted for aws:SourceIp
    xff = s3_client(server, "ipuser", "ipuser-secret")
    xff.meta.events.register("before-sign.s3.*", lambda request, **kw: request.headers.__setitem__(
        "X-Forwarded-For", "10.1.2.3"))
    denied(xff.get_object, Bucket="ip-no", Key="k")
    assert xff.get_object(Bucket="ip-ok", Key="k")["Body"].read() == b"v"

    # NotIpAddress in a Deny: everything but loopback is refused, loopback still works
    admin(server, "policy", "create", "deny-not-ten", write(tmp_root, "dn.json", {
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}))
    admin(server, "policy", "attach", "deny-not-ten", "--user", "ipuser")
    denied(s3.get_object, Bucket="ip-ok", Key="k")


def make_certs(tmp_root):
    certs = os.path.join(tmp_root, "certs")
    os.makedirs(certs)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", os.path.join(certs, "private.key"),
                    "-out", os.path.join(certs, "public.crt")],
                   check=True, capture_output=True)
    return certs


def test_deny_unless_secure_transport(tmp_root):
    """The same data directory served over plain HTTP and then over TLS."""
    data = os.path.join(tmp_root, "data")
    srv = Server(data).start()
    try:
        root = s3_client(srv)
        root.create_bucket(Bucket="tls-only")
        root.put_object(Bucket="tls-only", Key="k", Body=b"v")
        admin(srv, "policy", "create", "deny-insecure",
              write(tmp_root, "di.json", DENY_INSECURE))
        admin(srv, "user", "add", "tlsuser", "tlsuser-secret")
        admin(srv, "policy", "attach", "readwrite", "--user", "tlsuser")
        admin(srv, "policy", "attach", "deny-insecure", "--user", "tlsuser")
        plain = s3_client(srv, "tlsuser", "tlsuser-secret")
        denied(plain.get_object, Bucket="tls-only", Key="k")
        denied(plain.put_object, Bucket="tls-only", Key="k2", Body=b"x")
        denied(plain.list_buckets)
        assert root.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"
    finally:
        srv.stop()

    certs = make_certs(tmp_root)
    srv = Server(data, certs=certs).start()
    try:
        import boto3
        import botocore.config
        s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id="tlsuser",
                          aws_secret_access_key="tlsuser-secret", region_name="us-east-1",
                          verify=os.path.join(certs, "public.crt"),
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        retries={"max_attempts": 1}))
        assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"
        s3.put_object(Bucket="tls-only", Key="k2", Body=b"over tls")
        assert "tls-only" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    finally:
        srv.stop()


def test_canned_writeonly_and_diagnostics(server):
    root = s3_client(server)
    root.create_bucket(Bucket="drop-box")
    root.put_object(Bucket="drop-box", Key="existing", Body=b"e")
    admin(server, "user", "add", "writer", "writer-secret")
    admin(server, "policy", "attach", "writeonly", "--user", "writer")
    w = s3_client(server, "writer", "writer-secret")
    w.put_object(Bucket="drop-box", Key="dropped", Body=b"d")
    up = w.create_multipart_upload(Bucket="drop-box", Key="mp")["UploadId"]
    e = w.upload_part(Bucket="drop-box", Key="mp", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    w.complete_multipart_upload(Bucket="drop-box", Key="mp", UploadId=up,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert root.get_object(Bucket="drop-box", Key="dropped")["Body"].read() == b"d"
    assert root.get_object(Bucket="drop-box", Key="mp")["Body"].read() == b"p"
    denied(w.get_object, Bucket="drop-box", Key="existing")
    denied(w.list_objects_v2, Bucket="drop-box")
    denied(w.list_buckets)
    denied(w.delete_object, Bucket="drop-box", Key="existing")
    denied(w.create_bucket, Bucket="writer-bucket")
    denied(w.copy_object, Bucket="drop-box", Key="copy",  # copy needs GetObject on the source
           CopySource={"Bucket": "drop-box", "Key": "existing"})
    p = admin(server, "user", "list", ak="writer", sk="writer-secret", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr

    # diagnostics: MinIO's profiling/trace/info admin actions only, no S3, no user admin
    admin(server, "user", "add", "diag", "diag-secret-1")
    admin(server, "policy", "attach", "diagnostics", "--user", "diag")
    d = s3_client(server, "diag", "diag-secret-1")
    denied(d.list_buckets)
    denied(d.get_object, Bucket="drop-box", Key="existing")
    denied(d.put_object, Bucket="drop-box", Key="x", Body=b"x")
    for args in (["user", "list"], ["user", "add", "sneaky", "sneaky-secret"],
                 ["policy", "list"]):
        p = admin(server, *args, ak="diag", sk="diag-secret-1", check=False)
        assert p.returncode != 0 and "AccessDenied" in p.stderr, args
    info = json.loads(admin(server, "policy", "info", "diagnostics").stdout)
    actions = {a for s in info["Statement"] for a in s["Action"]}
    assert {"admin:Profiling", "admin:ServerTrace", "admin:ServerInfo",
            "admin:Prometheus"} <= actions
    assert not any(a.startswith("s3:") for a in actions)


def test_group_policy_follows_membership(server, tmp_root):
    setup_home(server, tmp_root)
    alice = s3_client(server, "alice", "alice-secret-1")
    alice.put_object(Bucket=BUCKET, Key="home/alice/x", Body=b"x")
    admin(server, "group", "remove", "homers", "alice")
    denied(alice.get_object, Bucket=BUCKET, Key="home/alice/x")
    denied(alice.list_objects_v2, Bucket=BUCKET, Prefix="home/alice/")
    # bob, still a member, is unaffected
    check_home(server, "bob", "bob-secret-12", "alice")
    # back in the group: access returns; detaching from the group takes it from everyone
    admin(server, "group", "add", "homers", "alice")
    assert alice.get_object(Bucket=BUCKET, Key="home/alice/x")["Body"].read() == b"x"
    admin(server, "policy", "detach", "home-folder", "--group", "homers")
    denied(alice.get_object, Bucket=BUCKET, Key="home/alice/x")
    denied(s3_client(server, "bob", "bob-secret-12").get_object, Bucket=BUCKET,
           Key="home/bob/by-root.txt")
    # re-attached, then the group emptied and removed: nothing is granted any more
    admin(server, "policy", "attach", "home-folder", "--group", "homers")
    assert alice.get_object(Bucket=BUCKET, Key="home/alice/x")["Body"].read() == b"x"
    admin(server, "group", "remove", "homers", "alice", "bob")
    admin(server, "group", "remove", "homers")
    assert "homers" not in admin(server, "group", "list").stdout
    denied(alice.get_object, Bucket=BUCKET, Key="home/alice/x")


def test_removing_a_user_stops_it_at_once(server, tmp_root):
    setup_home(server, tmp_root)
    alice = s3_client(server, "alice", "alice-secret-1")
    alice.put_object(Bucket=BUCKET, Key="home/alice/x", Body=b"x")
    c = sts_client(server, "alice", "alice-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="session")["Credentials"]
    tmp = s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert tmp.get_object(Bucket=BUCKET, Key="home/alice/x")["Body"].read() == b"x"

    admin(server, "user", "remove", "alice")
    for client in (alice, tmp):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client.get_object(Bucket=BUCKET, Key="home/alice/x")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert e.value.response["Error"]["Code"] in ("InvalidAccessKeyId", "AccessDenied",
                                                     "InvalidToken", "ExpiredToken")
    g = json.loads(admin(server, "--json", "group", "info", "homers").stdout)
    assert g["members"] == ["bob"]
    # the same name added again with a new secret: the old secret and session stay dead,
    # and the old group membership is not revived
    admin(server, "user", "add", "alice", "alice-new-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        alice.get_object(Bucket=BUCKET, Key="home/alice/x")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(botocore.exceptions.ClientError):
        tmp.get_object(Bucket=BUCKET, Key="home/alice/x")
    denied(s3_client(server, "alice", "alice-new-secret").get_object, Bucket=BUCKET,
           Key="home/alice/x")
    # bob is untouched
    check_home(server, "bob", "bob-secret-12", "alice")


def test_everything_survives_restart(server, tmp_root):
    setup_home(server, tmp_root)
    root = s3_client(server)
    admin(server, "policy", "create", "deny-secret", write(tmp_root, "deny.json", DENY_SECRET))
    admin(server, "user", "add", "carol", "carol-secret-1")
    admin(server, "policy", "attach", "readwrite", "--user", "carol")
    admin(server, "group", "add", "no-secrets", "carol")
    admin(server, "policy", "attach", "deny-secret", "--group", "no-secrets")
    admin(server, "user", "add", "gone", "gone-secret-1")
    admin(server, "user", "remove", "gone")
    admin(server, "user", "add", "off", "off-secret-12")
    admin(server, "policy", "attach", "readwrite", "--user", "off")
    admin(server, "user", "disable", "off")
    root.put_object(Bucket=BUCKET, Key="secret/s.txt", Body=b"s")
    root.create_bucket(Bucket="public-read")
    root.put_object(Bucket="public-read", Key="index.html", Body=b"<h1>hi</h1>")
    root.put_bucket_policy(Bucket="public-read", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
             "Resource": ["arn:aws:s3:::public-read/*"]}]}))
    big = os.urandom(3 << 20)
    root.put_object(Bucket="public-read", Key="big.bin", Body=big)
    users_before = admin(server, "--json", "user", "list").stdout
    groups_before = admin(server, "--json", "group", "list").stdout
    policies_before = admin(server, "--json", "policy", "list").stdout

    for how in ("SIGTERM", "SIGKILL"):
        if how == "SIGTERM":
            server.restart()
        else:
            server.kill()
            server.start()
        assert admin(server, "--json", "user", "list").stdout == users_before
        assert admin(server, "--json", "group", "list").stdout == groups_before
        assert admin(server, "--json", "policy", "list").stdout == policies_before
        assert json.loads(admin(server, "policy", "info", "home-folder").stdout) == HOME
        check_home(server, "alice", "alice-secret-1", "bob")
        check_home(server, "bob", "bob-secret-12", "alice")
        carol = s3_client(server, "carol", "carol-secret-1")
        carol.put_object(Bucket=BUCKET, Key="carol.txt", Body=b"c")
        denied(carol.get_object, Bucket=BUCKET, Key="secret/s.txt")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_client(server, "gone", "gone-secret-1").list_buckets()
        assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_client(server, "off", "off-secret-12").list_buckets()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        r = requests.get(server.endpoint + "/public-read/index.html", timeout=10)
        assert r.status_code == 200 and r.content == b"<h1>hi</h1>"
        assert requests.get(server.endpoint + "/public-read", timeout=10).status_code == 403
        assert json.loads(root.get_bucket_policy(Bucket="public-read")["Policy"])[
            "Statement"][0]["Action"] == ["s3:GetObject"]
        assert root.get_object(Bucket="public-read", Key="big.bin")["Body"].read() == big
        assert root.get_object(Bucket=BUCKET, Key="secret/s.txt")["Body"].read() == b"s"
