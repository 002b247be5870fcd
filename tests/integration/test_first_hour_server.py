"""Issue 15, items 4, 5 and 8: what a new user meets on the server side in the first hour.

- LDAP TLS trust errors (LDAPS or StartTLS to a real slapd whose CA tessera does not have)
  are named as certificate verification failures pointing to TESSERA_CA_FILE, in the STS
  answer, in `tessera login ldap`'s message and in the log; a directory that is down still
  says it could not be reached.
- /metrics parses with Prometheus' own text parser (Debian's python3-prometheus-client):
  every family once, with HELP and TYPE; the backend counters exist from the start; refusals
  on the browser login page (driven by headless Chromium) count with the API's.
- Nothing a client asks for is dropped silently: headers asking for what tessera does not do
  answer 501 NotImplemented, object lock headers on a bucket without object lock 400
  InvalidRequest (issue 19) (boto3 and both aws cli generations); a policy naming an action
  tessera does not check is refused (admin CLI, bucket policy, STS session policy, role trust
  policy); malformed settings stop the server naming the
  variable; an OpenID CONFIG_URL answering an error status says so, with the status in the
  log and the /.well-known/openid-configuration hint.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import BIN, Server, admin, aws, newer_aws_cli, s3_client, sts_client
from slapd import LOOKUP_DN, LOOKUP_PASSWORD, SUFFIX, USER_PASSWORDS, Slapd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "oidc"))
import oidc_flow  # noqa: E402

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
BROWSER_DIR = os.path.join(HERE, "browser")
CHROMIUM = "/usr/bin/chromium"
GROUPS = "ou=groups," + SUFFIX


@pytest.fixture(scope="module")
def directory():
    d = Slapd()
    try:
        d.start()
        yield d
    finally:
        d.close()


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="tessera-h15s-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ldap_env(addr, starttls=False, ca=None):
    env = {
        "TESSERA_IDENTITY_LDAP_SERVER_ADDR": addr,
        "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN": LOOKUP_DN,
        "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD": LOOKUP_PASSWORD,
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN": SUFFIX,
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER": "(&(objectClass=inetOrgPerson)(uid=%s))",
        "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_BASE_DN": GROUPS,
        "TESSERA_IDENTITY_LDAP_GROUP_SEARCH_FILTER": "(&(objectclass=groupOfNames)(member=%d))",
        "TESSERA_IDENTITY_LDAP_TIMEOUT": "4",
        "TESSERA_STS_RATE_LIMIT": "off",
    }
    if starttls:
        env["TESSERA_IDENTITY_LDAP_SERVER_STARTTLS"] = "on"
    if ca is not None:
        env["TESSERA_CA_FILE"] = ca
    return env


def start(tmp, env):
    srv = Server(os.path.join(tmp, "data"), env=env)
    srv.start()
    return srv


def sts_post(srv, form):
    """POSTs an unsigned STS form. Returns (status, root element)."""
    req = urllib.request.Request(srv.endpoint + "/", data=urllib.parse.urlencode(form).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    return status, ET.fromstring(body)


def sts_ldap(srv, user, password):
    return sts_post(srv, {"Action": "AssumeRoleWithLDAPIdentity", "Version": "2011-06-15",
                          "LDAPUsername": user, "LDAPPassword": password})


def error_of(root):
    e = root.find(NS + "Error")
    if e is None:
        e = root.find("Error")
    get = lambda tag: e.find(NS + tag) if e.find(NS + tag) is not None else e.find(tag)  # noqa
    return get("Code").text, (get("Message").text or "")


def login_ldap_cli(srv, user, password):
    """`tessera login ldap` as a user runs it (password on stdin, no terminal)."""
    return subprocess.run([BIN, "login", "ldap", "--endpoint", srv.endpoint, "--user", user,
                           "--password-stdin"], input=password + "\n", capture_output=True,
                          text=True, timeout=60)


# ---- item 4: LDAP TLS trust errors ----

@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
@pytest.mark.parametrize("ca", ["wrong", "none"])
def test_ldap_untrusted_certificate_names_ca_file(directory, tmp, starttls, ca):
    """The directory is up but its CA is not trusted (another CA in TESSERA_CA_FILE, or none
    and the system store): the answer names certificate verification and TESSERA_CA_FILE."""
    addr = directory.addr if starttls else directory.tls_addr
    srv = start(tmp, ldap_env(addr, starttls, directory.wrong_ca_file if ca == "wrong" else None))
    try:
        status, root = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
        code, msg = error_of(root)
        assert status == 503 and code == "ServiceUnavailable", ET.tostring(root)
        assert "certificate could not be verified" in msg and "TESSERA_CA_FILE" in msg, msg
        assert "could not be reached" not in msg
        p = login_ldap_cli(srv, "alice", USER_PASSWORDS["alice"])
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "TESSERA_CA_FILE" in p.stderr and "certificate" in p.stderr, p.stderr
        log = srv.read_log()
        assert "could not be verified" in log and "TESSERA_CA_FILE" in log, log
    finally:
        srv.stop()


@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
def test_ldap_down_is_unreachable_not_a_certificate_problem(directory, tmp, starttls):
    """Nothing listens on the directory's port: "could not be reached", no certificate talk."""
    srv = start(tmp, ldap_env("127.0.0.1:%d" % free_port(), starttls, directory.ca_file))
    try:
        status, root = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
        code, msg = error_of(root)
        assert status == 503 and code == "ServiceUnavailable", ET.tostring(root)
        assert "could not be reached" in msg, msg
        assert "certificate" not in msg and "TESSERA_CA_FILE" not in msg, msg
    finally:
        srv.stop()


