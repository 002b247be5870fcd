"""AssumeRoleWithLDAPIdentity against a real OpenLDAP slapd (tests/integration/slapd.py):
LDAPS and StartTLS with verification, group policy union, refusals that all look alike,
RFC 4515 escaping and injection attempts, policy variables, revocation after the directory
changes, slapd down / back, and the aws cli through `tessera login ldap` (issue 7).
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest

from conftest import BIN, Server, admin, s3_client
from slapd import LOOKUP_DN, LOOKUP_PASSWORD, SUFFIX, USER_PASSWORDS, Slapd, group_ldif, user_ldif

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
PEOPLE = "ou=people," + SUFFIX
GROUPS = "ou=groups," + SUFFIX


@pytest.fixture(scope="module")
def directory():
    d = Slapd()
    try:
        d.start()
        yield d
    finally:
        d.close()


def ldap_env(d, mode="ldaps", ca=None, **extra):
    env = {
        "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN": LOOKUP_DN,
        "MINIO_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD": LOOKUP_PASSWORD,  # the MinIO alias works
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN": SUFFIX,
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER": "(&(objectClass=inetOrgPerson)(uid=%s))",
        "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_BASE_DN": GROUPS,
        "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_FILTER": "(&(objectclass=groupOfNames)(member=%d))",
        "TESSERA_IDENTITY_LDAP_TIMEOUT": "4",
        "TESSERA_IDENTITY_LDAP_USER_DN_ATTRIBUTES": "mail",
        "TESSERA_CA_FILE": ca or d.ca_file,
        # These tests log in far faster than the default per-IP limit (10/s, burst 20);
        # the limit itself is tested in test_limits.py.
        "TESSERA_STS_RATE_LIMIT": "off",
    }
    if mode == "ldaps":
        env["TESSERA_IDENTITY_LDAP_SERVER_ADDR"] = d.tls_addr
    elif mode == "starttls":
        env["TESSERA_IDENTITY_LDAP_SERVER_ADDR"] = d.addr
        env["TESSERA_IDENTITY_LDAP_SERVER_STARTTLS"] = "on"
    env.update({k: str(v) for k, v in extra.items()})
    return env


POLICIES = {
    "devs-rw": ["devs"],
    "ops-rw": ["ops"],
    "dan-rw": ["dan"],
    "smith-rw": ["smith"],
    "misc-rw": ["misc"],
}


def bucket_policy(buckets):
    res = []
    for b in buckets:
        res += ["arn:aws:s3:::%s" % b, "arn:aws:s3:::%s/*" % b]
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": res}]}


HOME_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": ["arn:aws:s3:::home/${ldap:username}/*",
                      "arn:aws:s3:::home/mail/${ldap:mail}/*"]},
        {"Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": ["arn:aws:s3:::home/dn/*"],
         "Condition": {"StringEquals": {"ldap:dn": "uid=carol,ou=people,dc=example,dc=org"}}},
    ],
}


def setup_iam(srv, tmp):
    """Policies, DN attachments and buckets for the directory's users and groups."""
    docs = dict((n, bucket_policy(b)) for n, b in POLICIES.items())
    docs["home"] = HOME_POLICY
    for name, doc in docs.items():
        path = os.path.join(tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        admin(srv, "policy", "create", name, path)
    attach = [
        ("devs-rw", "cn=devs," + GROUPS),
        ("ops-rw", "CN=ops, OU=Groups, DC=Example, DC=Org"),  # any case and spacing
        ("dan-rw", "uid=dan(*)," + PEOPLE),
        ("smith-rw", "cn=Smith\\, John," + PEOPLE),
        ("home", "uid=carol," + PEOPLE),
        ("misc-rw", "uid=bob," + PEOPLE),
        ("misc-rw", "uid=twin," + PEOPLE),
        ("misc-rw", "uid=twin,ou=staff," + SUFFIX),
    ]
    for pol, dn in attach:
        admin(srv, "policy", "attach", pol, "--dn", dn)
    s3 = s3_client(srv)
    for b in ("devs", "ops", "dan", "smith", "home", "misc"):
        s3.create_bucket(Bucket=b)


def start_server(tmp, env, setup=True):
    srv = Server(os.path.join(tmp, "data"), env=env)
    srv.start()
    if setup:
        setup_iam(srv, tmp)
    return srv


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="tessera-ldap-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ldap_server(directory, tmp):
    srv = start_server(tmp, ldap_env(directory))
    try:
        yield srv
    finally:
        srv.stop()


def sts_ldap(srv, user, password, timeout=30, **extra):
    """POSTs AssumeRoleWithLDAPIdentity (unsigned). Returns (status, parsed XML root, secs)."""
    form = {"Action": "AssumeRoleWithLDAPIdentity", "Version": "2011-06-15"}
    if user is not None:
        form["LDAPUsername"] = user
    if password is not None:
        form["LDAPPassword"] = password
    form.update(extra)
    req = urllib.request.Request(srv.endpoint + "/", data=urllib.parse.urlencode(form).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    t0 = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    return status, ET.fromstring(body), time.time() - t0


def creds_of(root):
    assert root.tag == NS + "AssumeRoleWithLDAPIdentityResponse", ET.tostring(root)
    c = root.find(NS + "AssumeRoleWithLDAPIdentityResult/" + NS + "Credentials")
    return {k: c.find(NS + k).text
            for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}


def login(srv, user, password=None):
    status, root, _ = sts_ldap(srv, user, password if password is not None else USER_PASSWORDS[user])
    assert status == 200, ET.tostring(root)
    return creds_of(root)


def error_of(root):
    e = root.find(NS + "Error")
    if e is None:
        e = root.find("Error")
    code = e.find(NS + "Code") if e.find(NS + "Code") is not None else e.find("Code")
    msg = e.find(NS + "Message") if e.find(NS + "Message") is not None else e.find("Message")
    return code.text, msg.text if msg is not None else ""


def s3_as(srv, c):
    return s3_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def can_put(s3, bucket, key="k"):
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        return True
    except botocore.exceptions.ClientError as e:
        code = e.response["Error"]["Code"]
        assert code in ("AccessDenied", "InvalidAccessKeyId", "InvalidToken",
                        "ExpiredToken"), e.response
        return False


# ---- connections ----

def test_ldaps_user_in_two_groups_gets_union(ldap_server):
    c = login(ldap_server, "alice")
    s3 = s3_as(ldap_server, c)
    assert can_put(s3, "devs")
    assert can_put(s3, "ops")
    assert s3.get_object(Bucket="ops", Key="k")["Body"].read() == b"x"
    assert not can_put(s3, "dan")
    assert not can_put(s3, "misc")
    # the response is MinIO-shaped
    status, root, _ = sts_ldap(ldap_server, "alice", USER_PASSWORDS["alice"],
                               DurationSeconds="900")
    assert status == 200
    assert root.find(NS + "ResponseMetadata/" + NS + "RequestId") is not None


def test_starttls_with_verification(directory, tmp):
    srv = start_server(tmp, ldap_env(directory, "starttls"))
    try:
        assert can_put(s3_as(srv, login(srv, "alice")), "devs")
    finally:
        srv.stop()


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_wrong_ca_is_refused(directory, tmp, mode):
    srv = start_server(tmp, ldap_env(directory, mode, ca=directory.wrong_ca_file), setup=False)
    try:
        status, root, secs = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
        assert status == 503, ET.tostring(root)
        code, msg = error_of(root)
        assert "LDAP" in msg
        assert secs < 10
    finally:
        srv.stop()


def test_bad_config_is_refused_at_start(directory, tmp):
    env = ldap_env(directory, TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER="(uid=bob)")
    srv = Server(os.path.join(tmp, "data"), env=env)
    with pytest.raises(RuntimeError) as e:
        srv.start()
    srv.stop()
    assert "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER" in str(e.value)


# ---- refusals ----

def test_refusals_look_alike(ldap_server):
    answers = []
    for user, pw in [("alice", "wrong-password"), ("nobody", "whatever-1"),
                     ("bob", "anything-1"), ("twin", USER_PASSWORDS["twin"])]:
        status, root, _ = sts_ldap(ldap_server, user, pw)
        answers.append((status,) + error_of(root))
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][0] == 403 and answers[0][1] == "AccessDenied"


def test_empty_password_never_binds(ldap_server):
    for user in ("alice", "bob", "nobody"):
        status, root, _ = sts_ldap(ldap_server, user, "")
        assert status in (400, 403), ET.tostring(root)
        assert status != 200
    status, root, _ = sts_ldap(ldap_server, "alice", None)
    assert status == 400 and error_of(root)[0] == "MissingParameter"
    status, root, _ = sts_ldap(ldap_server, None, "x")
    assert status == 400 and error_of(root)[0] == "MissingParameter"


def test_pooled_user_binds_keep_users_apart(ldap_server):
    """User binds reuse pooled connections: a wrong password right after a good one on the same
    connection is still refused, and concurrent logins each get their own user's rights."""
    cases = [("alice", USER_PASSWORDS["alice"], 200), ("alice", "wrong-password", 403),
             ("carol", USER_PASSWORDS["carol"], 200), ("carol", USER_PASSWORDS["alice"], 403),
             ("nobody", "whatever-1", 403)]
    for user, pw, want in cases:  # one after another: the same pooled connection
        assert sts_ldap(ldap_server, user, pw)[0] == want, (user, pw)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda c: sts_ldap(ldap_server, c[0], c[1]), cases * 8))
    seen = set()
    for (user, _, want), (status, root, _) in zip(cases * 8, got):
        assert status == want, (user, ET.tostring(root))
        if status == 200 and user not in seen:
            seen.add(user)
            assert can_put(s3_as(ldap_server, creds_of(root)), "devs") == (user == "alice")
    assert seen == {"alice", "carol"}


