"""Issue 14 item 2: authorization is a phase. Every operation of the actual operation tables
(objstore/s3_ops.c s3_ops[], sts/admin_api.c admin_endpoints[], and the one STS action
table sts_actions[] of sts/actions.c) is sent by an anonymous caller
and by a static user with no policy, with real HTTP (requests) signed by botocore's SigV4Auth.
The tables are read from the source, so a new row is covered without editing this file.

What "denied" means, per operation:
- S3: 403 AccessDenied, before anything is read or stored. Exception: DeleteObjects is
  authorized per key (as MinIO and AWS): 200 with every key in <Error><Code>AccessDenied.
  PostObject (a browser form) is sent as a form without a signature of its own: the form's
  signer decides, not the request's headers, so it is anonymous and denied.
- admin API: 403 AccessDenied (JSON).
- STS: AssumeRole denies anonymous callers (403 AccessDenied); a static user with no policy
  MAY assume (MinIO: allowed unless a policy explicitly denies sts:AssumeRole), so for it the
  test asserts the explicit-deny case instead. GetCallerIdentity needs only a signature
  (AWS): anonymous is denied, the user is answered. The federated logins are public (their
  identity backend authenticates the caller): anonymous gets an error from the backend
  check, never credentials.
"""
import base64
import hashlib
import os
import re

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests

from conftest import ROOT, admin, s3_client

UPLOAD_ID = "0123456789abcdef0123456789abcdef"
USER, SECRET = "nobody1", "nobody-secret-1"