def attach_alice(srv):
    admin(srv, "policy", "attach", "readwrite", "--dn", "uid=alice,ou=people," + SUFFIX)


def test_ldap_with_the_right_ca_still_works(directory, tmp):
    srv = start(tmp, ldap_env(directory.tls_addr, False, directory.ca_file))
    try:
        attach_alice(srv)
        status, root = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
        assert status == 200, ET.tostring(root)
    finally:
        srv.stop()


# ---- item 5: /metrics ----

def metrics(srv):
    r = requests.get(srv.endpoint + "/metrics", timeout=10)
    assert r.status_code == 200
    return r.text


def families(text):
    """Parses with prometheus_client; every family must come once, with HELP and TYPE."""
    fams = list(text_string_to_metric_families(text))
    names = [f.name for f in fams]
    dups = sorted({n for n in names if names.count(n) > 1})
    assert not dups, "families split or repeated: %s" % dups
    for f in fams:
        assert f.documentation, "no HELP for %s" % f.name
        assert f.type in ("counter", "gauge", "histogram"), (f.name, f.type)
    # Raw text: one HELP and one TYPE line per family, the family's samples contiguous.
    helps = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# HELP ")]
    types = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")]
    assert len(helps) == len(set(helps)) and helps == types, (helps, types)
    return {f.name: f for f in fams}


def sample(fams, family, name, **labels):
    for s in fams[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def browse(*args):
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "login.mjs"), *args], cwd=BROWSER_DIR,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_metrics_parse_with_prometheus_and_count_page_refusals(directory, tmp):
    assert os.path.exists(CHROMIUM), "Debian's chromium is needed (.ci/deps.sh installs it)"
    assert os.path.isdir(os.path.join(BROWSER_DIR, "node_modules")), \
        "run `npm ci` in tests/integration/browser (.ci/deps.sh does)"
    srv = start(tmp, ldap_env(directory.tls_addr, False, directory.ca_file))
    try:
        # From the start: the backends' counters exist with value 0.
        fams = families(metrics(srv))
        for backend in ("static", "root", "ldap"):
            assert sample(fams, "tessera_sts_issued", "tessera_sts_issued_total",
                          backend=backend) == 0, backend
        for reason in ("AccessDenied", "ServiceUnavailable", "InvalidParameterValue"):
            assert sample(fams, "tessera_sts_refusals", "tessera_sts_refusals_total",
                          backend="ldap", reason=reason) == 0, reason
        assert sample(fams, "tessera_sts_refusals", "tessera_sts_refusals_total",
                      backend="static", reason="AccessDenied") == 0
        for kind in ("connect", "tls", "lookup_bind", "timeout", "connection"):
            assert sample(fams, "tessera_ldap_errors", "tessera_ldap_errors_total",
                          kind=kind) == 0, kind

        # Traffic that creates series of several families in an interleaved order.
        attach_alice(srv)
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="mbucket")
        s3.put_object(Bucket="mbucket", Key="k", Body=b"x")
        status, _ = sts_ldap(srv, "alice", USER_PASSWORDS["alice"])
        assert status == 200
        sts_client(srv).assume_role(RoleArn="arn:aws:iam::000000000000:role/x",
                                    RoleSessionName="sess")
        status, _ = sts_ldap(srv, "alice", "wrong-password")  # the API's refusal
        assert status == 403
        bad = browse("ldap", srv.endpoint, "alice", "wrong-password")  # the page's refusal
        assert bad["status"] == 403 and bad["secret_key"] is None, bad
        ok = browse("ldap", srv.endpoint, "alice", USER_PASSWORDS["alice"])
        assert ok["status"] == 200, ok

        fams = families(metrics(srv))
        assert sample(fams, "tessera_sts_issued", "tessera_sts_issued_total",
                      backend="ldap") == 2
        assert sample(fams, "tessera_sts_issued", "tessera_sts_issued_total",
                      backend="root") == 1
        assert sample(fams, "tessera_sts_refusals", "tessera_sts_refusals_total",
                      backend="ldap", reason="AccessDenied") == 2
        assert sample(fams, "tessera_requests", "tessera_requests_total", api="s3",
                      status="200") >= 1
    finally:
        srv.stop()


