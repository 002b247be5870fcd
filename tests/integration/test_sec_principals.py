"""Issue 13, items 3, 5, 11 and 12: principals are typed, session ARNs are never chosen by the
request, and every value of a multi-valued claim counts.

- Item 3: AssumeRole with a RoleArn naming an existing role goes through the role's trust
  policy (the caller matched by its ARN, arn:aws:iam::000000000000:user/NAME); a RoleArn that
  names no role gives a session whose ARN is the caller's own, never one the request spelled.
- Item 5: a bucket policy granting arn:aws:iam::000000000000:user/bob admits the static user
  bob only, not an OpenID or LDAP user who calls itself bob; ${aws:username} is unset for
  federated sessions, so a home-folder policy never hands a static user's folder to them.
- Item 11: jwt:groups arrays survive the sealed session token with every value, whatever
  their order.
- Item 12: a Deny on the 200th value of a claim applies (trust policy and S3 policy).

Real clients: boto3 (STS and S3) against a real server, tokens from the real oidc-provider's
login flow or signed with that provider's own key (for claims its users do not have), LDAP
identities from a real slapd.
"""
import json
import os
import shutil
import sys
import tempfile
import time

import botocore.exceptions
import jwt
import pytest

from conftest import Server, admin, s3_client, sts_client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "oidc"))
import oidc_flow  # noqa: E402
from slapd import SUFFIX, USER_PASSWORDS, Slapd  # noqa: E402
from test_ldap import ldap_env, login as ldap_login  # noqa: E402


ACCOUNT = "000000000000"
CLAIM_ROLE = "arn:aws:iam::000000000000:role/ignored-in-claim-mode"


def code(ex):
    return ex.value.response["Error"]["Code"]


def write_json(root, name, doc):
    path = os.path.join(root, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def create_policy(srv, root, name, statements):
    admin(srv, "policy", "create", name,
          write_json(root, "pol-" + name, {"Version": "2012-10-17", "Statement": statements}))


def create_role(srv, root, name, statements, policies=()):
    admin(srv, "role", "create", name, "--trust",
          write_json(root, "trust-" + name, {"Version": "2012-10-17", "Statement": statements}))
    for p in policies:
        admin(srv, "role", "policy", "attach", name, p)
    return "arn:aws:iam::%s:role/%s" % (ACCOUNT, name)


def set_bucket_policy(srv, bucket, statements):
    s3_client(srv).put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))


def s3_of(srv, creds):
    return s3_client(srv, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def can_put(s3, bucket, key):
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
        return False


def can_get(s3, bucket, key):
    try:
        s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
        return False


class Issuer:
    """Signs id_tokens with the test provider's own RS256 key (its JWKS serves the public
    half), for claims none of its users carry: custom preferred_username, groups arrays."""

    def __init__(self, provider):
        with open(provider.keys_file) as f:
            jwk = json.load(f)["keys"][0]
        self.kid = jwk["kid"]
        self.key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
        self.issuer = provider.issuer

    def token(self, sub, **claims):
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": sub, "aud": "tessera", "azp": "tessera",
                   "iat": now, "exp": now + 900}
        payload.update(claims)
        return jwt.encode(payload, self.key, algorithm="RS256",
                          headers={"kid": self.kid, "typ": "JWT"})


@pytest.fixture(scope="module")
def env():
    root = tempfile.mkdtemp(prefix="tessera-principals-")
    provider = oidc_flow.Provider(root).start()
    srv = None
    try:
        srv = Server(os.path.join(root, "data"), env={
            "TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.config_url,
            "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
            "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": "tessera-secret",
            "TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL": "1",
            "TESSERA_STS_RATE_LIMIT": "off",
        })
        srv.start()
        yield {"srv": srv, "provider": provider, "root": root, "issuer": Issuer(provider)}
        rc, log = srv.stop(), srv.read_log()
        srv = None
        assert rc == 0, log
    finally:
        if srv is not None:
            srv.stop()
        provider.stop()
        shutil.rmtree(root, ignore_errors=True)


def web_identity(e, token, role_arn=CLAIM_ROLE, session="s1"):
    return sts_client(e["srv"]).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session, WebIdentityToken=token)


# ---- item 3: AssumeRole and roles ----


