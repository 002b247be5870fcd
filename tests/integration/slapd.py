"""A real OpenLDAP slapd for the integration tests, from a private config in a temp dir.

    with Slapd(tmpdir) as d:          # or d = Slapd(tmpdir); d.start(); ...; d.stop()
        d.ldap_url, d.ldaps_url, d.ca_file, d.wrong_ca_file
        d.add(ldif) / d.delete(dn) / d.modify(ldif)
        d.stop(); d.start()           # same ports and data: a directory restart
        d.pause(); d.resume()         # SIGSTOP / SIGCONT: a directory that hangs

slapd (Debian's /usr/sbin/slapd) runs as the current user on 127.0.0.1 with ldap:// (StartTLS
offered) and ldaps:// on free ports, the mdb backend, and a CA + server certificate made with
openssl whose SAN holds IP:127.0.0.1 (libldap checks the URI host against it). The directory
holds (suffix dc=example,dc=org):

    cn=lookup,ou=services     the lookup service account (password LOOKUP_PASSWORD)
    uid=alice,ou=people       in cn=devs and cn=ops (groupOfNames)
    uid=bob,ou=people         no userPassword at all
    uid=carol,ou=people       in no group (policies go on her DN)
    uid=dan(*),ou=people      a name that needs filter escaping
    cn=Smith\\, John,ou=people uid jsmith: a DN with an escaped comma, in cn=devs
    uid=dave,ou=people        in cn=ops (the one the deletion test removes)
    uid=twin,ou=people and uid=twin,ou=staff   two entries for one name

Each user's password is USER_PASSWORDS[uid]. stop() is safe to call twice; use the fixture
(or a finally:) so that slapd is stopped even when a test fails.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SLAPD = "/usr/sbin/slapd"
MODULES = "/usr/lib/ldap"
SCHEMA = "/etc/ldap/schema"
SUFFIX = "dc=example,dc=org"
ROOT_DN = "cn=admin," + SUFFIX
ROOT_PASSWORD = "root-secret-pw"
LOOKUP_DN = "cn=lookup,ou=services," + SUFFIX
LOOKUP_PASSWORD = "lookup-secret-pw"
USER_PASSWORDS = {
    "alice": "alice-pw-1",
    "carol": "carol-pw-1",
    "dan(*)": "dan-pw-1",
    "jsmith": "smith-pw-1",
    "dave": "dave-pw-1",
    "twin": "twin-pw-1",
}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (cmd[0], p.returncode, p.stdout, p.stderr))
    return p


def make_ca(d, name):
    """A self-signed CA in d: returns (cert path, key path)."""
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
          "-days", "2", "-subj", "/CN=%s" % name,
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return crt, key


def make_server_cert(d, ca_crt, ca_key):
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
          "-subj", "/CN=127.0.0.1"])
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
          "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext])
    return crt, key


def base_ldif():
    s = SUFFIX
    entries = [
        "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example" % s,
        "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people" % s,
        "dn: ou=staff,%s\nobjectClass: organizationalUnit\nou: staff" % s,
        "dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups" % s,
        "dn: ou=services,%s\nobjectClass: organizationalUnit\nou: services" % s,
        "dn: %s\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n"
        "cn: lookup\nuserPassword: %s" % (LOOKUP_DN, LOOKUP_PASSWORD),
    ]
    for uid in ("alice", "carol", "dan(*)", "dave"):
        entries.append(user_ldif(uid))
    entries.append("dn: uid=bob,ou=people,%s\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\n"
                   "sn: Bob" % s)
    entries.append("dn: cn=Smith\\, John,ou=people,%s\nobjectClass: inetOrgPerson\n"
                   "cn: Smith, John\nsn: Smith\nuid: jsmith\nmail: jsmith@example.org\n"
                   "userPassword: %s" % (s, USER_PASSWORDS["jsmith"]))
    entries.append(user_ldif("twin"))
    entries.append(user_ldif("twin", ou="staff"))
    entries.append(group_ldif("devs", ["uid=alice,ou=people,%s" % s,
                                       "cn=Smith\\, John,ou=people,%s" % s]))
    entries.append(group_ldif("ops", ["uid=alice,ou=people,%s" % s,
                                      "uid=dave,ou=people,%s" % s]))
    return "\n\n".join(entries) + "\n"


def user_ldif(uid, ou="people", password=None):
    pw = password if password is not None else USER_PASSWORDS[uid]
    return ("dn: uid=%s,ou=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n"
            "mail: %s@example.org\nuserPassword: %s"
            % (uid, ou, SUFFIX, uid, uid, uid, uid.replace("(", "").replace(")", "")
               .replace("*", "x"), pw))


def group_ldif(cn, members):
    return ("dn: cn=%s,ou=groups,%s\nobjectClass: groupOfNames\ncn: %s\n" % (cn, SUFFIX, cn)
            + "\n".join("member: %s" % m for m in members))


class Slapd:
    def __init__(self, tmpdir=None):
        self.own_dir = tmpdir is None
        self.dir = tmpdir or tempfile.mkdtemp(prefix="tessera-slapd-")
        os.makedirs(self.dir, exist_ok=True)
        self.db = os.path.join(self.dir, "db")
        os.makedirs(self.db, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "slapd.log")
        self.ca_file, ca_key = make_ca(self.dir, "test-ca")
        self.wrong_ca_file, _ = make_ca(self.dir, "wrong-ca")
        self.cert_file, self.key_file = make_server_cert(self.dir, self.ca_file, ca_key)
        self.conf = os.path.join(self.dir, "slapd.conf")
        self._write_conf()
        self.loaded = False

    @property
    def ldap_url(self):
        return "ldap://127.0.0.1:%d" % self.port

    @property
    def ldaps_url(self):
        return "ldaps://127.0.0.1:%d" % self.tls_port

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    @property
    def tls_addr(self):
        return "127.0.0.1:%d" % self.tls_port

    def _write_conf(self):
        with open(self.conf, "w") as f:
            f.write("""
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
modulepath {modules}
moduleload back_mdb
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
sizelimit 500