# ---- item 8: nothing a client asks for is dropped ----

@pytest.fixture(scope="module")
def plain_server():
    d = tempfile.mkdtemp(prefix="tessera-h15s-")
    srv = Server(os.path.join(d, "data"))
    srv.start()
    try:
        s3_client(srv).create_bucket(Bucket="bkt")
        s3_client(srv).put_object(Bucket="bkt", Key="src", Body=b"source")
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


SSE_C_KEY = b"k" * 32

REFUSED_PUTS = {
    # Issue 19: SSE-S3 (AES256) is done; aws:kms is 501 (no KMS); SSE-C over plain HTTP 400.
    "sse-kms": dict(ServerSideEncryption="aws:kms", SSEKMSKeyId="my-key"),
    "storage-class": dict(StorageClass="GLACIER"),
}
# Issue 19: object lock is done; on a bucket without it its headers are 400 InvalidRequest.
LOCK_PUTS = {
    "object-lock": dict(ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate="2030-01-01T00:00:00Z"),
    "legal-hold": dict(ObjectLockLegalHoldStatus="ON"),
}


def assert_not_implemented(e, header):
    err = e.value.response["Error"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501, e.value.response
    assert err["Code"] == "NotImplemented", err
    assert header in err["Message"].lower(), err


def assert_absent(s3, key):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="bkt", Key=key)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("case", sorted(REFUSED_PUTS))
def test_boto3_put_copy_multipart_with_unsupported_headers_refused(plain_server, case):
    s3 = s3_client(plain_server)
    kw = REFUSED_PUTS[case]
    header = {"storage-class": "x-amz-storage-class"}.get(case, "kms is not configured")
    key = "put-" + case
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bkt", Key=key, Body=b"data", **kw)
    assert_not_implemented(e, header)
    assert_absent(s3, key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="bkt", Key="copy-" + case, CopySource={"Bucket": "bkt", "Key": "src"},
                       **kw)
    assert_not_implemented(e, header)
    assert_absent(s3, "copy-" + case)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_multipart_upload(Bucket="bkt", Key="mp-" + case, **kw)
    assert_not_implemented(e, header)
    assert s3.list_multipart_uploads(Bucket="bkt").get("Uploads", []) == []


@pytest.mark.parametrize("case", sorted(LOCK_PUTS))
def test_boto3_lock_headers_on_a_plain_bucket_refused(plain_server, case):
    s3 = s3_client(plain_server)
    kw = LOCK_PUTS[case]
    calls = [(s3.put_object, dict(Key="put-" + case, Body=b"data")),
             (s3.copy_object, dict(Key="copy-" + case, CopySource={"Bucket": "bkt", "Key": "src"})),
             (s3.create_multipart_upload, dict(Key="mp-" + case))]
    for fn, args in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            fn(Bucket="bkt", **args, **kw)
        assert e.value.response["Error"]["Code"] == "InvalidRequest", e.value.response
        assert "Object Lock" in e.value.response["Error"]["Message"]
    assert_absent(s3, "put-" + case)
    assert_absent(s3, "copy-" + case)
    assert s3.list_multipart_uploads(Bucket="bkt").get("Uploads", []) == []


