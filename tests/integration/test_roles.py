"""Roles with trust policies, session tags (ABAC) and `tessera login oidc` (ISSUE 6), against
the real oidc-provider fixture (tests/integration/oidc/provider.js). Tokens come from the
provider's real login flow; the users ci-main / ci-feature / ci-other carry GitHub-Actions
style subjects, k8s-builder / k8s-other Kubernetes service-account subjects, tag-blue /
tag-red AWS session tags.

One provider and one server serve the whole module (each test creates its own roles), so
that the module stays quick.
"""
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, aws, s3_client, sts_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc"))
import oidc_flow  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.path.isdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc",
                                   "node_modules")),
    reason="run `npm ci` in tests/integration/oidc (.ci/deps.sh does)")

ACCOUNT = "000000000000"
TAGS_SCOPE = "openid profile groups policy tags"


@pytest.fixture(scope="module")
def env():
    root = tempfile.mkdtemp(prefix="tessera-roles-")
    provider = oidc_flow.Provider(root).start()
    srv = None
    try:
        srv = Server(os.path.join(root, "data"), env={
            # the public CLI client is a second provider entry of the same issuer
            "TESSERA_IDENTITY_OPENID_CONFIG_URL_CLI": provider.config_url,
            "TESSERA_IDENTITY_OPENID_CLIENT_ID_CLI": "tessera-cli",
            "TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.config_url,
            "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
            "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": "tessera-secret",
            "TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL": "1",
        })
        srv.start()
        root_s3 = s3_client(srv)
        for b in ("deploy", "shared"):
            root_s3.create_bucket(Bucket=b)
        for k in ("blue/plan.txt", "red/plan.txt"):
            root_s3.put_object(Bucket="shared", Key=k, Body=k.encode())
        yield {"srv": srv, "provider": provider, "root": root,
               "iss_ns": provider.issuer.split("://", 1)[1]}
        rc, log = srv.stop(), srv.read_log()
        srv = None
        assert "Sanitizer" not in log, log  # the ASAN build reports here
        assert rc == 0, log
        assert "eyJ" not in log  # no token (or token part) is ever logged
    finally:
        if srv is not None:
            srv.stop()
        provider.stop()
        shutil.rmtree(root, ignore_errors=True)


_tokens = {}


def token(e, user, scope="openid profile groups policy"):
    """The id_token of user (cached for the module: they stay valid for an hour)."""
    if (user, scope) not in _tokens:
        _tokens[(user, scope)] = e["provider"].login(user, scope=scope)
    return _tokens[(user, scope)]


def write_json(e, name, doc):
    path = os.path.join(e["root"], name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def make_role(e, name, statements, policies=()):
    path = write_json(e, "trust-" + name, {"Version": "2012-10-17", "Statement": statements})
    out = admin(e["srv"], "role", "create", name, "--trust", path).stdout
    assert "arn:aws:iam::%s:role/%s" % (ACCOUNT, name) in out
    for p in policies:
        admin(e["srv"], "role", "policy", "attach", name, p)
    return "arn:aws:iam::%s:role/%s" % (ACCOUNT, name)


def assume(e, role_arn, tok, **kw):
    return sts_client(e["srv"]).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=kw.pop("session", "s1"), WebIdentityToken=tok,
        **kw)


