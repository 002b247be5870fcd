"""A real etcd (Debian's etcd-server, /usr/bin/etcd) for the integration suite: one member or a
static cluster of several, on free loopback ports, each member with its own temporary data
directory. Members can be stopped (SIGTERM), killed (SIGKILL) and started again on the same
data directory and ports (they rejoin the cluster).

Whoever starts an Etcd or EtcdCluster stops it (the fixtures do it in a finalizer, so also when
a test fails); as a last resort every member is started with PR_SET_PDEATHSIG, so it dies with
the process that started it (start members from the main thread: the signal follows the
thread that forked), and an atexit hook kills what is still running.

A missing /usr/bin/etcd is an error (EtcdMissing), never a skip: .ci/deps.sh installs it.
"""
import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ETCD_BIN = os.environ.get("TESSERA_TEST_ETCD_BIN", "/usr/bin/etcd")
ETCDCTL_BIN = os.environ.get("TESSERA_TEST_ETCDCTL_BIN", "/usr/bin/etcdctl")

_RUNNING = set()


class EtcdMissing(RuntimeError):
    pass


def require_etcd():
    if not os.access(ETCD_BIN, os.X_OK):
        raise EtcdMissing("%s not found: install Debian's etcd-server (.ci/deps.sh does)" % ETCD_BIN)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


@atexit.register
def _kill_leftovers():
    for m in list(_RUNNING):
        m.kill()


def http_json(url, body=None, timeout=2.0):
    """GET (body None) or POST a JSON body; returns (status, parsed JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


class Member:
    """One etcd member process."""

    def __init__(self, name, root, token):
        self.name = name
        self.data_dir = os.path.join(root, name + ".etcd")
        self.log_path = os.path.join(root, name + ".log")
        self.client_port = _free_port()
        self.peer_port = _free_port()
        self.token = token
        self.initial_cluster = None  # set by the cluster before the first start
        self.proc = None
        self.log = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.client_port

    @property
    def peer_url(self):
        return "http://127.0.0.1:%d" % self.peer_port

    def command(self):
        return [ETCD_BIN,
                "--name", self.name,
                "--data-dir", self.data_dir,
                "--listen-client-urls", self.endpoint,
                "--advertise-client-urls", self.endpoint,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", self.initial_cluster or "%s=%s" % (self.name, self.peer_url),
                "--initial-cluster-state", "new",
                "--initial-cluster-token", self.token,
                # Quick elections on loopback: a stopped leader is replaced in about a second.
                "--heartbeat-interval", "50",
                "--election-timeout", "500",
                "--logger", "zap",
                "--log-outputs", "stderr",
                "--log-level", "warn"]

    def start(self):
        require_etcd()
        if self.running():
            return self
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), env=env, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        _RUNNING.add(self)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        self.log = None
        _RUNNING.discard(self)
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-6000:]
        except OSError:
            return ""

    def healthy(self, timeout=1.0):
        """etcd's own /health: true only when this member sees a leader (quorum)."""
        try:
            status, body = http_json(self.endpoint + "/health", timeout=timeout)
        except OSError:
            return False
        return status == 200 and isinstance(body, dict) and body.get("health") == "true"

    def status(self):
        """/v3/maintenance/status of this member (header.revision, leader, raftTerm, ...)."""
        return http_json(self.endpoint + "/v3/maintenance/status", {})[1]

    def revision(self):
        """The store's current revision, as this member sees it."""
        return int(self.status()["header"]["revision"])


class EtcdCluster:
    """n etcd members forming one static cluster (n == 1: a single member)."""

    def __init__(self, n=1, root=None):
        require_etcd()
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="tessera-etcd-")
        os.makedirs(self.root, exist_ok=True)
        token = "tessera-it-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.members = [Member("m%d" % i, self.root, token) for i in range(n)]
        initial = ",".join("%s=%s" % (m.name, m.peer_url) for m in self.members)
        for m in self.members:
            m.initial_cluster = initial

    @property
    def endpoints(self):
        """The comma-separated client URLs (TESSERA_ETCD_ENDPOINTS)."""
        return ",".join(m.endpoint for m in self.members)

    def start(self, timeout=30):
        try:
            for m in self.members:
                m.start()
            self.wait_healthy(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, members=None, timeout=30):
        """Waits until every given member (default: every running one) reports healthy."""
        members = members if members is not None else [m for m in self.members if m.running()]
        deadline = time.monotonic() + timeout
        while True:
            for m in members:
                if m.proc is not None and m.proc.poll() is not None:
                    raise RuntimeError("etcd %s exited with %s:\n%s"
                                       % (m.name, m.proc.returncode, m.read_log()))
            if all(m.healthy() for m in members):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("etcd did not become healthy in %d s:\n%s" % (
                    timeout, "\n".join("-- %s:\n%s" % (m.name, m.read_log()) for m in members)))
            time.sleep(0.1)

    def wait_unhealthy(self, members=None, timeout=15):
        """Waits until the given running members (default: every running one) report no
        quorum."""
        members = members if members is not None else [m for m in self.members if m.running()]
        deadline = time.monotonic() + timeout
        while any(m.healthy() for m in members):
            if time.monotonic() > deadline:
                raise RuntimeError("etcd still healthy after %d s" % timeout)
            time.sleep(0.1)

    def stop(self):
        for m in self.members:
            m.stop()
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def etcdctl(self, *args, endpoints=None, timeout=10, check=True):
        """Runs etcdctl (v3 API) against the cluster; returns the CompletedProcess."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL")}
        env["ETCDCTL_API"] = "3"
        cmd = [ETCDCTL_BIN, "--endpoints", endpoints or self.endpoints,
               "--dial-timeout", "1s", "--command-timeout", "%ds" % max(1, timeout - 1)]
        p = subprocess.run(cmd + list(args), env=env, capture_output=True, text=True,
                           timeout=timeout + 5)
        if check and p.returncode != 0:
            raise AssertionError("etcdctl %s failed (%d): %s%s"
                                 % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
