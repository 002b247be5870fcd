"""Issue 15, the first hour with the command line: every step as a user types it, the CLI run
as a subprocess with captured (non-terminal) stdout and stderr.

- item 3: `tessera admin group add admins` with no members creates an empty group, and
  `tessera admin policy attach ... --group admins` then works (docs/KEYCLOAK.md's groups step);
- item 6: every command and subcommand answers --help (exit 0, usage on stdout) without
  credentials or a server; `tessera admin` also takes AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
  and, on the server's machine, DATA_DIR/.tessera/root.json, saying on stderr which it used;
- item 7: a web-identity token with surrounding whitespace (a token file written with `echo`)
  is accepted, from the aws cli of both generations and as a raw parameter;
- item 9: a second `tessera server` on a DATA_DIR in use refuses, naming the directory and the
  running server's pid; the lock goes with the process, even when it is killed;
- item 10: every audit record says who (access key, principal ARN), from where, in which
  request, what and with which result; numbers are JSON numbers.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import boto3
import botocore.config
import pytest
import requests

from conftest import BIN, Server, admin, free_port, newer_aws_cli, s3_client, sts_client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "oidc"))
import oidc_flow  # noqa: E402

CLAIM_ROLE = "arn:aws:iam::000000000000:role/ignored-in-claim-mode"


def bare_env(**extra):
    """No credentials of any kind, and an endpoint where nothing listens."""
    env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(),
           "TESSERA_ENDPOINT": "http://127.0.0.1:%d" % free_port()}
    env.update(extra)
    return env


def run(*args, env=None, input="", timeout=60):
    return subprocess.run([BIN] + list(args), env=env if env is not None else bare_env(),
                          capture_output=True, text=True, timeout=timeout, input=input)


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


READWRITE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}


# ---- item 6: help ----

def assert_help(*args):
    p = run(*args, "--help")
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    assert p.stdout.startswith("usage: tessera"), (args, p.stdout)
    assert p.stderr == "", (args, p.stderr)
    return p.stdout


def test_help_without_credentials_or_server():
    out = run("help")
    assert out.returncode == 0 and out.stderr == ""
    for form in ("tessera server", "tessera admin", "tessera login ldap", "tessera login oidc",
                 "tessera config list", "tessera version"):
        assert form in out.stdout, form
    for verbs in ("user add|set-secret|remove|enable|disable|info|list",
                  "group add|remove|list|info", "policy create|remove|info|list|attach|detach",
                  "sts revoke|rotate-key", "role create|trust|info|remove|list|policy"):
        assert verbs in out.stdout, verbs
    # login shows every login usage
    login = assert_help("login")
    assert "tessera login ldap" in login and "tessera login oidc" in login
    assert "--provider" in assert_help("login", "oidc")
    assert "--password-stdin" in assert_help("login", "ldap")
    # admin groups and commands, with nothing configured
    assert "user add NAME SECRET" in assert_help("admin", "user")
    assert "AWS_ACCESS_KEY_ID" in assert_help("admin") and "root.json" in assert_help("admin")
    for group in ("user", "group", "policy", "sts", "role"):
        text = assert_help("admin", group)
        for line in text.splitlines():
            m = re.match(r"^  (\w+) ([\w-]+)", line)
            if m and m.group(1) == group:
                assert "  %s %s" % (group, m.group(2)) in assert_help("admin", group, m.group(2))
    assert "group add GROUP [MEMBER...]" in assert_help("admin", "group", "add")
    assert "DATA_DIR" in assert_help("server")
    assert_help("config")
    # -h works as --help
    p = run("server", "-h")
    assert p.returncode == 0 and p.stdout.startswith("usage: tessera server")


# ---- item 6: where `tessera admin` finds credentials ----

class GeneratedRootServer(Server):
    """A server started without TESSERA_ROOT_USER: it generates root.json."""

    def env(self):
        env = super().env()
        env.pop("TESSERA_ROOT_USER", None)
        env.pop("TESSERA_ROOT_PASSWORD", None)
        return env


def test_admin_credentials_from_aws_variables(server):
    env = bare_env(TESSERA_ENDPOINT=server.endpoint, AWS_ACCESS_KEY_ID=server.root_user,
                   AWS_SECRET_ACCESS_KEY=server.root_password)
    p = run("admin", "user", "add", "awsenv", "awsenv-secret-1", env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Added user awsenv.\n"
    assert "AWS_ACCESS_KEY_ID" in p.stderr and "AWS_SECRET_ACCESS_KEY" in p.stderr
    # TESSERA_* come first (and then nothing is said)
    env2 = dict(env, TESSERA_ACCESS_KEY=server.root_user,
                TESSERA_SECRET_KEY=server.root_password, AWS_ACCESS_KEY_ID="wrong",
                AWS_SECRET_ACCESS_KEY="wrong-wrong")
    p = run("admin", "user", "list", env=env2)
    assert p.returncode == 0 and "awsenv" in p.stdout and p.stderr == "", p.stderr
    # an aws user's own keys work the same (and are refused what the policy does not allow)
    p = run("admin", "user", "list", env=dict(env, AWS_ACCESS_KEY_ID="awsenv",
                                              AWS_SECRET_ACCESS_KEY="awsenv-secret-1"))
    assert p.returncode == 1 and "AccessDenied" in p.stderr, p.stderr
    # with AWS_SESSION_TOKEN the token is sent (and signed): temporary credentials are then
    # known, and refused by the admin API as such (not as an unknown key)
    cred = sts_client(server).assume_role(RoleArn="arn:aws:iam::1:role/x",
                                          RoleSessionName="tmp")["Credentials"]
    p = run("admin", "user", "list", env=dict(env, AWS_ACCESS_KEY_ID=cred["AccessKeyId"],
                                              AWS_SECRET_ACCESS_KEY=cred["SecretAccessKey"],
                                              AWS_SESSION_TOKEN=cred["SessionToken"]))
    assert p.returncode == 1 and "temporary credentials" in p.stderr, p.stderr


def test_admin_credentials_from_root_json(tmp_root):
    data = os.path.join(tmp_root, "data")
    srv = GeneratedRootServer(data).start()
    try:
        rootjson = os.path.join(data, ".tessera", "root.json")
        assert os.path.exists(rootjson)
        # nothing set at all: the error names every source
        p = run("admin", "user", "list", env=bare_env(TESSERA_ENDPOINT=srv.endpoint))
        assert p.returncode == 2 and "AWS_ACCESS_KEY_ID" in p.stderr and "--data-dir" in p.stderr
        for how in (["--data-dir", data], []):
            env = bare_env(TESSERA_ENDPOINT=srv.endpoint)
            if not how:
                env["TESSERA_DATA_DIR"] = data
            p = run("admin", *how, "group", "add", "viaroot" + str(len(how)), env=env)
            assert p.returncode == 0, p.stderr
            assert p.stderr == "tessera: using the root credentials in %s\n" % rootjson, p.stderr
        # a directory without root.json: a clear refusal
        p = run("admin", "--data-dir", tmp_root, "user", "list",
                env=bare_env(TESSERA_ENDPOINT=srv.endpoint))
        assert p.returncode == 2 and "root.json" in p.stderr and p.stdout == ""
    finally:
        srv.stop()


def test_admin_credentials_from_quick_start_data_dir(tmp_root):
    """README's quick start: `tessera server ./data`, then `tessera admin ...` in the same
    directory with nothing set uses ./data/.tessera/root.json and says so."""
    cwd = os.path.join(tmp_root, "quick-start")
    os.makedirs(cwd)
    srv = GeneratedRootServer(os.path.join(cwd, "data")).start()
    try:
        env = bare_env(TESSERA_ENDPOINT=srv.endpoint)   # no TESSERA_*/AWS_* credentials
        p = subprocess.run([BIN, "admin", "user", "add", "quick", "quick-secret-1"], cwd=cwd,
                           env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stderr == "tessera: using the root credentials in ./data/.tessera/root.json\n"
        p = subprocess.run([BIN, "admin", "user", "list"], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "quick" in p.stdout, p.stderr
        assert "./data/.tessera/root.json" in p.stderr
        # elsewhere (no ./data) nothing is found, and the message says where it looked
        p = subprocess.run([BIN, "admin", "user", "list"], cwd=tmp_root, env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "./data/.tessera/root.json" in p.stderr, p.stderr
        # TESSERA_DATA_DIR comes first
        p = subprocess.run([BIN, "admin", "user", "list"], cwd=cwd,
                           env=dict(env, TESSERA_DATA_DIR=tmp_root), capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 2 and tmp_root + "/.tessera/root.json" in p.stderr, p.stderr
    finally:
        srv.stop()


# ---- item 3: an empty group ----

def test_empty_group_then_policy_attach(server, tmp_root):
    """docs/KEYCLOAK.md's groups step, as written."""
    env = bare_env(TESSERA_ENDPOINT=server.endpoint, TESSERA_ACCESS_KEY=server.root_user,
                   TESSERA_SECRET_KEY=server.root_password)
    p = run("admin", "group", "add", "admins", env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Added group admins.\n"
    p = run("admin", "policy", "attach", "readwrite", "--group", "admins", env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Attached policy readwrite to group admins.\n"
    info = json.loads(run("admin", "--json", "group", "info", "admins", env=env).stdout)
    assert info["members"] == [] and info["policies"] == ["readwrite"], info
    # members join later; adding no members again leaves the group as it is
    admin(server, "user", "add", "gina", "gina-secret-1")
    assert run("admin", "group", "add", "admins", "gina", env=env).returncode == 0
    assert run("admin", "group", "add", "admins", env=env).returncode == 0
    info = json.loads(run("admin", "--json", "group", "info", "admins", env=env).stdout)
    assert info["members"] == ["gina"] and info["policies"] == ["readwrite"], info
    # the member gets the group's policy
    s3_client(server, "gina", "gina-secret-1").create_bucket(Bucket="gina-b")
    assert "admins" in run("admin", "group", "list", env=env).stdout


# ---- item 7: tokens with surrounding whitespace ----

@pytest.fixture
def oidc_server(tmp_root):
    if not os.path.isdir(os.path.join(HERE, "oidc", "node_modules")):
        pytest.fail("tests/integration/oidc/node_modules missing: run .ci/deps.sh")
    prov = oidc_flow.Provider(tmp_root).start()
    srv = Server(os.path.join(tmp_root, "data"), env={
        "TESSERA_IDENTITY_OPENID_CONFIG_URL": prov.config_url,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
        "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": "tessera-secret",
        "TESSERA_IDENTITY_OPENID_GROUPS_CLAIM": "groups",
        "TESSERA_STS_RATE_LIMIT": "100:200"})
    try:
        srv.start()
        policy = write_json(os.path.join(tmp_root, "list-only.json"), {
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket"],
                 "Resource": ["arn:aws:s3:::data"]}]})
        admin(srv, "policy", "create", "list-only", policy)
        s3_client(srv).create_bucket(Bucket="data")
        yield srv, prov
    finally:
        srv.stop()
        prov.stop()