def test_values_tessera_honours_are_accepted(plain_server):
    """A private ACL and the standard storage class are what tessera does anyway (rclone sends
    `x-amz-acl: private` on every upload): accepted; object lock off at bucket creation too."""
    s3 = s3_client(plain_server)
    s3.put_object(Bucket="bkt", Key="acl-private", Body=b"x", ACL="private", StorageClass="STANDARD")
    assert s3.get_object(Bucket="bkt", Key="acl-private")["Body"].read() == b"x"
    s3.create_bucket(Bucket="bkt-private", ACL="private", ObjectLockEnabledForBucket=False)
    assert "Status" not in s3.get_bucket_versioning(Bucket="bkt-private")
    s3.create_bucket(Bucket="bkt-locked", ObjectLockEnabledForBucket=True)  # issue 19: done
    assert s3.get_bucket_versioning(Bucket="bkt-locked")["Status"] == "Enabled"


def assert_sse_c_insecure(e):
    """SSE-C over plain HTTP: refused as AWS does (issue 19; tests/integration/test_sse.py)."""
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.value.response
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    assert "secure connection" in e.value.response["Error"]["Message"]


def test_boto3_sse_c_read_and_copy_source_refused(plain_server):
    s3 = s3_client(plain_server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bkt", Key="c1", Body=b"x", SSECustomerAlgorithm="AES256",
                      SSECustomerKey=SSE_C_KEY)
    assert_sse_c_insecure(e)
    assert_absent(s3, "c1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="bkt", Key="src", SSECustomerAlgorithm="AES256",
                      SSECustomerKey=SSE_C_KEY)
    assert_sse_c_insecure(e)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="bkt", Key="c2", CopySource={"Bucket": "bkt", "Key": "src"},
                       CopySourceSSECustomerAlgorithm="AES256",
                       CopySourceSSECustomerKey=SSE_C_KEY)
    assert_sse_c_insecure(e)
    # A plain put and copy still work.
    s3.put_object(Bucket="bkt", Key="plain", Body=b"p")
    s3.copy_object(Bucket="bkt", Key="plain2", CopySource={"Bucket": "bkt", "Key": "plain"})
    assert s3.get_object(Bucket="bkt", Key="plain2")["Body"].read() == b"p"


def aws_bins():
    bins = ["/usr/bin/aws"]
    newer = newer_aws_cli()
    assert newer is not None, "the newer aws cli (v1 on PATH) is needed (.ci/deps.sh)"
    return bins + [newer]


@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_aws_cli_tagging_kept_and_sse_refused(plain_server, tmp, gen):
    """Tags are kept since issue 18 (tests/integration/test_tagging.py); SSE-S3 since issue 19,
    SSE-KMS is refused."""
    aws_bin = aws_bins()[0 if gen == "debian" else 1]
    f = os.path.join(tmp, "f.txt")
    with open(f, "w") as fh:
        fh.write("hello")
    aws(plain_server, "s3api", "put-object", "--bucket", "bkt", "--key", "t1", "--body", f,
        "--tagging", "team=a", aws_bin=aws_bin)
    p = aws(plain_server, "s3api", "get-object-tagging", "--bucket", "bkt", "--key", "t1",
            aws_bin=aws_bin)
    assert json.loads(p.stdout)["TagSet"] == [{"Key": "team", "Value": "a"}]
    # SSE-S3 is done since issue 19 (test_sse.py); SSE-KMS is refused (no KMS).
    aws(plain_server, "s3api", "put-object", "--bucket", "bkt", "--key", "t2", "--body", f,
        "--server-side-encryption", "AES256", aws_bin=aws_bin)
    aws(plain_server, "s3", "cp", f, "s3://bkt/t3", "--sse", "AES256", aws_bin=aws_bin)
    p = aws(plain_server, "s3", "cp", f, "s3://bkt/t4", "--sse", "aws:kms", "--sse-kms-key-id", "k",
            aws_bin=aws_bin, check=False)
    assert p.returncode != 0, p.stdout
    assert "NotImplemented" in p.stderr and "kms" in p.stderr.lower(), p.stderr
    p = aws(plain_server, "s3api", "list-objects-v2", "--bucket", "bkt", aws_bin=aws_bin)
    keys = [o["Key"] for o in json.loads(p.stdout or "{}").get("Contents", [])]
    assert {"t2", "t3"} <= set(keys) and "t4" not in keys, keys


def policy_doc(*actions):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions),
                           "Resource": ["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"]}]}


