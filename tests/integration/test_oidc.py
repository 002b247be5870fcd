"""OpenID Connect federation (ISSUE 5) against a real provider: panva/oidc-provider configured
like a Keycloak realm (tests/integration/oidc/provider.js). Tokens come from the provider's
real login flow (authorization code through its login and consent forms) and from client
credentials; tessera turns them into S3 credentials that must do exactly what the identity's
policies allow.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from conftest import ROOT, Server, admin, aws, newer_aws_cli, s3_client, sts_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc"))
import oidc_flow  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.path.isdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc",
                                   "node_modules")),
    reason="run `npm ci` in tests/integration/oidc (.ci/deps.sh does)")

CLAIM_ROLE = "arn:aws:iam::000000000000:role/ignored-in-claim-mode"
NS = {"s": "https://sts.amazonaws.com/doc/2011-06-15/"}


def role_arn_for(client_id):
    h = hashlib.sha1(client_id.encode()).digest()
    return "arn:minio:iam:::role/" + base64.urlsafe_b64encode(h).decode().rstrip("=")


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def oidc_env(provider, **extra):
    env = {
        "TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.config_url,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
        "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": "tessera-secret",
        "TESSERA_IDENTITY_OPENID_GROUPS_CLAIM": "groups",
        "TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL": "1",
        "TESSERA_IDENTITY_OPENID_TIMEOUT": "2",
        "TESSERA_IDENTITY_OPENID_CONNECT_TIMEOUT": "1",
    }
    env.update(extra)
    return env


@pytest.fixture
def provider(tmp_root):
    p = oidc_flow.Provider(tmp_root).start()
    try:
        yield p
    finally:
        p.stop()


def start_server(tmp_root, provider, **extra):
    srv = Server(os.path.join(tmp_root, "data"), env=oidc_env(provider, **extra))
    srv.start()
    return srv


@pytest.fixture
def oidc_server(tmp_root, provider):
    srv = start_server(tmp_root, provider)
    try:
        setup_iam(srv, tmp_root)
        yield srv
    finally:
        srv.stop()


def setup_iam(srv, tmp_root):
    """Policies list-only / put-only for carol, group admins (readwrite) for erin, a bucket."""
    docs = {
        "list-only": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::data"]}]},
        "put-only": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::data/*"]}]},
    }
    for name, doc in docs.items():
        path = os.path.join(tmp_root, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        admin(srv, "policy", "create", name, path)
    admin(srv, "user", "add", "groupie", "groupie-secret-1")
    admin(srv, "group", "add", "admins", "groupie")
    admin(srv, "policy", "attach", "readwrite", "--group", "admins")
    root = s3_client(srv)
    root.create_bucket(Bucket="data")
    root.put_object(Bucket="data", Key="hello.txt", Body=b"hello")


def web_identity(srv, token, **kw):
    kw.setdefault("RoleArn", CLAIM_ROLE)
    kw.setdefault("RoleSessionName", "test")
    return sts_client(srv).assume_role_with_web_identity(WebIdentityToken=token, **kw)


def s3_for(srv, creds):
    return s3_client(srv, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def denied(fn, *a, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*a, **kw)
    return e.value.response["Error"]["Code"]


def sts_error(srv, token, expect_code, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        web_identity(srv, token, **kw)
    assert e.value.response["Error"]["Code"] == expect_code, e.value.response
    return e.value.response


def raw_sts(srv, params):
    """An unsigned STS POST (as AssumeRoleWithClientGrants clients send it)."""
    params = dict(params, Version="2011-06-15")
    r = requests.post(srv.endpoint + "/", data=params, timeout=30)
    return r.status_code, ET.fromstring(r.content)


def test_claim_policies_through_login(oidc_server, provider):
    srv = oidc_server
    # alice: policy "readwrite" -> read and write.
    resp = web_identity(srv, provider.login("alice"))
    assert resp["SubjectFromWebIdentityToken"] == "alice"
    assert resp["Provider"] == provider.issuer
    assert resp["Audience"] == "tessera"
    s3 = s3_for(srv, resp["Credentials"])
    s3.put_object(Bucket="data", Key="alice.txt", Body=b"a")
    assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
    # bob: policy ["readonly", "diag"] (diag does not exist and is ignored) -> read only.
    s3 = s3_for(srv, web_identity(srv, provider.login("bob"))["Credentials"])
    assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
    assert denied(s3.put_object, Bucket="data", Key="bob.txt", Body=b"b") == "AccessDenied"
    # carol: policy "list-only,put-only" (comma list) -> list and put, no get.
    s3 = s3_for(srv, web_identity(srv, provider.login("carol"))["Credentials"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"]]
    assert "hello.txt" in keys
    s3.put_object(Bucket="data", Key="carol.txt", Body=b"c")
    assert denied(s3.get_object, Bucket="data", Key="hello.txt") == "AccessDenied"
    # erin: no policy claim, groups ["/admins"] -> the admins group's readwrite.
    s3 = s3_for(srv, web_identity(srv, provider.login("erin"))["Credentials"])
    s3.put_object(Bucket="data", Key="erin.txt", Body=b"e")
    # dave (no policy claim, no group) and frank (only an unknown policy) are refused.
    sts_error(srv, provider.login("dave"), "AccessDenied")
    sts_error(srv, provider.login("frank"), "AccessDenied")


def test_durations_and_session_policy(oidc_server, provider):
    srv = oidc_server
    token = provider.login("alice")
    now = time.time()
    c = web_identity(srv, token)["Credentials"]
    assert abs(c["Expiration"].timestamp() - (now + 3600)) < 60  # AWS's default
    c = web_identity(srv, token, DurationSeconds=900)["Credentials"]
    assert abs(c["Expiration"].timestamp() - (now + 900)) < 60
    status, doc = raw_sts(srv, {"Action": "AssumeRoleWithWebIdentity", "WebIdentityToken": token,
                                "DurationSeconds": "899"})
    assert status == 400 and doc.find(".//s:Code", NS).text == "ValidationError"
    # A session policy narrows readwrite to GetObject.
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::data/*"]}]})
    s3 = s3_for(srv, web_identity(srv, token, Policy=narrow)["Credentials"])
    assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
    assert denied(s3.put_object, Bucket="data", Key="x", Body=b"x") == "AccessDenied"


def test_client_grants(oidc_server, provider):
    srv = oidc_server
    status, doc = raw_sts(srv, {"Action": "AssumeRoleWithClientGrants",
                                "Token": provider.client_credentials(), "DurationSeconds": "900"})
    assert status == 200, ET.tostring(doc)
    res = doc.find("s:AssumeRoleWithClientGrantsResult", NS)
    assert res.find("s:SubjectFromToken", NS).text == "tessera"
    cr = res.find("s:Credentials", NS)
    s3 = s3_client(srv, cr.find("s:AccessKeyId", NS).text, cr.find("s:SecretAccessKey", NS).text,
                   cr.find("s:SessionToken", NS).text)
    assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
    assert denied(s3.put_object, Bucket="data", Key="cg", Body=b"x") == "AccessDenied"
    status, doc = raw_sts(srv, {"Action": "AssumeRoleWithClientGrants", "Token": "x.y.z"})
    assert status == 400
    assert doc.find(".//s:Code", NS).text == "InvalidIdentityToken"


def test_role_policy_mode(tmp_root, provider):
    srv = start_server(tmp_root, provider, TESSERA_IDENTITY_OPENID_ROLE_POLICY="readonly")
    try:
        s3_client(srv).create_bucket(Bucket="data")
        s3_client(srv).put_object(Bucket="data", Key="k", Body=b"v")
        arn = role_arn_for("tessera")
        # dave has no policy claim: in role mode the RoleArn decides.
        resp = web_identity(srv, provider.login("dave"), RoleArn=arn)
        assert resp["AssumedRoleUser"]["Arn"].startswith("arn:aws:sts::")
        s3 = s3_for(srv, resp["Credentials"])
        assert s3.get_object(Bucket="data", Key="k")["Body"].read() == b"v"
        assert denied(s3.put_object, Bucket="data", Key="x", Body=b"x") == "AccessDenied"
        # alice's readwrite claim does not apply in role mode.
        s3 = s3_for(srv, web_identity(srv, provider.login("alice"), RoleArn=arn)["Credentials"])
        assert denied(s3.put_object, Bucket="data", Key="x", Body=b"x") == "AccessDenied"
        sts_error(srv, provider.login("alice"), "InvalidParameterValue",
                  RoleArn="arn:minio:iam:::role/does-not-exist")
    finally:
        srv.stop()


def test_key_rotation(oidc_server, provider):
    srv = oidc_server
    old = provider.login("alice")
    web_identity(srv, old)
    provider.rotate()
    new = provider.login("alice")
    assert json.loads(unb64url(new.split(".")[0]))["kid"] != \
        json.loads(unb64url(old.split(".")[0]))["kid"]
    time.sleep(1.2)  # past the refetch interval
    web_identity(srv, new)  # new kid: refetched without a restart
    time.sleep(1.2)
    sts_error(srv, old, "InvalidIdentityToken")  # the removed key no longer verifies


def test_provider_stopped(oidc_server, provider):
    srv = oidc_server
    token = provider.login("bob")
    web_identity(srv, token)
    hdr = json.loads(unb64url(token.split(".")[0]))
    provider.stop()
    t0 = time.time()
    web_identity(srv, token)  # cached keys keep verifying
    assert time.time() - t0 < 3
    # A token naming a kid tessera has never seen needs the provider: a clear error, fast.
    forged_hdr = b64url(json.dumps(dict(hdr, kid="never-seen")).encode())
    forged = forged_hdr + "." + token.split(".", 1)[1]
    time.sleep(1.2)
    t0 = time.time()
    sts_error(srv, forged, "IDPCommunicationError")
    assert time.time() - t0 < 6
    provider.start()


def test_negative_with_real_tokens(oidc_server, provider):
    srv = oidc_server
    token = provider.login("alice")
    h, p, s = token.split(".")
    hdr, pl = json.loads(unb64url(h)), json.loads(unb64url(p))
    jwks = requests.get(provider.issuer + "/protocol/openid-connect/certs", timeout=5).json()
    import hmac
    cases = {
        "alg none": b64url(json.dumps(dict(hdr, alg="none")).encode()) + "." + p + ".",
        "tampered": h + "." + b64url(json.dumps(dict(pl, policy="consoleAdmin")).encode()) + "." + s,
        "stripped": h + "." + p + ".",
        "truncated": token[:-12],
        "two segments": h + "." + p,
        "jku": b64url(json.dumps(dict(hdr, jku="http://127.0.0.1:1/")).encode()) + "." + p + "." + s,
    }
    hs = b64url(json.dumps(dict(hdr, alg="HS256")).encode()) + "." + p
    key = json.dumps(jwks["keys"][0]).encode()
    cases["HS256 with the JWK"] = hs + "." + b64url(hmac.new(key, hs.encode(), hashlib.sha256).digest())
    for name, bad in cases.items():
        resp = sts_error(srv, bad, "InvalidIdentityToken")
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400, name
    # The server log never contains the token.
    assert s not in srv.read_log()


def test_aws_cli(oidc_server, provider):
    srv = oidc_server
    token = provider.login("alice")
    p = aws(srv, "sts", "assume-role-with-web-identity", "--role-arn", CLAIM_ROLE,
            "--role-session-name", "cli", "--web-identity-token", token, "--output", "json")
    creds = json.loads(p.stdout)["Credentials"]
    p = aws(srv, "s3api", "get-object", "--bucket", "data", "--key", "hello.txt", "/dev/null",
            ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])


def test_aws_profile_web_identity_token_file(oidc_server, provider, tmp_root):
    cli = newer_aws_cli()
    if cli is None:
        pytest.skip("AWS_ENDPOINT_URL_STS needs a newer aws cli than Debian's")
    srv = oidc_server
    tokfile = os.path.join(tmp_root, "token")
    with open(tokfile, "w") as f:
        f.write(provider.login("alice"))
    home = tempfile.mkdtemp(prefix="tessera-aws-")
    cfg = os.path.join(home, "config")
    with open(cfg, "w") as f:
        f.write("[profile oidc]\nrole_arn = %s\nweb_identity_token_file = %s\n"
                "role_session_name = profile\nregion = us-east-1\n" % (CLAIM_ROLE, tokfile))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # A fresh HOME: the cli caches assumed-role credentials in ~/.aws/cli/cache.
    env.setdefault("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    env["HOME"] = home
    env.update({"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "c"),
                "AWS_PROFILE": "oidc", "AWS_ENDPOINT_URL_STS": srv.endpoint, "AWS_PAGER": ""})
    p = subprocess.run([cli, "--endpoint-url", srv.endpoint, "s3api", "list-objects-v2",
                        "--bucket", "data"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr + srv.read_log()[-2000:]
    assert "hello.txt" in p.stdout


def test_javascript_sdk_web_identity(oidc_server, provider):
    jsdir = os.path.join(ROOT, "tests", "integration", "js")
    if not os.path.isdir(os.path.join(jsdir, "node_modules")):
        pytest.fail("tests/integration/js/node_modules missing: run .ci/deps.sh")
    env = dict(os.environ, ENDPOINT=oidc_server.endpoint, TOKEN=provider.login("alice"),
               ROLE_ARN=CLAIM_ROLE, BUCKET="data", KEY="hello.txt")
    p = subprocess.run(["node", "web_identity.mjs"], cwd=jsdir, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["subject"] == "alice"
    assert out["provider"] == provider.issuer
    assert out["body"] == "hello"
