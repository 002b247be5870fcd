"""The command line's --help (issue 14 item 7): every command and subcommand that the usage
lists answers --help with its usage on stdout and exit 0, without credentials, an endpoint
or a server; `tessera help` lists every command. Also the getopt_long forms (--opt=VALUE,
options after the arguments, `--` before an argument that begins with '-')."""
import os
import re
import subprocess

from conftest import BIN, Server, free_port


def bare_env():
    """No credentials, and an endpoint where nothing listens: --help must not need either."""
    return {"PATH": "/usr/bin:/bin", "TESSERA_ENDPOINT": "http://127.0.0.1:%d" % free_port()}


def run(*args, env=None, input=""):
    return subprocess.run([BIN] + list(args), env=env or bare_env(), capture_output=True,
                          text=True, timeout=30, input=input)


def assert_help(*args):
    p = run(*args, "--help")
    assert p.returncode == 0, (args, p.stderr)
    assert p.stdout.startswith("usage: tessera"), (args, p.stdout)
    assert p.stderr == "", (args, p.stderr)
    return p.stdout


def top_commands():
    """(command words...) for each form `tessera help` lists."""
    out = run("help").stdout
    forms = [l.split()[1:] for l in out.splitlines()
             if l.strip().startswith(("usage: tessera", "tessera "))]
    words = []
    for f in forms:
        f = [w for w in (f[1:] if f[0] == "tessera" else f)]
        w = [f[0]] + ([f[1]] if f[0] == "login" else [])
        words.append(w)
    return words


def admin_commands():
    """(group, verb) for each command line `tessera admin --help` lists."""
    out = assert_help("admin")
    cmds = []
    for line in out.splitlines():
        m = re.match(r"^  ([a-z-]+) ([a-z|-]+)", line)
        if m:
            for verb in m.group(2).split("|"):
                cmds.append((m.group(1), verb))
    return cmds


def test_help_lists_every_command():
    for args in (("help",), ("--help",), ("-h",)):
        p = run(*args)
        assert p.returncode == 0 and p.stdout.startswith("usage: tessera"), p
    out = run("help").stdout
    for form in ("tessera server", "tessera admin", "tessera login ldap", "tessera login oidc",
                 "tessera version"):
        assert form in out, form
    for verb in ("user", "group", "policy", "sts", "role", "set-secret", "attach",
                 "rotate-key", "trust"):
        assert verb in out, verb
    p = run()
    assert p.returncode == 2 and p.stdout == "" and "usage: tessera" in p.stderr


def test_every_command_takes_help():
    cmds = top_commands()
    assert ["server"] in cmds and ["admin"] in cmds and ["login", "ldap"] in cmds \
        and ["login", "oidc"] in cmds, cmds
    for words in cmds:
        if words[0] in ("help", "version"):
            assert run(*words).returncode == 0
            continue
        assert_help(*words)
    assert_help("login")
    assert "ldap" in assert_help("login") and "oidc" in assert_help("login")


def test_every_admin_subcommand_takes_help():
    cmds = admin_commands()
    groups = sorted({g for g, _ in cmds})
    assert groups == ["cluster", "group", "lifecycle", "policy", "role", "sts", "svcacct",
                      "user"], groups
    assert len(cmds) >= 24, cmds
    for group in groups:
        out = assert_help("admin", group)
        assert all(l.startswith("  " + group + " ") for l in out.splitlines()
                   if l.startswith("  ") and not l.startswith("  TESSERA"))
    for group, verb in cmds:
        out = assert_help("admin", group, verb)
        assert ("  %s %s" % (group, verb)) in out, out
        # -h too, and --help after the arguments
        p = run("admin", group, verb, "NAME", "-h")
        assert p.returncode == 0 and p.stdout == out, (group, verb, p.stderr)


