"""`tessera admin` (cli/admin.c) against a real server: users, groups, policies and
attachments through the admin API (cli/admin_api.c, docs/API.md "Admin API"), and their effect
on S3 requests made with boto3."""
import json
import os
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import admin, s3_client


def write(tmp_root, name, text):
    path = os.path.join(tmp_root, name)
    with open(path, "w") as f:
        f.write(text if isinstance(text, str) else json.dumps(text))
    return path


def fails(p, code, *words):
    """p exited non-zero with the server's error code (and words) on stderr."""
    assert p.returncode != 0, p.stdout
    assert p.stderr.startswith("tessera: "), p.stderr
    assert code in p.stderr, p.stderr
    for w in words:
        assert w in p.stderr, p.stderr


def user_info(server, name):
    return json.loads(admin(server, "--json", "user", "info", name).stdout)


def error_code(exc):
    return exc.value.response["Error"]["Code"]


def test_user_lifecycle(server):
    p = admin(server, "user", "add", "bob", "bobsecret1")
    assert "bob" in p.stdout
    admin(server, "user", "add", "alice@example.org", "alicesecret")

    listed = json.loads(admin(server, "--json", "user", "list").stdout)["users"]
    assert [u["accessKey"] for u in listed] == ["alice@example.org", "bob"]
    assert all(u["status"] == "enabled" for u in listed)
    human = admin(server, "user", "list").stdout
    assert "bob" in human and "alice@example.org" in human and "enabled" in human

    info = user_info(server, "bob")
    assert info == {"accessKey": "bob", "status": "enabled", "policies": [], "groups": []}
    assert "bobsecret1" not in admin(server, "--json", "user", "info", "bob").stdout
    assert "Status:    enabled" in admin(server, "user", "info", "bob").stdout

    admin(server, "user", "disable", "bob")
    assert user_info(server, "bob")["status"] == "disabled"
    admin(server, "user", "enable", "bob")
    assert user_info(server, "bob")["status"] == "enabled"

    admin(server, "user", "remove", "bob")
    fails(admin(server, "user", "info", "bob", check=False), "NoSuchEntity",
          "user bob does not exist")
    fails(admin(server, "user", "remove", "bob", check=False), "NoSuchEntity")
    fails(admin(server, "user", "enable", "bob", check=False), "NoSuchEntity")
    assert [u["accessKey"] for u in
            json.loads(admin(server, "--json", "user", "list").stdout)["users"]] == \
        ["alice@example.org"]


def test_user_validation(server):
    fails(admin(server, "user", "add", "ab", "longenough", check=False), "InvalidArgument",
          "3 to 128")
    fails(admin(server, "user", "add", "x" * 129, "longenough", check=False), "InvalidArgument")
    fails(admin(server, "user", "add", "carol", "short", check=False), "InvalidArgument",
          "8 to 40")
    fails(admin(server, "user", "add", "carol", "s" * 41, check=False), "InvalidArgument")
    fails(admin(server, "user", "add", "bad/name", "longenough", check=False),
          "InvalidArgument")
    # the root user lives in the environment and cannot be shadowed by a stored user
    fails(admin(server, "user", "add", server.root_user, "longenough1", check=False),
          "InvalidArgument", "root")
    # re-adding is refused (even for root: "user add" only creates); set-secret replaces the
    # secret and keeps the status
    admin(server, "user", "add", "carol", "carolsecret1")
    admin(server, "user", "disable", "carol")
    fails(admin(server, "user", "add", "carol", "carolsecret2", check=False),
          "EntityAlreadyExists", "carol")
    admin(server, "user", "set-secret", "carol", "carolsecret2")
    assert user_info(server, "carol")["status"] == "disabled"
    admin(server, "user", "enable", "carol")
    admin(server, "policy", "attach", "readonly", "--user", "carol")
    s3_client(server).create_bucket(Bucket="carol-bucket")
    # ListBuckets as MinIO answers it: the buckets carol may list or locate
    names = [b["Name"] for b in s3_client(server, "carol", "carolsecret2").list_buckets()["Buckets"]]
    assert names == ["carol-bucket"]
    with pytest.raises(ClientError):
        s3_client(server, "carol", "carolsecret1").list_buckets()