def test_names_that_need_escaping_work_for_their_owner(ldap_server):
    c = login(ldap_server, "dan(*)")
    s3 = s3_as(ldap_server, c)
    assert can_put(s3, "dan")
    assert not can_put(s3, "devs")
    # a DN with an escaped comma: DN attachment and group membership both match
    c = login(ldap_server, "jsmith")
    s3 = s3_as(ldap_server, c)
    assert can_put(s3, "smith")
    assert can_put(s3, "devs")
    assert not can_put(s3, "ops")


def test_injection_attempts_never_authenticate(ldap_server):
    names = ["*", "*)(uid=*", "admin)(|(uid=*", "\\2a", "dan*", "dan(*", "dan(*)*", "*)",
             "alice)(uid=*", "alice*", "*)(objectClass=*", "\\", "(", ")", "uid=alice"]
    for name in names:
        for pw in set(USER_PASSWORDS.values()) | {LOOKUP_PASSWORD, "x"}:
            status, root, _ = sts_ldap(ldap_server, name, pw)
            assert status != 200, (name, pw)
            assert status in (400, 403), (name, status, ET.tostring(root))


# ---- policy variables, case ----

def test_policy_variables_from_directory_values(ldap_server):
    c = login(ldap_server, "CAROL", USER_PASSWORDS["carol"])  # names match case-insensitively
    s3 = s3_as(ldap_server, c)
    assert can_put(s3, "home", "carol/file")        # ${ldap:username} is the directory's "carol"
    assert not can_put(s3, "home", "CAROL/file")
    assert not can_put(s3, "home", "alice/file")
    assert can_put(s3, "home", "mail/carol@example.org/file")   # ${ldap:<configured attr>}
    assert not can_put(s3, "home", "mail/alice@example.org/file")
    assert can_put(s3, "home", "dn/file")                        # ldap:dn condition key


