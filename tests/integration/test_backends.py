"""Issue 14 item 1: every identity backend goes through one federation flow, so roles and
trust policies work for LDAP users and static users exactly as for OpenID users.

- An LDAP user (real slapd) assumes a role whose trust policy admits it by {"Federated":
  "ldap"} and a condition on ldap:groups / ldap:username; the session gets exactly the
  role's policies (not the user's DN attachments); a role whose trust does not admit the
  user, a trust naming a static user and a wrong password are refused.
- A static user assumes a role admitted by a condition on aws:username (Principal "*");
  the same role refuses another user, and an LDAP-only trust refuses static users.
- The browser login still federates through the same function (test_browser_login.py).
"""
import os
import shutil
import tempfile

import botocore.exceptions
import pytest

from conftest import Server, admin, s3_client, sts_client
from slapd import SUFFIX, USER_PASSWORDS
from test_ldap import creds_of, directory, error_of, ldap_env, sts_ldap  # noqa: F401
from test_sec_principals import write_json

ACCOUNT = "000000000000"
GROUPS = "ou=groups," + SUFFIX
LDAP_ACTION = "sts:AssumeRoleWithLDAPIdentity"


@pytest.fixture
def env(directory):
    root = tempfile.mkdtemp(prefix="tessera-backends-")
    srv = Server(os.path.join(root, "data"), env=ldap_env(directory))
    srv.start()
    try:
        s3 = s3_client(srv)
        for b in ("role-b", "own-b"):
            s3.create_bucket(Bucket=b)
            s3.put_object(Bucket=b, Key="k", Body=b"v")
        create_policy(srv, root, "role-rw", ["role-b"])
        create_policy(srv, root, "own-rw", ["own-b"])
        yield {"srv": srv, "root": root}
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)


