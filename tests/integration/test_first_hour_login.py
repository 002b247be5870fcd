"""Issue 15, the first hour with the login helpers, step by step as a user takes them:

- the login page's snippets (Shell, boto3, AWS profile, credential_process), extracted from the
  page headless Chromium shows and run as written with both tool generations: Debian 12's aws
  cli 2.9 and boto3 1.26 (which ignore AWS_ENDPOINT_URL and a profile's endpoint_url) and the
  newer aws cli v1 / boto3 1.43 of pyenv;
- `tessera login oidc|ldap --cache` as the aws cli's credential_process (v1 and v2) with no
  terminal and nothing cached fails at once, saying to run the same command in a terminal;
  run once in a terminal (a pty that is the controlling terminal) it fills the cache, which
  then serves both aws cli generations;
- `tessera login oidc --browser` shows "Signed in" only after the code exchange succeeded, and
  names TESSERA_OIDC_CLIENT_SECRET on invalid_client; `--id-token` prints an id_token that
  works in docs/KEYCLOAK.md's assume-role-with-web-identity command;
- the page says which callback the provider must have registered, provider buttons carry
  their DISPLAY_NAME, and error pages link back to the sign-in.

Nothing here skips: a missing tool fails the test (.ci/deps.sh installs them)."""
import fcntl
import json
import os
import pty
import re
import shutil
import subprocess
import tempfile
import termios
import threading
import time

import pytest
import requests

from conftest import BIN, Server, admin, s3_client
from slapd import SUFFIX, USER_PASSWORDS
# the module-scoped provider, directory and their server settings of the browser login tests
from test_browser_login import directory, login_env, module_root, provider  # noqa: F401
from test_roles import drive_sign_in

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BROWSER_DIR = os.path.join(HERE, "browser")
PYENV = os.path.expanduser("~/.pyenv/versions")



def pyenv_which(name):
    """The pyenv tool itself (not its shim, which needs pyenv's environment), or ""."""
    pyenv = shutil.which("pyenv") or os.path.expanduser("~/.pyenv/bin/pyenv")
    if not os.path.exists(pyenv):
        return ""
    return subprocess.run([pyenv, "which", name], capture_output=True, text=True).stdout.strip()


# name -> (aws cli, python with boto3)
GENERATIONS = {
    "debian": ("/usr/bin/aws", "/usr/bin/python3"),
    "newer": (pyenv_which("aws"), pyenv_which("python3")),
}


# The aws cli waits 300 s for a credential process that waits for a sign-in; one that fails
# at once lets it end in its own start-up time (several seconds for Debian's aws cli v2 on a
# busy machine). The tessera command alone must end within TESSERA_FAST.
AWS_FAST = 90
TESSERA_FAST = 5


def assert_fails_fast(command, env):
    """command (a credential_process line) with no terminal and nothing usable cached: exit 1
    within TESSERA_FAST seconds, saying to run it once in a terminal."""
    t0 = time.time()
    p = sh(command, env, timeout=60)
    assert p.returncode == 1 and time.time() - t0 < TESSERA_FAST, (time.time() - t0, p.stderr)
    assert "Run this command once in a terminal:" in p.stderr, p.stderr
    return p


def test_both_tool_generations_are_there():
    versions = {}
    for gen, (aws, py) in GENERATIONS.items():
        assert aws and os.path.exists(aws), "%s aws cli missing" % gen
        assert py and os.path.exists(py), "%s python missing" % gen
        v = subprocess.run([aws, "--version"], capture_output=True, text=True)
        b = subprocess.run([py, "-c", "import boto3; print(boto3.__version__)"],
                           capture_output=True, text=True)
        versions[gen] = (v.stdout + v.stderr, b.stdout.strip())
    assert versions["debian"][0].startswith("aws-cli/2.9"), versions
    assert versions["debian"][1].startswith("1.26"), versions
    assert versions["newer"][0].startswith("aws-cli/1."), versions
    assert tuple(int(x) for x in versions["newer"][1].split(".")[:2]) >= (1, 28), versions
    assert os.path.exists("/usr/bin/chromium") and shutil.which("node")
    assert os.path.isdir(os.path.join(BROWSER_DIR, "node_modules"))