def test_user_without_policy_is_denied(directory, tmp):
    srv = start_server(tmp, ldap_env(directory), setup=False)
    try:
        status, root, _ = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
        assert status == 403 and error_of(root)[0] == "AccessDenied"
    finally:
        srv.stop()


# ---- validity after directory changes ----

def wait_denied(srv, c, bucket, limit):
    s3 = s3_as(srv, c)
    deadline = time.time() + limit
    while time.time() < deadline:
        if not can_put(s3, bucket):
            return time.time()
        time.sleep(0.5)
    return None


def test_deleted_user_loses_access_within_interval(directory, tmp):
    directory.add(user_ldif("erin", password="erin-pw-1") + "\n\n" +
                  user_ldif("frank", password="frank-pw-1") + "\n\n" +
                  group_ldif("temps", ["uid=erin,%s" % PEOPLE, "uid=frank,%s" % PEOPLE]) + "\n")
    srv = start_server(tmp, ldap_env(directory, TESSERA_IDENTITY_LDAP_REFRESH_INTERVAL="2s"),
                       setup=False)
    try:
        path = os.path.join(tmp, "temps.json")
        with open(path, "w") as f:
            json.dump(bucket_policy(["temps"]), f)
        admin(srv, "policy", "create", "temps-rw", path)
        admin(srv, "policy", "attach", "temps-rw", "--dn", "cn=temps," + GROUPS)
        s3_client(srv).create_bucket(Bucket="temps")
        erin = login(srv, "erin", "erin-pw-1")
        frank = login(srv, "frank", "frank-pw-1")
        assert can_put(s3_as(srv, erin), "temps")
        assert can_put(s3_as(srv, frank), "temps")

        directory.delete("uid=erin," + PEOPLE)            # erin leaves the directory
        directory.modify("dn: cn=temps,%s\nchangetype: modify\ndelete: member\n"
                         "member: uid=frank,%s\n" % (GROUPS, PEOPLE))  # frank leaves the group
        t0 = time.time()
        assert wait_denied(srv, erin, "temps", 15) is not None
        assert wait_denied(srv, frank, "temps", 15) is not None
        assert time.time() - t0 < 15
        # frank can log in again but gets no policy now
        status, root, _ = sts_ldap(srv, "frank", "frank-pw-1")
        assert status == 403
    finally:
        srv.stop()


