"""Issue 15, item 3: every command block of every how-to, extracted from the Markdown and run
as written, in order, against what the document sets up: the built tessera binary
($TESSERA_BIN, on PATH as `tessera`), the Keycloak-shaped OpenID provider
(tests/integration/oidc), a real slapd (slapd.py), and the real aws cli / boto3 of both tool
generations (Debian's aws cli 2.9.19 + /usr/bin/python3 with boto3 1.26, and the newer aws cli
v1 + pyenv python with boto3 1.43 first on PATH).

Conventions in the Markdown (README.md, docs/KEYCLOAK.md, docs/LDAP.md, docs/API.md,
docs/CI-TOKENS.md):

- A command block is a fenced ```sh block (run with bash -e -o pipefail; its exit status is
  that of its last command, which must be 0, and set -e stops it at any other failing command
  but those on the left of && and ||) or ```python block
  (run with the generation's python3). ```bash, ```console and ```shell are refused: use ```sh.
  Other fences (ini, json, xml, yaml, text, none) are data, not commands.
- `<!-- not run: REASON -->` as the last non-blank line before a command block marks a block
  the suite cannot run (package installation, a foreground process the suite starts itself,
  an identity provider or directory that exists only at the reader's site). Such blocks are
  reported as skipped with the reason (once, not per tool generation); no other block is
  skipped.
- `<!-- file: PATH -->` before a data block means "save this as PATH": the runner writes it
  (PATH relative to the document's working directory, `~` = the session's HOME; a second
  block for the same file is appended, as for ~/.aws/config).
- A ```text block that directly follows a command block (only blank lines between) is its
  expected output: each non-blank line, where `…` matches any text, must match a line of the
  block's stdout, in order.
- A command block whose last command is `tessera server …` starts the document's server: the
  lines before it run as a block, then the server runs in the background until the document
  ends; the block passes when the server answers on its port. A document without such a block
  gets a server started by the runner as README's quick start starts it.

Each document runs in one session: a working directory, a private HOME, and the variables
each block exports (`export -p` is carried to the next block; plain shell variables are not).
The session starts with what a reader who followed README's "Using it" has: TESSERA_ROOT_USER
/ TESSERA_ROOT_PASSWORD (root credentials chosen), TESSERA_ENDPOINT / TESSERA_ACCESS_KEY /
TESSERA_SECRET_KEY (the admin client's defaults). API.md's session also has README's
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION, an id_token of the provider's
user alice in ID_TOKEN, and the provider configured (TESSERA_IDENTITY_OPENID_*) as KEYCLOAK.md
configures it; KEYCLOAK.md's ID_TOKEN and token file get the same kind of token.

Substitutions (the only changes made to a block's text before it runs; each must be used):
- everywhere: `127.0.0.1:9000` → the suite's free port (and TESSERA_ADDRESS is set to it, so
  a `tessera server` without --address binds it, as it binds 127.0.0.1:9000 by default);
- per document, the literal strings listed in substitutions(): host names and file paths of
  the reader's site (`https://KEYCLOAK`, `ldap.example.org:636`, `/srv/tessera`, …) become the
  suite's provider, slapd and temp paths; placeholder secrets (`...`, `<RootUser>`) become the
  suite's. A substitution no block uses fails test_every_substitution_is_used.
Files a how-to uses without showing them (README's ./cat.jpg, API.md's trust.json,
CI-TOKENS.md's artifacts.json: the reader's own) are written by given_files().

TESSERA_DOCS_SHOW=1 prints every block as run with its stdout and stderr (pytest -s).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import BIN, ROOT, ROOT_PASSWORD, ROOT_USER, free_port
import slapd as slapd_mod

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc"))
import oidc_flow  # noqa: E402

DOCS = ["README.md", "docs/KEYCLOAK.md", "docs/LDAP.md", "docs/API.md", "docs/CI-TOKENS.md"]
COMMAND_LANGS = {"sh": "sh", "python": "python"}
REFUSED_LANGS = {"bash", "console", "shell", "shell-session", "zsh"}
BLOCK_TIMEOUT = 120

GENERATIONS = {
    # Debian 12's own tools first on PATH
    "debian": "/usr/bin:/bin:/usr/sbin:/sbin",
    # the newer aws cli v1 and boto3 1.43 of the pyenv python first on PATH
    "newer": os.path.expanduser("~/.pyenv/shims") + ":/usr/bin:/bin:/usr/sbin:/sbin",
}


# ---------------------------------------------------------------- extraction

class Block:
    def __init__(self, doc, line, lang, text, not_run=None, file=None, expect=None):
        self.doc, self.line, self.lang, self.text = doc, line, lang, text
        self.not_run, self.file, self.expect = not_run, file, expect

    @property
    def id(self):
        return "%s:%d" % (self.doc, self.line)


FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->$")
FILE = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->$")


def fences(doc):
    """(start line, lang, text, last non-blank line before it) of each fenced block."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, i, prev = [], 0, ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                prev = lines[i].strip()
            i += 1
            continue
        start, lang, body = i + 1, m.group(1).lower(), []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        assert i < len(lines), "%s:%d: unterminated fence" % (doc, start)
        out.append((start, lang, "\n".join(body) + "\n", prev, i + 1))
        prev = "```"
        i += 1
    return out, lines