def test_group_lifecycle(server):
    admin(server, "user", "add", "gu1", "gu1secret")
    admin(server, "user", "add", "gu2", "gu2secret")
    fails(admin(server, "group", "add", "dev", "gu1", "ghost", check=False), "NoSuchEntity",
          "ghost")
    fails(admin(server, "group", "info", "dev", check=False), "NoSuchEntity",
          "group dev does not exist")

    admin(server, "group", "add", "dev", "gu1", "gu2")
    admin(server, "group", "add", "ops", "gu1")
    assert admin(server, "group", "list").stdout.split() == ["dev", "ops"]
    info = json.loads(admin(server, "--json", "group", "info", "dev").stdout)
    assert info == {"name": "dev", "status": "enabled", "members": ["gu1", "gu2"],
                    "policies": []}
    assert "Members:  gu1,gu2" in admin(server, "group", "info", "dev").stdout
    assert user_info(server, "gu1")["groups"] == ["dev", "ops"]

    fails(admin(server, "group", "remove", "dev", check=False), "XMinioAdminGroupNotEmpty",
          "dev")
    admin(server, "group", "remove", "dev", "gu2")
    assert json.loads(admin(server, "--json", "group", "info", "dev").stdout)["members"] == \
        ["gu1"]
    assert user_info(server, "gu2")["groups"] == []

    # removing a user removes its memberships
    admin(server, "user", "remove", "gu1")
    assert json.loads(admin(server, "--json", "group", "info", "dev").stdout)["members"] == []
    admin(server, "group", "remove", "dev")
    fails(admin(server, "group", "info", "dev", check=False), "NoSuchEntity")
    fails(admin(server, "group", "remove", "dev", check=False), "NoSuchEntity")
    assert admin(server, "group", "list").stdout.split() == ["ops"]


GET_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                   "Resource": ["arn:aws:s3:::some-bucket/*"]}],
}


