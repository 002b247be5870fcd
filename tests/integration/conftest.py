"""Fixtures for the integration suite: a real tessera server on a free loopback port, driven by
real clients (boto3, the aws cli, curl, the AWS SDK for JavaScript, minio-js).

Run with Debian's python: /usr/bin/python3 -m pytest tests/integration
The binary comes from $TESSERA_BIN (ctest sets it) or build/tessera.

IAM store: with TESSERA_TEST_IAM_STORE=etcd (the ctest entry integration.etcd), the session
starts one real etcd (etcd.py) and every Server gets TESSERA_ETCD_ENDPOINTS of it and a
TESSERA_ETCD_PATH_PREFIX of its own, derived from its data directory (so tests stay isolated
from each other, and a restart on the same data directory finds its state again), unless the
test sets TESSERA_ETCD_ENDPOINTS / MINIO_ETCD_ENDPOINTS itself or passes iam_store="lmdb".
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3
import botocore.config
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("TESSERA_BIN") or os.path.join(ROOT, "build", "tessera")
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
ROOT_USER = "tessera-root"
ROOT_PASSWORD = "tessera-root-secret-1"

IAM_STORE = os.environ.get("TESSERA_TEST_IAM_STORE") or "lmdb"
if IAM_STORE not in ("lmdb", "etcd"):
    raise RuntimeError("TESSERA_TEST_IAM_STORE=%s: expected lmdb or etcd" % IAM_STORE)
_session_etcd = None  # the session's etcd (etcd.EtcdCluster) when IAM_STORE == "etcd"


@pytest.fixture(scope="session", autouse=True)
def session_iam_store():
    """Starts the session's etcd when TESSERA_TEST_IAM_STORE=etcd (a missing etcd fails the
    run: etcd.EtcdMissing), and always stops it at the end."""
    global _session_etcd
    if IAM_STORE != "etcd":
        yield None
        return
    import etcd
    cluster = etcd.EtcdCluster(1).start()
    _session_etcd = cluster
    try:
        yield cluster
    finally:
        _session_etcd = None
        cluster.stop()


def etcd_prefix_for(data_dir):
    """The etcd key prefix of the store that belongs to data_dir (one per data directory)."""
    h = hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:16]
    return "/tessera-it/%s/" % h


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A tessera server process. Stopped by the fixture, even when a test fails."""

    def __init__(self, data_dir, env=None, certs=None, faketime=None, iam_store=None):
        self.data_dir = data_dir
        self.iam_store = iam_store or IAM_STORE
        self.bin = BIN
        self.root_user = ROOT_USER
        self.root_password = ROOT_PASSWORD
        self.extra_env = dict(env or {})
        self.certs = certs
        self.faketime = faketime
        self.proc = None
        self.port = None
        self.log_path = os.path.join(os.path.dirname(data_dir), "server-%d.log" % id(self))
        self.audit_path = os.path.join(os.path.dirname(data_dir), "audit.log")

    @property
    def endpoint(self):
        scheme = "https" if self.certs else "http"
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("MINIO_") or k.startswith("TESSERA_"):
                del env[k]
        env["TESSERA_ROOT_USER"] = self.root_user
        env["TESSERA_ROOT_PASSWORD"] = self.root_password
        env["TESSERA_AUDIT_LOG"] = self.audit_path
        env.update(self.extra_env)
        self.add_etcd_env(env)
        return env

    def add_etcd_env(self, env):
        if self.iam_store != "etcd":
            return
        if "TESSERA_ETCD_ENDPOINTS" in self.extra_env or "MINIO_ETCD_ENDPOINTS" in self.extra_env:
            return
        if _session_etcd is None:
            raise RuntimeError("TESSERA_TEST_IAM_STORE=etcd but no session etcd is running")
        env["TESSERA_ETCD_ENDPOINTS"] = _session_etcd.endpoints
        if "TESSERA_ETCD_PATH_PREFIX" not in self.extra_env and \
                "MINIO_ETCD_PATH_PREFIX" not in self.extra_env:
            env["TESSERA_ETCD_PATH_PREFIX"] = etcd_prefix_for(self.data_dir)

    def start(self, faketime=None):
        if self.port is None:
            self.port = free_port()
        cmd = [self.bin, "server", "--address", "127.0.0.1:%d" % self.port]
        if self.certs:
            cmd += ["--certs", self.certs]
        cmd.append(self.data_dir)
        ft = faketime if faketime is not None else self.faketime
        env = self.env()
        if ft:
            # Preload libfaketime directly (the faketime wrapper forks, and a signal to it would
            # not reach the server). It comes ahead of the ASan runtime in the ASAN build.
            env["LD_PRELOAD"] = FAKETIME_LIB
            env["FAKETIME"] = ft
            env["FAKETIME_DONT_RESET"] = "1"
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tessera exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tessera did not start:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        self.check_sanitizers()
        return rc

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

    def check_sanitizers(self):
        """In the ASAN build a sanitizer report in the server's log fails the test, whether
        the report aborted the server or came at exit (leaks)."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return
        for mark in self.SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                raise AssertionError("sanitizer report in the server log %s:\n%s"
                                     % (self.log_path, text[max(0, i - 200):i + 6000]))

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, faketime=None):
        self.stop()
        return self.start(faketime=faketime)


@pytest.fixture
def tmp_root():
    d = tempfile.mkdtemp(prefix="tessera-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def server(tmp_root):
    srv = Server(os.path.join(tmp_root, "data"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def s3_client(server, ak=None, sk=None, token=None, **cfg):
    """A boto3 S3 client (path-style) for server; root credentials when ak is None."""
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=ak or server.root_user,
        aws_secret_access_key=sk or server.root_password,
        aws_session_token=token,
        region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}, **cfg),
    )


def sts_client(server, ak=None, sk=None, token=None, validate=True):
    """A boto3 STS client; validate=False lets out-of-range parameters reach the server."""
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        aws_access_key_id=ak or server.root_user,
        aws_secret_access_key=sk or server.root_password,
        aws_session_token=token,
        region_name="us-east-1",
        config=botocore.config.Config(retries={"max_attempts": 1},
                                      parameter_validation=validate),
    )


def aws(server, *args, ak=None, sk=None, token=None, aws_bin="/usr/bin/aws", check=True,
        input=None):
    """Runs the aws cli against server with credentials from the environment."""
    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="tessera-aws-")
    env.update({
        "AWS_ACCESS_KEY_ID": ak or server.root_user,
        "AWS_SECRET_ACCESS_KEY": sk or server.root_password,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.path.join(home, "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials"),
        "AWS_PAGER": "",
    })
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    cmd = [aws_bin, "--endpoint-url", server.endpoint] + list(args)
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, input=input, timeout=300)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def admin(server, *args, ak=None, sk=None, check=True):
    """Runs `tessera admin` against server (root credentials by default)."""
    env = dict(os.environ)
    env.update({"TESSERA_ENDPOINT": server.endpoint,
                "TESSERA_ACCESS_KEY": ak or server.root_user,
                "TESSERA_SECRET_KEY": sk or server.root_password})
    p = subprocess.run([server.bin, "admin"] + list(args), env=env, capture_output=True,
                       text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("tessera admin %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p


def newer_python():
    """A python3 other than Debian's whose botocore is >= 1.36 (sends checksum trailers), or
    None."""
    import glob

    for c in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin/python3"))):
        p = subprocess.run([c, "-c", "import botocore,sys;v=tuple(int(x) for x in "
                            "botocore.__version__.split('.')[:2]);sys.exit(0 if v>=(1,36) else 1)"],
                           capture_output=True)
        if p.returncode == 0:
            return c
    return None


def run_newer_boto3(server, script, *args, timeout=300):
    """Runs script with the newer boto3 (newer_python) as
    `script ENDPOINT ROOT_USER ROOT_PASSWORD ARGS...`; asserts it exits 0; returns its stdout.
    Skips (with the reason) where this machine has no such Python."""
    py = newer_python()
    if py is None:
        pytest.skip("no Python with botocore >= 1.36 on this machine (Debian ships 1.29)")
    p = subprocess.run([py, "-c", script, server.endpoint, server.root_user, server.root_password]
                       + list(args), capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def newer_aws_cli():
    """The aws cli first on PATH when it is not Debian's /usr/bin/aws (e.g. a pyenv v1)."""
    found = shutil.which("aws")
    if found and os.path.realpath(found) != os.path.realpath("/usr/bin/aws"):
        return found
    return None