def extract(doc):
    """The document's blocks, command and file blocks, with their annotations."""
    raw, lines = fences(doc)
    blocks = []
    for n, (start, lang, text, prev, end) in enumerate(raw):
        if lang in REFUSED_LANGS:
            raise AssertionError("%s:%d: use ```sh, not ```%s" % (doc, start, lang))
        nr, fm = NOT_RUN.match(prev), FILE.match(prev)
        if lang in COMMAND_LANGS:
            b = Block(doc, start, lang, text, not_run=nr.group(1) if nr else None)
            nxt = raw[n + 1] if n + 1 < len(raw) else None
            if nxt and nxt[1] == "text" and not any(l.strip() for l in lines[end:nxt[0] - 1]):
                b.expect = nxt[2]
            blocks.append(b)
        elif fm:
            blocks.append(Block(doc, start, lang, text, file=fm.group(1)))
        else:
            assert not nr, "%s:%d: `not run` on a data block" % (doc, start)
    return blocks


def all_items():
    items = []
    for doc in DOCS:
        for b in extract(doc):
            for gen in GENERATIONS:
                if b.not_run and gen != next(iter(GENERATIONS)):
                    continue              # reported once, whatever the tools
                gid = "any" if b.not_run else gen
                items.append(pytest.param(doc, gen, b, id="%s-%s:%d" % (gid, doc, b.line)))
    # documents in order, generations in order, blocks in order
    items.sort(key=lambda p: (DOCS.index(p.values[0]), list(GENERATIONS).index(p.values[1]),
                              p.values[2].line))
    return items


# ---------------------------------------------------------------- the environment


def given_files(s):
    """Files the how-tos name without showing their content (the reader's own files)."""
    issuer = s.provider.issuer if s.provider else ""
    return {
        "README.md": {"cat.jpg": b"\xff\xd8\xff\xe0 not really a cat\n"},
        "docs/API.md": {
            "trust.json": ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                           '"Principal": {"Federated": "%s"}, '
                           '"Action": "sts:AssumeRoleWithWebIdentity"}]}' % issuer)
                          .encode(),
        },
        "docs/CI-TOKENS.md": {
            "artifacts.json": (b'{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                               b'"Action": ["s3:GetObject", "s3:PutObject"], '
                               b'"Resource": "arn:aws:s3:::artifacts/widgets/*"}]}'),
        },
    }.get(s.doc, {})