# ---- directory down ----

def test_slapd_down_clear_error_then_recovery(directory, tmp):
    srv = start_server(tmp, ldap_env(directory, TESSERA_IDENTITY_LDAP_TIMEOUT="3"))
    try:
        login(srv, "alice")  # warms the pool
        directory.stop()
        try:
            status, root, secs = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
            assert status == 503, ET.tostring(root)
            assert "LDAP server" in error_of(root)[1]
            assert secs < 5
        finally:
            directory.start()
        c = login(srv, "alice")   # pooled connections were re-established
        assert can_put(s3_as(srv, c), "devs")

        directory.pause()         # a directory that accepts but never answers
        try:
            # first on the pooled connection, then on new ones (TCP accepted by the kernel,
            # the TLS handshake never completes): both within the timeout
            for _ in range(2):
                status, root, secs = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
                assert status == 503, ET.tostring(root)
                assert "did not answer" in error_of(root)[1] or "LDAP server" in error_of(root)[1]
                assert secs < 3 + 2, secs
        finally:
            directory.resume()
        login(srv, "alice")
    finally:
        srv.stop()


def test_stuck_directory_does_not_hold_up_s3(directory, tmp):
    """Logins waiting on a directory that never answers run on worker threads: while more of
    them wait than the server has HTTP threads, S3 requests are still answered at once."""
    srv = start_server(tmp, ldap_env(directory, TESSERA_IDENTITY_LDAP_TIMEOUT="4"))
    try:
        c = login(srv, "alice")
        s3 = s3_as(srv, c)
        s3.put_object(Bucket="devs", Key="k", Body=b"x")
        directory.pause()
        try:
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                waiting = [pool.submit(sts_ldap, srv, "alice", USER_PASSWORDS["alice"])
                           for _ in range(6)]
                time.sleep(0.5)  # the logins are now blocked in LDAP calls
                for _ in range(5):
                    t0 = time.time()
                    assert s3.get_object(Bucket="devs", Key="k")["Body"].read() == b"x"
                    assert time.time() - t0 < 1.0, "an S3 GET waited behind LDAP logins"
                assert not any(f.done() for f in waiting), "the directory answered after all"
                for f in waiting:
                    status, root, secs = f.result()
                    assert status == 503, ET.tostring(root)
                    assert secs < 4 + 3, secs
        finally:
            directory.resume()
        login(srv, "alice")
    finally:
        srv.stop()