@pytest.fixture(scope="module")
def srv(module_root, provider, directory):
    s = Server(os.path.join(module_root, "data"),
               env=dict(login_env(provider, directory),
                        TESSERA_IDENTITY_OPENID_DISPLAY_NAME="Demo realm"))
    s.start()
    try:
        root = s3_client(s)
        root.create_bucket(Bucket="data")
        root.put_object(Bucket="data", Key="hello.txt", Body=b"hello")
        policy = os.path.join(module_root, "data-only.json")
        with open(policy, "w") as f:
            json.dump({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:ListBucket",
                                               "s3:GetObject"],
                 "Resource": ["arn:aws:s3:::*"]}]}, f)
        admin(s, "policy", "create", "data-only", policy)
        admin(s, "policy", "attach", "data-only", "--dn", "cn=devs,ou=groups," + SUFFIX)
        yield s
    finally:
        s.stop()


# ---- running things as the user would ----

def browse(*args):
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "first_hour.mjs"), *args],
                       cwd=BROWSER_DIR, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "error" not in out, out["error"]
    return out


def user_env(home, gen):
    """A fresh user: HOME with ~/.aws, no AWS_* or TESSERA_* settings, and on the PATH `aws`
    and `python3` of one tool generation and `tessera`."""
    aws, py = GENERATIONS[gen]
    bindir = os.path.join(home, "bin-" + gen)
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(os.path.join(home, ".aws"), exist_ok=True)
    for name, target in (("aws", aws), ("python3", py), ("tessera", BIN)):
        if not os.path.lexists(os.path.join(bindir, name)):
            os.symlink(target, os.path.join(bindir, name))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "TESSERA_", "MINIO_", "PYENV"))}
    env.update(HOME=home, PATH=bindir + ":/usr/bin:/bin")
    return env


