"""Issue 13, items 13, 15 and 16: claims and tag keys compared with the right case, raw bytes
that never break the JSON audit log or the STS XML, and the audience of an id_token.

Tokens come from the real oidc-provider (tests/integration/oidc/provider.js) through its
login pages; the users below were added to it for these tests:
  sub-spoof   sub "repo:evil/widgets:...", plus a claim "Sub": "repo:acme/widgets:..."
  home-spoof  a claim "Sub": "bob" written before its real sub "home-spoof"
  tag-case    session tags {"Team": ["blue"], "team": ["red"]}
  ctl-sub     sub "ctl\\u0001sub"
  pay-user    logged in through another client ("https://payments-api.example"): its
              id_token's aud names that service, azp names "tessera"
"""
import base64
import json
import os
import shutil
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, s3_client, sts_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc"))
import oidc_flow  # noqa: E402


ACCOUNT = "000000000000"
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
TAGS_SCOPE = "openid profile groups policy tags"
CLAIM_ROLE = "arn:minio:iam:::role/claims"  # names no role: the token's policy claim applies


@pytest.fixture(scope="module")
def env():
    root = tempfile.mkdtemp(prefix="tessera-secclaims-")
    provider = oidc_flow.Provider(root).start()
    srv = None
    try:
        srv = Server(os.path.join(root, "data"), env={
            "TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.config_url,
            "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
            "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": "tessera-secret",
            "TESSERA_STS_RATE_LIMIT": "off",
        })
        srv.start()
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="home")
        s3.create_bucket(Bucket="deploy")
        pol = os.path.join(root, "sec-home.json")
        with open(pol, "w") as f:
            json.dump({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
                 "Resource": "arn:aws:s3:::home/${jwt:sub}/*"}]}, f)
        admin(srv, "policy", "create", "sec-home", pol)
        yield {"srv": srv, "provider": provider, "root": root,
               "iss_ns": provider.issuer.split("://", 1)[1]}
        rc, log = srv.stop(), srv.read_log()
        srv = None
        assert "Sanitizer" not in log, log
        assert rc == 0, log
    finally:
        if srv is not None:
            srv.stop()
        provider.stop()
        shutil.rmtree(root, ignore_errors=True)


_tokens = {}


def token(e, user, scope="openid profile groups policy", client=None):
    key = (user, scope, client)
    if key not in _tokens:
        kw = {"client": client} if client else {}
        _tokens[key] = e["provider"].login(user, scope=scope, **kw)
    return _tokens[key]


def payload(tok):
    seg = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def header(tok):
    seg = tok.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def make_role(e, name, statements, policies=()):
    path = os.path.join(e["root"], "trust-%s.json" % name)
    with open(path, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": statements}, f)
    admin(e["srv"], "role", "create", name, "--trust", path)
    for p in policies:
        admin(e["srv"], "role", "policy", "attach", name, p)
    return "arn:aws:iam::%s:role/%s" % (ACCOUNT, name)


def sts_post(e, form):
    """An unsigned STS call with a raw form body (bytes): the answer must be well-formed XML."""
    r = requests.post(e["srv"].endpoint + "/", data=form, timeout=20,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    return r, ET.fromstring(r.content)  # raises on a malformed document


def web_identity_form(tok, role_arn=None):
    f = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
         "WebIdentityToken": tok, "RoleSessionName": "s1"}
    if role_arn:
        f["RoleArn"] = role_arn
    return urllib.parse.urlencode(f).encode()


def error_code(root):
    return root.find(NS + "Error/" + NS + "Code").text


# ---- item 13: claim names are case-sensitive ----


def test_sub_beside_capital_sub_does_not_satisfy_trust(env):
    e = env
    tok = token(e, "sub-spoof")
    pl = payload(tok)
    assert pl["sub"].startswith("repo:evil/") and pl["Sub"].startswith("repo:acme/")
    arn = make_role(e, "deploy-acme", [{
        "Effect": "Allow", "Principal": {"Federated": e["provider"].issuer},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {e["iss_ns"] + ":sub": "repo:acme/widgets:*"}}}],
        policies=["readwrite"])
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        sts_client(e["srv"]).assume_role_with_web_identity(
            RoleArn=arn, RoleSessionName="s1", WebIdentityToken=tok)
    assert ex.value.response["Error"]["Code"] == "AccessDenied"
    # the same trust with jwt:sub, and a condition on the claim "Sub" by its own name
    arn2 = make_role(e, "deploy-acme-jwt", [{
        "Effect": "Allow", "Principal": {"Federated": e["provider"].issuer},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {"jwt:sub": "repo:acme/widgets:*"}}}])
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        sts_client(e["srv"]).assume_role_with_web_identity(
            RoleArn=arn2, RoleSessionName="s1", WebIdentityToken=tok)
    assert ex.value.response["Error"]["Code"] == "AccessDenied"
    arn3 = make_role(e, "by-capital-sub", [{
        "Effect": "Allow", "Principal": {"Federated": e["provider"].issuer},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"JWT:Sub": "repo:acme/widgets:ref:refs/heads/main"}}}])
    sts_client(e["srv"]).assume_role_with_web_identity(
        RoleArn=arn3, RoleSessionName="s1", WebIdentityToken=tok)