def substitutions(s):
    """Literal text of the reader's site → the suite's (every entry must be used)."""
    common = [("127.0.0.1:9000", "127.0.0.1:%d" % s.port)]
    per_doc = {
        "README.md": [("<RootUser>", ROOT_USER), ("<RootPass>", ROOT_PASSWORD)],
        "docs/KEYCLOAK.md": [
            ("https://KEYCLOAK/realms/demo", s.provider and s.provider.issuer),
            ("TESSERA_IDENTITY_OPENID_CLIENT_SECRET=...",
             "TESSERA_IDENTITY_OPENID_CLIENT_SECRET=" + oidc_flow.CLIENT_SECRET),
            ("/etc/ssl/keycloak-ca.pem", s.path("ca.pem")),
            ("/srv/tessera", s.path("data")),
        ],
        "docs/LDAP.md": [
            ("ldap.example.org:636", s.slapd and s.slapd.tls_addr),
            ("cn=tessera,ou=services,dc=example,dc=org", slapd_mod.LOOKUP_DN),
            ("LOOKUP_BIND_PASSWORD='...'", "LOOKUP_BIND_PASSWORD='%s'" % slapd_mod.LOOKUP_PASSWORD),
            ("TESSERA_LDAP_PASSWORD='...'",
             "TESSERA_LDAP_PASSWORD='%s'" % slapd_mod.USER_PASSWORDS["alice"]),
            ("/etc/ssl/example-ca.pem", s.path("ca.pem")),
            ("/etc/tessera/certs", s.path("certs")),
            ("/var/lib/tessera", s.path("data")),
            ("https://s3.example.org", "https://127.0.0.1:%d" % s.port),
        ],
        "docs/API.md": [],
        "docs/CI-TOKENS.md": [],
    }
    return common + per_doc[s.doc]


