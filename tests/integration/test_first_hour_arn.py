"""Issue 15 item 12 (last two parts): ARN-shaped session ARNs and the health endpoints.

- A federated identity without a tessera role (OpenID web identity, LDAP) is
  arn:aws:sts::ACCOUNT:federated-user/NAME, NAME ARN-legal and one per verified identity
  (the same subject from two issuers, or an LDAP user of that name, never share it); no
  issuer URL or DN in any ARN. AssumedRoleId, GetCallerIdentity (boto3 and the aws cli),
  aws:userid, bucket-policy principals and the audit log agree. The identity facts stay in
  SubjectFromWebIdentityToken, Provider and Audience.
- A session of a tessera role is arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION with
  AssumedRoleId ROLEID:SESSION (ROLEID "AROA…").
- /health/live, /health/ready, the /minio/health/* aliases, and /health/backends (503 while an
  identity backend does not answer, anonymous callers get no details).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, aws, s3_client, sts_client
from oidc import oidc_flow
from slapd import SUFFIX, USER_PASSWORDS, Slapd
from test_ldap import creds_of, ldap_env, sts_ldap
from test_oidc import oidc_env, setup_iam

ACCOUNT = "000000000000"
FED = re.compile(r"^arn:aws:sts::%s:federated-user/([\w+=,.@-]{2,64})$" % ACCOUNT)
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
ALICE_DN = "uid=alice,ou=people," + SUFFIX


@pytest.fixture(scope="module")
def world():
    root = tempfile.mkdtemp(prefix="tessera-arn-")
    one = oidc_flow.Provider(root).start()
    two_dir = os.path.join(root, "two")
    os.mkdir(two_dir)
    two = oidc_flow.Provider(two_dir).start()
    d = Slapd()
    srv = None
    try:
        d.start()
        env = oidc_env(one)
        env.update(ldap_env(d))
        env.update({
            "TESSERA_IDENTITY_OPENID_CONFIG_URL_TWO": two.config_url,
            "TESSERA_IDENTITY_OPENID_CLIENT_ID_TWO": "tessera",
            "TESSERA_IDENTITY_OPENID_CLIENT_SECRET_TWO": "tessera-secret",
            "TESSERA_IDENTITY_OPENID_GROUPS_CLAIM_TWO": "groups",
        })
        srv = Server(os.path.join(root, "data"), env=env)
        srv.start()
        setup_iam(srv, root)
        admin(srv, "policy", "attach", "readwrite", "--dn", ALICE_DN)
        yield {"srv": srv, "one": one, "two": two, "ldap": d, "root": root}
    finally:
        if srv is not None:
            srv.stop()
        d.close()
        one.stop()
        two.stop()
        shutil.rmtree(root, ignore_errors=True)


def web_identity(srv, token, **kw):
    kw.setdefault("RoleArn", "arn:aws:iam::%s:role/none" % ACCOUNT)  # names no role
    return sts_client(srv).assume_role_with_web_identity(WebIdentityToken=token, **kw)


def caller(srv, c):
    return sts_client(srv, c["AccessKeyId"], c["SecretAccessKey"],
                      c["SessionToken"]).get_caller_identity()


def fed_name(arn):
    m = FED.match(arn)
    assert m, arn
    return m.group(1)


def audit_records(srv, event):
    with open(srv.audit_path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return [r for r in recs if r.get("event") == event]


def test_web_identity_arn_is_an_arn_and_one_per_identity(world):
    srv, one, two = world["srv"], world["one"], world["two"]
    # carol: the same subject ("carol") at two issuers.
    r1 = web_identity(srv, one.login("carol"), RoleSessionName="me")
    r2 = web_identity(srv, two.login("carol"), RoleSessionName="me")
    a1, a2 = r1["AssumedRoleUser"]["Arn"], r2["AssumedRoleUser"]["Arn"]
    n1, n2 = fed_name(a1), fed_name(a2)
    assert n1 != n2, "two issuers, one subject: two identities"
    assert n1.startswith("carol.") and n2.startswith("carol.")
    for a in (a1, a2):
        assert "http" not in a and "#" not in a and "realms" not in a, a
    assert r1["AssumedRoleUser"]["AssumedRoleId"] == "%s:%s" % (ACCOUNT, n1)
    # The identity facts are in the answer's own elements.
    assert r1["SubjectFromWebIdentityToken"] == "carol"
    assert r1["Provider"] == one.issuer and r2["Provider"] == two.issuer
    assert r1["Audience"] == "tessera"
    # Another session (another session name) of the same identity: the same principal.
    r3 = web_identity(srv, one.login("carol"), RoleSessionName="other-session")
    assert r3["AssumedRoleUser"]["Arn"] == a1
    # GetCallerIdentity agrees (boto3).
    who = caller(srv, r1["Credentials"])
    assert who["Arn"] == a1 and who["UserId"] == r1["AssumedRoleUser"]["AssumedRoleId"]
    assert who["Account"] == ACCOUNT
    # The audit record names the same ARN.
    issued = [r for r in audit_records(srv, "sts.issue")
              if r.get("access_key") == r1["Credentials"]["AccessKeyId"]]
    assert len(issued) == 1 and issued[0]["arn"] == a1, issued


def test_aws_cli_assume_role_with_web_identity_and_get_caller_identity(world):
    srv, one = world["srv"], world["one"]
    p = aws(srv, "sts", "assume-role-with-web-identity", "--role-arn",
            "arn:aws:iam::%s:role/none" % ACCOUNT, "--role-session-name", "cli",
            "--web-identity-token", one.login("alice"), "--output", "json")
    out = json.loads(p.stdout)
    arn = out["AssumedRoleUser"]["Arn"]
    assert fed_name(arn).startswith("alice.")
    assert out["SubjectFromWebIdentityToken"] == "alice"
    c = out["Credentials"]
    p = aws(srv, "sts", "get-caller-identity", "--output", "json", ak=c["AccessKeyId"],
            sk=c["SecretAccessKey"], token=c["SessionToken"])
    who = json.loads(p.stdout)
    assert who["Arn"] == arn and who["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]


def test_ldap_arn_is_not_the_dn(world):
    srv, one = world["srv"], world["one"]
    status, root, _ = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
    assert status == 200
    arn = root.find(".//" + NS + "AssumedRoleUser/" + NS + "Arn").text
    rid = root.find(".//" + NS + "AssumedRoleUser/" + NS + "AssumedRoleId").text
    name = fed_name(arn)
    assert name.startswith("alice.") and "dc=" not in arn and "uid=" not in arn, arn
    assert rid == "%s:%s" % (ACCOUNT, name)
    # OpenID alice and LDAP alice are two identities.
    oidc_arn = web_identity(srv, one.login("alice"), RoleSessionName="xy")["AssumedRoleUser"]["Arn"]
    assert oidc_arn != arn
    c = creds_of(root)
    who = caller(srv, c)
    assert who["Arn"] == arn and who["UserId"] == rid


def test_bucket_policy_principal_and_userid_name_one_identity(world):
    srv, one, two = world["srv"], world["one"], world["two"]
    mine = web_identity(srv, one.login("carol"), RoleSessionName="ss")
    theirs = web_identity(srv, two.login("carol"), RoleSessionName="ss")
    root_s3 = s3_client(srv)
    root_s3.create_bucket(Bucket="arn-b")
    root_s3.put_object(Bucket="arn-b", Key="k", Body=b"v")
    root_s3.create_bucket(Bucket="uid-b")
    root_s3.put_object(Bucket="uid-b", Key="k", Body=b"w")
    root_s3.put_bucket_policy(Bucket="arn-b", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": [mine["AssumedRoleUser"]["Arn"]]},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::arn-b/*"}]}))
    root_s3.put_bucket_policy(Bucket="uid-b", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::uid-b/*",
            "Condition": {"StringEquals": {
                "aws:userid": mine["AssumedRoleUser"]["AssumedRoleId"]}}}]}))

    def s3_of(r):
        c = r["Credentials"]
        return s3_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    for bucket, body in (("arn-b", b"v"), ("uid-b", b"w")):
        assert s3_of(mine).get_object(Bucket=bucket, Key="k")["Body"].read() == body
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_of(theirs).get_object(Bucket=bucket, Key="k")
        assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_role_session_arn_and_role_id(world):
    srv, root = world["srv"], world["root"]
    admin(srv, "user", "add", "arn-user", "arn-user-secret-1")
    trust = os.path.join(root, "trust-arn.json")
    with open(trust, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/arn-user" % ACCOUNT},
            "Action": "sts:AssumeRole"}]}, f)
    admin(srv, "role", "create", "arn-role", "--trust", trust)
    sts = sts_client(srv, "arn-user", "arn-user-secret-1")
    r = sts.assume_role(RoleArn="arn:aws:iam::%s:role/arn-role" % ACCOUNT, RoleSessionName="s1")
    assert r["AssumedRoleUser"]["Arn"] == "arn:aws:sts::%s:assumed-role/arn-role/s1" % ACCOUNT
    rid = r["AssumedRoleUser"]["AssumedRoleId"]
    assert re.match(r"^AROA[A-Z2-7]{17}:s1$", rid), rid
    who = caller(srv, r["Credentials"])
    assert who["Arn"] == r["AssumedRoleUser"]["Arn"] and who["UserId"] == rid
    # The role id is the role's: another session of it shares it.
    r2 = sts.assume_role(RoleArn="arn:aws:iam::%s:role/arn-role" % ACCOUNT, RoleSessionName="s2")
    assert r2["AssumedRoleUser"]["AssumedRoleId"] == rid.split(":")[0] + ":s2"


# ---- health ----

def get(srv, path):
    return requests.get(srv.endpoint + path, timeout=30)


def wait_status(srv, path, want, limit=20):
    deadline = time.time() + limit
    while True:
        r = get(srv, path)
        if r.status_code == want or time.time() > deadline:
            return r
        time.sleep(0.5)


def test_health_endpoints_and_backend_reachability():
    root = tempfile.mkdtemp(prefix="tessera-health-")
    prov = oidc_flow.Provider(root).start()
    d = Slapd()
    srv = None
    try:
        d.start()
        env = oidc_env(prov)
        env.update(ldap_env(d))
        srv = Server(os.path.join(root, "data"), env=env)
        srv.start()
        for p in ("/health/live", "/health/ready", "/minio/health/live", "/minio/health/ready",
                  "/minio/health/cluster"):
            assert get(srv, p).status_code == 200, p
        assert wait_status(srv, "/health/backends", 200).status_code == 200
        assert get(srv, "/minio/health/backends").status_code == 200
        assert requests.head(srv.endpoint + "/health/backends", timeout=30).status_code == 200

        # The directory goes down: backends 503 (no details), live and ready stay 200.
        d.stop()
        r = wait_status(srv, "/health/backends", 503)
        assert r.status_code == 503
        for secret in (str(d.port), "127.0.0.1", "dc=", "lookup", "ldap", prov.issuer):
            assert secret not in r.text, (secret, r.text)
        assert get(srv, "/health/live").status_code == 200
        assert get(srv, "/health/ready").status_code == 200
        assert "ldap.probe" in srv.read_log()
        d.start()
        assert wait_status(srv, "/health/backends", 200).status_code == 200

        # The OpenID provider goes down: 503 within the refetch interval.
        prov.stop()
        r = wait_status(srv, "/health/backends", 503)
        assert r.status_code == 503
        assert str(prov.port) not in r.text
        prov.start()
        assert wait_status(srv, "/health/backends", 200).status_code == 200
    finally:
        if srv is not None:
            srv.stop()
        d.close()
        prov.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_health_backends_with_an_unreachable_provider_at_start():
    root = tempfile.mkdtemp(prefix="tessera-health-")
    try:
        env = {"TESSERA_IDENTITY_OPENID_CONFIG_URL":
               "http://127.0.0.1:1/realms/none/.well-known/openid-configuration",
               "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
               "TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL": "1",
               "TESSERA_IDENTITY_OPENID_TIMEOUT": "2",
               "TESSERA_IDENTITY_OPENID_CONNECT_TIMEOUT": "1"}
        srv = Server(os.path.join(root, "data"), env=env)
        srv.start()
        try:
            assert get(srv, "/health/live").status_code == 200
            r = get(srv, "/health/backends")
            assert r.status_code == 503
            assert "<Code>ServiceUnavailable</Code>" in r.text
            assert "127.0.0.1:1" not in r.text and "realms" not in r.text
        finally:
            srv.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
