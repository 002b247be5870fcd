"""The browser login at /login (sts/login_web.c) with a real browser: Debian's headless
Chromium driven by playwright-core (tests/integration/browser/login.mjs) through the real
oidc-provider fixture's login and consent pages (oidc/provider.js) and a real slapd
(slapd.py); the credentials the page shows are then used with boto3. Plain-requests tests
check the cookie flags, the no-store headers, CSRF and state handling."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, s3_client
from oidc import oidc_flow
from slapd import LOOKUP_DN, LOOKUP_PASSWORD, SUFFIX, USER_PASSWORDS, Slapd

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
CHROMIUM = "/usr/bin/chromium"

needs_browser = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) or not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules"))
    or shutil.which("node") is None,
    reason="needs Debian's chromium and `npm ci` in tests/integration/browser (.ci/deps.sh)")


def login_env(provider, directory=None):
    env = {
        "TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.config_url,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
        "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": "tessera-secret",
        "TESSERA_IDENTITY_OPENID_SCOPES": "openid,profile,groups,policy",
        "TESSERA_IDENTITY_OPENID_GROUPS_CLAIM": "groups",
        "TESSERA_STS_RATE_LIMIT": "off",
    }
    if directory is not None:
        env.update({
            "TESSERA_IDENTITY_LDAP_SERVER_ADDR": directory.tls_addr,
            "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN": LOOKUP_DN,
            "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD": LOOKUP_PASSWORD,
            "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN": SUFFIX,
            "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER":
                "(&(objectClass=inetOrgPerson)(uid=%s))",
            "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_BASE_DN": "ou=groups," + SUFFIX,
            "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_FILTER":
                "(&(objectclass=groupOfNames)(member=%d))",
            "TESSERA_CA_FILE": directory.ca_file,
        })
    return env


# One provider, directory and server for the module (the tests do not disturb each other):
# starting them takes longer than most tests.
@pytest.fixture(scope="module")
def module_root():
    d = tempfile.mkdtemp(prefix="tessera-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def provider(module_root):
    p = oidc_flow.Provider(module_root).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def directory():
    d = Slapd()
    try:
        d.start()
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def login_server(module_root, provider, directory):
    srv = Server(os.path.join(module_root, "data"), env=login_env(provider, directory))
    srv.start()
    try:
        root = s3_client(srv)
        for b in ("data", "other", "z-private"):
            root.create_bucket(Bucket=b)
        root.put_object(Bucket="data", Key="hello.txt", Body=b"hello")
        policy = os.path.join(module_root, "data-only.json")
        with open(policy, "w") as f:
            json.dump({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                 "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]}]}, f)
        admin(srv, "policy", "create", "data-only", policy)
        # LDAP alice (in cn=devs): data-only through her group.
        admin(srv, "policy", "attach", "data-only", "--dn", "cn=devs,ou=groups," + SUFFIX)
        yield srv
    finally:
        srv.stop()


def browse(*args):
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "login.mjs"), *args], cwd=BROWSER_DIR,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "error" not in out, out["error"]
    return out


def s3_with(srv, out):
    return s3_client(srv, out["access_key"], out["secret_key"], out["session_token"])


@needs_browser
def test_oidc_login_in_chromium(login_server):
    srv = login_server
    # bob's policy claim is ["readonly", "diag"]: he may list and read every bucket.
    out = browse("oidc", srv.endpoint, "bob")
    assert out["index_status"] == 200
    assert out["status"] == 200, out
    assert out["url"].startswith(srv.endpoint + "/login/callback?")
    assert out["who"] == "bob"
    assert re.fullmatch(r"[A-Z0-9]{20}", out["access_key"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out["expiration"])
    assert out["buckets"] == ["data", "other", "z-private"]
    assert "export AWS_SECRET_ACCESS_KEY='%s'" % out["secret_key"] in out["snippet_env"]
    assert "aws_session_token = %s" % out["session_token"] in out["snippet_profile"]
    # issue 15: no credential_process JSON box (its `cat` profile stopped working after an
    # hour); the credential_process profile runs `tessera login` (test_first_hour_login.py)
    assert out["snippet_cp"] is None
    # The page is not cached and the flow cookie is gone.
    assert out["headers"]["cache-control"] == "no-store"
    assert out["headers"]["pragma"] == "no-cache"
    assert "tessera_login_flow" not in out["cookies_after"]
    # The page's own style and copy script run under its Content-Security-Policy.
    assert out["csp_violations"] == []
    assert out["copy_button"] == "Copied"
    # The shown credentials work with boto3.
    s3 = s3_with(srv, out)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data").get("Contents", [])]
    assert keys == ["hello.txt"]
    assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="data", Key="nope", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


@needs_browser
def test_oidc_login_lists_only_allowed_buckets(login_server):
    # carol: policies list-only,put-only (created here: ListBucket on "data" only).
    srv = login_server
    for name, action, res in (("list-only", "s3:ListBucket", "arn:aws:s3:::data"),
                              ("put-only", "s3:PutObject", "arn:aws:s3:::data/*")):
        path = os.path.join(os.path.dirname(srv.data_dir), name + ".json")
        with open(path, "w") as f:
            json.dump({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": [action], "Resource": [res]}]}, f)
        admin(srv, "policy", "create", name, path)
    out = browse("oidc", srv.endpoint, "carol")
    assert out["status"] == 200, out
    assert out["buckets"] == ["data"]
    s3_with(srv, out).put_object(Bucket="data", Key="from-carol", Body=b"c")


@needs_browser
def test_tampered_state_in_chromium(login_server):
    out = browse("tamper", login_server.endpoint)
    flow = [c for c in out["cookies"] if c["name"] == "tessera_login_flow"]
    assert flow and flow[0]["httpOnly"] and flow[0]["sameSite"] == "Lax"
    assert flow[0]["path"] == "/login" and not flow[0]["secure"]  # plain HTTP here
    assert out["status"] == 400
    assert "state parameter does not match" in out["text"]
    assert not out["has_credentials"]
    assert "tessera_login_flow" not in out["cookies_after"]  # cleared after use


@needs_browser
def test_ldap_form_in_chromium(login_server):
    srv = login_server
    out = browse("ldap", srv.endpoint, "alice", USER_PASSWORDS["alice"])
    assert out["status"] == 200, out
    assert out["who"] == "alice"
    assert out["buckets"] == ["data"]
    assert out["headers"]["cache-control"] == "no-store"
    s3 = s3_with(srv, out)
    assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
    bad = browse("ldap", srv.endpoint, "alice", "wrong-password")
    assert bad["status"] in (400, 403), bad
    assert bad["secret_key"] is None


# ---- plain HTTP (requests) ----

def cookie_attrs(set_cookie):
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return name, value, attrs


def test_cookie_flags_and_headers(login_server, provider):
    srv = login_server
    s = requests.Session()
    r = s.get(srv.endpoint + "/login", timeout=10)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert 'href="/login/start?provider="' in r.text and 'id="ldap"' in r.text
    name, value, attrs = cookie_attrs(r.headers["Set-Cookie"])
    assert name == "tessera_login_csrf" and value
    assert attrs["path"] == "/login" and attrs["samesite"] == "Lax" and "httponly" in attrs
    assert "secure" not in attrs and 0 < int(attrs["max-age"]) <= 600

    r = s.get(srv.endpoint + "/login/start?provider=", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Cache-Control"] == "no-store"
    loc = urllib.parse.urlparse(r.headers["Location"])
    q = dict(urllib.parse.parse_qsl(loc.query))
    assert r.headers["Location"].startswith(provider.issuer + "/protocol/openid-connect/auth?")
    assert q["response_type"] == "code" and q["client_id"] == "tessera"
    assert q["redirect_uri"] == srv.endpoint + "/login/callback"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) == 43 and len(q["nonce"]) == 43 and q["state"] != q["nonce"]
    assert q["scope"].split() == ["openid", "profile", "groups", "policy"]
    name, value, attrs = cookie_attrs(r.headers["Set-Cookie"])
    assert name == "tessera_login_flow"
    assert attrs["path"] == "/login" and attrs["samesite"] == "Lax" and "httponly" in attrs
    assert 0 < int(attrs["max-age"]) <= 600
    # The cookie is sealed: neither the state, the nonce nor the verifier appear in it.
    assert q["state"] not in value and q["nonce"] not in value

    # Wrong state with the right cookie: 400, and the cookie is cleared.
    r = s.get(srv.endpoint + "/login/callback", params={"code": "x", "state": q["state"] + "x"},
              timeout=10)
    assert r.status_code == 400 and "secret_key" not in r.text
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    name, value, attrs = cookie_attrs(r.headers["Set-Cookie"])
    assert name == "tessera_login_flow" and value == "" and attrs["max-age"] == "0"


def test_callback_without_or_with_forged_cookie(login_server):
    srv = login_server
    r = requests.get(srv.endpoint + "/login/start?provider=", allow_redirects=False, timeout=10)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(r.headers["Location"]).query))[
        "state"]
    cookie = r.cookies["tessera_login_flow"]
    # No cookie (another browser, or the cookie expired): 400.
    r = requests.get(srv.endpoint + "/login/callback", params={"code": "x", "state": state},
                     timeout=10)
    assert r.status_code == 400 and "not started in this browser" in r.text
    # A flipped character in the sealed cookie: 400.
    forged = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
    r = requests.get(srv.endpoint + "/login/callback", params={"code": "x", "state": state},
                     cookies={"tessera_login_flow": forged}, timeout=10)
    assert r.status_code == 400 and "secret_key" not in r.text
    # The right cookie and state but no state parameter: 400.
    r = requests.get(srv.endpoint + "/login/callback", params={"code": "x"},
                     cookies={"tessera_login_flow": cookie}, timeout=10)
    assert r.status_code == 400
    # The right cookie and state with a made-up code: the provider refuses it.
    r = requests.get(srv.endpoint + "/login/callback", params={"code": "x", "state": state},
                     cookies={"tessera_login_flow": cookie}, timeout=10)
    assert r.status_code == 400 and "refused the authorization code" in r.text


def test_ldap_form_needs_the_csrf_cookie(login_server):
    srv = login_server
    s = requests.Session()
    page = s.get(srv.endpoint + "/login", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"username": "alice", "password": USER_PASSWORDS["alice"], "csrf": token}
    # A cross-site post carries no cookie (SameSite=Lax) or another token: refused.
    r = requests.post(srv.endpoint + "/login/ldap", data=form, timeout=10)
    assert r.status_code == 403 and "CSRF" in r.text
    r = s.post(srv.endpoint + "/login/ldap", data=dict(form, csrf=token[:-1] + "x"), timeout=10)
    assert r.status_code == 403
    # The cookie is single-use: a fresh page, then the right token works.
    page = s.get(srv.endpoint + "/login", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = s.post(srv.endpoint + "/login/ldap", data=dict(form, csrf=token), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    assert 'id="secret_key"' in r.text
    # The only cookie set is the cleared CSRF cookie: no cookie carries the session token.
    name, value, attrs = cookie_attrs(r.headers["Set-Cookie"])
    assert name == "tessera_login_csrf" and value == "" and attrs["max-age"] == "0"
    token_shown = re.search(r'id="session_token">([^<]+)<', r.text).group(1)
    assert token_shown not in r.headers["Set-Cookie"]


def test_signed_requests_still_reach_a_bucket_named_login(login_server):
    s3 = s3_client(login_server)
    s3.create_bucket(Bucket="login")
    s3.put_object(Bucket="login", Key="start", Body=b"s3 object")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="login")["Contents"]] == ["start"]
    assert s3.get_object(Bucket="login", Key="start")["Body"].read() == b"s3 object"
    s3.delete_object(Bucket="login", Key="start")
    s3.delete_bucket(Bucket="login")


def test_cookies_are_secure_over_tls(tmp_root, provider):
    certs = os.path.join(tmp_root, "certs")
    os.makedirs(certs)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", os.path.join(certs, "private.key"),
                    "-out", os.path.join(certs, "public.crt")],
                   check=True, capture_output=True)
    srv = Server(os.path.join(tmp_root, "d"), env=login_env(provider), certs=certs)
    srv.start()
    try:
        ca = os.path.join(certs, "public.crt")
        r = requests.get(srv.endpoint + "/login", verify=ca, timeout=10)
        assert r.status_code == 200 and 'id="ldap"' not in r.text  # no LDAP configured
        assert "Set-Cookie" not in r.headers  # no form, no CSRF cookie
        r = requests.get(srv.endpoint + "/login/start?provider=", verify=ca,
                         allow_redirects=False, timeout=10)
        assert r.status_code == 302
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(r.headers["Location"]).query))
        assert q["redirect_uri"] == srv.endpoint + "/login/callback"  # https, from Host
        name, _, attrs = cookie_attrs(r.headers["Set-Cookie"])
        assert name == "tessera_login_flow" and "secure" in attrs and "httponly" in attrs
    finally:
        srv.stop()


def test_configured_redirect_uri_and_unknown_provider(tmp_root, provider):
    env = login_env(provider)
    env["TESSERA_IDENTITY_OPENID_REDIRECT_URI"] = "https://sts.example.org/login/callback"
    srv = Server(os.path.join(tmp_root, "d"), env=env)
    srv.start()
    try:
        r = requests.get(srv.endpoint + "/login/start?provider=", allow_redirects=False,
                         timeout=10)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(r.headers["Location"]).query))
        assert q["redirect_uri"] == "https://sts.example.org/login/callback"
        r = requests.get(srv.endpoint + "/login/start?provider=<script>", timeout=10)
        assert r.status_code == 400 and "<script>" not in r.text
        r = requests.get(srv.endpoint + "/login/callback", params={"error": "<b>x</b>"},
                         timeout=10)
        assert r.status_code == 400 and "<b>" not in r.text
        r = requests.delete(srv.endpoint + "/login", timeout=10)
        assert r.status_code == 405
    finally:
        srv.stop()


def provider_login(start_location, user, callback_prefix):
    """Follows the provider's login and consent forms (plain requests) until it redirects to
    callback_prefix; returns that URL."""
    s = requests.Session()
    url, method, data = start_location, "GET", None
    for _ in range(20):
        r = s.request(method, url, data=data, allow_redirects=False, timeout=10)
        if r.status_code in (301, 302, 303, 307, 308):
            url = urllib.parse.urljoin(r.url, r.headers["Location"])
            method, data = "GET", None
            if url.startswith(callback_prefix):
                return url
            continue
        forms = oidc_flow._Forms()
        forms.feed(r.text)
        assert r.status_code == 200 and forms.forms, r.text[:300]
        form = forms.forms[0]
        fields = dict(form["fields"])
        if "login" in fields or "password" in fields:
            fields.update(login=user, password="any-password")
        url = urllib.parse.urljoin(r.url, form["action"])
        method, data = form["method"].upper(), fields
    raise AssertionError("the provider did not redirect back")


def test_flow_survives_a_restart_no_server_state(login_server):
    """Everything the callback needs travels in the sealed cookie, sealed under the token keys
    of the IAM store: a node that did not start the flow (here: the same data after a
    restart, nothing in memory) finishes it."""
    srv = login_server
    r = requests.get(srv.endpoint + "/login/start?provider=", allow_redirects=False, timeout=10)
    cookie = r.cookies["tessera_login_flow"]
    back = provider_login(r.headers["Location"], "alice", srv.endpoint + "/login/callback")
    srv.restart()
    r = requests.get(back, cookies={"tessera_login_flow": cookie}, timeout=30)
    assert r.status_code == 200, r.text
    ak = re.search(r'id="access_key">([^<]+)<', r.text).group(1)
    sk = re.search(r'id="secret_key">([^<]+)<', r.text).group(1)
    tok = re.search(r'id="session_token">([^<]+)<', r.text).group(1)
    assert "<li>data</li>" in r.text  # alice: readwrite
    s3 = s3_client(srv, ak, sk, tok)
    s3.put_object(Bucket="data", Key="alice.txt", Body=b"a")
    # The code and the cookie are single-use: replaying the callback fails.
    r = requests.get(back, cookies={"tessera_login_flow": cookie}, timeout=30)
    assert r.status_code == 400 and 'id="secret_key"' not in r.text