def refused(e, role_arn, tok, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        assume(e, role_arn, tok, **kw)
    return ex.value.response["Error"]


def s3_for(e, resp):
    c = resp["Credentials"]
    return s3_client(e["srv"], c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def s3_denied(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as ex:
        fn(**kw)
    return ex.value.response["Error"]["Code"]


def web_identity_stmt(principal, conditions=None, actions=("sts:AssumeRoleWithWebIdentity",)):
    st = {"Effect": "Allow", "Principal": {"Federated": principal}, "Action": list(actions)}
    if conditions:
        st["Condition"] = conditions
    return st


# ---- admin API and CLI ----


def test_role_admin_commands(env):
    e, srv = env, env["srv"]
    arn = make_role(e, "crud", [web_identity_stmt(e["provider"].issuer)])
    info = json.loads(admin(srv, "--json", "role", "info", "crud").stdout)
    assert info["arn"] == arn and info["policies"] == []
    assert info["trust"]["Statement"][0]["Principal"]["Federated"] == e["provider"].issuer
    assert "crud\t" + arn in admin(srv, "role", "list").stdout

    admin(srv, "role", "policy", "attach", "crud", "readonly")
    assert "readonly" in admin(srv, "role", "info", "crud").stdout
    # a policy a role uses cannot be removed; an unknown policy cannot be attached
    pol = write_json(e, "p-crud", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::deploy/*"}]})
    admin(srv, "policy", "create", "p-crud", pol)
    admin(srv, "role", "policy", "attach", "crud", "p-crud")
    p = admin(srv, "policy", "remove", "p-crud", check=False)
    assert p.returncode == 1 and "detach it first" in p.stderr
    p = admin(srv, "role", "policy", "attach", "crud", "no-such-policy", check=False)
    assert p.returncode == 1 and "does not exist" in p.stderr
    admin(srv, "role", "policy", "detach", "crud", "p-crud")
    admin(srv, "policy", "remove", "p-crud")

    # duplicates, bad names, bad trust documents
    p = admin(srv, "role", "create", "crud", "--trust",
              write_json(e, "t-dup", {"Version": "2012-10-17",
                                      "Statement": [web_identity_stmt("x")]}), check=False)
    assert p.returncode == 1 and "already exists" in p.stderr
    p = admin(srv, "role", "create", "bad/name", "--trust", write_json(e, "t-ok", {
        "Version": "2012-10-17", "Statement": [web_identity_stmt("x")]}), check=False)
    assert p.returncode == 1
    no_principal = write_json(e, "t-noprin", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity"}]})
    p = admin(srv, "role", "create", "r2", "--trust", no_principal, check=False)
    assert p.returncode == 1 and "Principal" in p.stderr
    s3_action = write_json(e, "t-s3", {"Version": "2012-10-17", "Statement": [
        dict(web_identity_stmt("x"), Action="s3:GetObject")]})
    p = admin(srv, "role", "create", "r2", "--trust", s3_action, check=False)
    assert p.returncode == 1 and "sts:" in p.stderr

    # replacing the trust policy keeps the attachments; removing detaches
    admin(srv, "role", "trust", "crud", "--trust", write_json(e, "t-new", {
        "Version": "2012-10-17", "Statement": [web_identity_stmt("other")]}))
    info = json.loads(admin(srv, "--json", "role", "info", "crud").stdout)
    assert info["trust"]["Statement"][0]["Principal"]["Federated"] == "other"
    assert info["policies"] == ["readonly"]
    admin(srv, "role", "remove", "crud")
    p = admin(srv, "role", "info", "crud", check=False)
    assert p.returncode == 1 and "does not exist" in p.stderr
    assert "crud" not in admin(srv, "role", "list").stdout


def test_role_admin_needs_rights(env):
    srv = env["srv"]
    admin(srv, "user", "add", "plain", "plain-secret-1")
    p = admin(srv, "role", "list", ak="plain", sk="plain-secret-1", check=False)
    assert p.returncode == 1 and "AccessDenied" in p.stderr


# ---- trust policies ----


def test_trust_requires_exact_subject(env):
    e = env
    sub_key = e["iss_ns"] + ":sub"
    arn = make_role(e, "deploy-main", [web_identity_stmt(e["provider"].issuer, {
        "StringEquals": {sub_key: "repo:acme/widgets:ref:refs/heads/main",
                         e["iss_ns"] + ":aud": "tessera"}})], policies=["readwrite"])

    resp = assume(e, arn, token(e, "ci-main"), session="build-42")
    assert resp["AssumedRoleUser"]["Arn"] == \
        "arn:aws:sts::%s:assumed-role/deploy-main/build-42" % ACCOUNT
    assert resp["SubjectFromWebIdentityToken"] == "repo:acme/widgets:ref:refs/heads/main"
    s3 = s3_for(e, resp)
    s3.put_object(Bucket="deploy", Key="artifact", Body=b"built")
    who = sts_client(e["srv"], resp["Credentials"]["AccessKeyId"],
                     resp["Credentials"]["SecretAccessKey"],
                     resp["Credentials"]["SessionToken"]).get_caller_identity()
    assert who["Arn"] == resp["AssumedRoleUser"]["Arn"]

    # the role's policies, not the token's policy claim: alice (policy claim readwrite) and
    # the feature branch are refused
    for user in ("ci-feature", "ci-other", "alice"):
        err = refused(e, arn, token(e, user))
        assert err["Code"] == "AccessDenied", (user, err)

    # role policies ∩ session policy
    session_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::deploy/*"}]})
    s3 = s3_for(e, assume(e, arn, token(e, "ci-main"), Policy=session_policy))
    assert s3.get_object(Bucket="deploy", Key="artifact")["Body"].read() == b"built"
    assert s3_denied(s3.put_object, Bucket="deploy", Key="x", Body=b"x") == "AccessDenied"


def test_trust_wildcards_and_principal_forms(env):
    e = env
    iss_ns = e["iss_ns"]
    # AWS's provider ARN as the principal, StringLike over sub, a custom claim
    arn = make_role(e, "widgets-any-branch", [web_identity_stmt(
        "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, iss_ns), {
            "StringLike": {iss_ns + ":sub": "repo:acme/widgets:*"},
            "StringEquals": {iss_ns + ":repository": "acme/widgets"}})], policies=["readonly"])
    for user in ("ci-main", "ci-feature"):
        s3 = s3_for(e, assume(e, arn, token(e, user)))
        assert s3.list_objects_v2(Bucket="shared")["KeyCount"] == 2
        assert s3_denied(s3.put_object, Bucket="shared", Key="x", Body=b"x") == "AccessDenied"
    assert refused(e, arn, token(e, "ci-other"))["Code"] == "AccessDenied"

    # Kubernetes service accounts of one namespace; ForAnyValue over the audience list
    arn = make_role(e, "k8s-ci", [web_identity_stmt(e["provider"].issuer, {
        "StringLike": {iss_ns + ":sub": "system:serviceaccount:ci:*"},
        "ForAnyValue:StringEquals": {iss_ns + ":aud": ["other-audience", "tessera"]}})],
        policies=["readonly"])
    assume(e, arn, token(e, "k8s-builder"))
    assert refused(e, arn, token(e, "k8s-other"))["Code"] == "AccessDenied"

    # another provider's configured name ("cli": tokens for client tessera-cli) and an
    # unrelated issuer do not match; an explicit Deny wins over an Allow
    for name, principal in (("other-idp", "https://token.example.com"), ("by-name", "cli")):
        arn = make_role(e, name, [web_identity_stmt(principal)], policies=["readonly"])
        assert refused(e, arn, token(e, "ci-main"))["Code"] == "AccessDenied"
    arn = make_role(e, "deny-feature", [
        web_identity_stmt(e["provider"].issuer),
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {iss_ns + ":sub": "*:ref:refs/heads/feature"}}}],
        policies=["readonly"])
    assume(e, arn, token(e, "ci-main"))
    err = refused(e, arn, token(e, "ci-feature"))
    assert err["Code"] == "AccessDenied" and "explicitly denies" in err["Message"]

    # a role ARN naming no role keeps the claim-mode behaviour (MinIO compatibility); a role
    # of another account is no tessera role either
    resp = assume(e, "arn:aws:iam::%s:role/no-such-role" % ACCOUNT, token(e, "alice"))
    s3_for(e, resp).put_object(Bucket="shared", Key="alice.txt", Body=b"a")


def test_removed_role_is_gone(env):
    e = env
    arn = make_role(e, "short-lived", [web_identity_stmt(e["provider"].issuer)],
                    policies=["readonly"])
    assume(e, arn, token(e, "dave"))
    admin(e["srv"], "role", "remove", "short-lived")
    # dave has no policy claim: without the role there is nothing to map
    assert refused(e, arn, token(e, "dave"))["Code"] == "AccessDenied"


# ---- session tags / ABAC ----


def test_session_tags_drive_abac(env):
    e, srv = env, env["srv"]
    iss_ns = e["iss_ns"]
    abac = write_json(e, "abac", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::shared/${aws:PrincipalTag/team}/*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::shared/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]})
    admin(srv, "policy", "create", "abac", abac)
    arn = make_role(e, "team", [web_identity_stmt(
        e["provider"].issuer, {"StringLike": {iss_ns + ":sub": "tag-*"}},
        actions=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"])], policies=["abac"])

    blue = s3_for(e, assume(e, arn, token(e, "tag-blue", TAGS_SCOPE)))
    assert blue.get_object(Bucket="shared", Key="blue/plan.txt")["Body"].read() == b"blue/plan.txt"
    assert s3_denied(blue.get_object, Bucket="shared", Key="red/plan.txt") == "AccessDenied"
    blue.put_object(Bucket="shared", Key="blue/new.txt", Body=b"n")

    red = s3_for(e, assume(e, arn, token(e, "tag-red", TAGS_SCOPE)))
    assert red.get_object(Bucket="shared", Key="red/plan.txt")["Body"].read() == b"red/plan.txt"
    assert s3_denied(red.get_object, Bucket="shared", Key="blue/plan.txt") == "AccessDenied"
    assert s3_denied(red.put_object, Bucket="shared", Key="red/new.txt", Body=b"n") == \
        "AccessDenied"

    # a trust policy that does not allow sts:TagSession refuses tagged tokens only
    arn = make_role(e, "no-tags", [web_identity_stmt(e["provider"].issuer)], policies=["abac"])
    err = refused(e, arn, token(e, "tag-blue", TAGS_SCOPE))
    assert err["Code"] == "AccessDenied" and "TagSession" in err["Message"]
    assume(e, arn, token(e, "tag-blue"))  # the same user without the tags scope

    # the trust policy can require tags (aws:RequestTag) like AWS
    arn = make_role(e, "blue-only", [web_identity_stmt(
        e["provider"].issuer, {"StringEquals": {"aws:RequestTag/team": "blue"}},
        actions=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"])], policies=["abac"])
    assume(e, arn, token(e, "tag-blue", TAGS_SCOPE))
    assert refused(e, arn, token(e, "tag-red", TAGS_SCOPE))["Code"] == "AccessDenied"


# ---- tessera login oidc ----


def drive_sign_in(url, user, stop=None):
    """Acts as the user's browser from url: follows redirects, fills the provider's login form
    with user, submits its confirmation and consent forms. Returns the first URL for which
    stop(url) is true (without fetching it), or None when a final page without forms shows."""
    s = requests.Session()
    method, data = "GET", None
    for _ in range(30):
        if stop is not None and stop(url):
            return url
        r = s.request(method, url, data=data, allow_redirects=False, timeout=10)
        if r.status_code in (301, 302, 303, 307, 308):
            url, method, data = urllib.parse.urljoin(r.url, r.headers["Location"]), "GET", None
            continue
        forms = oidc_flow._Forms()
        forms.feed(r.text)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        if not forms.forms:
            return None
        fields = dict(forms.forms[0]["fields"])
        fields.pop("abort", None)  # the device confirmation page's other button
        if "login" in fields or "password" in fields:
            fields["login"], fields["password"] = user, "any-password"
        url = urllib.parse.urljoin(r.url, forms.forms[0]["action"])
        method, data = forms.forms[0]["method"].upper(), fields
    raise AssertionError("the sign-in did not finish")


def login_cmd(e, *args):
    return [e["srv"].bin, "login", "oidc", "--endpoint", e["srv"].endpoint,
            "--provider", e["provider"].issuer, "--timeout", "60"] + list(args)


class PtyLines:
    """The text a process writes to a pty, read from its master side by lines (.stderr, so
    that read_prompt takes it like a process)."""

    def __init__(self, fd):
        self.fd, self.buf = fd, b""
        self.stderr = self

    def readline(self):
        while b"\n" not in self.buf:
            try:
                data = os.read(self.fd, 4096)
            except OSError:  # EIO: the process closed its side
                data = b""
            if not data:
                line, self.buf = self.buf, b""
                return line.decode(errors="replace")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace") + "\n"

    def rest(self):
        out = []
        while True:
            line = self.readline()
            if not line:
                return "".join(out)
            out.append(line)


def read_prompt(proc, want):
    """stderr lines of the login client up to the one containing want; that line."""
    lines = []
    while True:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError("login client ended: %s" % "".join(lines))
        lines.append(line)
        if want in line:
            return line


def test_login_oidc_device_flow_credential_process(env):
    e = env
    arn = make_role(e, "cli-users", [web_identity_stmt(
        e["provider"].issuer, {"StringEquals": {e["iss_ns"] + ":sub": "dave"}})],
        policies=["readonly"])
    cache = os.path.join(e["root"], "creds-cache.json")
    # the provider by its name on the server: issuer and client id come from /login/providers
    listed = requests.get(e["srv"].endpoint + "/login/providers").json()["providers"]
    default = [p for p in listed if p["name"] == ""][0]
    assert default["issuer"] == e["provider"].issuer and default["client_id"] == "tessera"
    cmd = [e["srv"].bin, "login", "oidc", "--endpoint", e["srv"].endpoint, "--provider",
           "default", "--timeout", "60", "--role-arn", arn, "--cache", cache]
    # a confidential client: the secret comes from the environment, never argv
    proc_env = dict(os.environ, TESSERA_OIDC_CLIENT_SECRET="tessera-secret")
    # with --cache and nothing cached, the sign-in needs a terminal to show on (issue 15):
    # stderr is a pty, as when the user runs it once in a terminal
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, env=proc_env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    term = PtyLines(master)
    try:
        line = read_prompt(term, "or open ")
        complete = line.split("or open ", 1)[1].strip()
        assert complete.startswith(e["provider"].issuer) and "user_code=" in complete
        assert drive_sign_in(complete, "dave") is None
        out, _ = proc.communicate(timeout=60)
        err = term.rest()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(master)
    assert proc.returncode == 0, err
    creds = json.loads(out)
    assert creds["Version"] == 1 and creds["AccessKeyId"] and creds["Expiration"]
    assert "tessera-secret" not in err and creds["SecretAccessKey"] not in err
    assert os.stat(cache).st_mode & 0o777 == 0o600

    # the aws cli through a credential_process profile (the cache answers: no new sign-in)
    home = tempfile.mkdtemp(prefix="tessera-aws-")
    try:
        with open(os.path.join(home, "config"), "w") as f:
            f.write("[profile tessera]\nregion = us-east-1\ncredential_process = %s\n"
                    % " ".join(cmd))
        aws_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        aws_env.update({"AWS_CONFIG_FILE": os.path.join(home, "config"),
                        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials"),
                        "AWS_PAGER": "", "AWS_PROFILE": "tessera"})
        base = ["/usr/bin/aws", "--endpoint-url", e["srv"].endpoint]
        p = subprocess.run(base + ["s3", "ls", "s3://shared/blue/"], env=aws_env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and "plan.txt" in p.stdout, p.stderr
        p = subprocess.run(base + ["sts", "get-caller-identity"], env=aws_env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "assumed-role/cli-users/tessera-login" in p.stdout
        p = subprocess.run(base + ["s3", "cp", "-", "s3://shared/dave.txt"], input="x",
                           env=aws_env, capture_output=True, text=True, timeout=120)
        assert p.returncode != 0 and "AccessDenied" in p.stderr  # the role is read-only
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_login_oidc_browser_flow_pkce(env):
    e = env
    # the provider by its configured name: "cli" (TESSERA_IDENTITY_OPENID_*_CLI)
    arn = make_role(e, "cli-browser", [web_identity_stmt("cli", {
        "StringEquals": {e["iss_ns"] + ":aud": "tessera-cli",
                         e["iss_ns"] + ":sub": "dave"}})], policies=["readonly"])
    # the public client: no secret; --browser forces the authorization code flow
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_OIDC")}
    proc = subprocess.Popen(login_cmd(e, "--client-id", "tessera-cli", "--role-arn", arn,
                                      "--browser", "--env", "--session-name", "laptop"),
                            env=proc_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        read_prompt(proc, "open this address")
        url = proc.stderr.readline().strip()
        q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
        assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
        assert q["state"][0] and q["nonce"][0] and q["client_id"] == ["tessera-cli"]
        redirect = q["redirect_uri"][0]
        assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/callback")
        # a forged callback (wrong state) is refused and the client keeps waiting
        r = requests.get(redirect + "?code=forged&state=wrong", timeout=10)
        assert r.status_code == 400
        cb = drive_sign_in(url, "dave", stop=lambda u: u.startswith(redirect))
        assert cb is not None
        r = requests.get(cb, timeout=10)
        assert r.status_code == 200 and "Signed in" in r.text
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    exports = dict(line[len("export "):].split("=", 1) for line in out.splitlines())
    creds = {k: v.strip("'") for k, v in exports.items()}
    s3 = s3_client(e["srv"], creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"],
                   creds["AWS_SESSION_TOKEN"])
    assert s3.get_object(Bucket="shared", Key="red/plan.txt")["Body"].read() == b"red/plan.txt"
    who = sts_client(e["srv"], creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"],
                     creds["AWS_SESSION_TOKEN"]).get_caller_identity()
    assert who["Arn"].endswith(":assumed-role/cli-browser/laptop")


def test_login_oidc_refusals(env):
    e = env
    p = subprocess.run([e["srv"].bin, "login", "oidc", "--endpoint", e["srv"].endpoint],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--provider" in p.stderr
    p = subprocess.run(login_cmd(e, "--client-id", "tessera", "--no-such-flag"),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    # a provider name the server does not know
    p = subprocess.run([e["srv"].bin, "login", "oidc", "--endpoint", e["srv"].endpoint,
                        "--provider", "nosuch"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and 'no OpenID provider named "nosuch"' in p.stderr
    # a provider that is not there
    p = subprocess.run([e["srv"].bin, "login", "oidc", "--provider", "http://127.0.0.1:9/x",
                        "--client-id", "c"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "127.0.0.1:9" in p.stderr