def sh(script, env, timeout=60):
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=env["HOME"],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class Terminal:
    """cmd run with a pty as its controlling terminal (stdin, stderr, /dev/tty); stdout is a
    pipe. What the terminal shows is collected by a thread."""

    def __init__(self, cmd, env):
        master, slave = pty.openpty()

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(cmd, env=env, cwd=env["HOME"], stdin=slave,
                                     stdout=subprocess.PIPE, stderr=slave, preexec_fn=ctty)
        os.close(slave)
        self.master = master
        self.text = ""
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.text += data.decode(errors="replace")

    def wait_for(self, pattern, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                m = re.search(pattern, self.text)
            if m:
                return m
            if self.proc.poll() is not None:
                time.sleep(0.2)
                with self.lock:
                    m = re.search(pattern, self.text)
                if m:
                    return m
                raise AssertionError("ended before %r: %s" % (pattern, self.text))
            time.sleep(0.05)
        raise AssertionError("no %r in %s" % (pattern, self.text))

    def type(self, line):
        os.write(self.master, line.encode() + b"\n")

    def finish(self, timeout=60):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate()
            time.sleep(0.1)
            os.close(self.master)
        return self.proc.returncode, out.decode()


def split_snippet(text):
    """An "AWS profile"-style snippet: {file path: content} for its "# ~/.aws/FILE" parts, and
    the shell lines after its "# then"/"# once" comment."""
    files, cmds, cur = {}, [], None
    for line in text.splitlines():
        m = re.match(r"# (~/\.aws/\w+)", line)
        if m:
            cur = m.group(1)
            files[cur] = ""
        elif re.match(r"# (then|once)", line):
            cur = "cmds"
        elif cur == "cmds":
            if line.strip():
                cmds.append(line)
        elif cur is not None:
            files[cur] += line + "\n"
    return files, cmds


def write_files(home, files):
    for path, content in files.items():
        with open(os.path.join(home, path[2:]), "w") as f:
            f.write(content)


def buckets_in(output):
    return "data" in output.split()


# ---- item 1 and 11: every snippet of the page, with both tool generations ----

def page_snippets(srv, mode, *args):
    out = browse(mode, srv.endpoint, *args)
    assert out["title"] == "Your temporary credentials", out
    sn = out["snippets"]
    assert set(sn) == {"snippet-env", "snippet-boto3", "snippet-profile",
                       "snippet-credential-process"}, sorted(sn)
    for text in sn.values():
        assert "cat " not in text and "tessera.json" not in text   # issue 15 item 11
    for k in ("snippet-env", "snippet-boto3", "snippet-profile", "snippet-credential-process"):
        assert "us-east-1" in sn[k], (k, sn[k])   # the region is there
    return out


@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_page_shell_boto3_and_profile_snippets_run_as_written(srv, gen):
    out = page_snippets(srv, "ldap", "alice", USER_PASSWORDS["alice"])
    sn = out["snippets"]
    assert "endpoint_url" in out["endpoint_help"] and "2.9" in out["endpoint_help"]
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        env = user_env(home, gen)
        # Shell: the exports and the aws command, as copied
        p = sh(sn["snippet-env"], env)
        assert p.returncode == 0, p.stderr
        assert buckets_in(p.stdout), p.stdout
        # Python (boto3), after the Shell exports
        exports = "\n".join(l for l in sn["snippet-env"].splitlines() if l.startswith("export "))
        with open(os.path.join(home, "snippet.py"), "w") as f:
            f.write(sn["snippet-boto3"])
        p = sh(exports + "\npython3 snippet.py", env)
        assert p.returncode == 0, p.stderr
        assert "'data'" in p.stdout, p.stdout
        # AWS profile: the two files, then the command
        files, cmds = split_snippet(sn["snippet-profile"])
        assert set(files) == {"~/.aws/credentials", "~/.aws/config"} and cmds, sn
        write_files(home, files)
        p = sh("\n".join(cmds), env)
        assert p.returncode == 0, p.stderr
        assert buckets_in(p.stdout), p.stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_page_ldap_credential_process_snippet(srv, gen):
    out = page_snippets(srv, "ldap", "alice", USER_PASSWORDS["alice"])
    text = out["snippets"]["snippet-credential-process"]
    files, cmds = split_snippet(text)
    m = re.search(r"^credential_process = (.*)$", files["~/.aws/config"], re.M)
    assert m and m.group(1).startswith("tessera login ldap --endpoint %s --user alice --cache "
                                       % srv.endpoint), text
    once, aws_cmd = cmds
    assert once == m.group(1) + " > /dev/null" and aws_cmd.startswith("aws --profile"), cmds
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        env = user_env(home, gen)
        write_files(home, files)
        # the aws cli before the first sign-in: no terminal, nothing cached -> fails at once
        assert_fails_fast(m.group(1), env)
        t0 = time.time()
        p = sh(aws_cmd, env, timeout=60)
        assert p.returncode != 0 and time.time() - t0 < AWS_FAST, (p.stdout, p.stderr)
        assert "once in a terminal" in p.stderr and "tessera login ldap" in p.stderr, p.stderr
        # once in a terminal: the password prompt, then the cache
        term = Terminal(["bash", "-c", once], env)
        term.wait_for("LDAP password for alice: ")
        term.type(USER_PASSWORDS["alice"])
        rc, _ = term.finish()
        assert rc == 0, term.text
        cache = os.path.join(home, ".aws", "tessera-ldap.json")
        assert os.stat(cache).st_mode & 0o777 == 0o600
        # now the aws cli works through credential_process (the cache answers)
        p = sh(aws_cmd, env)
        assert p.returncode == 0, p.stderr
        assert buckets_in(p.stdout), p.stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)


def device_sign_in(term, user):
    """The device flow shown on the terminal, completed by user at the provider."""
    m = term.wait_for(r"or open (\S+)")
    assert drive_sign_in(m.group(1), user) is None