database mdb
maxsize 67108864
suffix "{suffix}"
rootdn "{rootdn}"
rootpw {rootpw}
directory {db}
index objectClass eq
index uid,cn,member eq

access to attrs=userPassword
    by anonymous auth
    by self write
    by * none
access to *
    by dn.exact="{lookup}" read
    by self read
    by * none
""".format(schema=SCHEMA, modules=MODULES, dir=self.dir, ca=self.ca_file, cert=self.cert_file,
                key=self.key_file, suffix=SUFFIX, rootdn=ROOT_DN, rootpw=ROOT_PASSWORD,
                db=self.db, lookup=LOOKUP_DN))

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return self
        urls = "ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/" % (self.port, self.tls_port)
        self.log = open(self.log_path, "ab")
        # -d 0: stay in the foreground (so we own the process) without debug output.
        self.proc = subprocess.Popen([SLAPD, "-d", "0", "-h", urls, "-f", self.conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("slapd exited (%s):\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    with socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.2):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("slapd did not start:\n" + self.read_log())
        if not self.loaded:
            self.add(base_ldif())
            self.loaded = True
        return self

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except OSError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- directory changes, as the root DN over plain LDAP on loopback ----

    def _tool(self, tool, args, ldif=None):
        cmd = [tool, "-x", "-H", self.ldap_url, "-D", ROOT_DN, "-w", ROOT_PASSWORD] + args
        return _run(cmd, input=ldif)

    def add(self, ldif):
        return self._tool("ldapadd", [], ldif)

    def modify(self, ldif):
        return self._tool("ldapmodify", [], ldif)

    def delete(self, dn):
        return self._tool("ldapdelete", [dn])

    def search(self, base, filt, *attrs):
        return self._tool("ldapsearch", ["-LLL", "-b", base, filt] + list(attrs)).stdout