def test_jwt_sub_variable_is_the_real_sub(env):
    e = env
    tok = token(e, "home-spoof")
    pl = payload(tok)
    assert pl["Sub"] == "bob" and pl["sub"] == "home-spoof"
    resp = sts_client(e["srv"]).assume_role_with_web_identity(
        RoleArn=CLAIM_ROLE, RoleSessionName="s1", WebIdentityToken=tok)
    c = resp["Credentials"]
    s3 = s3_client(e["srv"], c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    s3.put_object(Bucket="home", Key="home-spoof/own.txt", Body=b"mine")
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        s3.put_object(Bucket="home", Key="bob/planted.txt", Body=b"x")
    assert ex.value.response["Error"]["Code"] == "AccessDenied"


def test_tag_keys_differing_in_case_refused(env):
    e = env
    tok = token(e, "tag-case", scope=TAGS_SCOPE)
    tags = payload(tok)["https://aws.amazon.com/tags"]["principal_tags"]
    assert tags == {"Team": ["blue"], "team": ["red"]}
    arn = make_role(e, "team-blue", [{
        "Effect": "Allow", "Principal": {"Federated": e["provider"].issuer},
        "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
        "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}}],
        policies=["readonly"])
    r, root = sts_post(e, web_identity_form(tok, arn))
    assert r.status_code == 400, r.text
    assert error_code(root) == "InvalidParameterValue"
    assert "Tag keys are case insensitive" in root.find(NS + "Error/" + NS + "Message").text
    # the one-tag users of test_roles.py still work (sanity: the refusal is about the pair)
    ok = token(e, "tag-blue", scope=TAGS_SCOPE)
    resp = sts_client(e["srv"]).assume_role_with_web_identity(
        RoleArn=arn, RoleSessionName="s1", WebIdentityToken=ok)
    assert resp["AssumedRoleUser"]["Arn"].endswith(":assumed-role/team-blue/s1")


# ---- item 15: raw bytes never break the XML answer or the JSON audit log ----


def test_control_character_in_sub_refused_with_well_formed_xml(env):
    e = env
    tok = token(e, "ctl-sub")
    assert payload(tok)["sub"] == "ctl\x01sub"
    r, root = sts_post(e, web_identity_form(tok))
    assert r.status_code == 400, r.text
    assert root.tag == NS + "ErrorResponse"
    assert error_code(root) == "InvalidIdentityToken"
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        sts_client(e["srv"]).assume_role_with_web_identity(
            RoleArn=CLAIM_ROLE, RoleSessionName="s1", WebIdentityToken=tok)
    assert ex.value.response["Error"]["Code"] == "InvalidIdentityToken"


def test_invalid_utf8_ldap_username_keeps_audit_log_json(tmp_path):
    """AssumeRoleWithLDAPIdentity is unauthenticated: its LDAPUsername comes from anyone. The
    directory is not reachable here: the name is refused before any bind."""
    srv = Server(str(tmp_path / "data"), env={
        "TESSERA_IDENTITY_LDAP_SERVER_ADDR": "127.0.0.1:9",
        "TESSERA_IDENTITY_LDAP_SERVER_INSECURE": "on",
        "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN": "cn=lookup,dc=example,dc=org",
        "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD": "x",
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN": "dc=example,dc=org",
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER": "(uid=%s)",
        "TESSERA_IDENTITY_LDAP_TIMEOUT": "1",
        "TESSERA_STS_RATE_LIMIT": "off",
    })
    srv.start()
    answers = []
    try:
        names = [b"al%FFice", b"%C0%AF", b"x%ED%A0%80", b"%E2%82", b"bob%01%1B%5B31m",
                 b"%22%7D%0A%7B%22forged%22:1"]
        for n in names:
            # raw form bytes: no client would send these, a script can
            body = (b"Action=AssumeRoleWithLDAPIdentity&Version=2011-06-15&LDAPUsername=" + n +
                    b"&LDAPPassword=pw")
            r = requests.post(srv.endpoint + "/", data=body, timeout=20,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
            answers.append(r)
    finally:
        srv.stop()
    # every line of the audit log and of the server log is one JSON object, in UTF-8
    with open(srv.audit_path, "rb") as f:
        lines = [ln for ln in f.read().split(b"\n") if ln]
    denies = 0
    for line in lines:
        rec = json.loads(line.decode("utf-8"))
        denies += rec.get("event") == "sts.deny"
    assert denies == len(names)
    with open(srv.log_path, "rb") as f:
        for line in f.read().split(b"\n"):
            if line.startswith(b"{"):
                json.loads(line.decode("utf-8"))
    # refused at once (before any bind), with a well-formed STS error
    for r in answers:
        root = ET.fromstring(r.content)
        assert r.status_code == 400, r.text
        assert root.find(NS + "Error/" + NS + "Code").text == "InvalidParameterValue"


# ---- item 16: an id_token's aud must name this client; access tokens are not id_tokens ----


def test_id_token_for_another_audience_refused(env):
    e = env
    tok = token(e, "pay-user", client=("https://payments-api.example", "payments-secret"))
    pl = payload(tok)
    assert pl["aud"] == "https://payments-api.example" and pl["azp"] == "tessera"
    r, root = sts_post(e, web_identity_form(tok))
    assert r.status_code == 400, r.text
    assert error_code(root) == "InvalidIdentityToken"
    # the same user through tessera's own client is fine
    ok = token(e, "pay-user")
    assert payload(ok)["aud"] == "tessera"
    sts_client(e["srv"]).assume_role_with_web_identity(
        RoleArn=CLAIM_ROLE, RoleSessionName="s1", WebIdentityToken=ok)


def test_access_token_is_not_an_id_token(env):
    e = env
    at = e["provider"].client_credentials()
    assert header(at)["typ"].lower() in ("at+jwt", "application/at+jwt")
    assert payload(at)["aud"] == "tessera"
    r, root = sts_post(e, web_identity_form(at))
    assert r.status_code == 400, r.text
    assert error_code(root) == "InvalidIdentityToken"
    assert "at+jwt" in root.find(NS + "Error/" + NS + "Message").text
    # it remains a valid ClientGrants token
    form = urllib.parse.urlencode({"Action": "AssumeRoleWithClientGrants",
                                   "Version": "2011-06-15", "Token": at}).encode()
    r, root = sts_post(e, form)
    assert r.status_code == 200, r.text
    assert root.find(".//" + NS + "AccessKeyId") is not None