def test_admin_forms_still_parse():
    env = bare_env()
    # the global options in both spellings come before the command; without credentials a
    # parsed command stops at the credential check (exit 2), not at the parser
    for args in (("--endpoint", env["TESSERA_ENDPOINT"], "user", "list"),
                 ("--endpoint=" + env["TESSERA_ENDPOINT"], "--json", "user", "list"),
                 ("policy", "attach", "readonly", "--user", "u"),
                 ("policy", "attach", "--user=u", "readonly"),
                 ("policy", "detach", "readonly", "--dn", "cn=a, ou=b"),
                 ("sts", "revoke", "--access-key", "AK"),
                 ("role", "create", "r", "--trust", "f.json"),
                 ("role", "policy", "attach", "r", "p"),
                 ("user", "add", "bob", "--", "-secret-with-dash"),
                 ("group", "add", "g", "m1", "m2")):
        p = run("admin", *args, env=env)
        assert p.returncode == 2 and "no credentials" in p.stderr, (args, p.stderr)
    # with credentials, an unreachable endpoint: exit 1 after parsing
    env2 = dict(env, TESSERA_ACCESS_KEY="ak", TESSERA_SECRET_KEY="sk")
    p = run("admin", "--access-key", "x", "--secret-key", "y", "user", "list", env=env2)
    assert p.returncode == 1 and p.stderr.startswith("tessera: "), p.stderr
    # usage errors: exit 2, the command's usage on stderr, nothing on stdout
    for args in (("user", "add", "onlyname"), ("policy", "attach", "p", "--nobody", "x"),
                 ("policy", "attach", "p", "--user", "u", "--group", "g"),
                 ("sts", "revoke", "--trust", "x"), ("sts", "revoke"), ("frobnicate",),
                 ("user", "frob"), ("user",), ("--endpoint",), ("--no-such",),
                 ("role", "create", "r"), ("user", "list", "extra")):
        p = run("admin", *args, env=env2)
        assert p.returncode == 2 and p.stdout == "" and "usage: tessera admin" in p.stderr, \
            (args, p.returncode, p.stderr)


def test_login_forms_still_parse():
    env = bare_env()
    # ldap: --user, --username and --user=; the password from stdin; the server is unreachable
    for args in (("--user", "u"), ("--username", "u"), ("--user=u",)):
        p = run("login", "ldap", *args, "--password-stdin", "--env", "--duration", "900",
                env=env, input="pw\n")
        assert p.returncode == 1 and env["TESSERA_ENDPOINT"] in p.stderr, (args, p.stderr)
    for args in (("ldap",), ("ldap", "--user"), ("ldap", "--user", "u", "extra"),
                 ("ldap", "--frob"), ("oidc",), ("oidc", "--provider", "x", "--port", "x"),
                 ("oidc", "--provider", "x", "--timeout", "0"), ("kerberos",)):
        p = run("login", *args, env=env)
        assert p.returncode == 2 and p.stdout == "", (args, p.stderr)
    # every provider-supplied string is escaped, the identity kind too
    p = run("login", "\x1b[31mkind", env=env)
    assert p.returncode == 2 and "\x1b" not in p.stderr and "\\x1B[31mkind" in p.stderr


def test_clients_trust_tessera_ca_file(tmp_root):
    """The one libcurl wrapper (core/curlx): https endpoints are verified against the system
    store plus TESSERA_CA_FILE; a missing bundle fails closed."""
    certs = os.path.join(tmp_root, "certs")
    os.makedirs(certs)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", os.path.join(certs, "private.key"),
                    "-out", os.path.join(certs, "public.crt")],
                   check=True, capture_output=True)
    srv = Server(os.path.join(tmp_root, "d"), certs=certs)
    srv.start()
    try:
        env = {"PATH": "/usr/bin:/bin", "TESSERA_ENDPOINT": srv.endpoint,
               "TESSERA_ACCESS_KEY": srv.root_user, "TESSERA_SECRET_KEY": srv.root_password}
        assert srv.endpoint.startswith("https://")
        p = run("admin", "user", "list", env=env)
        assert p.returncode == 1 and p.stderr.startswith("tessera: "), p.stderr  # untrusted
        p = run("admin", "user", "list", env=dict(env, TESSERA_CA_FILE=os.path.join(
            certs, "public.crt")))
        assert p.returncode == 0, p.stderr
        p = run("admin", "user", "list", env=dict(env, TESSERA_CA_FILE="/nonexistent.pem"))
        assert p.returncode == 1, p.stderr
        # the login client through the same wrapper: a TLS-verified STS call refused by the
        # server (no LDAP configured), not a TLS failure
        p = run("login", "ldap", "--user", "u", "--password-stdin", input="pw\n",
                env=dict(env, TESSERA_CA_FILE=os.path.join(certs, "public.crt")))
        assert p.returncode == 1 and "tessera login ldap: " in p.stderr, p.stderr
        assert "SSL" not in p.stderr and "certificate" not in p.stderr, p.stderr
    finally:
        srv.stop()