# ---- secrets, login client ----

def test_passwords_never_logged(ldap_server):
    login(ldap_server, "alice")
    sts_ldap(ldap_server, "alice", "Wrong-Secret-42")
    sts_ldap(ldap_server, "alice", "")
    ldap_server.stop()
    text = ldap_server.read_log()
    try:
        with open(ldap_server.audit_path) as f:
            text += f.read()
    except OSError:
        pass
    for secret in (USER_PASSWORDS["alice"], "Wrong-Secret-42", LOOKUP_PASSWORD):
        assert secret not in text


def run_login(srv, *args, password=None, stdin=None):
    env = dict(os.environ)
    env.pop("TESSERA_LDAP_PASSWORD", None)
    if password is not None:
        env["TESSERA_LDAP_PASSWORD"] = password
    return subprocess.run([BIN, "login", "ldap", "--endpoint", srv.endpoint] + list(args),
                          env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_login_client_outputs(ldap_server):
    p = run_login(ldap_server, "--user", "alice", password=USER_PASSWORDS["alice"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["Version"] == 1
    assert set(doc) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert can_put(s3_as(ldap_server, doc), "devs")

    p = run_login(ldap_server, "--user", "alice", "--password-stdin", "--env",
                  stdin=USER_PASSWORDS["alice"] + "\n")
    assert p.returncode == 0, p.stderr
    assert "export AWS_ACCESS_KEY_ID=" in p.stdout and "export AWS_SESSION_TOKEN=" in p.stdout

    p = run_login(ldap_server, "--user", "alice", password="wrong-pw")
    assert p.returncode == 1
    assert "AccessDenied" in p.stderr and "wrong-pw" not in p.stderr + p.stdout


def test_aws_cli_credential_process(ldap_server, tmp):
    cfg = os.path.join(tmp, "aws-config")
    with open(cfg, "w") as f:
        f.write("[profile ldap]\nregion = us-east-1\ncredential_process = %s login ldap "
                "--endpoint %s --user alice\n" % (BIN, ldap_server.endpoint))
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update({"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "none"),
                "AWS_PROFILE": "ldap", "AWS_PAGER": "",
                "TESSERA_LDAP_PASSWORD": USER_PASSWORDS["alice"]})
    src = os.path.join(tmp, "hello.txt")
    with open(src, "w") as f:
        f.write("hello")
    aws = "/usr/bin/aws"
    p = subprocess.run([aws, "--endpoint-url", ldap_server.endpoint, "s3", "cp", src,
                        "s3://devs/hello.txt"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    p = subprocess.run([aws, "--endpoint-url", ldap_server.endpoint, "s3", "ls", "s3://devs/"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "hello.txt" in p.stdout, p.stdout + p.stderr
    p = subprocess.run([aws, "--endpoint-url", ldap_server.endpoint, "s3", "ls", "s3://dan/"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