@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_page_oidc_credential_process_snippet(srv, gen):
    out = page_snippets(srv, "oidc", "bob")
    assert out["buttons"] == ["Sign in with Demo realm"]
    text = out["snippets"]["snippet-credential-process"]
    assert "TESSERA_OIDC_CLIENT_SECRET" in text   # a confidential client
    files, cmds = split_snippet(text)
    m = re.search(r"^credential_process = (.*)$", files["~/.aws/config"], re.M)
    assert m and m.group(1) == ("tessera login oidc --endpoint %s --provider default --cache "
                                "~/.aws/tessera-oidc-default.json" % srv.endpoint), text
    once, aws_cmd = cmds
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        env = user_env(home, gen)
        env["TESSERA_OIDC_CLIENT_SECRET"] = "tessera-secret"
        write_files(home, files)
        assert_fails_fast(m.group(1), env)
        t0 = time.time()
        p = sh(aws_cmd, env, timeout=60)
        assert p.returncode != 0 and time.time() - t0 < AWS_FAST, (p.stdout, p.stderr)
        assert "once in a terminal" in p.stderr and m.group(1) in p.stderr, p.stderr
        term = Terminal(["bash", "-c", once], env)
        device_sign_in(term, "bob")
        rc, _ = term.finish()
        assert rc == 0, term.text
        p = sh(aws_cmd, env)
        assert p.returncode == 0, p.stderr
        assert buckets_in(p.stdout), p.stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ---- item 2: credential_process with no terminal fails fast (aws cli v1 and v2) ----

@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_oidc_credential_process_without_terminal_fails_fast(srv, gen):
    home = tempfile.mkdtemp(prefix="tessera-user-")
    cmd = ("tessera login oidc --endpoint %s --provider default --cache ~/.aws/oidc-cache.json"
           % srv.endpoint)
    try:
        env = user_env(home, gen)
        env["TESSERA_OIDC_CLIENT_SECRET"] = "tessera-secret"
        with open(os.path.join(home, ".aws", "config"), "w") as f:
            f.write("[profile t]\nregion = us-east-1\ncredential_process = %s\n" % cmd)
        assert_fails_fast(cmd, env)
        t0 = time.time()
        p = sh("aws --profile t --endpoint-url %s s3 ls" % srv.endpoint, env, timeout=120)
        took = time.time() - t0
        assert p.returncode != 0 and took < AWS_FAST, (took, p.stderr)
        assert "Run this command once in a terminal:" in p.stderr, p.stderr
        assert cmd in p.stderr, p.stderr
        # an expired cache is no better: same answer, at once
        with open(os.path.join(home, ".aws", "oidc-cache.json"), "w") as f:
            json.dump({"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S",
                       "SessionToken": "T", "Expiration": "2020-01-01T00:00:00Z"}, f)
        t0 = time.time()
        p = sh("aws --profile t --endpoint-url %s s3 ls" % srv.endpoint, env, timeout=120)
        assert p.returncode != 0 and time.time() - t0 < AWS_FAST and "once in a terminal" in p.stderr
        # once in a terminal (the sign-in shows there), then the aws cli is served by the cache
        term = Terminal(["bash", "-c", cmd + " > /dev/null"], env)
        device_sign_in(term, "bob")
        assert term.finish()[0] == 0, term.text
        p = sh("aws --profile t --endpoint-url %s s3 ls" % srv.endpoint, env)
        assert p.returncode == 0 and buckets_in(p.stdout), p.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ---- item 12: tessera login ldap --cache ----

