"""Drives the test provider (provider.js) like a user and a service would: the authorization
code flow through the provider's own login and consent forms, and client credentials.
Used by tests/integration/test_oidc*.py."""
import html.parser
import os
import signal
import socket
import subprocess
import time
import urllib.parse

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_ID = "tessera"
CLIENT_SECRET = "tessera-secret"
REDIRECT_URI = "http://127.0.0.1/callback"


class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"),
                               "fields": {}})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))


class Provider:
    """The oidc-provider process on a free loopback port; keys persist in keys_file until
    rotate() replaces them."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.keys_file = os.path.join(workdir, "oidc-keys.json")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.issuer = "http://127.0.0.1:%d/realms/demo" % self.port
        self.config_url = self.issuer + "/.well-known/openid-configuration"
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.workdir, "oidc-provider.log"), "ab")
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "provider.js"), str(self.port),
                                      self.keys_file], cwd=HERE, stdout=self.log,
                                     stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if requests.get(self.config_url, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("oidc-provider did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()

    def rotate(self):
        """New signing key (new kid); the old one is removed from the JWKS."""
        self.stop()
        os.unlink(self.keys_file)
        self.start()

    def login(self, user, scope="openid profile groups policy", client=(CLIENT_ID, CLIENT_SECRET)):
        """The id_token of user, obtained through the provider's login and consent pages (as
        the client (id, secret))."""
        s = requests.Session()
        url = self.issuer + "/protocol/openid-connect/auth?" + urllib.parse.urlencode({
            "client_id": client[0], "response_type": "code", "redirect_uri": REDIRECT_URI,
            "scope": scope, "state": "st-" + user, "nonce": "n-" + user})
        method, data = "GET", None
        for _ in range(20):
            r = s.request(method, url, data=data, allow_redirects=False, timeout=10)
            if r.status_code in (301, 302, 303, 307, 308):
                url = urllib.parse.urljoin(r.url, r.headers["Location"])
                method, data = "GET", None
                if url.startswith(REDIRECT_URI):
                    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
                    if "code" not in q:
                        raise RuntimeError("login failed: %s" % url)
                    return self._exchange(q["code"][0], client)
                continue
            p = _Forms()
            p.feed(r.text)
            if r.status_code != 200 or not p.forms:
                raise RuntimeError("unexpected page %d: %s" % (r.status_code, r.text[:500]))
            form = p.forms[0]
            fields = dict(form["fields"])
            if "login" in fields or "password" in fields:
                fields["login"] = user
                fields["password"] = "any-password"
            url = urllib.parse.urljoin(r.url, form["action"])
            method, data = form["method"].upper(), fields
        raise RuntimeError("login did not finish")

    def _exchange(self, code, client=(CLIENT_ID, CLIENT_SECRET)):
        r = requests.post(self.issuer + "/protocol/openid-connect/token",
                          data={"grant_type": "authorization_code", "code": code,
                                "redirect_uri": REDIRECT_URI},
                          # client_secret_basic: both form-encoded first (RFC 6749 2.3.1)
                          auth=tuple(urllib.parse.quote(x, safe="") for x in client),
                          timeout=10)
        r.raise_for_status()
        return r.json()["id_token"]

    def client_credentials(self):
        r = requests.post(self.issuer + "/protocol/openid-connect/token",
                          data={"grant_type": "client_credentials"},
                          auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
        r.raise_for_status()
        return r.json()["access_token"]
