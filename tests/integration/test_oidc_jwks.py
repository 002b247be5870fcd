"""Issue 17 item 5: OpenID providers given by their JWKS URL only, without a discovery document
(MinIO's WSO2 guide: MINIO_IAM_JWKS_URL=https://localhost:9443/oauth2/jwks).

The provider is the suite's real one (tests/integration/oidc, panva/oidc-provider): the test
reads jwks_uri from its discovery document and hands tessera only that URL. Tokens come from
the provider's real login flow (id_tokens) and its client_credentials grant (JWT access
tokens); negative cases are minted with the provider's own private key (expired, not yet
valid, another issuer) or with a key of the test's (forged signatures).
"""
import http.server
import json
import os
import sys
import threading
import time
import xml.etree.ElementTree as ET

import botocore.exceptions
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import Server, admin, s3_client, sts_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc"))
import oidc_flow  # noqa: E402


NS = {"s": "https://sts.amazonaws.com/doc/2011-06-15/"}
ROLE = "arn:aws:iam::000000000000:role/ignored-in-claim-mode"
WSO2_ISSUER = "https://localhost:9443/oauth2/token"
UNCHECKED = "oidc.issuer_unchecked"


@pytest.fixture
def provider(tmp_root):
    p = oidc_flow.Provider(tmp_root).start()
    try:
        yield p
    finally:
        p.stop()


def jwks_uri(provider):
    """What a reader of the provider's documentation is given: its JWKS URL."""
    return requests.get(provider.config_url, timeout=5).json()["jwks_uri"]


def jwks_env(provider, issuer=None, names=("TESSERA_IDENTITY_OPENID_JWKS_URL",
                                           "TESSERA_IDENTITY_OPENID_CLIENT_ID"), **extra):
    env = {
        names[0]: jwks_uri(provider),
        names[1]: oidc_flow.CLIENT_ID,
        "TESSERA_IDENTITY_OPENID_GROUPS_CLAIM": "groups",
        "TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL": "1",
        "TESSERA_IDENTITY_OPENID_TIMEOUT": "2",
        "TESSERA_IDENTITY_OPENID_CONNECT_TIMEOUT": "1",
    }
    if issuer is not None:
        env["TESSERA_IDENTITY_OPENID_ISSUER"] = issuer
    env.update(extra)
    return env


def start(tmp_root, env, name="data"):
    srv = Server(os.path.join(tmp_root, name), env=env)
    srv.start()
    return srv


def full_log(srv):
    with open(srv.log_path, "rb") as f:
        return f.read().decode(errors="replace")


def setup_bucket(srv):
    admin(srv, "user", "add", "groupie", "groupie-secret-1")
    admin(srv, "group", "add", "admins", "groupie")
    admin(srv, "policy", "attach", "readwrite", "--group", "admins")
    s3_client(srv).create_bucket(Bucket="data")
    s3_client(srv).put_object(Bucket="data", Key="hello.txt", Body=b"hello")


def web_identity(srv, token):
    return sts_client(srv).assume_role_with_web_identity(
        WebIdentityToken=token, RoleArn=ROLE, RoleSessionName="jwks")


def web_identity_error(srv, token):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        web_identity(srv, token)
    r = e.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400, r
    return r["Error"]["Code"], r["Error"].get("Message", "")


def client_grants(srv, token):
    """An unsigned AssumeRoleWithClientGrants POST, as MinIO's clients send it."""
    r = requests.post(srv.endpoint + "/", data={"Action": "AssumeRoleWithClientGrants",
                                                "Version": "2011-06-15", "Token": token,
                                                "DurationSeconds": "900"}, timeout=30)
    return r.status_code, ET.fromstring(r.content)


def s3_for(srv, creds):
    return s3_client(srv, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def denied(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"]


def provider_key(provider):
    """The provider's current private signing key (its keys file) and kid."""
    with open(provider.keys_file) as f:
        jwk = json.load(f)["keys"][0]
    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)), jwk["kid"]


