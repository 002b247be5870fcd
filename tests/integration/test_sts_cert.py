"""AssumeRoleWithCertificate (issue 20, item 2): MinIO's STS extension, over TLS with a client
certificate. Certificates are made here with `openssl` (expired ones under `faketime`); the
clients are curl (--cert/--key, as MinIO documents) and Python requests (botocore has no
AssumeRoleWithCertificate) whose credentials are then used with boto3 S3 over TLS.
"""
import datetime
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from conftest import FAKETIME_LIB, Server, admin

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
ACTION = "/?Action=AssumeRoleWithCertificate&Version=2011-06-15"


def run(*cmd, faketime=None):
    if faketime:
        cmd = ("faketime", "-f", faketime) + cmd
    subprocess.run(cmd, check=True, capture_output=True)


class Pki:
    """A CA, a server certificate for 127.0.0.1 and client certificates, in one directory."""

    def __init__(self, d):
        self.d = d

    def path(self, name):
        return os.path.join(self.d, name)

    def key(self, name):
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", self.path(name + ".key"))
        return self.path(name + ".key")

    def ca(self, name):
        key = self.key(name)
        run("openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=%s" % name, "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.path(name + ".crt"))
        return self.path(name + ".crt")

    def issue(self, name, subject, ca="ca", days=30, ext=None, faketime=None):
        """A certificate signed by ca; ext: the extension lines (default: a TLS client's)."""
        key = self.key(name)
        csr = self.path(name + ".csr")
        run("openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr)
        extfile = self.path(name + ".ext")
        with open(extfile, "w") as f:
            f.write(ext if ext is not None else
                    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.path(ca + ".crt"), "-CAkey",
            self.path(ca + ".key"), "-CAcreateserial", "-days", str(days), "-extfile", extfile,
            "-out", self.path(name + ".crt"), faketime=faketime)
        return (self.path(name + ".crt"), key)


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="tessera-pki-")
    p = Pki(d)
    p.ca("ca")
    p.ca("otherca")
    p.issue("server", "/CN=127.0.0.1",
            ext="subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    p.alice = p.issue("alice", "/CN=alice")
    p.carol = p.issue("carol", "/CN=carol")
    p.nobody = p.issue("nobody", "/CN=nobody")
    p.foreign = p.issue("foreign", "/CN=alice", ca="otherca")
    p.expired = p.issue("expired", "/CN=alice", days=1, faketime="-3d")
    p.server_only = p.issue("serveronly", "/CN=alice",
                            ext="basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    p.no_eku = p.issue("noeku", "/CN=alice", ext="basicConstraints=CA:FALSE\n")
    # valid for another 2 hours: issued for 1 day, 22 hours ago
    p.short = p.issue("short", "/CN=alice", days=1, faketime="-22h")
    yield p
    shutil.rmtree(d, ignore_errors=True)


def certs_dir(root, pki, cas=("ca",)):
    d = os.path.join(root, "certs")
    os.makedirs(os.path.join(d, "CAs"), exist_ok=True)
    shutil.copy(pki.path("server.crt"), os.path.join(d, "public.crt"))
    shutil.copy(pki.path("server.key"), os.path.join(d, "private.key"))
    for ca in cas:
        shutil.copy(pki.path(ca + ".crt"), os.path.join(d, "CAs", ca + ".crt"))
    return d


def start(root, pki, env=None, cas=("ca",)):
    e = {"TESSERA_IDENTITY_TLS_ENABLE": "on"}
    e.update(env or {})
    srv = Server(os.path.join(root, "data"), env=e, certs=certs_dir(root, pki, cas))
    srv.start()
    srv.ca = pki.path("ca.crt")
    return srv


@pytest.fixture(scope="module")
def srv(pki):
    root = tempfile.mkdtemp(prefix="tessera-it-cert-")
    s = start(root, pki)
    try:
        admin_tls(s, "user", "add", "alice", "alicesecret1")
        admin_tls(s, "policy", "attach", "readwrite", "--user", "alice")
        admin_tls(s, "user", "add", "carol", "carolsecret1")
        admin_tls(s, "policy", "attach", "readwrite", "--user", "carol")
        yield s
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)


def admin_tls(server, *args, check=True):
    old = os.environ.get("TESSERA_CA_FILE")
    os.environ["TESSERA_CA_FILE"] = server.ca  # `tessera admin` trusts the test CA
    try:
        return admin(server, *args, check=check)
    finally:
        if old is None:
            del os.environ["TESSERA_CA_FILE"]
        else:
            os.environ["TESSERA_CA_FILE"] = old


def curl(server, cert=None, query="&DurationSeconds=3600"):
    cmd = ["curl", "-s", "-X", "POST", "--cacert", server.ca, "-w", "\n%{http_code}"]
    if cert:
        cmd += ["--cert", cert[0], "--key", cert[1]]
    p = subprocess.run(cmd + [server.endpoint + ACTION + query], capture_output=True, text=True,
                       timeout=60)
    body, _, status = p.stdout.rpartition("\n")
    return int(status), body


def post(server, cert=None, query="", **kw):
    return requests.post(server.endpoint + ACTION + query, cert=cert, verify=server.ca,
                         timeout=30, **kw)


def creds(body):
    root = ET.fromstring(body)
    assert root.tag == NS + "AssumeRoleWithCertificateResponse", body
    c = root.find(NS + "AssumeRoleWithCertificateResult/" + NS + "Credentials")
    return {k: c.find(NS + k).text for k in
            ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}


def error(status_body):
    status, body = status_body
    root = ET.fromstring(body)
    assert root.tag == NS + "ErrorResponse", body
    return status, root.find(NS + "Error/" + NS + "Code").text, root.find(
        NS + "Error/" + NS + "Message").text


def s3_tls(server, c):
    import boto3
    import botocore.config
    return boto3.client("s3", endpoint_url=server.endpoint, verify=server.ca,
                        aws_access_key_id=c["AccessKeyId"],
                        aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"], region_name="us-east-1",
                        config=botocore.config.Config(s3={"addressing_style": "path"},
                                                      retries={"max_attempts": 1}))


def expiration(c):
    return datetime.datetime.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_curl_then_boto3_s3(srv, pki):
    """MinIO's documented curl call; the credentials work with boto3 over TLS as alice."""
    status, body = curl(srv, pki.alice)
    assert status == 200, body
    c = creds(body)
    assert abs(expiration(c) - (time.time() + 3600)) < 120
    cl = s3_tls(srv, c)
    cl.create_bucket(Bucket="cert-curl")
    cl.put_object(Bucket="cert-curl", Key="k", Body=b"hello")
    assert cl.get_object(Bucket="cert-curl", Key="k")["Body"].read() == b"hello"
    import boto3
    sts = boto3.client("sts", endpoint_url=srv.endpoint, verify=srv.ca, region_name="us-east-1",
                       aws_access_key_id=c["AccessKeyId"],
                       aws_secret_access_key=c["SecretAccessKey"],
                       aws_session_token=c["SessionToken"])
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:user/alice"


def test_requests_client_cert_then_boto3(srv, pki):
    """The POST sent by Python requests with a client certificate; AWS's answer shape."""
    r = post(srv, pki.carol, "&DurationSeconds=900")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/xml")
    c = creds(r.text)
    assert abs(expiration(c) - (time.time() + 900)) < 120
    cl = s3_tls(srv, c)
    cl.create_bucket(Bucket="cert-requests")
    assert [b["Name"] for b in cl.list_buckets()["Buckets"]]
    # the other parameters are checked as for every STS action
    r = post(srv, pki.carol, "&DurationSeconds=899")
    assert r.status_code == 400 and "<Code>ValidationError</Code>" in r.text, r.text


def test_expiry_bounded_by_not_after(srv, pki):
    """A certificate valid for 2 more hours gives credentials for at most 2 hours."""
    r = post(srv, pki.short, "&DurationSeconds=43200")
    assert r.status_code == 200, r.text
    exp = expiration(creds(r.text))
    assert time.time() + 2 * 3600 - 300 < exp <= time.time() + 2 * 3600 + 60, r.text
    r = post(srv, pki.short)  # no DurationSeconds: 3600 s, within the certificate's life
    assert abs(expiration(creds(r.text)) - (time.time() + 3600)) < 120


def test_refusals(srv, pki):
    """MinIO's answers: no certificate, another CA, expired, not for client authentication."""
    status, code, msg = error(curl(srv))
    assert (status, code) == (400, "MissingParameter") and "No client certificate" in msg
    status, code, msg = error(curl(srv, pki.foreign))
    assert (status, code) == (400, "InvalidClientCertificate"), msg
    status, code, msg = error(curl(srv, pki.expired))
    assert (status, code) == (400, "InvalidClientCertificate") and "expired" in msg, msg
    for cert in (pki.server_only, pki.no_eku):
        status, code, msg = error(curl(srv, cert))
        assert (status, code) == (400, "InvalidClientCertificate"), msg
    # a trusted certificate whose CN names no user
    status, code, msg = error(curl(srv, pki.nobody))
    assert (status, code) == (403, "AccessDenied"), msg
    # the listener only asks for certificates: requests without one are served
    assert requests.get(srv.endpoint + "/health/live", verify=srv.ca).status_code == 200


def test_requests_without_certificate_still_served(srv, pki):
    import boto3
    cl = boto3.client("s3", endpoint_url=srv.endpoint, verify=srv.ca, region_name="us-east-1",
                      aws_access_key_id=srv.root_user, aws_secret_access_key=srv.root_password)
    cl.create_bucket(Bucket="no-client-cert")
    assert "no-client-cert" in [b["Name"] for b in cl.list_buckets()["Buckets"]]


def test_disabled_identity_revokes(srv, pki):
    """Disabling the CN's user (or detaching its policy) stops its sessions at once."""
    admin_tls(srv, "user", "add", "dave", "davesecret1")
    admin_tls(srv, "policy", "attach", "readwrite", "--user", "dave")
    dave = pki.issue("dave", "/CN=dave")
    c = creds(post(srv, dave, "&DurationSeconds=900").text)
    cl = s3_tls(srv, c)
    cl.create_bucket(Bucket="dave-bucket")
    admin_tls(srv, "user", "disable", "dave")
    with pytest.raises(botocore.exceptions.ClientError):
        cl.list_objects_v2(Bucket="dave-bucket")
    r = post(srv, dave, "&DurationSeconds=900")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text
    admin_tls(srv, "user", "enable", "dave")
    with pytest.raises(botocore.exceptions.ClientError):  # disabling revoked them for good
        cl.list_objects_v2(Bucket="dave-bucket")
    cl = s3_tls(srv, creds(post(srv, dave, "&DurationSeconds=900").text))
    cl.list_objects_v2(Bucket="dave-bucket")
    admin_tls(srv, "policy", "detach", "readwrite", "--user", "dave")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cl.list_objects_v2(Bucket="dave-bucket")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_skip_verify_still_needs_a_client_certificate(pki, tmp_root):
    """Tests only: any issuer, but a certificate for client authentication, not expired."""
    s = start(tmp_root, pki, env={"TESSERA_IDENTITY_TLS_SKIP_VERIFY": "on"}, cas=())
    try:
        admin_tls(s, "user", "add", "alice", "alicesecret1")
        admin_tls(s, "policy", "attach", "readwrite", "--user", "alice")
        status, body = curl(s, pki.foreign)  # another CA, nothing trusted: accepted
        assert status == 200, body
        s3_tls(s, creds(body)).list_buckets()
        status, code, _ = error(curl(s))
        assert (status, code) == (400, "MissingParameter")
        status, code, msg = error(curl(s, pki.server_only))
        assert (status, code) == (400, "MissingParameter") and "client authentication" in msg
        status, code, msg = error(curl(s, pki.expired))
        assert (status, code) == (400, "InvalidClientCertificate") and "expired" in msg
    finally:
        s.stop()


def test_feature_off(pki, tmp_root):
    """Off (the default), the action is refused as MinIO refuses it."""
    s = Server(os.path.join(tmp_root, "data"), certs=certs_dir(tmp_root, pki))
    s.start()
    s.ca = pki.path("ca.crt")
    try:
        status, code, msg = error(curl(s, pki.alice))
        assert (status, code) == (503, "STSNotInitialized") and "disabled" in msg, msg
    finally:
        s.stop()


def test_misconfiguration_refuses_to_start(pki, tmp_root):
    """On without TLS, or with nothing trusted (and no skip-verify): the server says why."""
    bad = [({"TESSERA_IDENTITY_TLS_ENABLE": "on"}, None, "--certs"),
           ({"TESSERA_IDENTITY_TLS_ENABLE": "on"}, "nocas", "no trusted CA"),
           ({"TESSERA_IDENTITY_TLS_ENABLE": "on",
             "TESSERA_IDENTITY_TLS_CA_FILE": "/nonexistent.pem"}, "cas", "cannot load")]
    for i, (env, certs, want) in enumerate(bad):
        root = os.path.join(tmp_root, str(i))
        os.makedirs(root)
        d = None if certs is None else certs_dir(root, pki, cas=() if certs == "nocas" else ("ca",))
        s = Server(os.path.join(root, "data"), env=env, certs=d)
        with pytest.raises(RuntimeError) as e:
            s.start()
        assert want in str(e.value), str(e.value)
        s.proc = None


def test_ca_file_and_minio_alias(pki, tmp_root):
    """MINIO_IDENTITY_TLS_ENABLE works; TESSERA_IDENTITY_TLS_CA_FILE trusts another CA."""
    env = {"MINIO_IDENTITY_TLS_ENABLE": "on",
           "TESSERA_IDENTITY_TLS_CA_FILE": pki.path("otherca.crt")}
    s = Server(os.path.join(tmp_root, "data"), env=env, certs=certs_dir(tmp_root, pki, cas=()))
    s.start()
    s.ca = pki.path("ca.crt")
    try:
        admin_tls(s, "user", "add", "alice", "alicesecret1")
        admin_tls(s, "policy", "attach", "readwrite", "--user", "alice")
        assert curl(s, pki.foreign)[0] == 200
        status, code, _ = error(curl(s, pki.alice))  # ca.crt is not trusted here
        assert (status, code) == (400, "InvalidClientCertificate")
    finally:
        s.stop()


def test_verified_chain_is_not_trusted_past_its_validity(pki, tmp_root):
    """A chain verified once is remembered (parsing is costly), but only while every
    certificate of it is valid: the server's clock moved past the certificate's notAfter, the
    same certificate is refused."""
    clock = os.path.join(tmp_root, "clock")
    with open(clock, "w") as f:
        f.write("+0\n")
    env = {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": clock,
           "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_RESET": "1",
           "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") +
                            ":verify_asan_link_order=0").lstrip(":")}
    s = start(tmp_root, pki, env=env)
    try:
        admin_tls(s, "user", "add", "alice", "alicesecret1")
        admin_tls(s, "policy", "attach", "readwrite", "--user", "alice")
        for _ in range(2):  # verified, then from memory
            assert post(s, pki.short, "&DurationSeconds=900").status_code == 200
        with open(clock, "w") as f:
            f.write("+3h\n")  # the certificate had 2 hours left
        r = post(s, pki.short, "&DurationSeconds=900")
        assert r.status_code == 400 and "InvalidClientCertificate" in r.text, r.text
        assert "expired" in r.text
    finally:
        s.stop()


def test_role_arn(srv, pki, tmp_root):
    """A RoleArn naming a tessera role is refused (no trust policy principal names a
    certificate identity: fail closed, even for "*"); one naming no tessera role is ignored,
    as MinIO ignores it."""
    import json
    path = os.path.join(tmp_root, "trust.json")
    with open(path, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRoleWithCertificate"}]}, f)
    admin_tls(srv, "role", "create", "cert-role", "--trust", path)
    admin_tls(srv, "role", "policy", "attach", "cert-role", "readonly")
    r = post(srv, pki.alice, "&RoleArn=arn:aws:iam::000000000000:role/cert-role")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text
    r = post(srv, pki.alice, "&RoleArn=arn:xxx:xxx:xxx:xxxx")
    assert r.status_code == 200 and "user/alice" in r.text, r.text
