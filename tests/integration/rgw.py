"""A throwaway single-node Ceph cluster with a RADOS Gateway (Debian's ceph-mon, ceph-osd,
radosgw, ceph-common): one monitor and one OSD on the memstore backend (RAM, nothing on disk
but the monitor's store), cephx off, messenger v1 on loopback ports only, RGW's beast frontend
on a free loopback port. Start takes ~10-20 s; stop() kills every daemon it started (by pid),
also when start failed half-way.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "ceph", "monmaptool", "ceph-authtool",
            "radosgw-admin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing():
    """The binaries this machine lacks (empty when RGW can run)."""
    return [b for b in BINARIES if shutil.which(b) is None]


CONF = """[global]
fsid = {fsid}
mon host = [v1:127.0.0.1:{monp}]
mon initial members = a
ms bind msgr2 = false
ms bind ipv6 = false
ms bind ipv4 = true
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 460
osd max object namespace len = 64
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
pid file = {d}/run/$name.pid
mon data = {d}/mon/$name
osd data = {d}/osd/$name
keyring = {d}/keyring
rgw data = {d}/rgw
rgw frontends = beast endpoint=127.0.0.1:{rgwp} tcp_nodelay=1
rgw dns name = localhost
rgw thread pool size = 32
"""


class Rgw:
    def __init__(self, access_key="rgw-access-key-1", secret_key="rgw-secret-key-000000001"):
        self.dir = tempfile.mkdtemp(prefix="tessera-rgw-")
        self.access_key, self.secret_key = access_key, secret_key
        self.monp, self.port = free_port(), free_port()
        self.conf = os.path.join(self.dir, "ceph.conf")
        self.pids = []

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def run(self, *args, timeout=60):
        p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s\n%s" % (" ".join(args), p.returncode,
                                                          p.stderr[-2000:], self.logs()))
        return p.stdout

    def logs(self):
        out = []
        for name in ("mon.a", "osd.0", "client.rgw.x"):
            try:
                with open(os.path.join(self.dir, "log", name + ".log"), errors="replace") as f:
                    out.append("== %s ==\n%s" % (name, f.read()[-3000:]))
            except OSError:
                pass
        return "\n".join(out)

    def daemon(self, *args):
        """Starts a daemon in the foreground (-f) so that its pid is ours to stop."""
        p = subprocess.Popen(list(args) + ["-f"], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.dir, "log", "stderr"), "ab"))
        self.pids.append(p)
        return p

    def start(self):
        d = self.dir
        for sub in ("mon/mon.a", "osd/osd.0", "run", "log", "rgw"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        fsid = str(uuid.uuid4())
        with open(self.conf, "w") as f:
            f.write(CONF.format(fsid=fsid, monp=self.monp, rgwp=self.port, d=d))
        c = ["-c", self.conf]
        self.run("ceph-authtool", "--create-keyring", os.path.join(d, "keyring"), "--gen-key",
                 "-n", "mon.", "--cap", "mon", "allow *")
        self.run("monmaptool", "--create", "--addv", "a", "[v1:127.0.0.1:%d]" % self.monp, "--fsid",
                 fsid, os.path.join(d, "monmap"))
        self.run("ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", os.path.join(d, "monmap"),
                 "--keyring", os.path.join(d, "keyring"))
        self.daemon("ceph-mon", *c, "-i", "a")
        self.run("ceph", *c, "--connect-timeout", "20", "osd", "create", timeout=40)
        self.run("ceph-osd", *c, "-i", "0", "--mkfs")
        self.wait_osd_up(c)
        self.daemon("radosgw", *c, "-n", "client.rgw.x")
        self.wait_port(60)
        self.run("radosgw-admin", *c, "user", "create", "--uid", "tessera", "--display-name",
                 "tessera gateway", "--access-key", self.access_key, "--secret",
                 self.secret_key, timeout=60)
        return self

    def wait_osd_up(self, c, timeout=90):
        """Starts the OSD and waits until the monitor has it up. A monitor that has just
        started may refuse the OSD's first commands (EPERM while it settles), and the OSD
        then exits: it is started again (up to 3 times)."""
        deadline, starts = time.time() + timeout, 0
        osd = None
        while time.time() < deadline:
            if osd is None or (osd.poll() is not None and starts < 3):
                if osd is not None:
                    self.pids.remove(osd)  # it exited: not one to watch or stop
                osd = self.daemon("ceph-osd", *c, "-i", "0")
                starts += 1
            p = subprocess.run(["ceph", *c, "--connect-timeout", "10", "osd", "stat"],
                               capture_output=True, text=True, timeout=30)
            if p.returncode == 0 and "1 up" in p.stdout:
                return
            time.sleep(0.5)  # the monitor may still be electing itself
        raise RuntimeError("the OSD did not come up\n" + self.logs())

    def wait_port(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.pids:
                if p.poll() is not None:
                    raise RuntimeError("a ceph daemon exited\n" + self.logs())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("radosgw did not listen\n" + self.logs())

    def stop(self):
        for p in reversed(self.pids):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.pids):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.pids = []
        shutil.rmtree(self.dir, ignore_errors=True)
