"""Security regressions of issue 13 in the HTTP core, the admin API's user verbs, the /login
pages and `tessera login oidc --browser`:

- item 4: a request line with hundreds of query arguments is answered at once (400 InvalidURI)
  and leaks nothing; the server still stops at once (raw sockets: no client sends that);
- item 7: admin:CreateUser only creates users; an existing user's secret changes with
  `user set-secret` (admin:UpdateUser, or the user itself);
- item 10: the /login pages that wait on a directory or an OpenID provider run off the HTTP
  threads and are rate-limited before any backend work;
- item 14: the login client's loopback callback checks the state first and prints nothing
  raw from the callback or the provider.
"""
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import boto3
import pytest
import requests

from conftest import Server, admin, s3_client

HERE = os.path.dirname(os.path.abspath(__file__))


def raw_request(port, data, timeout=2.0):
    """Sends data on a fresh connection; returns (status, head+body bytes, seconds), status
    None when nothing came back within timeout."""
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        m = re.search(rb"Content-Length: (\d+)", head, re.I)
        while m and len(body) < int(m.group(1)):
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    except socket.timeout:
        return None, b"", time.time() - t0
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
    return (int(m.group(1)) if m else None), got, time.time() - t0


def many_args_request(n, value_len=30):
    q = "&".join("a%d=%s" % (i, "v" * value_len) for i in range(n))
    return ("GET /some-bucket/key?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % q).encode()


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def stop_timed(srv):
    t0 = time.time()
    rc = srv.stop()
    return rc, time.time() - t0


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="tessera-sec-http-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def low_quarantine_env():
    # ASan keeps freed memory in a quarantine (RSS grows on free); keep it small so that RSS
    # reflects what is live. The normal build ignores the variable.
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64")
            .lstrip(":")}


# ---- item 4: many query arguments ----