def write(tmp_root, name, text):
    path = os.path.join(str(tmp_root), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def source(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def table(text, name):
    """The body of the C array `name[] = { ... };`."""
    m = re.search(re.escape(name) + r"\[\w*\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, name
    return m.group(1)


def s3_ops():
    text = table(source("objstore/s3_ops.c"), "s3_ops")
    rows = re.findall(r'\{\s*"(GET|PUT|POST|DELETE|HEAD)",\s*(S3_\w+),\s*(NULL|"[^"]*"),\s*'
                      r'([^,]+),\s*"(\w+)"', text)
    # The configuration probes, S3_CONF2/S3_CONF3(sub, name, action[, delete name]): GET and
    # PUT rows (and a DELETE row), named Get/Put/Delete + name.
    for n, sub, name, _action, dname in re.findall(
            r'S3_CONF([23])\(\s*"([^"]+)",\s*"(\w+)",\s*"(\w+)"(?:,\s*"(\w+)")?\s*\)', text):
        rows += [("GET", "S3_BKT", '"%s"' % sub, "S3_F_BUCKET", "Get" + name),
                 ("PUT", "S3_BKT", '"%s"' % sub, "0", "Put" + name)]
        if n == "3":
            rows.append(("DELETE", "S3_BKT", '"%s"' % sub, "0", "Delete" + dname))
    assert len(rows) >= 47
    return rows


def admin_ops():
    rows = re.findall(r'\{"(GET|PUT|POST|DELETE)",\s*"([^"]+)",\s*"(admin:\w+)"',
                      table(source("sts/admin_api.c"), "admin_endpoints"))
    assert len(rows) >= 27
    return rows


def sts_ops():
    """Every row of the one STS action table (sts/actions.c), which also carries what each
    action asks of the authorization phase."""
    names = set(re.findall(r'\{"(\w+)",', table(source("sts/actions.c"), "sts_actions")))
    assert {"AssumeRole", "GetCallerIdentity", "AssumeRoleWithLDAPIdentity"} <= names
    return sorted(names)


def request(server, method, path, query="", headers=None, body=b"", creds=None,
            service="s3"):
    url = server.endpoint + path + ("?" + query if query else "")
    h = dict(headers or {})
    h["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=h)
    if creds:
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(*creds), service,
                                "us-east-1").add_auth(req)
    p = req.prepare()
    return requests.request(p.method, p.url, headers=dict(p.headers), data=p.body, timeout=30)


def s3_request(server, row, creds):
    method, scope, query, flags, name = row
    path = {"S3_SVC": "/", "S3_BKT": "/authz-bkt", "S3_OBJ": "/authz-bkt/some/key"}[scope]
    q = []
    if query != "NULL":
        q.append(query.strip('"') if "=" in query else query.strip('"') + "=")
    if "S3_F_UPLOAD" in flags:
        q = ["uploadId=" + UPLOAD_ID]
    if "S3_F_PART" in flags:
        q.append("partNumber=1")
    headers, body = {}, b""
    if "S3_F_COPY" in flags:
        headers["x-amz-copy-source"] = "/authz-bkt/source"
    if name == "DeleteObjects":
        body = b"<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>"
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    elif name == "PostObject":  # a browser form: its own (absent) signature decides
        boundary = "authz-table-form"
        body = ("--{b}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nsome/key\r\n"
                "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
                "\r\ndata\r\n--{b}--\r\n").format(b=boundary).encode()
        headers["Content-Type"] = "multipart/form-data; boundary=" + boundary
    elif method in ("PUT", "POST"):
        body = b"<x/>"
    return request(server, method, path, "&".join(q), headers, body, creds)


@pytest.fixture
def setup(server):
    root = s3_client(server)
    root.create_bucket(Bucket="authz-bkt")
    root.put_object(Bucket="authz-bkt", Key="source", Body=b"s")
    root.put_object(Bucket="authz-bkt", Key="a", Body=b"a")
    admin(server, "user", "add", USER, SECRET)
    return server


@pytest.mark.parametrize("who", ["anonymous", "no-policy user"])
def test_every_s3_operation_denies(setup, who):
    server = setup
    creds = None if who == "anonymous" else (USER, SECRET)
    for row in s3_ops():
        name = row[4]
        r = s3_request(server, row, creds)
        if name == "DeleteObjects":  # authorized per key (documented exception)
            assert r.status_code == 200, (name, r.text)
            assert r.text.count("<Code>AccessDenied</Code>") == 2, (name, r.text)
            assert "<Deleted>" not in r.text
            continue
        assert r.status_code == 403, (name, who, r.status_code, r.text)
        if row[0] != "HEAD":
            assert "<Code>AccessDenied</Code>" in r.text, (name, who, r.text)
    # nothing was deleted or written
    root = s3_client(server)
    keys = [o["Key"] for o in root.list_objects_v2(Bucket="authz-bkt")["Contents"]]
    assert keys == ["a", "source"]


@pytest.mark.parametrize("who", ["anonymous", "no-policy user"])
def test_every_admin_operation_denies(setup, who):
    server = setup
    creds = None if who == "anonymous" else (USER, SECRET)
    for method, pattern, action in admin_ops():
        if creds is not None and pattern == "svcaccts":
            continue  # a user's own service accounts: allowed unless denied (below)
        path = "/tessera/admin/v1/" + pattern.replace("*", "someone")
        body = b"{}" if method in ("PUT", "POST") else b""
        r = request(server, method, path, body=body, creds=creds, service="s3")
        assert r.status_code == 403, (method, pattern, who, r.text)
        assert r.json()["Code"] == "AccessDenied", (method, pattern, who, r.text)
    if creds is not None:
        # exception (MinIO): service accounts of the user itself, unless explicitly denied;
        # anybody else's need admin:CreateServiceAccount / admin:ListServiceAccounts
        r = request(server, "POST", "/tessera/admin/v1/svcaccts", body=b'{"parent":"root2"}',
                    creds=creds)
        assert r.status_code == 403 and r.json()["Code"] == "AccessDenied", r.text
        r = request(server, "POST", "/tessera/admin/v1/svcaccts", body=b"{}", creds=creds)
        assert r.status_code == 200 and r.json()["parent"] == USER, r.text
        r = request(server, "GET", "/tessera/admin/v1/svcaccts", creds=creds)
        assert r.status_code == 200 and [a["parent"] for a in r.json()["accounts"]] == [USER]
    # a static user may still change its own secret (ADMIN_SELF), and only its own
    r = request(server, "PUT", "/tessera/admin/v1/users/%s/secret" % USER,
                body=b'{"secretKey":"nobody-secret-2"}', creds=(USER, SECRET)) \
        if who != "anonymous" else None
    if r is not None:
        assert r.status_code == 200, r.text


STS_FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def sts_call(server, action, creds, extra=""):
    body = ("Action=%s&Version=2011-06-15%s" % (action, extra)).encode()
    return request(server, "POST", "/", headers=STS_FORM, body=body, creds=creds, service="sts")


def test_every_sts_operation(setup, tmp_root):
    server = setup
    for action in sts_ops():
        anon = sts_call(server, action, None, "&RoleArn=arn:xxx:xxx:xxx:xxxx&RoleSessionName=sess"
                        "&WebIdentityToken=x&Token=x&LDAPUsername=u&LDAPPassword=p")
        assert anon.status_code >= 400 and "<Credentials>" not in anon.text, (action, anon.text)
        user = sts_call(server, action, (USER, SECRET),
                        "&RoleArn=arn:xxx:xxx:xxx:xxxx&RoleSessionName=sess")
        if action == "AssumeRole":
            assert anon.status_code == 403 and "<Code>AccessDenied</Code>" in anon.text
            # exception (MinIO): allowed unless explicitly denied
            assert user.status_code == 200, user.text
        elif action == "GetCallerIdentity":
            assert anon.status_code == 403 and "<Code>AccessDenied</Code>" in anon.text
            assert user.status_code == 200 and USER in user.text
        else:  # federated logins: public, the backend refuses the bogus identity; actions not
            # implemented answer NotImplemented to everyone
            assert user.status_code >= 400 and "<Credentials>" not in user.text, user.text
    # AssumeRole's decision is the phase's: an explicit deny refuses it
    deny = write(tmp_root, "deny.json", '{"Version":"2012-10-17","Statement":[{"Effect":"Deny",'
                 '"Action":"sts:AssumeRole","Resource":"*"}]}')
    admin(server, "policy", "create", "no-assume", deny)
    admin(server, "policy", "attach", "no-assume", "--user", USER)
    r = sts_call(server, "AssumeRole", (USER, SECRET), "&RoleArn=arn:xxx:xxx:xxx:xxxx")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text


def test_temporary_credentials_cannot_use_admin_api(setup):
    server = setup
    r = sts_call(server, "AssumeRole", (server.root_user, server.root_password))
    ak = re.search(r"<AccessKeyId>([^<]+)", r.text).group(1)
    sk = re.search(r"<SecretAccessKey>([^<]+)", r.text).group(1)
    tok = re.search(r"<SessionToken>([^<]+)", r.text).group(1)
    for method, pattern, action in admin_ops():
        path = "/tessera/admin/v1/" + pattern.replace("*", "someone")
        url = server.endpoint + path
        body = b"{}" if method in ("PUT", "POST") else b""
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers={
            "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk, tok), "s3",
                                "us-east-1").add_auth(req)
        p = req.prepare()
        resp = requests.request(p.method, p.url, headers=dict(p.headers), data=p.body, timeout=30)
        assert resp.status_code == 403 and resp.json()["Code"] == "AccessDenied", (pattern,
                                                                                   resp.text)