def echo_to_file(path, text):
    """The token file as a user writes it: `echo "$TOKEN" > FILE` (a final newline)."""
    subprocess.run(["sh", "-c", 'echo "$TOKEN" > "$OUT"'], env={"TOKEN": text, "OUT": path},
                   check=True)
    with open(path) as f:
        assert f.read().endswith("\n")


def aws_env(home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.setdefault("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    env.update({"HOME": home, "AWS_CONFIG_FILE": os.path.join(home, "config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials"),
                "AWS_PAGER": "", "AWS_DEFAULT_REGION": "us-east-1"})
    env.update(extra)
    return env


def test_token_file_with_newline_both_cli_generations(oidc_server, tmp_root):
    srv, prov = oidc_server
    newer = newer_aws_cli()
    assert newer is not None, "the newer aws cli (pyenv) is missing: see .ci/deps.sh"
    home = tempfile.mkdtemp(prefix="tessera-aws-")
    try:
        for cli in ("/usr/bin/aws", newer):
            tok = os.path.join(tmp_root, "token")
            echo_to_file(tok, prov.login("carol"))
            # unsigned: aws sts ... --no-sign-request, the token read from the file
            p = subprocess.run([cli, "--endpoint-url", srv.endpoint, "sts",
                                "assume-role-with-web-identity", "--no-sign-request",
                                "--role-arn", CLAIM_ROLE, "--role-session-name", "echoed",
                                "--web-identity-token", "file://" + tok, "--output", "json"],
                               env=aws_env(home), capture_output=True, text=True, timeout=120)
            assert p.returncode == 0, (cli, p.stderr, srv.read_log()[-1500:])
            creds = json.loads(p.stdout)["Credentials"]
            assert creds["AccessKeyId"]
        # a profile's web_identity_token_file (the newer cli reads AWS_ENDPOINT_URL_STS)
        tok = os.path.join(tmp_root, "token-profile")
        echo_to_file(tok, prov.login("carol"))
        with open(os.path.join(home, "config"), "w") as f:
            f.write("[profile oidc]\nrole_arn = %s\nweb_identity_token_file = %s\n"
                    "role_session_name = profile\nregion = us-east-1\n" % (CLAIM_ROLE, tok))
        p = subprocess.run([newer, "--endpoint-url", srv.endpoint, "s3api", "list-objects-v2",
                            "--bucket", "data"],
                           env=aws_env(home, AWS_PROFILE="oidc", AWS_ENDPOINT_URL_STS=srv.endpoint),
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_token_parameter_whitespace_boto3_and_form(oidc_server):
    srv, prov = oidc_server
    token = prov.login("carol")
    sts = boto3.client("sts", endpoint_url=srv.endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="y",
                       config=botocore.config.Config(retries={"max_attempts": 1}))
    for ws in ("\n", "\r\n", "  ", "\t"):
        out = sts.assume_role_with_web_identity(RoleArn=CLAIM_ROLE, RoleSessionName="ws",
                                                WebIdentityToken=" " + token + ws)
        assert out["Credentials"]["AccessKeyId"]
    # a raw form and a raw query string, as curl would send them
    r = requests.post(srv.endpoint + "/", data={
        "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": CLAIM_ROLE,
        "RoleSessionName": "form", "WebIdentityToken": "\n" + token + "\n"}, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.get(srv.endpoint + "/", params={
        "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": CLAIM_ROLE,
        "RoleSessionName": "query", "WebIdentityToken": token + "\n"}, timeout=30)
    assert r.status_code == 200, r.text
    # whitespace inside the token is still malformed
    r = requests.post(srv.endpoint + "/", data={
        "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": CLAIM_ROLE,
        "RoleSessionName": "inner", "WebIdentityToken": token[:20] + "\n" + token[20:]},
        timeout=30)
    assert r.status_code == 400 and "InvalidIdentityToken" in r.text, r.text


# ---- item 9: one server per data directory ----

def start_raw(data, port, env):
    return subprocess.Popen([BIN, "server", "--address", "127.0.0.1:%d" % port, data], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_server_on_same_data_dir_refused(tmp_root):
    data = os.path.join(tmp_root, "data")
    first = Server(data).start()
    try:
        env = first.env()
        t0 = time.time()
        second = start_raw(data, free_port(), env)
        out, err = second.communicate(timeout=30)
        assert second.returncode != 0 and time.time() - t0 < 10
        assert data in err and "pid %d" % first.proc.pid in err, err
        assert "listening" not in out
        # the first one still serves
        s3_client(first).list_buckets()
        # killed (no clean exit): the lock goes with the process
        first.kill()
        first.start()
        s3_client(first).list_buckets()
    finally:
        first.stop()
    # after a clean stop, a new server starts on the same directory
    again = Server(data).start()
    again.stop()


# ---- item 10: the audit log ----

def check_audit_record(rec):
    """The fields every record carries, and no number spelled as a string."""
    for key in ("time", "event", "result", "request_id", "source_ip", "access_key", "principal"):
        assert key in rec, (key, rec)
    for key, value in rec.items():
        if isinstance(value, str) and key not in ("access_key", "request_id", "kid", "user",
                                                   "name", "policy", "group"):
            assert not re.fullmatch(r"-?\d+", value), ("a number as a string", key, rec)


def test_audit_records_say_who_where_what(tmp_root):
    from slapd import USER_PASSWORDS, Slapd  # noqa: F401
    from test_ldap import ldap_env

    if shutil.which("slapd") is None and not os.path.exists("/usr/sbin/slapd"):
        pytest.fail("slapd is not installed (.ci/deps.sh installs it)")
    d = Slapd()
    d.start()
    try:
        srv = Server(os.path.join(tmp_root, "data"), env=ldap_env(d)).start()
        try:
            env = bare_env(TESSERA_ENDPOINT=srv.endpoint, TESSERA_ACCESS_KEY=srv.root_user,
                           TESSERA_SECRET_KEY=srv.root_password)
            # admin operations: success and failure
            assert run("admin", "group", "add", "admins", env=env).returncode == 0
            assert run("admin", "policy", "attach", "readwrite", "--group", "admins",
                       env=env).returncode == 0
            assert run("admin", "policy", "attach", "nosuch", "--group", "admins",
                       env=env).returncode == 1
            assert run("admin", "user", "add", "ann", "ann-secret-12", env=env).returncode == 0
            assert run("admin", "group", "add", "admins", "ann", env=env).returncode == 0
            # an issuance (signed AssumeRole) and an S3 denial by the session
            cred = sts_client(srv, "ann", "ann-secret-12").assume_role(
                RoleArn="arn:aws:iam::1:role/x", RoleSessionName="s1", DurationSeconds=900,
                Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
            cred = cred["Credentials"]
            temp = s3_client(srv, cred["AccessKeyId"], cred["SecretAccessKey"],
                             cred["SessionToken"])
            with pytest.raises(Exception):
                temp.create_bucket(Bucket="nope")
            # an LDAP denial
            r = requests.post(srv.endpoint + "/", data={
                "Action": "AssumeRoleWithLDAPIdentity", "Version": "2011-06-15",
                "LDAPUsername": "alice", "LDAPPassword": "wrong-password"}, timeout=30)
            assert r.status_code in (400, 403)
            ldap_rid = r.headers["x-amz-request-id"]
            # a login page refusal (no CSRF cookie)
            r = requests.post(srv.endpoint + "/login/ldap", data={
                "username": "alice", "password": "x", "csrf": "forged"}, timeout=30)
            assert r.status_code == 403
            login_rid = r.headers.get("x-amz-request-id")
            # sts revoke and rotate through the admin API
            assert run("admin", "sts", "revoke", "--access-key", cred["AccessKeyId"],
                       env=env).returncode == 0
            assert run("admin", "sts", "rotate-key", env=env).returncode == 0
        finally:
            srv.stop()
        with open(srv.audit_path) as f:
            recs = [json.loads(l) for l in f if l.strip()]
    finally:
        d.close()
    for rec in recs:
        check_audit_record(rec)
    root_arn = "arn:aws:iam::000000000000:root"
    adm = [r for r in recs if r["event"] == "admin"]
    ops = [(r["op"], r["result"]) for r in adm]
    for want in (("group.add", "ok"), ("policy.attach", "ok"), ("policy.attach", "NoSuchEntity"),
                 ("user.add", "ok"), ("sts.revoke", "ok"), ("sts.rotate_key", "ok")):
        assert want in ops, (want, ops)
    for r in adm:
        assert r["access_key"] == srv.root_user and r["principal"] == root_arn, r
        assert r["source_ip"] == "127.0.0.1" and re.fullmatch(r"[0-9A-F]{16,}", r["request_id"])
        assert isinstance(r["status"], int), r
    g = [r for r in adm if r["op"] == "group.add"][0]
    assert g["group"] == "admins" and g["status"] == 200
    bad = [r for r in adm if r["result"] == "NoSuchEntity"][0]
    assert bad["status"] == 404 and bad["policy"] == "nosuch" and bad["reason"]
    rev = [r for r in adm if r["op"] == "sts.revoke"][0]
    assert rev["revoked_access_key"] == cred["AccessKeyId"]
    issue = [r for r in recs if r["event"] == "sts.issue"]
    assert len(issue) == 1, issue
    i = issue[0]
    assert i["result"] == "issued" and i["access_key"] == cred["AccessKeyId"]
    assert i["principal"] == "arn:aws:iam::000000000000:user/ann" and i["user"] == "ann"
    assert i["duration"] == 900 and isinstance(i["duration"], int)
    deny = [r for r in recs if r["event"] == "s3.deny"][0]
    assert deny["access_key"] == cred["AccessKeyId"] and deny["principal"] == i["principal"]
    assert deny["result"] == "denied" and deny["source_ip"] == "127.0.0.1"
    ldap = [r for r in recs if r["event"] == "sts.deny"]
    assert ldap and ldap[0]["request_id"] == ldap_rid and ldap[0]["backend"] == "ldap"
    assert ldap[0]["user"] == "alice" and ldap[0]["access_key"] is None
    assert ldap[0]["principal"] is None and ldap[0]["result"] == "denied"
    login = [r for r in recs if r["event"] == "login.deny"]
    assert login and login[0]["source_ip"] == "127.0.0.1" and login[0]["request_id"]
    if login_rid:
        assert login[0]["request_id"] == login_rid
    # no record lacks a request id or a source, but none is made up either
    assert all(r["request_id"] and r["source_ip"] for r in recs), recs