def create_policy(srv, root, name, buckets):
    res = []
    for b in buckets:
        res += ["arn:aws:s3:::%s" % b, "arn:aws:s3:::%s/*" % b]
    admin(srv, "policy", "create", name, write_json(root, "pol-" + name, {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": res}]}))


def create_role(e, name, statements, policies=("role-rw",)):
    admin(e["srv"], "role", "create", name, "--trust", write_json(
        e["root"], "trust-" + name, {"Version": "2012-10-17", "Statement": statements}))
    for p in policies:
        admin(e["srv"], "role", "policy", "attach", name, p)
    return "arn:aws:iam::%s:role/%s" % (ACCOUNT, name)


def can_get(s3, bucket):
    try:
        s3.get_object(Bucket=bucket, Key="k")
        return True
    except botocore.exceptions.ClientError as ex:
        assert ex.response["Error"]["Code"] == "AccessDenied", ex.response
        return False


def s3_of(srv, c):
    return s3_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def ldap_assume(e, user, role_arn, password=None, **extra):
    pw = password if password is not None else USER_PASSWORDS[user]
    return sts_ldap(e["srv"], user, pw, RoleArn=role_arn, **extra)


# ---- LDAP users and roles ----


def test_ldap_user_assumes_a_role_its_trust_admits(env):
    e, srv = env, env["srv"]
    # carol has no DN attachment and no group: without a role she gets nothing.
    status, root, _ = sts_ldap(srv, "carol", USER_PASSWORDS["carol"])
    assert status == 403 and error_of(root)[0] == "AccessDenied"
    admin(srv, "policy", "attach", "own-rw", "--dn", "uid=alice,ou=people," + SUFFIX)

    devs = create_role(e, "ldap-devs", [
        {"Effect": "Allow", "Principal": {"Federated": "ldap"}, "Action": LDAP_ACTION,
         "Condition": {"StringEquals": {"ldap:groups": "cn=devs," + GROUPS}}}])
    status, root, _ = ldap_assume(e, "alice", devs, RoleSessionName="ci")
    assert status == 200, error_of(root)
    creds = creds_of(root)
    arn = root.find(".//{https://sts.amazonaws.com/doc/2011-06-15/}AssumedRoleUser/"
                    "{https://sts.amazonaws.com/doc/2011-06-15/}Arn").text
    assert arn == "arn:aws:sts::%s:assumed-role/ldap-devs/ci" % ACCOUNT
    s3 = s3_of(srv, creds)
    assert can_get(s3, "role-b")       # the role's policy
    assert not can_get(s3, "own-b")    # exactly the role's: not alice's DN attachment
    who = sts_client(srv, creds["AccessKeyId"], creds["SecretAccessKey"],
                     creds["SessionToken"]).get_caller_identity()
    assert who["Arn"] == arn

    # carol is in no group: the same role refuses her, with the role named.
    status, root, _ = ldap_assume(e, "carol", devs)
    assert status == 403
    code, msg = error_of(root)
    assert code == "AccessDenied" and "ldap-devs" in msg

    # A condition on ldap:username (Principal "*") admits carol only.
    solo = create_role(e, "carol-only", [
        {"Effect": "Allow", "Principal": "*", "Action": LDAP_ACTION,
         "Condition": {"StringEquals": {"ldap:username": "carol"}}}])
    status, root, _ = ldap_assume(e, "carol", solo)
    assert status == 200, error_of(root)
    assert can_get(s3_of(srv, creds_of(root)), "role-b")
    status, root, _ = ldap_assume(e, "alice", solo)
    assert status == 403 and error_of(root)[0] == "AccessDenied"


def test_ldap_role_refusals(env):
    e, srv = env, env["srv"]
    devs = create_role(e, "ldap-any", [
        {"Effect": "Allow", "Principal": {"Federated": "ldap"}, "Action": LDAP_ACTION}])
    # The password is checked before the trust policy.
    status, root, _ = ldap_assume(e, "alice", devs, password="wrong-pw")
    assert status == 403 and "invalid user name or password" in error_of(root)[1]
    # A trust naming a static user does not admit an LDAP user, nor a web-identity trust.
    bob_only = create_role(e, "bob-only", [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/bob" % ACCOUNT},
         "Action": ["sts:AssumeRole", LDAP_ACTION]}])
    status, root, _ = ldap_assume(e, "alice", bob_only)
    assert status == 403 and error_of(root)[0] == "AccessDenied"
    oidc_only = create_role(e, "oidc-only", [
        {"Effect": "Allow", "Principal": {"Federated": "https://idp.example"},
         "Action": "sts:AssumeRoleWithWebIdentity"}])
    status, root, _ = ldap_assume(e, "alice", oidc_only)
    assert status == 403 and error_of(root)[0] == "AccessDenied"
    # An explicit Deny on ldap:groups wins over the Allow.
    deny = create_role(e, "no-ops", [
        {"Effect": "Allow", "Principal": {"Federated": "ldap"}, "Action": LDAP_ACTION},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:*",
         "Condition": {"StringEquals": {"ldap:groups": "cn=ops," + GROUPS}}}])
    status, root, _ = ldap_assume(e, "alice", deny)  # alice is in ops
    assert status == 403 and "explicitly denies" in error_of(root)[1]
    status, root, _ = ldap_assume(e, "jsmith", deny)  # jsmith is not
    assert status == 200, error_of(root)


# ---- static users and roles ----


def test_static_user_assumes_a_role_by_aws_condition(env):
    e, srv = env, env["srv"]
    admin(srv, "user", "add", "bob", "bob-secret-123")
    admin(srv, "user", "add", "eve", "eve-secret-123")
    admin(srv, "policy", "attach", "own-rw", "--user", "bob")
    role = create_role(e, "bob-by-name", [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:username": "bob"}}}])
    bob = sts_client(srv, "bob", "bob-secret-123")
    resp = bob.assume_role(RoleArn=role, RoleSessionName="ci")
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::%s:assumed-role/bob-by-name/ci" % ACCOUNT
    s3 = s3_of(srv, resp["Credentials"])
    assert can_get(s3, "role-b") and not can_get(s3, "own-b")

    eve = sts_client(srv, "eve", "eve-secret-123")
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        eve.assume_role(RoleArn=role, RoleSessionName="ci")
    assert ex.value.response["Error"]["Code"] == "AccessDenied"
    # An LDAP-only trust does not admit a static user.
    ldap_only = create_role(e, "ldap-only", [
        {"Effect": "Allow", "Principal": {"Federated": "ldap"}, "Action": "sts:*"}])
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        bob.assume_role(RoleArn=ldap_only, RoleSessionName="ci")
    assert ex.value.response["Error"]["Code"] == "AccessDenied"