class Session:
    """One document's run: working dir, HOME, exported variables, its server and providers."""

    def __init__(self, doc, gen):
        self.doc, self.gen = doc, gen
        self.dir = tempfile.mkdtemp(prefix="tessera-docs-")
        self.port = free_port()
        self.provider = self.slapd = self.id_token = None
        self.server = None
        self.used = set()
        self.tls = doc == "docs/LDAP.md"
        os.makedirs(self.path("home"))
        os.makedirs(self.path("work"))
        bindir = self.path("bin")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(BIN), os.path.join(bindir, "tessera"))
        self.state = self.path("state.sh")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TESSERA_", "MINIO_", "AWS_"))}
        endpoint = "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)
        env.update({
            "HOME": self.path("home"),
            "PATH": bindir + ":" + GENERATIONS[gen],
            "PYENV_VERSION": os.environ.get("PYENV_VERSION", ""),
            "TESSERA_ADDRESS": "127.0.0.1:%d" % self.port,
            "TESSERA_ROOT_USER": ROOT_USER, "TESSERA_ROOT_PASSWORD": ROOT_PASSWORD,
            "TESSERA_ENDPOINT": endpoint,
            "TESSERA_ACCESS_KEY": ROOT_USER, "TESSERA_SECRET_KEY": ROOT_PASSWORD,
            "AWS_PAGER": "",
        })
        if not env["PYENV_VERSION"]:
            del env["PYENV_VERSION"]
        self.env = env
        self._setup()
        with open(self.state, "w") as f:
            for k, v in env.items():
                f.write("export %s=%s\n" % (k, shquote(v)))

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def _setup(self):
        """What the document sets up besides the server: provider, directory, files."""
        if self.doc in ("docs/KEYCLOAK.md", "docs/API.md"):
            self.provider = oidc_flow.Provider(self.dir).start()
            self.id_token = self.provider.login("alice")
            with open(self.path("keycloak-id-token"), "w") as f:
                f.write(self.id_token)
            slapd_mod.make_ca(self.dir, "ca")      # a private CA for TESSERA_CA_FILE
        if self.doc == "docs/API.md":
            # README's exports, which API.md's aws examples rely on, the id_token, and the
            # provider configured as KEYCLOAK.md section 3 configures it
            self.env.update({"AWS_ACCESS_KEY_ID": ROOT_USER, "AWS_SECRET_ACCESS_KEY": ROOT_PASSWORD,
                             "AWS_DEFAULT_REGION": "us-east-1", "ID_TOKEN": self.id_token,
                             "TESSERA_IDENTITY_OPENID_CONFIG_URL": self.provider.config_url,
                             "TESSERA_IDENTITY_OPENID_CLIENT_ID": oidc_flow.CLIENT_ID,
                             "TESSERA_IDENTITY_OPENID_CLIENT_SECRET": oidc_flow.CLIENT_SECRET})
        if self.doc == "docs/LDAP.md":
            self.slapd = slapd_mod.Slapd(self.path("slapd"))
            self.slapd.start()
            # tessera's own certificate, from a second private CA; the bundle trusts both
            cdir = self.path("tessera-ca")
            os.makedirs(cdir)
            tca, tkey = slapd_mod.make_ca(cdir, "tessera-ca")
            crt, key = slapd_mod.make_server_cert(cdir, tca, tkey)
            os.makedirs(self.path("certs"))
            shutil.copy(crt, self.path("certs", "public.crt"))
            shutil.copy(key, self.path("certs", "private.key"))
            with open(self.path("ca.pem"), "w") as out:
                for f in (self.slapd.ca_file, tca):
                    with open(f) as src:
                        out.write(src.read())
        for name, data in given_files(self).items():
            with open(self.path("work", name), "wb") as f:
                f.write(data)

    def substitute(self, text):
        for old, new in substitutions(self):
            if old in text:
                assert new is not None, "substitution %r has no value" % old
                text = text.replace(old, new)
                self.used.add(old)
        return text

    def script(self, body):
        # set -e does not stop at a failing command on the left of && or ||: the status of
        # the block's last command is its exit status, whatever set -e let through
        return ("set -eo pipefail\nsource %s\ncd %s\n%s\nTESSERA_DOC_RC=$?\n"
                "export -p > %s.new\nmv %s.new %s\nexit $TESSERA_DOC_RC\n"
                % (shquote(self.state), shquote(self.path("work")), body,
                   shquote(self.state), shquote(self.state), shquote(self.state)))

    def run_sh(self, body):
        return subprocess.run(["bash", "-c", self.script(body)], env=self.env,
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
                              stdin=subprocess.DEVNULL)

    def run_python(self, body):
        cmd = "python3 - <<'TESSERA_DOC_PY'\n%sTESSERA_DOC_PY\n" % body
        return self.run_sh(cmd)

    def write_file(self, name, text):
        if name.startswith("~/"):
            path = self.path("home", name[2:])
        else:
            path = self.path("work", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            f.write(text)

    def start_server(self, prelude, server_line):
        """Runs prelude, then server_line in the background until the port answers."""
        if prelude.strip():
            check_ran(self.run_sh(prelude), prelude)
        log = open(self.path("server.log"), "ab")
        self.server = subprocess.Popen(["bash", "-c", self.script("exec " + server_line)],
                                       env=self.env, stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.server.poll() is not None:
                raise AssertionError("the server exited with %s:\n%s"
                                     % (self.server.returncode, self.server_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the server did not start:\n" + self.server_log())

    def server_log(self):
        try:
            with open(self.path("server.log"), "rb") as f:
                return f.read().decode(errors="replace")[-6000:]
        except OSError:
            return ""

    def close(self):
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if self.provider:
            self.provider.stop()
        if self.slapd:
            self.slapd.close()
        log = self.server_log()
        shutil.rmtree(self.dir, ignore_errors=True)
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert mark not in log, "sanitizer report in the server log:\n" + log


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def check_ran(p, text):
    if p.returncode != 0:
        raise AssertionError("block failed with exit status %d:\n%s\n--- stdout\n%s\n--- stderr\n%s"
                             % (p.returncode, text, p.stdout[-4000:], p.stderr[-4000:]))


def check_expected(expect, stdout):
    """Each non-blank line of expect (… matches anything) matches a stdout line, in order."""
    out = stdout.split("\n")
    i = 0
    for want in (l.strip() for l in expect.split("\n")):
        if not want:
            continue
        rx = re.compile(".*".join(re.escape(part) for part in want.split("…")))
        while i < len(out) and not rx.fullmatch(out[i].strip()):
            i += 1
        assert i < len(out), "expected output line %r not found in:\n%s" % (want, stdout)
        i += 1


SERVER_LINE = re.compile(r"^\s*tessera server\b")


def has_server_block(doc):
    return any(b.lang == "sh" and not b.not_run and
               any(SERVER_LINE.match(l) for l in b.text.split("\n")) for b in extract(doc))


# ---------------------------------------------------------------- the tests

@pytest.fixture(scope="module")
def sessions():
    current = {}
    yield current
    for s in current.values():
        s.close()


def session_for(sessions, doc, gen):
    key = (doc, gen)
    if key not in sessions:
        for old in list(sessions.values()):
            old.close()
        sessions.clear()
        s = Session(doc, gen)
        sessions[key] = s
        if not has_server_block(doc):
            s.start_server("", "tessera server %s" % shquote(s.path("data")))
    return sessions[key]


@pytest.mark.parametrize("doc,gen,block", all_items())
def test_doc_block(sessions, doc, gen, block):
    if block.not_run:
        pytest.skip("not run (annotated in %s): %s" % (block.id, block.not_run))
    s = session_for(sessions, doc, gen)
    text = s.substitute(block.text)
    if block.file:
        s.write_file(block.file, text)
        return
    if block.lang == "python":
        p = s.run_python(text)
    else:
        lines = text.rstrip("\n").split("\n")
        if SERVER_LINE.match(lines[-1]):
            s.start_server("\n".join(lines[:-1]), lines[-1])
            return
        assert not any(SERVER_LINE.match(l) for l in lines), \
            "%s: `tessera server` must be the block's last command" % block.id
        p = s.run_sh(text)
    if os.environ.get("TESSERA_DOCS_SHOW"):
        print("%s\n--- stdout\n%s--- stderr\n%s" % (text, p.stdout, p.stderr))
    check_ran(p, text)
    if block.expect:
        check_expected(s.substitute(block.expect), p.stdout)


def test_every_substitution_is_used():
    """A substitution that no block uses is stale: the text it replaced left the docs."""
    for doc in DOCS:
        text = "".join(b.text for b in extract(doc) if not b.not_run)
        fake = type("S", (), {"doc": doc, "port": 1, "provider": None, "slapd": None,
                              "id_token": None, "path": lambda self, *p: "/x"})()
        for old, _ in substitutions(fake):
            if old == "127.0.0.1:9000" and "127.0.0.1:9000" not in text:
                continue
            assert old in text, "%s: substitution %r matches no block" % (doc, old)


def test_readme_quick_start_is_two_commands():
    """README's quick start: exactly two command blocks of one command line each."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Quick start.*?\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README.md has no Quick start section"
    blocks = re.findall(r"^```sh\n(.*?)^```", m.group(1), re.S | re.M)
    assert len(blocks) == 2, blocks
    for b in blocks:
        cmds = [l for l in b.split("\n") if l.strip() and not l.lstrip().startswith("#")]
        assert len(cmds) == 1 and not cmds[0].rstrip().endswith("\\"), b


def test_every_command_block_runs_or_says_why():
    """Every command block either runs or carries a `not run` reason; nothing else is skipped."""
    seen = 0
    for doc in DOCS:
        for b in extract(doc):
            if b.lang in COMMAND_LANGS:
                seen += 1
                assert b.not_run is None or len(b.not_run) >= 10, \
                    "%s: a `not run` annotation needs a reason" % b.id
    assert seen >= 10