def test_many_query_args_answered_at_once(server):
    for n in (257, 600, 2000):
        status, got, secs = raw_request(server.port, many_args_request(n, value_len=2))
        assert status == 400, (n, got[:300])
        assert secs < 2.0, (n, secs)
        assert b"<Code>InvalidURI</Code>" in got and b"query parameters" in got, got
    # 256 arguments are still a request like any other (a bucket that does not exist:
    # NoSuchBucket for every caller, anonymous included)
    status, got, _ = raw_request(server.port, many_args_request(256, value_len=2))
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in got, got[:300]
    # the same connection goes on after such an answer (keep-alive)
    s = socket.create_connection(("127.0.0.1", server.port), timeout=2)
    try:
        s.sendall(many_args_request(600, value_len=2) +
                  b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        got = b""
        while got.count(b"HTTP/1.1 ") < 2 or not got.endswith(b"OK\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    assert got.startswith(b"HTTP/1.1 400") and b"HTTP/1.1 200" in got, got[-300:]


def test_many_query_args_leak_nothing_and_stop_fast(tmp):
    srv = Server(os.path.join(tmp, "data"), env=low_quarantine_env())
    srv.start()
    try:
        req = many_args_request(600)  # about 23 KB, as in the report
        assert len(req) > 20000
        for _ in range(30):  # warm up the allocator and the thread pool
            assert raw_request(srv.port, req)[0] == 400
        before = vm_rss_kib(srv.proc.pid)
        for i in range(300):
            status, got, secs = raw_request(srv.port, req)
            assert status == 400 and secs < 2.0, (i, secs, got[:200])
        grown = vm_rss_kib(srv.proc.pid) - before
        # each leaked request held its 23 KB URI and more: 300 of them were > 7 MB
        assert grown < 4096, "RSS grew by %d KiB over 300 requests" % grown

        # connections left half-way (headers incomplete; body incomplete and closed) hold
        # nothing up either
        half = socket.create_connection(("127.0.0.1", srv.port))
        half.sendall(b"GET /x?" + b"a=b&" * 600 + b" HTTP/1.1\r\nHost: x\r\n")
        cut = socket.create_connection(("127.0.0.1", srv.port))
        cut.sendall(b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
        time.sleep(0.2)
        cut.close()
        rc, secs = stop_timed(srv)
        half.close()
        assert rc == 0, srv.read_log()
        assert secs < 5.0, "SIGTERM took %.1f s" % secs
    finally:
        srv.stop()


# ---- item 7: admin:CreateUser does not take over accounts ----

def write_policy(tmp, name, actions):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": ["arn:aws:s3:::*"]}]}, f)
    return path


def admin_fails(p, code):
    assert p.returncode != 0, p.stdout
    assert code in p.stderr, p.stderr


def can_list_users(srv, ak, sk):
    return admin(srv, "user", "list", ak=ak, sk=sk, check=False).returncode == 0


def test_create_user_cannot_replace_a_secret(server, tmp_root):
    srv = server
    admin(srv, "user", "add", "consoleadminuser", "old-admin-secret")
    admin(srv, "policy", "attach", "consoleAdmin", "--user", "consoleadminuser")
    admin(srv, "policy", "create", "helpdesk",
          write_policy(tmp_root, "helpdesk", ["admin:CreateUser"]))
    admin(srv, "user", "add", "helpdesk", "helpdesk-secret")
    admin(srv, "policy", "attach", "helpdesk", "--user", "helpdesk")
    hd = {"ak": "helpdesk", "sk": "helpdesk-secret"}

    # the helpdesk creates users, but "user add" of an existing name is refused
    admin(srv, "user", "add", "newcomer", "newcomer-secret", **hd)
    admin_fails(admin(srv, "user", "add", "consoleadminuser", "taken-over-1", check=False, **hd),
                "EntityAlreadyExists")
    assert can_list_users(srv, "consoleadminuser", "old-admin-secret")
    assert not can_list_users(srv, "consoleadminuser", "taken-over-1")
    # not even root replaces a secret with "user add"
    admin_fails(admin(srv, "user", "add", "consoleadminuser", "root-replaced", check=False),
                "EntityAlreadyExists")
    assert can_list_users(srv, "consoleadminuser", "old-admin-secret")

    # set-secret is its own action: the helpdesk may not ...
    admin_fails(admin(srv, "user", "set-secret", "consoleadminuser", "taken-over-2",
                      check=False, **hd), "AccessDenied")
    assert can_list_users(srv, "consoleadminuser", "old-admin-secret")
    # ... until it holds admin:UpdateUser
    admin(srv, "policy", "create", "pwreset",
          write_policy(tmp_root, "pwreset", ["admin:UpdateUser"]))
    admin(srv, "policy", "attach", "pwreset", "--user", "helpdesk")
    p = admin(srv, "user", "set-secret", "consoleadminuser", "reset-by-helpdesk", **hd)
    assert "consoleadminuser" in p.stdout
    assert can_list_users(srv, "consoleadminuser", "reset-by-helpdesk")
    assert not can_list_users(srv, "consoleadminuser", "old-admin-secret")
    admin_fails(admin(srv, "user", "set-secret", "nobody-here", "some-secret", check=False, **hd),
                "NoSuchEntity")
    admin_fails(admin(srv, "user", "set-secret", "newcomer", "short", check=False, **hd),
                "InvalidArgument")

    # a user changes its own secret without any admin action, but nobody else's
    admin(srv, "user", "add", "plain", "plain-secret-1")
    admin(srv, "policy", "attach", "readonly", "--user", "plain")
    admin(srv, "user", "set-secret", "plain", "plain-secret-2", ak="plain", sk="plain-secret-1")
    s3_client(srv).create_bucket(Bucket="plainb")
    s3_client(srv, "plain", "plain-secret-2").list_objects_v2(Bucket="plainb")
    with pytest.raises(Exception):
        s3_client(srv, "plain", "plain-secret-1").list_objects_v2(Bucket="plainb")
    admin_fails(admin(srv, "user", "set-secret", "newcomer", "plain-owns-it", check=False,
                      ak="plain", sk="plain-secret-2"), "AccessDenied")
    admin_fails(admin(srv, "user", "add", "plain2", "plain2-secret", check=False,
                      ak="plain", sk="plain-secret-2"), "AccessDenied")


def test_set_secret_ends_sessions_of_the_old_secret(server):
    srv = server
    admin(srv, "user", "add", "rotator", "rotator-secret-1")
    admin(srv, "policy", "attach", "readwrite", "--user", "rotator")
    sts = boto3.client("sts", endpoint_url=srv.endpoint, region_name="us-east-1",
                       aws_access_key_id="rotator", aws_secret_access_key="rotator-secret-1")
    c = sts.assume_role(RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="sess")["Credentials"]
    s3_client(srv).create_bucket(Bucket="rotb")
    s3 = s3_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    s3.list_objects_v2(Bucket="rotb")
    admin(srv, "user", "set-secret", "rotator", "rotator-secret-2")
    with pytest.raises(Exception):
        s3.list_objects_v2(Bucket="rotb")


# ---- item 10: the /login pages never hold up the HTTP threads ----

class StuckListener:
    """Accepts TCP connections and never answers (a hung directory or provider)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


class SlowProvider:
    """An OpenID provider whose discovery answers at once and whose token endpoint hangs."""

    def __init__(self):
        outer = self
        self.release = threading.Event()

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = json.dumps({
                        "issuer": outer.issuer,
                        "authorization_endpoint": outer.issuer + "/auth",
                        "token_endpoint": outer.issuer + "/token",
                        "jwks_uri": outer.issuer + "/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }).encode()
                elif self.path.endswith("/jwks"):
                    body = b'{"keys":[]}'
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                outer.release.wait(30)  # the token endpoint hangs
                try:
                    self.send_error(500)
                except OSError:
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.issuer = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def login_env(ldap_port, slow, stuck_port, rate="off"):
    return {
        "TESSERA_HTTP_THREADS": "2",
        "TESSERA_STS_RATE_LIMIT": rate,
        "TESSERA_IDENTITY_LDAP_SERVER_ADDR": "127.0.0.1:%d" % ldap_port,
        "TESSERA_IDENTITY_LDAP_SERVER_INSECURE": "on",
        "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN": "cn=lookup,dc=example,dc=org",
        "TESSERA_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD": "lookup-password",
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN": "dc=example,dc=org",
        "TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER": "(uid=%s)",
        "TESSERA_IDENTITY_LDAP_TIMEOUT": "6",
        "TESSERA_IDENTITY_OPENID_CONFIG_URL_SLOW": slow.issuer + "/.well-known/openid-configuration",
        "TESSERA_IDENTITY_OPENID_CLIENT_ID_SLOW": "tessera",
        "TESSERA_IDENTITY_OPENID_CLIENT_SECRET_SLOW": "tessera-secret",
        "TESSERA_IDENTITY_OPENID_CONFIG_URL_STUCK":
            "http://127.0.0.1:%d/.well-known/openid-configuration" % stuck_port,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID_STUCK": "tessera",
        "TESSERA_IDENTITY_OPENID_TIMEOUT": "6",
    }


@pytest.fixture
def login_world(tmp):
    directory, stuck, slow = StuckListener(), StuckListener(), SlowProvider()
    made = []

    def start(rate="off"):
        srv = Server(os.path.join(tmp, "data"), env=login_env(directory.port, slow, stuck.port,
                                                               rate))
        srv.start()
        made.append(srv)
        return srv

    try:
        yield start
    finally:
        slow.release.set()
        for srv in made:
            srv.stop()
        directory.close()
        stuck.close()
        slow.close()


def ldap_form(srv):
    """A CSRF cookie and token from the /login page (the page itself needs no backend)."""
    s = requests.Session()
    r = s.get(srv.endpoint + "/login", timeout=5)
    assert r.status_code == 200, r.text
    tok = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    return s.cookies.get_dict(), {"csrf": tok, "username": "alice", "password": "pw-of-alice"}


def callback_flow(srv):
    """Starts a sign-in at the slow provider: (cookies, state) for a callback."""
    r = requests.get(srv.endpoint + "/login/start?provider=slow", allow_redirects=False,
                     timeout=10)
    assert r.status_code in (302, 303), r.text
    state = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)["state"][0]
    return r.cookies.get_dict(), state


def timed(fn):
    t0 = time.time()
    r = fn()
    return r, time.time() - t0


def test_login_pages_do_not_hold_up_the_http_threads(login_world):
    srv = login_world()
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="quick")
    s3.put_object(Bucket="quick", Key="k", Body=b"x")
    cookies, form = ldap_form(srv)
    flow_cookies, state = callback_flow(srv)

    def ldap():
        return requests.post(srv.endpoint + "/login/ldap", data=form, cookies=cookies,
                             timeout=30)

    def providers():
        return requests.get(srv.endpoint + "/login/providers", timeout=30)

    def callback():
        return requests.get(srv.endpoint + "/login/callback",
                            params={"code": "bogus", "state": state}, cookies=flow_cookies,
                            timeout=30)

    results, threads = [], []
    for fn in (ldap, providers, callback) * 3:
        t = threading.Thread(target=lambda f=fn: results.append(timed(f)))
        t.start()
        threads.append(t)
    time.sleep(0.7)  # every one of them now waits on the directory or a provider
    try:
        for _ in range(5):
            r, secs = timed(lambda: requests.get(srv.endpoint + "/health/live", timeout=10))
            assert r.status_code == 200 and secs < 0.5, "health check took %.2f s" % secs
            body, secs = timed(lambda: s3.get_object(Bucket="quick", Key="k")["Body"].read())
            assert body == b"x" and secs < 0.5, "S3 GET took %.2f s" % secs
        assert len(results) == 0, "a backend answered after all: %r" % results
    finally:
        for t in threads:
            t.join(40)
    # and they all got an answer in the end (the backends' timeouts)
    assert len(results) == 9
    for r, secs in results:
        assert secs < 20, (r.status_code, secs, r.text[:200])


def test_login_pages_rate_limited_before_backend_work(login_world):
    srv = login_world(rate="1:3")
    flow_cookies, state = callback_flow(srv)  # takes one token: 2 left
    waiting = []
    for _ in range(2):  # these reach the hung token endpoint
        t = threading.Thread(target=lambda: waiting.append(requests.get(
            srv.endpoint + "/login/callback", params={"code": "bogus", "state": state},
            cookies=flow_cookies, timeout=30)))
        t.start()
        waiting.append(t)
    time.sleep(0.5)
    for path, kw in (("/login/callback", {"params": {"code": "bogus", "state": state},
                                          "cookies": flow_cookies}),
                     ("/login/providers", {}), ("/login/start", {"params": {"provider": "slow"}})):
        r, secs = timed(lambda: requests.get(srv.endpoint + path, timeout=10,
                                             allow_redirects=False, **kw))
        assert r.status_code == 503 and secs < 0.5, (path, r.status_code, secs)
        assert "SlowDown" in r.text and r.headers.get("Retry-After") == "1"
    r, secs = timed(lambda: requests.post(srv.endpoint + "/login/ldap", timeout=10,
                                          data={"username": "a", "password": "b"}))
    assert r.status_code == 503 and secs < 0.5, (r.status_code, secs)
    # the sign-in page itself is not limited (it needs no backend)
    assert requests.get(srv.endpoint + "/login", timeout=5).status_code == 200
    for t in [w for w in waiting if isinstance(w, threading.Thread)]:
        t.join(40)


# ---- item 14: the login client's loopback callback ----

sys.path.insert(0, os.path.join(HERE, "oidc"))


def test_login_client_callback_checks_state_first(tmp):
    import oidc_flow
    from test_roles import drive_sign_in

    provider = oidc_flow.Provider(tmp).start()
    srv = Server(os.path.join(tmp, "data"), env={
        "TESSERA_IDENTITY_OPENID_CONFIG_URL_CLI": provider.config_url,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID_CLI": "tessera-cli",
    })
    try:
        srv.start()
        trust = os.path.join(tmp, "trust.json")
        with open(trust, "w") as f:
            json.dump({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Federated": "cli"},
                "Action": ["sts:AssumeRoleWithWebIdentity"]}]}, f)
        admin(srv, "role", "create", "cli-sec", "--trust", trust)
        admin(srv, "role", "policy", "attach", "cli-sec", "readonly")
        arn = "arn:aws:iam::000000000000:role/cli-sec"
        proc_env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_OIDC")}
        cmd = [srv.bin, "login", "oidc", "--endpoint", srv.endpoint, "--provider",
               provider.issuer, "--timeout", "60", "--client-id", "tessera-cli", "--role-arn",
               arn, "--browser", "--env"]

        def start_client():
            proc = subprocess.Popen(cmd, env=proc_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            line = b""
            while b"open this address" not in line:
                line = proc.stderr.readline()
                assert line, "login client ended"
            url = proc.stderr.readline().decode().strip()
            q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
            return proc, url, q["redirect_uri"][0], q["state"][0]

        # callbacks without the right state, with an error full of terminal escapes, are
        # ignored (400) and the sign-in goes on to completion
        proc, url, redirect, state = start_client()
        try:
            for query in ("error=%1b[31mpwned%1b]0;title%07&state=wrong",
                          "error=%1b[31mpwned",
                          "error=access_denied&error_description=%1b[2J&state=" + state[:-1],
                          "code=forged&state=wrong"):
                r = requests.get(redirect + "?" + query, timeout=10)
                assert r.status_code == 400, query
            assert proc.poll() is None, "a forged callback ended the sign-in"
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
        assert b"export AWS_SESSION_TOKEN=" in out
        assert b"\x1b" not in err and b"\x07" not in err and b"pwned" not in err, err

        # an error callback with the right state ends the sign-in; its text is escaped
        proc, url, redirect, state = start_client()
        try:
            r = requests.get(redirect + "?error=%1b[31mpwned%9b1m&state=" + state, timeout=10)
            assert r.status_code == 400
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 1
        assert b"\x1b" not in err and b"\x9b" not in err, err
        assert b"\\x1B[31mpwned\\x9B1m" in err, err
    finally:
        srv.stop()
        provider.stop()
