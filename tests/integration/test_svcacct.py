"""Service accounts (issue 20, item 1): long-lived keys of a parent -- a static user, an LDAP
DN or an OpenID subject -- through `tessera admin svcacct ...` and the admin API
(/tessera/admin/v1/svcaccts), used with boto3; created by an admin, by a user for itself with
its own keys, and straight after an LDAP (real slapd) or OpenID (the suite's provider) login;
they die with their parent, act with the parent's CURRENT policies bounded by their own, expire,
and their secrets are shown once and never stored, logged or listed in clear.
"""
import datetime
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

from conftest import BIN, IAM_STORE, Server, admin, s3_client, sts_client

API = "/tessera/admin/v1/"


def write(d, name, doc):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def allow(actions, resources):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}


RW_DATA = allow(["s3:*"], ["arn:aws:s3:::data", "arn:aws:s3:::data/*"])
RO_DATA = allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::data", "arn:aws:s3:::data/*"])


def api(srv, method, path, body=None, creds=None):
    """A SigV4-signed admin API call (root by default): (status, parsed JSON)."""
    data = json.dumps(body).encode() if body is not None else b""
    creds = creds or (srv.root_user, srv.root_password)
    req = botocore.awsrequest.AWSRequest(
        method=method, url=srv.endpoint + API + path, data=data,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(data).hexdigest()})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(*creds), "s3",
                            "us-east-1").add_auth(req)
    p = req.prepare()
    r = requests.request(p.method, p.url, headers=dict(p.headers), data=p.body, timeout=30)
    return r.status_code, r.json()


def cli(srv, *args, creds=None, check=True):
    """`tessera admin` with creds (ak, sk[, token]) from AWS_* (a session's) or root's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TESSERA_") and not k.startswith("AWS_")}
    env["TESSERA_ENDPOINT"] = srv.endpoint
    ak, sk, tok = (tuple(creds) + (None,))[:3] if creds else (srv.root_user, srv.root_password,
                                                              None)
    env.update({"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk})
    if tok:
        env["AWS_SESSION_TOKEN"] = tok
    p = subprocess.run([BIN, "admin"] + list(args), env=env, capture_output=True, text=True,
                       timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("tessera admin %s: %s" % (" ".join(args), p.stderr))
    return p


def cli_json(srv, *args, creds=None):
    return json.loads(cli(srv, "--json", *args, creds=creds).stdout)


def s3(srv, acct):
    return s3_client(srv, acct["accessKey"], acct["secretKey"])


def code_of(fn, *a, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*a, **kw)
    return e.value.response["Error"]["Code"]


def put_ok(c, bucket="data", key="k"):
    try:
        c.put_object(Bucket=bucket, Key=key, Body=b"x")
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] in ("AccessDenied", "InvalidAccessKeyId"), e.response
        return False


@pytest.fixture
def srv(server, tmp_root):
    """alice (policy rw-data) and bob (rw-data), bucket data with one object."""
    admin(server, "policy", "create", "rw-data", write(tmp_root, "rw.json", RW_DATA))
    for u in ("alice", "bob"):
        admin(server, "user", "add", u, u + "-secret-1")
        admin(server, "policy", "attach", "rw-data", "--user", u)
    root = s3_client(server)
    root.create_bucket(Bucket="data")
    root.create_bucket(Bucket="other")
    root.put_object(Bucket="data", Key="hello", Body=b"hello")
    server.tmp = tmp_root
    return server


# ---- the CLI verbs (an admin for a static user) ----

def test_cli_verbs_and_boto3(srv):
    acct = cli_json(srv, "svcacct", "add", "alice", "--name", "ci", "--description",
                    "nightly job")
    assert acct["parent"] == "alice" and acct["parentType"] == "static"
    assert len(acct["accessKey"]) == 20 and len(acct["secretKey"]) == 40
    assert acct["name"] == "ci" and acct["description"] == "nightly job"
    assert acct["status"] == "enabled" and acct["impliedPolicy"] is True
    c = s3(srv, acct)
    c.put_object(Bucket="data", Key="ci.txt", Body=b"ci")
    assert c.get_object(Bucket="data", Key="hello")["Body"].read() == b"hello"
    assert code_of(c.list_objects_v2, Bucket="other") == "AccessDenied"  # alice's rights only
    ident = sts_client(srv, acct["accessKey"], acct["secretKey"]).get_caller_identity()
    assert ident["Arn"] == "arn:aws:iam::000000000000:user/alice"

    human = cli(srv, "svcacct", "add", "alice").stdout  # the secret is shown once, here
    assert "Secret key:" in human and "shown only now" in human

    listed = cli_json(srv, "svcacct", "list")["accounts"]
    assert acct["accessKey"] in [a["accessKey"] for a in listed] and len(listed) == 2
    assert all("secretKey" not in a for a in listed)
    assert cli_json(srv, "svcacct", "list", "bob")["accounts"] == []
    assert len(cli_json(srv, "svcacct", "list", "alice")["accounts"]) == 2
    text = cli(srv, "svcacct", "list").stdout
    assert acct["accessKey"] in text and "ci" in text and acct["secretKey"] not in text

    info = cli_json(srv, "svcacct", "info", acct["accessKey"])
    assert "secretKey" not in info and info["impliedPolicy"] is True
    assert "implied" in cli(srv, "svcacct", "info", acct["accessKey"]).stdout

    # edit: an own policy narrower than the parent's, then none again
    ro = write(srv.tmp, "ro.json", RO_DATA)
    cli(srv, "svcacct", "edit", acct["accessKey"], "--policy", ro, "--name", "ci-ro")
    info = cli_json(srv, "svcacct", "info", acct["accessKey"])
    assert info["impliedPolicy"] is False and info["policy"] == RO_DATA and info["name"] == "ci-ro"
    assert not put_ok(c)
    assert c.get_object(Bucket="data", Key="hello")["Body"].read() == b"hello"
    cli(srv, "svcacct", "edit", acct["accessKey"], "--policy", "none")
    assert put_ok(c)

    # a new secret: the old one stops verifying
    cli(srv, "svcacct", "edit", acct["accessKey"], "--secret-key", "a-new-secret-42")
    assert code_of(c.get_object, Bucket="data", Key="hello") == "SignatureDoesNotMatch"
    c = s3(srv, dict(acct, secretKey="a-new-secret-42"))
    assert put_ok(c)

    # disable / enable / remove
    assert "Disabled service account" in cli(srv, "svcacct", "disable", acct["accessKey"]).stdout
    assert code_of(c.get_object, Bucket="data", Key="hello") == "InvalidAccessKeyId"
    assert cli_json(srv, "svcacct", "info", acct["accessKey"])["status"] == "disabled"
    cli(srv, "svcacct", "enable", acct["accessKey"])
    assert put_ok(c)
    cli(srv, "svcacct", "remove", acct["accessKey"])
    assert code_of(c.get_object, Bucket="data", Key="hello") == "InvalidAccessKeyId"
    p = cli(srv, "svcacct", "info", acct["accessKey"], check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr


def test_chosen_keys_share_the_users_namespace(srv):
    acct = cli_json(srv, "svcacct", "add", "alice", "--access-key", "alice-ci",
                    "--secret-key", "alice-ci-secret")
    assert acct["accessKey"] == "alice-ci" and acct["secretKey"] == "alice-ci-secret"
    assert put_ok(s3(srv, acct))
    for ak in ("alice-ci", "bob", srv.root_user):  # another account, a user, root
        p = cli(srv, "svcacct", "add", "alice", "--access-key", ak, "--secret-key",
                "whatever-secret", check=False)
        assert p.returncode != 0, ak
        assert "EntityAlreadyExists" in p.stderr or "reserved" in p.stderr, p.stderr
    p = admin(srv, "user", "add", "alice-ci", "user-secret-1", check=False)
    assert p.returncode != 0 and "EntityAlreadyExists" in p.stderr
    p = cli(srv, "svcacct", "add", "alice", "--secret-key", "short", check=False)
    assert p.returncode != 0 and "8 to 40" in p.stderr
    p = cli(srv, "svcacct", "add", "nobody", check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr


# ---- the admin API ----

def test_admin_api(srv):
    exp = (datetime.datetime.now(datetime.timezone.utc) +
           datetime.timedelta(days=2)).replace(microsecond=0)
    st, acct = api(srv, "POST", "svcaccts", {
        "parent": "alice", "accessKey": "api-key-1", "secretKey": "api-secret-1",
        "policy": RO_DATA, "name": "api", "description": "made by the API",
        "expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert st == 200, acct
    assert acct == {"accessKey": "api-key-1", "secretKey": "api-secret-1", "parent": "alice",
                    "parentType": "static", "status": "enabled", "impliedPolicy": False,
                    "name": "api", "description": "made by the API", "policy": RO_DATA,
                    "expiration": exp.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    st, lst = api(srv, "GET", "svcaccts")
    assert st == 200 and [a["accessKey"] for a in lst["accounts"]] == ["api-key-1"]
    assert "policy" not in lst["accounts"][0] and "secretKey" not in lst["accounts"][0]
    st, info = api(srv, "GET", "svcaccts/api-key-1")
    assert st == 200 and info["policy"] == RO_DATA and "secretKey" not in info
    st, info = api(srv, "POST", "svcaccts/api-key-1", {"status": "off", "policy": None,
                                                       "expiration": None})
    assert st == 200 and info["status"] == "disabled" and info["impliedPolicy"] is True
    assert info["expiration"] is None
    st, info = api(srv, "POST", "svcaccts/api-key-1/enable")
    assert st == 200 and info["status"] == "enabled"
    st, info = api(srv, "POST", "svcaccts/api-key-1/disable")
    assert st == 200 and info["status"] == "disabled"
    # errors: JSON {"Code","Message"}
    bad = [({"parent": "alice", "policy": {"Statement": "nope"}}, 400, "InvalidArgument"),
           ({"parent": "alice", "expiration": "2001-01-01T00:00:00Z"}, 400, "InvalidArgument"),
           ({"parent": "alice", "name": "x" * 33}, 400, "InvalidArgument"),
           ({"parent": "ghost"}, 404, "NoSuchEntity"),
           ({"parent": "alice", "accessKey": "api-key-1"}, 409, "EntityAlreadyExists"),
           ({"parent": 7}, 400, "InvalidArgument")]
    for body, status, code in bad:
        st, err = api(srv, "POST", "svcaccts", body)
        assert (st, err["Code"]) == (status, code), (body, err)
    st, err = api(srv, "POST", "svcaccts", {})  # root owns none: it names a parent
    assert st == 400 and "parent" in err["Message"]
    st, err = api(srv, "GET", "svcaccts/nope")
    assert st == 404 and err["Code"] == "NoSuchEntity"
    st, done = api(srv, "DELETE", "svcaccts/api-key-1")
    assert st == 200 and done == {"accessKey": "api-key-1", "removed": True}


# ---- a user for itself, and what it may not do ----

def test_user_manages_its_own_accounts_only(srv):
    bob = ("bob", "bob-secret-1")
    st, mine = api(srv, "POST", "svcaccts", {"name": "mine"}, creds=bob)  # no admin rights
    assert st == 200 and mine["parent"] == "bob", mine
    assert put_ok(s3(srv, mine))
    via_cli = cli_json(srv, "svcacct", "add", creds=bob)
    assert via_cli["parent"] == "bob"
    alices = cli_json(srv, "svcacct", "add", "alice")
    # bob sees his own only, and cannot touch alice's or make one for her
    st, lst = api(srv, "GET", "svcaccts", creds=bob)
    assert st == 200 and sorted(a["accessKey"] for a in lst["accounts"]) == \
        sorted([mine["accessKey"], via_cli["accessKey"]])
    for method, path, body in [("POST", "svcaccts", {"parent": "alice"}),
                               ("GET", "svcaccts/" + alices["accessKey"], None),
                               ("POST", "svcaccts/" + alices["accessKey"], {"name": "x"}),
                               ("POST", "svcaccts/" + alices["accessKey"] + "/disable", None),
                               ("DELETE", "svcaccts/" + alices["accessKey"], None)]:
        st, err = api(srv, method, path, body, creds=bob)
        assert st == 403 and err["Code"] == "AccessDenied", (method, path, err)
    assert put_ok(s3(srv, alices))
    # an own policy cannot give more than the parent has: the intersection applies
    st, wide = api(srv, "POST", "svcaccts", {"policy": allow(["s3:*"], ["arn:aws:s3:::*"])},
                   creds=bob)
    assert st == 200
    assert code_of(s3(srv, wide).list_objects_v2, Bucket="other") == "AccessDenied"
    # a service account manages no service accounts
    st, err = api(srv, "POST", "svcaccts", {}, creds=(mine["accessKey"], mine["secretKey"]))
    assert st == 403 and err["Code"] == "AccessDenied" and "service account" in err["Message"]
    st, err = api(srv, "GET", "svcaccts", creds=(mine["accessKey"], mine["secretKey"]))
    assert st == 403
    # bob removes his own
    st, _ = api(srv, "DELETE", "svcaccts/" + mine["accessKey"], creds=bob)
    assert st == 200
    # an explicit deny takes the self-service away (MinIO: DenyOnly for oneself)
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": ["admin:CreateServiceAccount"], "Resource": ["*"]}]}
    admin(srv, "policy", "create", "no-svc", write(srv.tmp, "deny.json", deny))
    admin(srv, "policy", "attach", "no-svc", "--user", "bob")
    st, err = api(srv, "POST", "svcaccts", {}, creds=bob)
    assert st == 403 and err["Code"] == "AccessDenied"


def test_session_creates_account_within_its_own_rights(srv):
    bob = sts_client(srv, "bob", "bob-secret-1")
    # a session bounded to reading: its service account is bounded the same way
    sess = bob.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="ci",
                           Policy=json.dumps(RO_DATA))["Credentials"]
    creds = (sess["AccessKeyId"], sess["SecretAccessKey"], sess["SessionToken"])
    acct = cli_json(srv, "svcacct", "add", creds=creds)
    assert acct["parent"] == "bob" and acct["policy"] == RO_DATA
    c = s3(srv, acct)
    assert c.get_object(Bucket="data", Key="hello")["Body"].read() == b"hello"
    assert not put_ok(c)
    # ... and cannot lift or replace the bound
    p = cli(srv, "svcacct", "add", "--policy", write(srv.tmp, "rw2.json", RW_DATA), creds=creds,
            check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    st, err = api(srv, "POST", "svcaccts/" + acct["accessKey"], {"policy": None}, creds=creds)
    assert st == 403 and err["Code"] == "AccessDenied"
    # nor name another parent
    st, err = api(srv, "POST", "svcaccts", {"parent": "alice"}, creds=creds)
    assert st == 403 and err["Code"] == "AccessDenied"


# ---- parent gone, policies, expiry ----

def test_dies_with_its_static_parent(srv):
    acct = cli_json(srv, "svcacct", "add", "alice")
    c = s3(srv, acct)
    assert put_ok(c)
    admin(srv, "user", "disable", "alice")
    assert code_of(c.get_object, Bucket="data", Key="hello") == "InvalidAccessKeyId"
    admin(srv, "user", "enable", "alice")
    assert put_ok(c)
    admin(srv, "user", "remove", "alice")
    assert code_of(c.get_object, Bucket="data", Key="hello") == "InvalidAccessKeyId"
    assert cli_json(srv, "svcacct", "list")["accounts"] == []
    # a new user of the same name does not inherit the old one's accounts
    admin(srv, "user", "add", "alice", "alice-secret-2")
    admin(srv, "policy", "attach", "rw-data", "--user", "alice")
    assert code_of(c.get_object, Bucket="data", Key="hello") == "InvalidAccessKeyId"


def test_parent_current_policies_intersected_with_own(srv):
    admin(srv, "group", "add", "readers", "alice")
    admin(srv, "policy", "create", "ro-data", write(srv.tmp, "ro.json", RO_DATA))
    admin(srv, "policy", "attach", "ro-data", "--group", "readers")
    narrow = allow(["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::data/*"])
    acct = cli_json(srv, "svcacct", "add", "alice", "--policy",
                    write(srv.tmp, "narrow.json", narrow))
    c = s3(srv, acct)
    assert put_ok(c)
    assert code_of(c.list_objects_v2, Bucket="data") == "AccessDenied"  # not in its own policy
    admin(srv, "policy", "detach", "rw-data", "--user", "alice")  # the parent loses "rw"
    assert not put_ok(c)  # at once
    assert c.get_object(Bucket="data", Key="hello")["Body"].read() == b"hello"  # via the group
    admin(srv, "group", "remove", "readers", "alice")
    assert code_of(c.get_object, Bucket="data", Key="hello") == "AccessDenied"
    admin(srv, "policy", "attach", "rw-data", "--user", "alice")
    assert put_ok(c)


def test_expiry(srv):
    exp = int(time.time()) + 4
    st, acct = api(srv, "POST", "svcaccts", {"parent": "alice", "expiration": exp})
    assert st == 200 and acct["expiration"].endswith("Z")
    c = s3(srv, acct)
    assert put_ok(c)
    time.sleep(max(0, exp - time.time()) + 1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object(Bucket="data", Key="hello")
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "expired" in e.value.response["Error"]["Message"]
    # the CLI's --expiry takes RFC 3339; a past time is refused
    p = cli(srv, "svcacct", "add", "alice", "--expiry", "2020-01-01T00:00:00Z", check=False)
    assert p.returncode != 0 and "future" in p.stderr
    later = cli_json(srv, "svcacct", "add", "alice", "--expiry", "2099-01-01T00:00:00Z")
    assert later["expiration"] == "2099-01-01T00:00:00.000Z"


def test_secret_never_logged_listed_or_stored_in_clear(srv):
    accts = [cli_json(srv, "svcacct", "add", "alice"),
             api(srv, "POST", "svcaccts", {"parent": "bob", "secretKey": "chosen-secret-77"})[1]]
    for a in accts:
        assert put_ok(s3(srv, a))
        cli(srv, "svcacct", "edit", a["accessKey"], "--name", "n")
    outputs = [cli(srv, "svcacct", "list").stdout, cli(srv, "--json", "svcacct", "list").stdout]
    for a in accts:
        outputs += [cli(srv, "svcacct", "info", a["accessKey"]).stdout,
                    cli(srv, "--json", "svcacct", "info", a["accessKey"]).stdout]
    srv.stop()  # flush the logs
    logs = srv.read_log()
    with open(srv.audit_path) as f:
        logs += f.read()
    assert "svcacct.add" in logs
    stored = b""
    if IAM_STORE == "lmdb":
        for path in glob.glob(os.path.join(srv.data_dir, ".tessera", "iam", "*")):
            with open(path, "rb") as f:
                stored += f.read()
        assert accts[0]["accessKey"].encode() in stored  # the records are there...
    for a in accts:
        for text in outputs + [logs]:
            assert a["secretKey"] not in text
        assert a["secretKey"].encode() not in stored  # ...sealed
    srv.start()
    assert put_ok(s3(srv, accts[1]))  # and still open after a restart


# ---- federated parents ----

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc"))
HAVE_OIDC = os.path.isdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc",
                                       "node_modules"))


@pytest.fixture(scope="module")
def directory():
    from slapd import Slapd
    d = Slapd()
    try:
        d.start()
        yield d
    finally:
        d.close()


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="tessera-svc-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_from_an_ldap_login(directory, tmp):
    import test_ldap as tl
    from slapd import group_ldif, user_ldif
    directory.add(user_ldif("gina", password="gina-pw-1") + "\n\n" +
                  group_ldif("svcusers", ["uid=gina,%s" % tl.PEOPLE]) + "\n")
    srv = tl.start_server(tmp, tl.ldap_env(directory, TESSERA_IDENTITY_LDAP_REFRESH_INTERVAL="2s"),
                          setup=False)
    try:
        admin(srv, "policy", "create", "rw-data", write(tmp, "rw.json", RW_DATA))
        admin(srv, "policy", "create", "ro-data", write(tmp, "ro.json", RO_DATA))
        admin(srv, "policy", "attach", "rw-data", "--dn", "cn=svcusers," + tl.GROUPS)
        admin(srv, "policy", "attach", "ro-data", "--dn", "uid=gina," + tl.PEOPLE)
        root = s3_client(srv)
        root.create_bucket(Bucket="data")
        root.put_object(Bucket="data", Key="hello", Body=b"hello")
        sess = tl.login(srv, "gina", "gina-pw-1")
        creds = (sess["AccessKeyId"], sess["SecretAccessKey"], sess["SessionToken"])
        acct = cli_json(srv, "svcacct", "add", "--name", "gina-ci", creds=creds)  # no admin
        assert acct["parentType"] == "ldap" and acct["parent"] == "uid=gina," + tl.PEOPLE
        c = s3(srv, acct)
        assert put_ok(c)
        st, lst = api(srv, "GET", "svcaccts", creds=creds)
        assert st == 200 and [a["accessKey"] for a in lst["accounts"]] == [acct["accessKey"]]
        st, err = api(srv, "POST", "svcaccts", {"parent": "alice"}, creds=creds)
        assert st == 403
        # the group's policy detached: its rights go at once, the DN's stay
        admin(srv, "policy", "detach", "rw-data", "--dn", "cn=svcusers," + tl.GROUPS)
        assert not put_ok(c)
        assert c.get_object(Bucket="data", Key="hello")["Body"].read() == b"hello"
        # gina leaves the directory: the validity checker revokes her, with her accounts
        directory.delete("uid=gina," + tl.PEOPLE)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                c.get_object(Bucket="data", Key="hello")
            except botocore.exceptions.ClientError as e:
                assert e.response["Error"]["Code"] == "InvalidAccessKeyId", e.response
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the service account outlived its LDAP parent")
    finally:
        srv.stop()


@pytest.mark.skipif(not HAVE_OIDC, reason="run `npm ci` in tests/integration/oidc")
def test_from_an_oidc_login(tmp_root):
    import oidc_flow
    import test_oidc as to
    provider = oidc_flow.Provider(tmp_root).start()
    srv = None
    try:
        srv = to.start_server(tmp_root, provider)
        to.setup_iam(srv, tmp_root)
        # carol: policy claim "list-only,put-only"
        cred = to.web_identity(srv, provider.login("carol"))["Credentials"]
        creds = (cred["AccessKeyId"], cred["SecretAccessKey"], cred["SessionToken"])
        st, acct = api(srv, "POST", "svcaccts", {"name": "carol-ci"}, creds=creds)
        assert st == 200, acct
        assert acct["parentType"] == "oidc" and acct["parent"] == provider.issuer + "#carol"
        c = s3(srv, acct)
        assert put_ok(c) and "Contents" in c.list_objects_v2(Bucket="data")
        assert code_of(c.get_object, Bucket="data", Key="hello.txt") == "AccessDenied"
        ident = sts_client(srv, acct["accessKey"], acct["secretKey"]).get_caller_identity()
        assert ":federated-user/" in ident["Arn"]
        # the parent's policy deleted: gone at once for the account
        admin(srv, "policy", "remove", "put-only")
        assert not put_ok(c)
        assert "Contents" in c.list_objects_v2(Bucket="data")
        # the parent's sessions revoked: the account dies with them
        admin(srv, "sts", "revoke", "--user", provider.issuer + "#carol")
        assert code_of(c.list_objects_v2, Bucket="data") == "InvalidAccessKeyId"
        # a later login makes new ones that work
        cred = to.web_identity(srv, provider.login("carol"))["Credentials"]
        st, again = api(srv, "POST", "svcaccts", {},
                        creds=(cred["AccessKeyId"], cred["SecretAccessKey"],
                               cred["SessionToken"]))
        assert st == 200 and "Contents" in s3(srv, again).list_objects_v2(Bucket="data")
    finally:
        if srv is not None:
            srv.stop()
        provider.stop()
