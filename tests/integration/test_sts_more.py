"""More STS (issue 20): managed session policies (PolicyArns) on every AssumeRole* call,
GetSessionToken, and AssumeRoleWithCustomToken against the example identity plugin
(docs/examples/identity_plugin.py), with boto3 (Debian's and pyenv's), the aws cli and raw
requests as MinIO documents them."""
import json
import os
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from conftest import ROOT, Server, admin, aws, free_port, newer_python, s3_client, sts_client
from test_ldap import directory, ldap_env, sts_ldap  # noqa: F401
from slapd import SUFFIX, USER_PASSWORDS

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
ACCOUNT = "000000000000"

READ_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::*"]}]}
WRITE_TMP = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::pab/tmp/*"]}]}
ALL_S3 = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}


def code(exc):
    return exc.value.response["Error"]["Code"]


def policy_arn(name):
    return "arn:aws:iam::%s:policy/%s" % (ACCOUNT, name)


def create_policy(server, tmp_root, name, doc):
    path = os.path.join(tmp_root, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
    admin(server, "policy", "create", name, path)


def user_with(server, tmp_root, name, secret, policy):
    admin(server, "user", "add", name, secret)
    admin(server, "policy", "attach", policy, "--user", name)


def s3_of(server, c):
    return s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def allowed(fn, **kw):
    try:
        fn(**kw)
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
        return False


@pytest.fixture
def pa(server, tmp_root):
    """A bucket pa with objects, policies ro (read) and tmpw (write pa/tmp/*), user u1 with
    readwrite."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="pab")
    s3.put_object(Bucket="pab", Key="a", Body=b"a")
    create_policy(server, tmp_root, "ro", READ_ONLY)
    create_policy(server, tmp_root, "tmpw", WRITE_TMP)
    user_with(server, tmp_root, "usr1", "u1-secret-1", "readwrite")
    return server


# ---- PolicyArns ----

def test_policy_arns_narrow_the_session(pa):
    """The session may do what the user's policies allow AND a session policy allows."""
    r = sts_client(pa, "usr1", "u1-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss",
        PolicyArns=[{"arn": policy_arn("ro")}])
    assert r["PackedPolicySize"] >= 1
    s3 = s3_of(pa, r["Credentials"])
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    assert not allowed(s3.put_object, Bucket="pab", Key="tmp/x", Body=b"x")
    # two managed policies: their union, still within the user's readwrite
    r = sts_client(pa, "usr1", "u1-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss",
        PolicyArns=[{"arn": policy_arn("ro")}, {"arn": policy_arn("tmpw")}])
    s3 = s3_of(pa, r["Credentials"])
    assert allowed(s3.put_object, Bucket="pab", Key="tmp/x", Body=b"x")
    assert not allowed(s3.put_object, Bucket="pab", Key="other", Body=b"x")
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    # inline Policy and PolicyArns together: the union of both
    r = sts_client(pa, "usr1", "u1-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss", Policy=json.dumps(WRITE_TMP),
        PolicyArns=[{"arn": policy_arn("ro")}])
    s3 = s3_of(pa, r["Credentials"])
    assert allowed(s3.put_object, Bucket="pab", Key="tmp/y", Body=b"y")
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    assert not allowed(s3.delete_object, Bucket="pab", Key="a")


def test_policy_arns_cannot_widen(pa, tmp_root):
    """A session policy broader than the identity's policies gives only the intersection."""
    create_policy(pa, tmp_root, "alls3", ALL_S3)
    admin(pa, "user", "add", "usr2", "u2-secret-1")
    admin(pa, "policy", "attach", "ro", "--user", "usr2")
    r = sts_client(pa, "usr2", "u2-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss",
        PolicyArns=[{"arn": policy_arn("alls3")}])
    s3 = s3_of(pa, r["Credentials"])
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    assert not allowed(s3.put_object, Bucket="pab", Key="tmp/z", Body=b"z")
    assert not allowed(s3.create_bucket, Bucket="newbucket")


def test_policy_arns_errors(pa):
    sts = sts_client(pa, "usr1", "u1-secret-1", validate=False)
    base = dict(RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(PolicyArns=[{"arn": policy_arn("no-such-policy")}], **base)
    assert code(e) == "InvalidParameterValue"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "does not exist" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(PolicyArns=[{"arn": policy_arn("ro")}] * 11, **base)
    assert code(e) == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(PolicyArns=[{"arn": "arn:aws:s3:::bucket/not-a-policy"}], **base)
    assert code(e) == "InvalidParameterValue"
    # the inline policy and the ARNs share AWS's 2048-character packed limit
    stmt = {"Sid": "", "Effect": "Allow", "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::pab/*"]}
    doc = {"Version": "2012-10-17", "Statement": [stmt]}
    stmt["Sid"] = "x" * (2048 - len(json.dumps(doc, separators=(",", ":"))))
    text = json.dumps(doc, separators=(",", ":"))
    assert len(text) == 2048
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(Policy=text, PolicyArns=[{"arn": policy_arn("ro")}], **base)
    assert code(e) == "PackedPolicyTooLarge"
    r = sts.assume_role(Policy=text, **base)
    assert r["PackedPolicySize"] == 100


def test_plain_policy_names_and_canned(pa):
    """tessera's plain policy names and canned policies are accepted too (raw form)."""
    r = sts_client(pa, "usr1", "u1-secret-1", validate=False).assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss",
        PolicyArns=[{"arn": "readonly"}])
    s3 = s3_of(pa, r["Credentials"])
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    assert not allowed(s3.put_object, Bucket="pab", Key="tmp/x", Body=b"x")


def test_deleted_session_policy_fails_closed(pa, tmp_root):
    """Session policies are resolved by name at each request: once deleted, the policy grants
    nothing, and a session whose only session policy it was can do nothing."""
    create_policy(pa, tmp_root, "gone", READ_ONLY)
    r = sts_client(pa, "usr1", "u1-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss", PolicyArns=[{"arn": policy_arn("gone")}])
    s3 = s3_of(pa, r["Credentials"])
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    admin(pa, "policy", "remove", "gone")
    assert not allowed(s3.get_object, Bucket="pab", Key="a")
    assert not allowed(s3.put_object, Bucket="pab", Key="tmp/x", Body=b"x")
    # and an edited one applies at once
    create_policy(pa, tmp_root, "gone", WRITE_TMP)
    assert allowed(s3.put_object, Bucket="pab", Key="tmp/x", Body=b"x")
    assert not allowed(s3.get_object, Bucket="pab", Key="a")


def test_policy_arns_with_a_role(pa, tmp_root):
    """A tessera role's session: the role's policies ∩ the session policies."""
    trust = os.path.join(tmp_root, "trust.json")
    with open(trust, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/usr1" % ACCOUNT},
             "Action": "sts:AssumeRole"}]}, f)
    admin(pa, "role", "create", "rw", "--trust", trust)
    admin(pa, "role", "policy", "attach", "rw", "readwrite")
    r = sts_client(pa, "usr1", "u1-secret-1").assume_role(
        RoleArn="arn:aws:iam::%s:role/rw" % ACCOUNT, RoleSessionName="ss",
        PolicyArns=[{"arn": policy_arn("tmpw")}])
    s3 = s3_of(pa, r["Credentials"])
    assert allowed(s3.put_object, Bucket="pab", Key="tmp/r", Body=b"r")
    assert not allowed(s3.get_object, Bucket="pab", Key="a")


def test_aws_cli_policy_arns(pa):
    p = aws(pa, "sts", "assume-role", "--role-arn", "arn:xxx:xxx:xxx:xxxx",
            "--role-session-name", "cli", "--policy-arns", "arn=" + policy_arn("ro"),
            ak="usr1", sk="u1-secret-1")
    out = json.loads(p.stdout)
    assert out["PackedPolicySize"] >= 1
    c = out["Credentials"]
    s3 = s3_of(pa, c)
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    assert not allowed(s3.put_object, Bucket="pab", Key="tmp/x", Body=b"x")
    p = aws(pa, "sts", "assume-role", "--role-arn", "arn:xxx:xxx:xxx:xxxx",
            "--role-session-name", "cli", "--policy-arns", "arn=" + policy_arn("nope-nope"),
            ak="usr1", sk="u1-secret-1", check=False)
    assert p.returncode != 0 and "InvalidParameterValue" in p.stderr


def test_policy_arns_ldap(directory, tmp_root):  # noqa: F811
    """AssumeRoleWithLDAPIdentity with PolicyArns (raw form, as MinIO documents the action)."""
    srv = Server(os.path.join(tmp_root, "data"), env=ldap_env(directory))
    srv.start()
    try:
        create_policy(srv, tmp_root, "ro", READ_ONLY)
        admin(srv, "policy", "attach", "readwrite", "--dn", "uid=alice,ou=people," + SUFFIX)
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="pab")
        s3.put_object(Bucket="pab", Key="a", Body=b"a")
        status, root, _ = sts_ldap(srv, "alice", USER_PASSWORDS["alice"],
                                   **{"PolicyArns.member.1.arn": policy_arn("ro")})
        assert status == 200, ET.tostring(root)
        res = root.find(NS + "AssumeRoleWithLDAPIdentityResult")
        assert int(res.find(NS + "PackedPolicySize").text) >= 1
        c = {k: res.find(NS + "Credentials/" + NS + k).text
             for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
        s = s3_of(srv, c)
        assert s.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
        assert not allowed(s.put_object, Bucket="pab", Key="x", Body=b"x")
        status, root, _ = sts_ldap(srv, "alice", USER_PASSWORDS["alice"],
                                   **{"PolicyArns.member.1.arn": policy_arn("missing")})
        assert status == 400 and b"InvalidParameterValue" in ET.tostring(root)
    finally:
        srv.stop()


PYENV_POLICY_ARNS = textwrap.dedent("""
    import sys, boto3, botocore.config
    ep, ak, sk, arn = sys.argv[1:5]
    sts = boto3.client("sts", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                       region_name="us-east-1")
    r = sts.assume_role(RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="nn",
                        PolicyArns=[{"arn": arn}])
    c = r["Credentials"]
    s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=c["AccessKeyId"],
                      aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
                      region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    try:
        s3.put_object(Bucket="pab", Key="tmp/n", Body=b"n")
        raise SystemExit("put allowed")
    except s3.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied"
    t = sts.get_session_token(DurationSeconds=900)["Credentials"]
    me = boto3.client("sts", endpoint_url=ep, aws_access_key_id=t["AccessKeyId"],
                      aws_secret_access_key=t["SecretAccessKey"], aws_session_token=t["SessionToken"],
                      region_name="us-east-1").get_caller_identity()
    assert me["Arn"].endswith(":user/" + ak), me
    print("ok")
""")


def test_newer_boto3(pa):
    py = newer_python()
    if py is None:
        pytest.skip("no Python with botocore >= 1.36 on this machine (Debian ships 1.29)")
    p = subprocess.run([py, "-c", PYENV_POLICY_ARNS, pa.endpoint, "usr1", "u1-secret-1",
                        policy_arn("ro")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "ok" in p.stdout, p.stdout + p.stderr


# ---- GetSessionToken ----

def test_get_session_token(pa):
    r = sts_client(pa, "usr1", "u1-secret-1").get_session_token()
    c = r["Credentials"]
    assert "AssumedRoleUser" not in r
    # AWS's default 43200 s (the configured maximum by default)
    exp = c["Expiration"].timestamp() - time.time()
    assert 43100 < exp <= 43200, exp
    s3 = s3_of(pa, c)
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    assert allowed(s3.put_object, Bucket="pab", Key="gst", Body=b"g")
    me = sts_client(pa, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]) \
        .get_caller_identity()
    assert me["Arn"] == "arn:aws:iam::%s:user/usr1" % ACCOUNT
    # durations: AWS's bounds, then cut to the configured maximum (43200)
    r = sts_client(pa, "usr1", "u1-secret-1").get_session_token(DurationSeconds=900)
    exp = r["Credentials"]["Expiration"].timestamp() - time.time()
    assert 800 < exp <= 900
    r = sts_client(pa, "usr1", "u1-secret-1").get_session_token(DurationSeconds=129600)
    exp = r["Credentials"]["Expiration"].timestamp() - time.time()
    assert 43100 < exp <= 43200
    sts = sts_client(pa, "usr1", "u1-secret-1", validate=False)
    for bad in (899, 129601):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.get_session_token(DurationSeconds=bad)
        assert code(e) == "ValidationError"


def test_get_session_token_refusals(pa):
    c = sts_client(pa, "usr1", "u1-secret-1").get_session_token()["Credentials"]
    tmp = sts_client(pa, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        tmp.get_session_token()
    assert code(e) == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Message"] == \
        "Cannot call GetSessionToken with session credentials"
    # nor from an AssumeRole session
    a = sts_client(pa, "usr1", "u1-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="ss")["Credentials"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_client(pa, a["AccessKeyId"], a["SecretAccessKey"], a["SessionToken"]) \
            .get_session_token()
    assert code(e) == "AccessDenied"
    # unsigned
    r = requests.post(pa.endpoint + "/", data={"Action": "GetSessionToken",
                                              "Version": "2011-06-15"})
    assert r.status_code == 403 and b"AccessDenied" in r.content
    # MFA and AssumeRole's parameters are refused, not ignored
    sts = sts_client(pa, "usr1", "u1-secret-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_session_token(SerialNumber="arn:aws:iam::000000000000:mfa/usr1",
                              TokenCode="123456")
    assert code(e) == "AccessDenied"


def test_get_session_token_explicit_deny(pa, tmp_root):
    create_policy(pa, tmp_root, "nogst", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "sts:GetSessionToken", "Resource": "*"}]})
    admin(pa, "policy", "attach", "nogst", "--user", "usr1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_client(pa, "usr1", "u1-secret-1").get_session_token()
    assert code(e) == "AccessDenied"


def test_get_session_token_dies_with_its_user(pa):
    c = sts_client(pa, "usr1", "u1-secret-1").get_session_token()["Credentials"]
    s3 = s3_of(pa, c)
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    admin(pa, "user", "disable", "usr1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="pab", Key="a")
    assert code(e) == "InvalidAccessKeyId"
    admin(pa, "user", "enable", "usr1")
    with pytest.raises(botocore.exceptions.ClientError) as e:  # disabling revoked it for good
        s3.get_object(Bucket="pab", Key="a")
    assert code(e) == "InvalidAccessKeyId"
    # the parent's current policies apply: detach readwrite, the session loses it
    c = sts_client(pa, "usr1", "u1-secret-1").get_session_token()["Credentials"]
    s3 = s3_of(pa, c)
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    admin(pa, "policy", "detach", "readwrite", "--user", "usr1")
    assert not allowed(s3.get_object, Bucket="pab", Key="a")
    # revocation by user
    admin(pa, "policy", "attach", "readwrite", "--user", "usr1")
    admin(pa, "sts", "revoke", "--user", "usr1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="pab", Key="a")
    assert code(e) == "InvalidAccessKeyId"


def test_get_session_token_root(pa):
    """Root may call it (as AWS); its session lasts at most an hour and acts as root's
    consoleAdmin session."""
    r = sts_client(pa).get_session_token()
    exp = r["Credentials"]["Expiration"].timestamp() - time.time()
    assert 3500 < exp <= 3600
    c = r["Credentials"]
    assert s3_of(pa, c).get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    me = sts_client(pa, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]) \
        .get_caller_identity()
    assert me["Arn"] == "arn:aws:iam::%s:root" % ACCOUNT


def test_aws_cli_get_session_token(pa):
    out = json.loads(aws(pa, "sts", "get-session-token", "--duration-seconds", "1800",
                         ak="usr1", sk="u1-secret-1").stdout)
    c = out["Credentials"]
    assert "AssumedRoleUser" not in out
    s3 = s3_of(pa, c)
    assert s3.get_object(Bucket="pab", Key="a")["Body"].read() == b"a"
    p = aws(pa, "sts", "get-session-token", ak=c["AccessKeyId"], sk=c["SecretAccessKey"],
            token=c["SessionToken"], check=False)
    assert p.returncode != 0 and "Cannot call GetSessionToken with session credentials" in p.stderr


# ---- AssumeRoleWithCustomToken (the identity plugin) ----

PLUGIN = os.path.join(ROOT, "docs", "examples", "identity_plugin.py")
PLUGIN_AUTH = "plugin-secret-42"
PLUGIN_ROLE = "arn:minio:iam:::role/idmp-external-auth"


class Plugin:
    """The example plugin (docs/examples/identity_plugin.py) as a process; always stopped."""

    def __init__(self, tmp_root, tokens):
        self.port = free_port()
        path = os.path.join(tmp_root, "tokens.json")
        with open(path, "w") as f:
            json.dump(tokens, f)
        self.proc = subprocess.Popen(
            [sys.executable, PLUGIN, "--port", str(self.port), "--tokens", path,
             "--auth-token", PLUGIN_AUTH, "--misbehave"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert b"identity plugin on" in self.proc.stdout.readline()

    @property
    def url(self):
        return "http://127.0.0.1:%d/auth" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


TOKENS = {
    "alice-token": {"user": "alice", "maxValiditySeconds": 1800,
                    "claims": {"groups": ["data", "ops"], "team": "blue", "sub": "evil"}},
    "bob-token": {"user": "bob", "maxValiditySeconds": 7200, "claims": {"team": "red"}},
    "ctl-token": {"user": "bad\u0001name", "maxValiditySeconds": 900},
}

TEAM_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": ["arn:aws:s3:::pab/${jwt:team}/*"]}]}


@pytest.fixture
def plugin_env(tmp_root):
    pl = Plugin(tmp_root, TOKENS)
    srv = Server(os.path.join(tmp_root, "data"), env={
        "TESSERA_IDENTITY_PLUGIN_URL": pl.url,
        "MINIO_IDENTITY_PLUGIN_TOKEN": "Bearer " + PLUGIN_AUTH,  # the MinIO alias and form
        "TESSERA_IDENTITY_PLUGIN_ROLE_POLICY": "team, readonly",
        "MINIO_IDENTITY_PLUGIN_ROLE_ID": "external-auth",
        "TESSERA_IDENTITY_PLUGIN_TIMEOUT": "2s",
        "TESSERA_STS_RATE_LIMIT": "off",
    })
    try:
        srv.start()
        create_policy(srv, tmp_root, "team", TEAM_POLICY)
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="pab")
        s3.put_object(Bucket="pab", Key="blue/x", Body=b"blue")
        s3.put_object(Bucket="pab", Key="red/x", Body=b"red")
        yield srv, pl
    finally:
        srv.stop()
        pl.stop()


def custom_token(srv, token, role=PLUGIN_ROLE, **extra):
    """MinIO's documented request: a POST with the parameters in the query, unsigned."""
    q = {"Action": "AssumeRoleWithCustomToken", "Version": "2011-06-15"}
    if token is not None:
        q["Token"] = token
    if role is not None:
        q["RoleArn"] = role
    q.update(extra)
    t0 = time.time()
    r = requests.post(srv.endpoint + "/", params=q, timeout=30)
    return r, time.time() - t0


def result_of(r):
    root = ET.fromstring(r.content)
    assert root.tag == NS + "AssumeRoleWithCustomTokenResponse", r.text
    res = root.find(NS + "AssumeRoleWithCustomTokenResult")
    c = {k: res.find(NS + "Credentials/" + NS + k).text
         for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}
    return res, c


def error_code(r):
    root = ET.fromstring(r.content)
    return root.find(NS + "Error/" + NS + "Code").text, root.find(NS + "Error/" + NS + "Message").text


def test_custom_token_login(plugin_env):
    srv, _ = plugin_env
    r, _ = custom_token(srv, "alice-token")
    assert r.status_code == 200, r.text
    res, c = result_of(r)
    assert res.find(NS + "AssumedUser").text == "custom:alice"
    # maxValiditySeconds (1800) cuts the default 3600
    left = time.mktime(time.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(
        time.gmtime())
    assert 1700 < left <= 1800, left
    s3 = s3_of(srv, c)
    # the role policy (team: ${jwt:team} from the plugin's claims; readonly)
    assert s3.get_object(Bucket="pab", Key="red/x")["Body"].read() == b"red"  # readonly
    assert allowed(s3.put_object, Bucket="pab", Key="blue/new", Body=b"n")
    assert not allowed(s3.put_object, Bucket="pab", Key="red/new", Body=b"n")
    me = sts_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]) \
        .get_caller_identity()
    assert me["Arn"].startswith("arn:aws:sts::%s:federated-user/" % ACCOUNT)
    # DurationSeconds below the plugin's bound is kept; above, cut to it
    r, _ = custom_token(srv, "bob-token", DurationSeconds="900")
    left = time.mktime(time.strptime(result_of(r)[1]["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) - \
        time.mktime(time.gmtime())
    assert 800 < left <= 900
    r, _ = custom_token(srv, "alice-token", DurationSeconds="7200")
    assert r.status_code == 200


def test_custom_token_policy_arns(plugin_env):
    srv, _ = plugin_env
    r, _ = custom_token(srv, "alice-token", **{"PolicyArns.member.1.arn": "readonly"})
    res, c = result_of(r)
    assert int(res.find(NS + "PackedPolicySize").text) >= 1
    s3 = s3_of(srv, c)
    assert s3.get_object(Bucket="pab", Key="blue/x")["Body"].read() == b"blue"
    assert not allowed(s3.put_object, Bucket="pab", Key="blue/new2", Body=b"n")


def test_custom_token_refusals(plugin_env):
    srv, pl = plugin_env
    r, _ = custom_token(srv, "no-such-token")
    assert r.status_code == 403
    assert error_code(r) == ("AccessDenied", "The identity plugin refused the token: unknown token")
    r, _ = custom_token(srv, None)
    assert r.status_code == 400 and error_code(r)[0] == "MissingParameter"
    r, _ = custom_token(srv, "alice-token", role=None)
    assert r.status_code == 400 and error_code(r)[0] == "MissingParameter"
    r, _ = custom_token(srv, "alice-token", role="arn:minio:iam:::role/idmp-other")
    assert r.status_code == 400 and error_code(r)[0] == "InvalidParameterValue"
    r, _ = custom_token(srv, "ctl-token")
    assert r.status_code == 403 and error_code(r)[0] == "AccessDenied"
    for tok in ("garbage", "huge", "status500", "nouser"):
        r, _ = custom_token(srv, tok)
        assert r.status_code == 400 and error_code(r)[0] == "IDPCommunicationError", (tok, r.text)
        assert "<Credentials>" not in r.text
    # a plugin that does not answer in time: refused within the timeout (2 s)
    r, secs = custom_token(srv, "slow")
    assert r.status_code == 400 and error_code(r)[0] == "IDPCommunicationError"
    assert secs < 6, secs
    # a plugin that is down
    pl.stop()
    r, secs = custom_token(srv, "alice-token")
    assert r.status_code == 400 and error_code(r)[0] == "IDPCommunicationError"
    assert secs < 6


def test_custom_token_wrong_plugin_secret(tmp_root):
    pl = Plugin(tmp_root, TOKENS)
    srv = Server(os.path.join(tmp_root, "data"), env={
        "TESSERA_IDENTITY_PLUGIN_URL": pl.url,
        "TESSERA_IDENTITY_PLUGIN_AUTH_TOKEN": "wrong",
        "TESSERA_IDENTITY_PLUGIN_ROLE_POLICY": "readonly",
    })
    try:
        srv.start()
        r, _ = custom_token(srv, "alice-token", role="arn:minio:iam:::role/idmp-tessera")
        assert r.status_code == 400 and error_code(r)[0] == "IDPCommunicationError", r.text
    finally:
        srv.stop()
        pl.stop()


def test_custom_token_not_configured(server):
    r, _ = custom_token(server, "alice-token")
    assert r.status_code == 400 and error_code(r)[0] == "NotImplemented"


def test_custom_token_revocation(plugin_env):
    srv, _ = plugin_env
    r, _ = custom_token(srv, "alice-token")
    c = result_of(r)[1]
    s3 = s3_of(srv, c)
    assert s3.get_object(Bucket="pab", Key="blue/x")["Body"].read() == b"blue"
    admin(srv, "sts", "revoke", "--user", "custom:alice")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="pab", Key="blue/x")
    assert code(e) == "InvalidAccessKeyId"