def test_policy_lifecycle(server, tmp_root):
    admin(server, "user", "add", "pu1", "pu1secret")
    admin(server, "group", "add", "pg", "pu1")

    path = write(tmp_root, "getonly.json", GET_ONLY)
    admin(server, "policy", "create", "getonly", path)
    names = admin(server, "policy", "list").stdout.split()
    for canned in ("readonly", "readwrite", "writeonly", "diagnostics", "consoleAdmin"):
        assert canned in names
    assert "getonly" in names
    listed = json.loads(admin(server, "--json", "policy", "list").stdout)["policies"]
    assert {"name": "getonly", "canned": False} in listed
    assert {"name": "readonly", "canned": True} in listed
    assert json.loads(admin(server, "policy", "info", "getonly").stdout) == GET_ONLY
    doc = json.loads(admin(server, "--json", "policy", "info", "readonly").stdout)
    assert doc["canned"] is True and doc["policy"]["Statement"]

    # bad documents: non-zero exit, MalformedPolicy, and the problem named
    no_resource = write(tmp_root, "bad1.json", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}]})
    fails(admin(server, "policy", "create", "bad", no_resource, check=False), "MalformedPolicy",
          "Resource")
    bad_effect = write(tmp_root, "bad2.json", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Perhaps", "Action": "s3:*", "Resource": "*"}]})
    fails(admin(server, "policy", "create", "bad", bad_effect, check=False), "MalformedPolicy",
          "Effect")
    not_json = write(tmp_root, "bad3.json", '{"Version": "2012-10-17", "Statement": [')
    fails(admin(server, "policy", "create", "bad", not_json, check=False), "MalformedPolicy")
    fails(admin(server, "policy", "info", "bad", check=False), "NoSuchEntity")
    p = admin(server, "policy", "create", "bad", os.path.join(tmp_root, "missing.json"),
              check=False)
    assert p.returncode != 0 and "missing.json" in p.stderr
    fails(admin(server, "policy", "create", "readonly", path, check=False), "InvalidArgument")

    # attachments
    fails(admin(server, "policy", "attach", "nosuch", "--user", "pu1", check=False),
          "NoSuchEntity", "nosuch")
    fails(admin(server, "policy", "attach", "getonly", "--user", "ghost", check=False),
          "NoSuchEntity", "ghost")
    fails(admin(server, "policy", "attach", "getonly", "--group", "ghosts", check=False),
          "NoSuchEntity", "ghosts")
    admin(server, "policy", "attach", "getonly", "--user", "pu1")
    admin(server, "policy", "attach", "readonly", "--user", "pu1")
    admin(server, "policy", "attach", "getonly", "--group", "pg")
    assert user_info(server, "pu1")["policies"] == ["getonly", "readonly"]
    assert json.loads(admin(server, "--json", "group", "info", "pg").stdout)["policies"] == \
        ["getonly"]
    out = json.loads(admin(server, "--json", "policy", "attach", "getonly", "--dn",
                           "CN=Admins, OU=Groups, DC=Example,DC=org").stdout)
    assert out["dn"] == "cn=admins,ou=groups,dc=example,dc=org"

    # an attached policy cannot be removed
    fails(admin(server, "policy", "remove", "getonly", check=False), "XMinioAdminPolicyInUse",
          "getonly")
    admin(server, "policy", "detach", "getonly", "--user", "pu1")
    fails(admin(server, "policy", "detach", "getonly", "--user", "pu1", check=False),
          "NoSuchEntity")
    admin(server, "policy", "detach", "getonly", "--group", "pg")
    admin(server, "policy", "detach", "getonly", "--dn", "cn=admins, ou=groups,dc=example,dc=org")
    assert user_info(server, "pu1")["policies"] == ["readonly"]
    admin(server, "policy", "remove", "getonly")
    fails(admin(server, "policy", "info", "getonly", check=False), "NoSuchEntity")
    fails(admin(server, "policy", "remove", "readonly", check=False), "InvalidArgument")


def test_usage_and_client_errors(server):
    env = dict(os.environ, TESSERA_ENDPOINT=server.endpoint,
               TESSERA_ACCESS_KEY=server.root_user, TESSERA_SECRET_KEY=server.root_password)

    def run(*args, **kw):
        return subprocess.run([server.bin, "admin"] + list(args), env=kw.get("env", env),
                              capture_output=True, text=True, timeout=60)

    assert run().returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("user", "add", "onlyname").returncode == 2
    assert run("policy", "attach", "readonly", "--nobody", "x").returncode == 2
    assert run("sts", "revoke").returncode == 2
    no_creds = {k: v for k, v in env.items() if k not in ("TESSERA_ACCESS_KEY",
                                                           "TESSERA_SECRET_KEY")}
    p = run("user", "list", env=no_creds)
    assert p.returncode != 0 and "TESSERA_ACCESS_KEY" in p.stderr
    # the flags override the environment
    p = run("--secret-key", "not-the-secret", "user", "list")
    assert p.returncode == 1 and "SignatureDoesNotMatch" in p.stderr
    p = run("--endpoint", "http://127.0.0.1:1", "user", "list")
    assert p.returncode == 1 and p.stderr.startswith("tessera: ")
    assert run("--endpoint", server.endpoint, "user", "list").returncode == 0


def test_admin_permissions(server):
    admin(server, "user", "add", "reader", "readersecret")
    admin(server, "policy", "attach", "readonly", "--user", "reader")
    admin(server, "user", "add", "operator", "operatorsecret")
    admin(server, "policy", "attach", "consoleAdmin", "--user", "operator")

    # a user without admin:* actions is refused
    fails(admin(server, "user", "list", ak="reader", sk="readersecret", check=False),
          "AccessDenied")
    fails(admin(server, "user", "add", "sneaky", "sneakysecret", ak="reader",
                sk="readersecret", check=False), "AccessDenied")
    # consoleAdmin allows the admin API
    p = admin(server, "user", "list", ak="operator", sk="operatorsecret")
    assert "reader" in p.stdout
    admin(server, "user", "add", "made-by-operator", "operatorsecret2", ak="operator",
          sk="operatorsecret")
    assert user_info(server, "made-by-operator")["status"] == "enabled"

    # unsigned requests get a JSON 403
    import requests
    r = requests.get(server.endpoint + "/tessera/admin/v1/users")
    assert r.status_code == 403
    body = r.json()
    assert body["Code"] == "AccessDenied" and body["RequestId"]


def test_readonly_user_can_read_but_not_write(server):
    root = s3_client(server)
    root.create_bucket(Bucket="ro-bucket")
    root.put_object(Bucket="ro-bucket", Key="hello.txt", Body=b"hello")
    admin(server, "user", "add", "rouser", "rousersecret")

    s3 = s3_client(server, "rouser", "rousersecret")
    with pytest.raises(ClientError) as e:  # no policy yet: nothing is allowed
        s3.get_object(Bucket="ro-bucket", Key="hello.txt")
    assert error_code(e) == "AccessDenied"

    admin(server, "policy", "attach", "readonly", "--user", "rouser")
    assert s3.get_object(Bucket="ro-bucket", Key="hello.txt")["Body"].read() == b"hello"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="ro-bucket").get("Contents", [])]
    assert keys == ["hello.txt"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="ro-bucket", Key="new.txt", Body=b"x")
    assert error_code(e) == "AccessDenied"

    admin(server, "policy", "detach", "readonly", "--user", "rouser")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ro-bucket", Key="hello.txt")
    assert error_code(e) == "AccessDenied"