def mint(key, kid, **claims):
    now = int(time.time())
    body = {"sub": "minted", "aud": oidc_flow.CLIENT_ID, "iat": now, "exp": now + 600,
            "policy": "readwrite"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def test_web_identity_and_client_grants_with_issuer(tmp_root, provider):
    srv = start(tmp_root, jwks_env(provider, issuer=provider.issuer))
    try:
        setup_bucket(srv)
        log = full_log(srv)
        assert '"event":"oidc.provider"' in log and UNCHECKED not in log, log
        # WebIdentity with the provider's id_token: credentials that work with boto3.
        resp = web_identity(srv, provider.login("alice"))
        assert resp["SubjectFromWebIdentityToken"] == "alice"
        assert resp["Provider"] == provider.issuer
        s3 = s3_for(srv, resp["Credentials"])
        s3.put_object(Bucket="data", Key="alice.txt", Body=b"a")
        assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
        # The claims -> policy mapping as for any provider: bob's readonly, erin's group.
        s3 = s3_for(srv, web_identity(srv, provider.login("bob"))["Credentials"])
        assert s3.get_object(Bucket="data", Key="alice.txt")["Body"].read() == b"a"
        assert denied(s3.put_object, Bucket="data", Key="bob", Body=b"b") == "AccessDenied"
        s3 = s3_for(srv, web_identity(srv, provider.login("erin"))["Credentials"])
        s3.put_object(Bucket="data", Key="erin.txt", Body=b"e")
        # ClientGrants with the provider's JWT access token (policy readonly).
        status, doc = client_grants(srv, provider.client_credentials())
        assert status == 200, ET.tostring(doc)
        res = doc.find("s:AssumeRoleWithClientGrantsResult", NS)
        cr = res.find("s:Credentials", NS)
        s3 = s3_client(srv, cr.find("s:AccessKeyId", NS).text,
                       cr.find("s:SecretAccessKey", NS).text, cr.find("s:SessionToken", NS).text)
        assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
        assert denied(s3.put_object, Bucket="data", Key="cg", Body=b"x") == "AccessDenied"
        # A token of the provider's key naming another issuer is refused.
        key, kid = provider_key(provider)
        code, msg = web_identity_error(srv, mint(key, kid, iss=WSO2_ISSUER))
        assert code == "InvalidIdentityToken", msg
    finally:
        srv.stop()


def test_wrong_issuer_refused(tmp_root, provider):
    srv = start(tmp_root, jwks_env(provider, issuer=WSO2_ISSUER))
    try:
        s3_client(srv).create_bucket(Bucket="data")
        code, msg = web_identity_error(srv, provider.login("alice"))
        assert code == "InvalidIdentityToken" and "issuer" in msg, msg
        status, doc = client_grants(srv, provider.client_credentials())
        assert status == 400
        assert doc.tag == "{%s}ErrorResponse" % NS["s"], ET.tostring(doc)
        assert doc.find(".//s:Code", NS).text == "InvalidIdentityToken"
        # The configured issuer is accepted (tokens minted with the provider's key).
        key, kid = provider_key(provider)
        web_identity(srv, mint(key, kid, iss=WSO2_ISSUER))
        code, _ = web_identity_error(srv, mint(key, kid, iss=WSO2_ISSUER + "/"))
        assert code == "InvalidIdentityToken"  # exactly, no normalisation
    finally:
        srv.stop()


def test_minio_alias_without_issuer_warns(tmp_root, provider):
    """The guide's variable verbatim, no issuer: accepted, with a warning at start."""
    env = jwks_env(provider, names=("MINIO_IAM_JWKS_URL", "MINIO_IDENTITY_OPENID_CLIENT_ID"))
    srv = start(tmp_root, env)
    try:
        setup_bucket(srv)
        log = full_log(srv)
        line = next((ln for ln in log.splitlines() if UNCHECKED in ln), None)
        assert line is not None, log
        rec = json.loads(line)
        assert rec["level"] == "warn" and "iss is not checked" in rec["msg"], rec
        s3 = s3_for(srv, web_identity(srv, provider.login("alice"))["Credentials"])
        assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
        status, doc = client_grants(srv, provider.client_credentials())
        assert status == 200, ET.tostring(doc)
        # Not checked: a token of this key set with any issuer is accepted.
        key, kid = provider_key(provider)
        resp = web_identity(srv, mint(key, kid, iss=WSO2_ISSUER))
        assert resp["Provider"] == WSO2_ISSUER
    finally:
        srv.stop()


def test_forged_expired_and_wrong_audience_refused(tmp_root, provider):
    srv = start(tmp_root, jwks_env(provider, issuer=provider.issuer))
    try:
        setup_bucket(srv)
        key, kid = provider_key(provider)
        iss = provider.issuer
        good = mint(key, kid, iss=iss)
        web_identity(srv, good)  # the control: minted with the provider's key
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        h, p, s = good.split(".")
        forged_payload = jwt.utils.base64url_encode(json.dumps(dict(
            json.loads(jwt.utils.base64url_decode(p)), policy="consoleAdmin")).encode()).decode()
        now = int(time.time())
        cases = {
            "signed by another key, same kid": mint(other, kid, iss=iss),
            "payload changed after signing": h + "." + forged_payload + "." + s,
            "signature stripped": h + "." + p + ".",
            "not valid yet (nbf)": mint(key, kid, iss=iss, nbf=now + 3600),
            "for another client (aud)": mint(key, kid, iss=iss, aud="https://payments-api.example"),
            "no exp": mint(key, kid, iss=iss, exp=None),
        }
        for name, token in cases.items():
            code, msg = web_identity_error(srv, token)
            assert code == "InvalidIdentityToken", (name, code, msg)
        code, _ = web_identity_error(srv, mint(key, kid, iss=iss, iat=now - 7200, exp=now - 3600))
        assert code == "ExpiredToken"
        # A real id_token the provider issued to another of its clients.
        code, msg = web_identity_error(srv, provider.login(
            "alice", client=("https://payments-api.example", "payments-secret")))
        assert code == "InvalidIdentityToken" and "audience" in msg, msg
        # The same refusals through ClientGrants.
        status, doc = client_grants(srv, cases["signed by another key, same kid"])
        assert status == 400 and doc.find(".//s:Code", NS).text == "InvalidIdentityToken"
    finally:
        srv.stop()


def test_key_rotation_refetches(tmp_root, provider):
    srv = start(tmp_root, jwks_env(provider, issuer=provider.issuer))
    try:
        setup_bucket(srv)
        old = provider.login("alice")
        web_identity(srv, old)
        provider.rotate()  # a new key (new kid), the old one leaves the JWKS
        new = provider.login("alice")
        assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
        time.sleep(1.2)  # past the refetch interval
        s3 = s3_for(srv, web_identity(srv, new)["Credentials"])  # fetched without a restart
        assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
        time.sleep(1.2)
        code, _ = web_identity_error(srv, old)  # the removed key no longer verifies
        assert code == "InvalidIdentityToken"
    finally:
        srv.stop()


class _StaticJWKS(http.server.BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


def test_jwks_only_next_to_a_discovered_provider(tmp_root, provider):
    """A second provider given by a static JWKS without ISSUER (WSO2-like, `_WSO2`) next to
    the discovered one: its tokens work, but one naming the discovered issuer is verified
    with the discovered provider's keys only. The browser login lists only the discovered
    provider and refuses the other with a clear message."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    pub.update(kid="wso2-key", use="sig", alg="RS256")
    handler = type("H", (_StaticJWKS,), {"body": json.dumps({"keys": [pub]}).encode()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {
        "TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.config_url,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID": oidc_flow.CLIENT_ID,
        "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": oidc_flow.CLIENT_SECRET,
        "MINIO_IAM_JWKS_URL_WSO2": "http://127.0.0.1:%d/oauth2/jwks" % httpd.server_port,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID_WSO2": "wso2-client",
        "TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL": "1",
    }
    srv = start(tmp_root, env)
    try:
        setup_bucket(srv)
        now = int(time.time())
        wso2 = jwt.encode({"iss": WSO2_ISSUER, "sub": "admin", "aud": "wso2-client", "iat": now,
                           "exp": now + 600, "policy": "readonly"}, key, algorithm="RS256",
                          headers={"kid": "wso2-key"})
        s3 = s3_for(srv, web_identity(srv, wso2)["Credentials"])
        assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
        web_identity(srv, provider.login("alice"))
        spoof = jwt.encode({"iss": provider.issuer, "sub": "alice", "aud": "wso2-client",
                            "iat": now, "exp": now + 600, "policy": "readwrite"}, key,
                           algorithm="RS256", headers={"kid": "wso2-key"})
        code, _ = web_identity_error(srv, spoof)
        assert code == "InvalidIdentityToken"
        page = requests.get(srv.endpoint + "/login", timeout=10).text
        assert 'href="/login/start?provider="' in page and "provider=wso2" not in page
        r = requests.get(srv.endpoint + "/login/start?provider=wso2", allow_redirects=False,
                         timeout=10)
        assert r.status_code == 400 and "JWKS URL only" in r.text, r.text
        listed = requests.get(srv.endpoint + "/login/providers", timeout=10).json()["providers"]
        assert [p["name"] for p in listed] == [""]
    finally:
        srv.stop()
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("extra,words", [
    ({"TESSERA_IDENTITY_OPENID_CONFIG_URL": "http://127.0.0.1:1/.well-known/openid-configuration",
      "TESSERA_IDENTITY_OPENID_ISSUER": WSO2_ISSUER}, "TESSERA_IDENTITY_OPENID_ISSUER: only for"),
    ({"TESSERA_IDENTITY_OPENID_CLAIM_USERINFO": "on"}, "CLAIM_USERINFO: needs the discovery"),
    ({"TESSERA_IDENTITY_OPENID_ISSUER_WS02": WSO2_ISSUER},
     "TESSERA_IDENTITY_OPENID_ISSUER_WS02: no TESSERA_IDENTITY_OPENID_JWKS_URL_WS02"),
    ({"TESSERA_IDENTITY_OPENID_CLIENT_ID": ""}, "CLIENT_ID: required with"),
])
def test_ambiguous_setups_refused_at_start(tmp_root, provider, extra, words):
    env = jwks_env(provider)
    env.update(extra)
    srv = Server(os.path.join(tmp_root, "data"), env=env)
    with pytest.raises(RuntimeError) as e:
        srv.start()
    srv.stop()
    assert words in str(e.value), str(e.value)


def test_jwks_url_wins_over_discovery(tmp_root, provider):
    """Both URLs (MinIO's rule): keys from the JWKS URL, issuer and endpoints from discovery."""
    env = jwks_env(provider, TESSERA_IDENTITY_OPENID_CONFIG_URL=provider.config_url)
    env["TESSERA_IDENTITY_OPENID_JWKS_URL"] = provider.issuer + "/no-such-jwks"
    srv = start(tmp_root, env)
    try:
        code, msg = web_identity_error(srv, provider.login("alice"))
        assert code == "IDPCommunicationError", msg
    finally:
        srv.stop()