def test_admin_policy_with_unknown_action_refused(plain_server, tmp):
    path = os.path.join(tmp, "p.json")
    for actions, good in [(["s3:GetObjekt"], False), (["s3:GetObject", "s3:Frob*"], False),
                          (["s3:Get*"], True), (["s3:GetObject", "s3:ListBucket"], True)]:
        with open(path, "w") as fh:
            json.dump(policy_doc(*actions), fh)
        p = admin(plain_server, "policy", "create", "p-%d" % len(actions) + str(good), path,
                  check=False)
        if good:
            assert p.returncode == 0, p.stderr
        else:
            assert p.returncode == 1, (p.stdout, p.stderr)
            assert "MalformedPolicy" in p.stderr and actions[-1] in p.stderr, p.stderr
    p = admin(plain_server, "policy", "list")
    assert "p-1False" not in p.stdout and "p-2False" not in p.stdout
    # A role's trust policy: the same rule.
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Principal": {"Federated": "ldap"},
                            "Action": ["sts:AssumeRoleWithLDAPIdentiti"]}]}
    with open(path, "w") as fh:
        json.dump(trust, fh)
    p = admin(plain_server, "role", "create", "r-bad", "--trust", path, check=False)
    assert p.returncode == 1 and "MalformedPolicy" in p.stderr, (p.stdout, p.stderr)
    assert "sts:AssumeRoleWithLDAPIdentiti" in p.stderr, p.stderr
    trust["Statement"][0]["Action"] = ["sts:AssumeRoleWithLDAPIdentity"]
    with open(path, "w") as fh:
        json.dump(trust, fh)
    admin(plain_server, "role", "create", "r-good", "--trust", path)


def test_bucket_policy_with_unknown_action_refused(plain_server):
    s3 = s3_client(plain_server)
    doc = policy_doc("s3:GetObjekt")
    doc["Statement"][0]["Principal"] = "*"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket="bkt", Policy=json.dumps(doc))
    err = e.value.response["Error"]
    assert err["Code"] == "MalformedPolicy" and "s3:GetObjekt" in err["Message"], err
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket="bkt")
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    doc["Statement"][0]["Action"] = ["s3:Get*"]
    s3.put_bucket_policy(Bucket="bkt", Policy=json.dumps(doc))
    s3.delete_bucket_policy(Bucket="bkt")


def test_session_policy_with_unknown_action_refused(plain_server):
    sts = sts_client(plain_server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess",
                        Policy=json.dumps(policy_doc("s3:GetObjekt")))
    err = e.value.response["Error"]
    assert err["Code"] == "MalformedPolicyDocument" and "s3:GetObjekt" in err["Message"], err
    c = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="sess",
                        Policy=json.dumps(policy_doc("s3:Get*")))["Credentials"]
    assert c["AccessKeyId"]


@pytest.mark.parametrize("name,value,accepted", [
    ("TESSERA_LOG_LEVEL", "verbose", "debug, info, warn, error"),
    ("TESSERA_HTTP_THREADS", "lots", "integer"),
    ("TESSERA_IDENTITY_OPENID_EXPIRY_FROM_TOKEN", "maybe", "on or off"),
])
def test_malformed_setting_stops_the_server(tmp, name, value, accepted):
    srv = Server(os.path.join(tmp, "data"), env={name: value})
    with pytest.raises(RuntimeError) as e:
        srv.start()
    srv.stop()
    msg = str(e.value)
    assert "tessera exited with 2" in msg, msg
    assert "%s=%s" % (name, value) in msg and accepted in msg, msg


@pytest.fixture
def provider(tmp):
    p = oidc_flow.Provider(tmp).start()
    try:
        yield p
    finally:
        p.stop()


def test_openid_config_url_error_status_logged_with_hint(tmp, provider):
    """CONFIG_URL set to the issuer (no /.well-known/...): the provider answers 404."""
    env = {"TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.issuer,
           "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
           "TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL": "1",
           "TESSERA_STS_RATE_LIMIT": "off"}
    srv = start(tmp, env)
    try:
        token = provider.login("alice")
        status, root = sts_post(srv, {"Action": "AssumeRoleWithWebIdentity",
                                      "Version": "2011-06-15", "WebIdentityToken": token,
                                      "RoleArn": "arn:aws:iam::000000000000:role/x"})
        code, msg = error_of(root)
        assert status == 400 and code == "IDPCommunicationError", ET.tostring(root)
        assert "/.well-known/openid-configuration" in msg and "TESSERA_IDENTITY_OPENID_CONFIG_URL" \
            in msg, msg
        deadline = time.time() + 10
        while '"status":"404"' not in srv.read_log() and time.time() < deadline:
            time.sleep(0.2)
        log = srv.read_log()
        assert '"status":"404"' in log and "must end in /.well-known/openid-configuration" in log, log
    finally:
        srv.stop()