def test_assume_role_goes_through_the_trust_policy(env):
    e, srv, root = env, env["srv"], env["root"]
    s3 = s3_client(srv)
    for b in ("deploy", "other"):
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="k", Body=b"v")
    create_policy(srv, root, "deploy-rw", [
        {"Effect": "Allow", "Action": ["s3:*"],
         "Resource": ["arn:aws:s3:::deploy", "arn:aws:s3:::deploy/*"]}])
    create_policy(srv, root, "other-ro", [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::other/*"]}])
    admin(srv, "user", "add", "bob", "bob-secret-123")
    admin(srv, "user", "add", "alice", "alice-secret-12")
    admin(srv, "policy", "attach", "other-ro", "--user", "bob")
    bob = sts_client(srv, "bob", "bob-secret-123")
    alice = sts_client(srv, "alice", "alice-secret-12")

    # deploy trusts only the OpenID user carol: bob is refused, as AWS does.
    deploy = create_role(srv, root, "deploy", [
        {"Effect": "Allow", "Principal": {"Federated": e["provider"].issuer},
         "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {"jwt:preferred_username": "carol"}}}], ["deploy-rw"])
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        bob.assume_role(RoleArn=deploy, RoleSessionName="ci")
    assert code(ex) == "AccessDenied"
    assert ex.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # ... while carol (OpenID) does get it.
    resp = web_identity(e, e["provider"].login("carol"), role_arn=deploy, session="ci")
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::%s:assumed-role/deploy/ci" % ACCOUNT

    # A role whose trust names bob: bob gets exactly the role's policies.
    builder = create_role(srv, root, "builder", [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/bob" % ACCOUNT},
         "Action": "sts:AssumeRole"}], ["deploy-rw"])
    resp = bob.assume_role(RoleArn=builder, RoleSessionName="ci")
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::%s:assumed-role/builder/ci" % ACCOUNT
    sess = s3_of(srv, resp["Credentials"])
    assert can_put(sess, "deploy", "by-builder")
    assert not can_get(sess, "other", "k")  # bob's own policy is not the role's
    who = sts_client(srv, resp["Credentials"]["AccessKeyId"],
                     resp["Credentials"]["SecretAccessKey"],
                     resp["Credentials"]["SessionToken"]).get_caller_identity()
    assert who["Arn"] == resp["AssumedRoleUser"]["Arn"]
    # The session policy still narrows the role.
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::deploy/*"}]})
    sess = s3_of(srv, bob.assume_role(RoleArn=builder, RoleSessionName="ro",
                                      Policy=narrow)["Credentials"])
    assert can_get(sess, "deploy", "k") and not can_put(sess, "deploy", "nope")
    # alice is not in builder's trust policy.
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        alice.assume_role(RoleArn=builder, RoleSessionName="ci")
    assert code(ex) == "AccessDenied"

    # A role with no policy gives nothing, never the caller's own policies.
    empty = create_role(srv, root, "empty", [
        {"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "sts:AssumeRole"}])
    sess = s3_of(srv, bob.assume_role(RoleArn=empty, RoleSessionName="e1")["Credentials"])
    assert not can_get(sess, "other", "k")


def test_minio_style_session_arn_is_the_callers(env):
    e, srv, root = env, env["srv"], env["root"]
    s3_client(srv).create_bucket(Bucket="later")
    admin(srv, "user", "add", "dan", "dan-secret-1234")
    create_policy(srv, root, "later-get", [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::later/*"]}])
    admin(srv, "policy", "attach", "later-get", "--user", "dan")
    dan = sts_client(srv, "dan", "dan-secret-1234")
    dan_arn = "arn:aws:iam::%s:user/dan" % ACCOUNT

    for arn in ("arn:xxx:xxx:xxx:xxxx", "arn:aws:iam::%s:role/later" % ACCOUNT):
        resp = dan.assume_role(RoleArn=arn, RoleSessionName="ci")
        assert resp["AssumedRoleUser"]["Arn"] == dan_arn, arn
        c = resp["Credentials"]
        who = sts_client(srv, c["AccessKeyId"], c["SecretAccessKey"],
                         c["SessionToken"]).get_caller_identity()
        assert who["Arn"] == dan_arn

    # A session minted with RoleArn .../role/later (no such role yet) does not become a
    # session of that role when a bucket policy or a new role of that name appears.
    creds = dan.assume_role(RoleArn="arn:aws:iam::%s:role/later" % ACCOUNT,
                            RoleSessionName="ci")["Credentials"]
    set_bucket_policy(srv, "later", [
        {"Effect": "Allow", "Principal": {"AWS": [
            "arn:aws:iam::%s:role/later" % ACCOUNT,
            "arn:aws:sts::%s:assumed-role/later/ci" % ACCOUNT]},
         "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::later/*"]}])
    create_role(srv, root, "later", [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/nobody" % ACCOUNT},
         "Action": "sts:AssumeRole"}])
    sess = s3_of(srv, creds)
    assert not can_put(sess, "later", "x")
    # and dan cannot assume the real role: its trust policy does not name him
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        dan.assume_role(RoleArn="arn:aws:iam::%s:role/later" % ACCOUNT, RoleSessionName="ci")
    assert code(ex) == "AccessDenied"


# ---- item 5: federated users are not static users of the same name ----


def test_oidc_user_named_like_a_static_user(env):
    e, srv, root = env, env["srv"], env["root"]
    s3_client(srv).create_bucket(Bucket="home")
    admin(srv, "user", "add", "erin", "erin-secret-123")
    admin(srv, "user", "add", "frank", "frank-secret-12")
    # the bucket policy of the probe: user/erin may write anywhere under home/
    set_bucket_policy(srv, "home", [
        {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::%s:user/erin" % ACCOUNT]},
         "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::home/*"]}])
    # a home-folder policy given to the static user frank and to OpenID users alike
    create_policy(srv, root, "own-home", [
        {"Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": ["arn:aws:s3:::home/${aws:username}/*"]}])
    admin(srv, "policy", "attach", "own-home", "--user", "frank")

    # static erin: the bucket policy admits her
    assert can_put(s3_client(srv, "erin", "erin-secret-123"), "home", "carol/by-static-erin")
    # an OpenID user whose preferred_username is erin: not the static user erin
    tok = e["issuer"].token("oidc-erin-sub", preferred_username="erin", policy="readonly")
    resp = web_identity(e, tok)
    assert ":user/" not in resp["AssumedRoleUser"]["Arn"]
    assert not can_put(s3_of(srv, resp["Credentials"]), "home", "carol/by-oidc-erin")
    # the bucket policy's bare-name form does not admit her either
    set_bucket_policy(srv, "home", [
        {"Effect": "Allow", "Principal": {"AWS": ["erin"]},
         "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::home/*"]}])
    assert not can_put(s3_of(srv, web_identity(e, tok)["Credentials"]), "home", "carol/bare")
    assert can_put(s3_client(srv, "erin", "erin-secret-123"), "home", "carol/bare-static")

    # ${aws:username}: static frank writes his folder; an OpenID "frank" given the same
    # policy does not (aws:username is unset for federated sessions).
    assert can_put(s3_client(srv, "frank", "frank-secret-12"), "home", "frank/a")
    tok = e["issuer"].token("oidc-frank-sub", preferred_username="frank", policy="own-home")
    sess = s3_of(srv, web_identity(e, tok)["Credentials"])
    assert not can_put(sess, "home", "frank/b")
    # a real login of the provider's "bob" (preferred_username bob) is no static bob either
    sess = s3_of(srv, web_identity(e, e["provider"].login("bob"))["Credentials"])
    set_bucket_policy(srv, "home", [
        {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::%s:user/bob" % ACCOUNT]},
         "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::home/*"]}])
    assert not can_put(sess, "home", "carol/by-oidc-bob")


@pytest.fixture(scope="module")
def directory():
    d = Slapd()
    try:
        d.start()
        yield d
    finally:
        d.close()


def test_ldap_user_named_like_a_static_user(directory):
    root = tempfile.mkdtemp(prefix="tessera-principals-ldap-")
    srv = Server(os.path.join(root, "data"), env=ldap_env(directory))
    try:
        srv.start()
        s3_client(srv).create_bucket(Bucket="home")
        create_policy(srv, root, "own-home", [
            {"Effect": "Allow", "Action": ["s3:PutObject"],
             "Resource": ["arn:aws:s3:::home/${aws:username}/*"]}])
        admin(srv, "policy", "attach", "own-home", "--dn", "uid=carol,ou=people," + SUFFIX)
        admin(srv, "user", "add", "carol", "carol-secret-12")
        admin(srv, "policy", "attach", "own-home", "--user", "carol")
        admin(srv, "user", "add", "alice", "alice-secret-12")
        set_bucket_policy(srv, "home", [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::%s:user/alice" % ACCOUNT]},
             "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::home/*"]}])
        static_carol = s3_client(srv, "carol", "carol-secret-12")
        assert can_put(static_carol, "home", "carol/static")
        assert can_put(s3_client(srv, "alice", "alice-secret-12"), "home", "x/static-alice")
        # LDAP carol: no ${aws:username}, so not static carol's folder
        ldap_carol = s3_of(srv, ldap_login(srv, "carol", USER_PASSWORDS["carol"]))
        assert not can_put(ldap_carol, "home", "carol/ldap")
        # LDAP alice is not the static alice the bucket policy names (she has a policy of
        # her own to log in with: own-home on her DN)
        admin(srv, "policy", "attach", "own-home", "--dn", "uid=alice,ou=people," + SUFFIX)
        ldap_alice = s3_of(srv, ldap_login(srv, "alice", USER_PASSWORDS["alice"]))
        assert not can_put(ldap_alice, "home", "x/ldap-alice")
        assert not can_put(ldap_alice, "home", "alice/ldap-alice")
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---- items 11 and 12: every value of a claim ----


def test_multivalued_groups_keep_every_value(env):
    e, srv, root = env, env["srv"], env["root"]
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="gdata")
    s3.put_object(Bucket="gdata", Key="k", Body=b"v")
    create_policy(srv, root, "groups-deny", [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::gdata/*"]},
        {"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::gdata/*"],
         "Condition": {"ForAnyValue:StringEquals": {"jwt:groups": "readers"}}}])
    for sub, groups, allowed in (("g1", ["readers", "writers"], False),
                                 ("g2", ["writers", "readers"], False),
                                 ("g3", ["writers"], True),
                                 ("g4", ["writers", "ops", "readers", "audit"], False)):
        tok = e["issuer"].token(sub, preferred_username=sub, groups=groups, policy="groups-deny")
        sess = s3_of(srv, web_identity(e, tok)["Credentials"])
        assert can_get(sess, "gdata", "k") == allowed, groups


def test_deny_on_the_200th_group(env):
    e, srv, root = env, env["srv"], env["root"]
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="many")
    s3.put_object(Bucket="many", Key="k", Body=b"v")
    groups = ["g-%03d" % i for i in range(199)]
    # Trust policy: an explicit Deny on a group the user lists last (after 199 others).
    role = create_role(srv, root, "many-groups", [
        {"Effect": "Allow", "Principal": {"Federated": e["provider"].issuer},
         "Action": "sts:AssumeRoleWithWebIdentity"},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:*",
         "Condition": {"ForAnyValue:StringEquals": {"jwt:groups": "blocked"}}}], ["readonly"])
    ok = e["issuer"].token("many-ok", preferred_username="many-ok", groups=groups)
    web_identity(e, ok, role_arn=role)
    bad = e["issuer"].token("many-bad", preferred_username="many-bad",
                            groups=groups + ["blocked"])
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        web_identity(e, bad, role_arn=role)
    assert code(ex) == "AccessDenied"
    # S3 policy: the denied group in the middle (100th of 200), past any 64-value window.
    create_policy(srv, root, "many-deny", [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::many/*"]},
        {"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::many/*"],
         "Condition": {"ForAnyValue:StringEquals": {"jwt:groups": "blocked"}}}])
    mid = groups[:100] + ["blocked"] + groups[100:]
    tok = e["issuer"].token("many-mid", preferred_username="many-mid", groups=mid,
                            policy="many-deny")
    assert not can_get(s3_of(srv, web_identity(e, tok)["Credentials"]), "many", "k")
    tok = e["issuer"].token("many-none", preferred_username="many-none", groups=groups,
                            policy="many-deny")
    assert can_get(s3_of(srv, web_identity(e, tok)["Credentials"]), "many", "k")