def test_login_ldap_cache(srv):
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        env = user_env(home, "debian")
        base = [BIN, "login", "ldap", "--endpoint", srv.endpoint, "--cache", "~/c.json"]
        run = lambda *a, **kw: subprocess.run(base + list(a), env=kw.get("env", env),
                                              capture_output=True, text=True, timeout=60,
                                              stdin=subprocess.DEVNULL)
        # nothing cached, no terminal, no password source: fails at once, saying what to do
        p = run("--user", "alice")
        assert p.returncode == 1 and "once in a terminal" in p.stderr, p.stderr
        assert "tessera login ldap --endpoint %s --cache ~/c.json --user alice" % srv.endpoint \
            in p.stderr, p.stderr
        first = run("--user", "alice", env=dict(env, TESSERA_LDAP_PASSWORD="alice-pw-1"))
        assert first.returncode == 0, first.stderr
        assert os.stat(os.path.join(home, "c.json")).st_mode & 0o777 == 0o600
        # reused without the password (nor the directory: same credentials)
        again = run("--user", "alice")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == json.loads(first.stdout)
        s3 = s3_client(srv, *(json.loads(again.stdout)[k] for k in
                              ("AccessKeyId", "SecretAccessKey", "SessionToken")))
        assert s3.get_object(Bucket="data", Key="hello.txt")["Body"].read() == b"hello"
        # another user's login is not served from alice's cache
        p = run("--user", "carol")
        assert p.returncode == 1 and "once in a terminal" in p.stderr
        # near expiry (within 10 minutes) is a fresh login
        c = json.load(open(os.path.join(home, "c.json")))
        c["Expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
        json.dump(c, open(os.path.join(home, "c.json"), "w"))
        p = run("--user", "alice")
        assert p.returncode == 1 and "once in a terminal" in p.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ---- item 12: the loopback callback, invalid_client, --id-token ----

def browser_login(srv, provider, *args, env=None):
    proc = subprocess.Popen([BIN, "login", "oidc", "--endpoint", srv.endpoint, "--provider",
                             provider.issuer, "--timeout", "60", "--browser", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stderr.readline()
        assert line, "login client ended"
        if "open this address" in line:
            break
    url = proc.stderr.readline().strip()
    return proc, url


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AWS_"))}


def test_browser_says_signed_in_only_after_the_code_exchange(srv, provider):
    # the public client with a secret it does not have: the provider answers invalid_client
    proc, url = browser_login(srv, provider, "--client-id", "tessera-cli",
                              env=dict(clean_env(), TESSERA_OIDC_CLIENT_SECRET="wrong"))
    try:
        cb = drive_sign_in(url, "dave", stop=lambda u: u.startswith("http://127.0.0.1:")
                           and "/callback?" in u and not u.startswith(provider.issuer))
        r = requests.get(cb, timeout=30)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Signed in" not in r.text and r.status_code != 200, r.text
    assert "failed" in r.text
    assert proc.returncode == 1 and "invalid_client" in err, err
    assert "TESSERA_OIDC_CLIENT_SECRET" in err, err


def test_invalid_client_without_secret_names_the_variable(srv, provider):
    # the confidential client without its secret (as a user who did not set it)
    p = subprocess.run([BIN, "login", "oidc", "--endpoint", srv.endpoint, "--provider",
                        "default", "--timeout", "20"], env=clean_env(), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    assert "invalid_client" in p.stderr and "TESSERA_OIDC_CLIENT_SECRET" in p.stderr, p.stderr
    assert "not set" in p.stderr


@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_id_token_for_keycloak_md(srv, provider, gen):
    # KEYCLOAK.md: ID_TOKEN=$(tessera login oidc --provider default --id-token)
    env = dict(clean_env(), TESSERA_OIDC_CLIENT_SECRET="tessera-secret",
               TESSERA_ENDPOINT=srv.endpoint)
    proc = subprocess.Popen([BIN, "login", "oidc", "--provider", "default", "--id-token"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            line = proc.stderr.readline()
            assert line, "login client ended"
            if "or open " in line:
                break
        assert drive_sign_in(line.split("or open ", 1)[1].strip(), "bob") is None
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    id_token = out.strip()
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", id_token), out
    # docs/KEYCLOAK.md's command (the role ARN is only required by the aws tools)
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        env = user_env(home, gen)
        env["ID_TOKEN"] = id_token
        p = sh("aws --endpoint-url %s --region us-east-1 sts assume-role-with-web-identity "
               "--role-arn arn:aws:iam::000000000000:role/keycloak --role-session-name me "
               "--web-identity-token \"$ID_TOKEN\"" % srv.endpoint, env)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["Credentials"]["AccessKeyId"]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    p = subprocess.run([BIN, "login", "oidc", "--provider", "default", "--id-token", "--env"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--id-token" in p.stderr


# ---- item 11: the page explains the callback, display names, error pages ----

def test_page_names_the_callback_to_register(srv):
    out = browse("ldap", srv.endpoint, "alice", USER_PASSWORDS["alice"])
    assert out["callback_url"] == srv.endpoint + "/login/callback"
    assert "redirect URI" in out["callback_help"], out["callback_help"]
    assert out["buttons"] == ["Sign in with Demo realm"]


def test_error_page_links_back_to_sign_in(srv):
    out = browse("error", srv.endpoint)
    assert out["status"] == 400 and out["message"], out
    assert out["back"]["text"] == "Back to sign in", out
    assert out["after_url"] == srv.endpoint + "/login" and out["after_title"] == "Sign in to tessera"


def test_display_name_setting_and_minio_alias(module_root, provider):
    env = {
        "TESSERA_IDENTITY_OPENID_CONFIG_URL": provider.config_url,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID": "tessera",
        "TESSERA_IDENTITY_OPENID_CONFIG_URL_RO": provider.config_url,
        "TESSERA_IDENTITY_OPENID_CLIENT_ID_RO": "tessera-cli",
        "MINIO_IDENTITY_OPENID_DISPLAY_NAME_RO": "Read-only <Keycloak>",
    }
    s = Server(os.path.join(module_root, "data-names"), env=env)
    s.start()
    try:
        out = browse("index", s.endpoint)
    finally:
        s.stop()
    assert sorted(out["buttons"]) == ["Sign in with OpenID Connect",
                                      "Sign in with Read-only <Keycloak>"], out
    listed = subprocess.run([BIN, "config", "list"], capture_output=True, text=True).stdout
    assert "`TESSERA_IDENTITY_OPENID_DISPLAY_NAME[_NAME]` | " \
           "`MINIO_IDENTITY_OPENID_DISPLAY_NAME[_NAME]`" in listed
    with open(os.path.join(ROOT, "docs", "CONFIG.md")) as f:
        assert "TESSERA_IDENTITY_OPENID_DISPLAY_NAME" in f.read()


# ---- item 1: the login snippets of docs/KEYCLOAK.md and docs/LDAP.md, run as written ----

def doc_blocks(name):
    with open(os.path.join(ROOT, "docs", name)) as f:
        return re.findall(r"^```(\w*)\n(.*?)^```", f.read(), re.M | re.S)


def doc_block(name, lang, needle):
    found = [body for kind, body in doc_blocks(name) if kind == lang and needle in body]
    assert len(found) == 1, (name, needle, found)
    return found[0]


DOC_ENDPOINTS = {"KEYCLOAK.md": "http://127.0.0.1:9000", "LDAP.md": "https://s3.example.org"}


@pytest.mark.parametrize("gen", ["debian", "newer"])
@pytest.mark.parametrize("doc", ["KEYCLOAK.md", "LDAP.md"])
def test_doc_credential_process_profile(srv, doc, gen):
    """The doc's credential_process profile, its once-in-a-terminal command and its aws
    command, with only the endpoint replaced by the test server's."""
    kind = "oidc" if doc == "KEYCLOAK.md" else "ldap"
    fix = lambda text: text.replace(DOC_ENDPOINTS[doc], srv.endpoint)
    profile = fix(doc_block(doc, "ini", "credential_process = tessera login " + kind))
    once, aws_cmd = fix(doc_block(doc, "sh", "> /dev/null")).strip().splitlines()
    assert "--cache ~/.aws/" in once and aws_cmd.startswith("aws --profile "), (once, aws_cmd)
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        env = user_env(home, gen)
        if kind == "oidc":
            env["TESSERA_OIDC_CLIENT_SECRET"] = "tessera-secret"
        with open(os.path.join(home, ".aws", "config"), "w") as f:
            f.write(profile)
        assert_fails_fast(once, env)
        t0 = time.time()
        p = sh(aws_cmd, env, timeout=60)
        assert p.returncode != 0 and time.time() - t0 < AWS_FAST, p.stderr
        assert "once in a terminal" in p.stderr, p.stderr
        term = Terminal(["bash", "-c", once], env)
        if kind == "oidc":
            device_sign_in(term, "bob")
        else:
            term.wait_for("LDAP password for alice: ")
            term.type(USER_PASSWORDS["alice"])
        assert term.finish()[0] == 0, term.text
        p = sh(aws_cmd, env)
        # the doc's command: `s3 ls` (KEYCLOAK.md) or `sts get-caller-identity` (LDAP.md)
        assert p.returncode == 0 and (buckets_in(p.stdout) or '"Arn"' in p.stdout), p.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_keycloak_md_id_token_block(srv, gen):
    block = doc_block("KEYCLOAK.md", "sh", "--id-token")
    block = block.replace(DOC_ENDPOINTS["KEYCLOAK.md"], srv.endpoint)
    block = block.replace("TESSERA_OIDC_CLIENT_SECRET=...", "TESSERA_OIDC_CLIENT_SECRET=tessera-secret")
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        term = Terminal(["bash", "-euo", "pipefail", "-c", block], user_env(home, gen))
        device_sign_in(term, "bob")
        rc, out = term.finish()
        assert rc == 0, term.text
        assert json.loads(out)["Credentials"]["AccessKeyId"], out
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_keycloak_md_token_file_profile_newer_tools(srv, provider):
    """The web_identity_token_file profile, which the doc says only the newer tools (aws cli
    1.29 / 2.13, boto3 1.28) can point at tessera: with the newer generation, as written."""
    profile = doc_block("KEYCLOAK.md", "ini", "web_identity_token_file")
    command = doc_block("KEYCLOAK.md", "sh", "AWS_ENDPOINT_URL_STS")
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        token_file = os.path.join(home, "keycloak-id-token")
        with open(token_file, "w") as f:
            f.write(provider.login("bob"))
        env = user_env(home, "newer")
        with open(os.path.join(home, ".aws", "config"), "w") as f:
            f.write(profile.replace("/run/user/1000/keycloak-id-token", token_file))
        p = sh(command.replace(DOC_ENDPOINTS["KEYCLOAK.md"], srv.endpoint), env)
        assert p.returncode == 0 and buckets_in(p.stdout), p.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ---- item 2: the cache renews expired credentials through the provider's refresh token ----

def expire_cache(path, **changes):
    """Makes the cached credentials unusable (Expiration in the past), with changes applied."""
    with open(path) as f:
        c = json.load(f)
    c["Expiration"] = "2020-01-01T00:00:00Z"
    c.update(changes)
    with open(path, "w") as f:
        json.dump(c, f)
    return c


@pytest.mark.parametrize("gen", ["debian", "newer"])
def test_oidc_cache_renews_through_refresh_token(srv, gen):
    # the test provider gives a refresh token for the scope offline_access (Keycloak: openid)
    cmd = ("tessera login oidc --endpoint %s --provider default --scope "
           "\"openid profile groups policy offline_access\" --cache ~/.aws/oidc-renew.json"
           % srv.endpoint)
    aws_cmd = "aws --profile t --endpoint-url %s s3 ls" % srv.endpoint
    home = tempfile.mkdtemp(prefix="tessera-user-")
    try:
        env = user_env(home, gen)
        env["TESSERA_OIDC_CLIENT_SECRET"] = "tessera-secret"
        with open(os.path.join(home, ".aws", "config"), "w") as f:
            f.write("[profile t]\nregion = us-east-1\ncredential_process = %s\n" % cmd)
        # once in a terminal
        term = Terminal(["bash", "-c", cmd + " > /dev/null"], env)
        device_sign_in(term, "bob")
        assert term.finish()[0] == 0, term.text
        cache = os.path.join(home, ".aws", "oidc-renew.json")
        assert os.stat(cache).st_mode & 0o777 == 0o600
        first = json.load(open(cache))
        refresh = first["RefreshToken"]
        assert refresh and first["Login"], first
        # the credentials expire: the aws cli (no terminal) is served through the refresh token
        expire_cache(cache)
        t0 = time.time()
        p = sh(aws_cmd, env, timeout=120)
        assert p.returncode == 0 and buckets_in(p.stdout), p.stderr
        assert time.time() - t0 < AWS_FAST and "To sign in" not in p.stderr, p.stderr
        renewed = json.load(open(cache))
        assert renewed["AccessKeyId"] != first["AccessKeyId"], renewed
        assert renewed["Expiration"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        assert renewed["RefreshToken"] and renewed["Login"] == first["Login"]
        assert os.stat(cache).st_mode & 0o777 == 0o600
        # the command itself: fresh credentials on stdout, the refresh token never shown
        expire_cache(cache)
        p = sh(cmd, env)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["AccessKeyId"] == json.load(open(cache))["AccessKeyId"]
        assert "RefreshToken" not in out
        for rt in (refresh, renewed["RefreshToken"]):
            assert rt not in p.stdout and rt not in p.stderr
        # a refresh token cached for another login is not used
        c = json.load(open(cache))
        expire_cache(cache, Login=c["Login"] + "x")
        assert_fails_fast(cmd, env)
        # a revoked / invalid refresh token: fails at once, saying the sign-in expired
        expire_cache(cache, Login=c["Login"], RefreshToken="revoked-" + c["RefreshToken"])
        p = assert_fails_fast(cmd, env)
        assert "sign-in has expired" in p.stderr and "invalid_grant" in p.stderr, p.stderr
        assert c["RefreshToken"] not in p.stderr
        t0 = time.time()
        p = sh(aws_cmd, env, timeout=120)
        assert p.returncode != 0 and time.time() - t0 < AWS_FAST, p.stderr
        assert "once in a terminal" in p.stderr and "sign-in has expired" in p.stderr, p.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ---- item 5: the page's own refusals count with the API's ----

def test_page_refusals_before_any_backend_are_counted(srv):
    from test_first_hour_server import families, sample   # the prometheus text parser's view

    def refusals():
        fams = families(requests.get(srv.endpoint + "/metrics", timeout=10).text)
        return {(b, r): sample(fams, "tessera_sts_refusals", "tessera_sts_refusals_total",
                               backend=b, reason=r) or 0
                for b, r in (("oidc", "InvalidRequest"), ("ldap", "AccessDenied"))}

    before = refusals()
    # an OpenID callback whose state is not this sign-in's (a forged or crossed callback)
    s = requests.Session()
    r = s.get(srv.endpoint + "/login/start?provider=", allow_redirects=False, timeout=10)
    assert r.status_code in (302, 303), r.status_code
    state = re.search(r"[?&]state=([^&]+)", r.headers["Location"]).group(1)
    r = s.get(srv.endpoint + "/login/callback", params={"code": "x", "state": state + "x"},
              timeout=10)
    assert r.status_code == 400 and "state" in r.text
    # a callback with no sign-in started in this browser (no state cookie)
    r = requests.get(srv.endpoint + "/login/callback", params={"code": "x", "state": state},
                     timeout=10)
    assert r.status_code == 400
    # the LDAP form with a forged CSRF token
    page = s.get(srv.endpoint + "/login", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = s.post(srv.endpoint + "/login/ldap", data={
        "username": "alice", "password": USER_PASSWORDS["alice"], "csrf": token[:-1] + "x"},
        timeout=10)
    assert r.status_code == 403 and "CSRF" in r.text
    after = refusals()
    assert after[("oidc", "InvalidRequest")] == before[("oidc", "InvalidRequest")] + 2, after
    assert after[("ldap", "AccessDenied")] == before[("ldap", "AccessDenied")] + 1, after