def test_group_policy_applies_to_members(server, tmp_root):
    root = s3_client(server)
    root.create_bucket(Bucket="team-bucket")
    root.create_bucket(Bucket="other-bucket")
    admin(server, "user", "add", "member1", "member1secret")
    admin(server, "user", "add", "outsider", "outsidersecret")
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": ["arn:aws:s3:::team-bucket/*"]}]}
    admin(server, "policy", "create", "team-rw", write(tmp_root, "team.json", doc))
    admin(server, "group", "add", "team", "member1")
    admin(server, "policy", "attach", "team-rw", "--group", "team")

    member = s3_client(server, "member1", "member1secret")
    member.put_object(Bucket="team-bucket", Key="k", Body=b"v")
    assert member.get_object(Bucket="team-bucket", Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError) as e:
        member.put_object(Bucket="other-bucket", Key="k", Body=b"v")
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3_client(server, "outsider", "outsidersecret").put_object(
            Bucket="team-bucket", Key="k2", Body=b"v")
    assert error_code(e) == "AccessDenied"

    # leaving the group takes the policy away at once
    admin(server, "group", "remove", "team", "member1")
    with pytest.raises(ClientError) as e:
        member.put_object(Bucket="team-bucket", Key="k3", Body=b"v")
    assert error_code(e) == "AccessDenied"


def test_disabling_stops_requests_at_once(server):
    s3_client(server).create_bucket(Bucket="dis-bucket")
    admin(server, "user", "add", "dis", "dissecret1")
    admin(server, "policy", "attach", "readwrite", "--user", "dis")
    s3 = s3_client(server, "dis", "dissecret1")
    s3.put_object(Bucket="dis-bucket", Key="a", Body=b"1")

    admin(server, "user", "disable", "dis")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="dis-bucket", Key="a")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error_code(e) in ("AccessDenied", "InvalidAccessKeyId")

    admin(server, "user", "enable", "dis")
    assert s3.get_object(Bucket="dis-bucket", Key="a")["Body"].read() == b"1"

    admin(server, "user", "remove", "dis")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="dis-bucket", Key="a")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_state_survives_restart(server, tmp_root):
    admin(server, "user", "add", "keep", "keepsecret")
    admin(server, "group", "add", "keepers", "keep")
    admin(server, "policy", "create", "keep-get", write(tmp_root, "k.json", GET_ONLY))
    admin(server, "policy", "attach", "keep-get", "--group", "keepers")
    admin(server, "policy", "attach", "readonly", "--user", "keep")
    admin(server, "user", "disable", "keep")
    server.restart()
    info = user_info(server, "keep")
    assert info == {"accessKey": "keep", "status": "disabled", "policies": ["readonly"],
                    "groups": ["keepers"]}
    g = json.loads(admin(server, "--json", "group", "info", "keepers").stdout)
    assert g["members"] == ["keep"] and g["policies"] == ["keep-get"]
    assert json.loads(admin(server, "policy", "info", "keep-get").stdout) == GET_ONLY
