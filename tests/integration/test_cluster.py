"""Many nodes on one IAM store in etcd (issue 16), with a real etcd (etcd.py: Debian's
etcd-server on loopback ports) and real clients (boto3, the `tessera admin` CLI, SigV4-signed
admin API calls where the exact HTTP status matters):

- one etcd, three tessera nodes A, B, C (own data directories, the same root credentials and
  TESSERA_ETCD_PATH_PREFIX): a user created on A signs on B; AssumeRole credentials minted on
  A work on B and C; `sts revoke --user` on B is refused on A and C within 1 s; disabling the
  parent on C ends its sessions on A; `sts rotate-key` on C keeps old credentials working and
  new ones minted on A verify on B; `admin cluster status` lists the three nodes;
- a three-member etcd cluster: one member down changes nothing; no quorum: admin writes 503
  at once, temporary credentials served until TESSERA_ETCD_STALE_MAX then 503; quorum back:
  recovery without restarting tessera; a node cut off while others write and etcd compacts
  resynchronises when it is back;
- nodes starting together agree on one token key;
- 100 concurrent conflicting edits from two nodes end in the serial outcome;
- kill -9 of a node under admin load loses no acknowledged write;
- an unreachable etcd stops the server from starting; MINIO_ETCD_* work verbatim;
- the suite's own TESSERA_TEST_IAM_STORE=etcd run really reaches etcd (conftest.py).

etcd missing fails these tests (etcd.EtcdMissing), it never skips them.
"""
import base64
import concurrent.futures
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

import etcd
import conftest
from conftest import ROOT_PASSWORD, ROOT_USER, Server, admin, free_port, s3_client, sts_client

PREFIX = "/tessera-cluster-it/"
ROLE = "arn:aws:iam::000000000000:role/x"
DENIED = ("AccessDenied", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken")
PROPAGATION_S = 1.0  # the bound: a change on one node is in force everywhere in 1 s
KEY_PUBLISH_S = 2.0  # a new token key seals only once this old (sts/sts_int.h STS_KEY_PUBLISH_S)


# ---- helpers ----------------------------------------------------------------------------

def node(root, name, endpoints, prefix=PREFIX, raw_env=None, **env):
    """A tessera node on the etcd at endpoints (not started); raw_env replaces the
    TESSERA_ETCD_* variables."""
    e = {"TESSERA_ETCD_ENDPOINTS": endpoints, "TESSERA_ETCD_PATH_PREFIX": prefix}
    if raw_env is not None:
        e = dict(raw_env)
    e.update({k: str(v) for k, v in env.items()})
    os.makedirs(os.path.join(root, name), exist_ok=True)
    return Server(os.path.join(root, name, "data"), env=e, iam_store="etcd")


def admin_http(server, method, path, body=None, timeout=30):
    """One SigV4-signed admin API call as root; returns (status, parsed JSON or text)."""
    url = server.endpoint + "/tessera/admin/v1/" + path
    data = b"" if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=data, headers=headers)
    creds = botocore.credentials.Credentials(ROOT_USER, ROOT_PASSWORD)
    botocore.auth.SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    r = requests.request(method, url, data=data, headers=dict(req.headers.items()),
                         timeout=timeout)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def ok_admin(server, method, path, body=None):
    status, out = admin_http(server, method, path, body)
    assert status == 200, "%s %s on %s: %s %s" % (method, path, server.endpoint, status, out)
    return out


def add_user(server, name, policy="readwrite"):
    ok_admin(server, "PUT", "users/" + name, {"secretKey": name + "-secret"})
    if policy:
        ok_admin(server, "POST", "policies/%s/attach" % policy, {"user": name})


def mint(server, user):
    """AssumeRole on server as the static user; returns the Credentials dict."""
    return sts_client(server, user, user + "-secret").assume_role(
        RoleArn=ROLE, RoleSessionName="sess")["Credentials"]


def s3_with(server, c):
    return s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def probe(s3):
    """'ok', or the error code of a ListBuckets made with this client."""
    try:
        s3.list_buckets()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def probe_status(s3):
    """(HTTP status, error code or 'ok') of a ListBuckets."""
    try:
        s3.list_buckets()
        return 200, "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]


def until(pred, timeout, step=0.02):
    """Polls pred until it is true; returns the seconds it took, or None on timeout."""
    t0 = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(step)


def token_kid(token):
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[1:9].decode()


def cluster_status(server):
    p = admin(server, "--json", "cluster", "status")
    return json.loads(p.stdout)


def status_nodes(doc):
    """The node records of a `cluster status --json` document (sts/cluster.h), by address."""
    return {n["address"]: n for n in doc["nodes"]}


# ---- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trio():
    """One etcd and three started nodes A, B, C sharing one prefix."""
    root = tempfile.mkdtemp(prefix="tessera-cluster-")
    store = etcd.EtcdCluster(1, root=os.path.join(root, "etcd"))
    nodes = []
    try:
        store.start()
        for name in "ABC":
            nodes.append(node(root, name, store.endpoints).start())
        yield store, nodes
    finally:
        for n in nodes:
            n.stop()
        store.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def etcd1(tmp_root):
    store = etcd.EtcdCluster(1, root=os.path.join(tmp_root, "etcd"))
    try:
        yield store.start()
    finally:
        store.stop()


@pytest.fixture
def etcd3(tmp_root):
    store = etcd.EtcdCluster(3, root=os.path.join(tmp_root, "etcd"))
    try:
        yield store.start()
    finally:
        store.stop()


@pytest.fixture
def nodes(tmp_root):
    """Starts nodes on demand (make(name, endpoints, **env)); stops them all at the end."""
    started = []

    def make(name, endpoints, **kw):
        n = node(tmp_root, name, endpoints, **kw)
        started.append(n)
        return n.start()
    try:
        yield make
    finally:
        for n in started:
            n.stop()


# ---- one etcd, three nodes --------------------------------------------------------------

def test_user_created_on_a_signs_on_b(trio):
    _, (a, b, c) = trio
    alice = s3_client(b, "alice", "alice-secret")
    assert probe(alice) == "InvalidAccessKeyId"
    add_user(a, "alice")
    took = until(lambda: probe(alice) == "ok", 3)
    assert took is not None and took <= PROPAGATION_S, took
    assert probe(s3_client(c, "alice", "alice-secret")) == "ok"
    # The user's policies came along: one not attached is not granted anywhere.
    add_user(a, "alice-none", policy=None)
    none = s3_client(c, "alice-none", "alice-none-secret")
    assert until(lambda: probe(none) == "AccessDenied", 3) is not None


def test_assume_role_on_a_works_on_b_and_c(trio):
    _, (a, b, c) = trio
    add_user(a, "arthur")
    creds = mint(a, "arthur")
    seen = []
    for n in (a, b, c):
        assert probe(s3_with(n, creds)) == "ok", n.endpoint
        ident = sts_client(n, creds["AccessKeyId"], creds["SecretAccessKey"],
                           creds["SessionToken"]).get_caller_identity()
        seen.append((ident["Arn"], ident["UserId"]))
    assert seen[0][1].endswith(":sess") and seen == [seen[0]] * 3, seen


def test_revoke_on_b_refused_on_a_and_c_within_1s(trio):
    _, (a, b, c) = trio
    add_user(a, "rita")
    creds = mint(a, "rita")
    on_a, on_c = s3_with(a, creds), s3_with(c, creds)
    assert probe(on_a) == "ok" and probe(on_c) == "ok"
    admin(b, "sts", "revoke", "--user", "rita")
    t0 = time.monotonic()
    refused = {}
    while len(refused) < 2 and time.monotonic() - t0 < 5:
        for name, s3 in (("A", on_a), ("C", on_c)):
            if name not in refused:
                code = probe(s3)
                if code != "ok":
                    assert code in DENIED, code
                    refused[name] = time.monotonic() - t0
        time.sleep(0.01)
    assert set(refused) == {"A", "C"}, refused
    assert max(refused.values()) <= PROPAGATION_S, refused
    # Sessions issued after the revocation work everywhere.
    fresh = mint(c, "rita")
    assert probe(s3_with(a, fresh)) == "ok" and probe(s3_with(b, fresh)) == "ok"


def test_disabling_parent_on_c_ends_its_sessions_on_a(trio):
    _, (a, b, c) = trio
    add_user(a, "dora")
    creds = mint(a, "dora")
    on_a = s3_with(a, creds)
    static_a = s3_client(a, "dora", "dora-secret")
    assert probe(on_a) == "ok" and probe(static_a) == "ok"
    admin(c, "user", "disable", "dora")
    took = until(lambda: probe(on_a) != "ok" and probe(static_a) != "ok", 5)
    assert took is not None and took <= PROPAGATION_S, took
    assert probe(on_a) in DENIED and probe(static_a) in DENIED
    # Still revoked after a later enable (on yet another node), as on one node.
    admin(b, "user", "enable", "dora")
    assert until(lambda: probe(static_a) == "ok", 3) is not None
    assert probe(on_a) in DENIED


def test_rotate_key_on_c(trio):
    _, (a, b, c) = trio
    add_user(a, "otto")
    old = mint(a, "otto")
    old_kid = token_kid(old["SessionToken"])
    out = json.loads(admin(c, "--json", "sts", "rotate-key").stdout)
    new_kid = out["keyId"]
    assert new_kid != old_kid
    # Old credentials keep working everywhere, at once.
    for n in (a, b, c):
        assert probe(s3_with(n, old)) == "ok", n.endpoint
    # A mints with the new key once the change reached it and the key is STS_KEY_PUBLISH_S
    # old (so every node verifies it before any token sealed with it exists) ...
    minted = []
    took = until(lambda: minted.append(mint(a, "otto")) or
                 token_kid(minted[-1]["SessionToken"]) == new_kid, 6, step=0.05)
    assert took is not None and took <= KEY_PUBLISH_S + PROPAGATION_S, (took, new_kid)
    # (what it minted meanwhile, with the old key, works everywhere)
    for n in (b, c):
        assert probe(s3_with(n, minted[0])) == "ok", n.endpoint
    # ... and what A minted verifies on B and C at once.
    for n in (b, c, a):
        assert probe(s3_with(n, minted[-1])) == "ok", n.endpoint
    assert probe(s3_with(b, old)) == "ok"


def test_cluster_status_lists_three_nodes(trio):
    _, (a, b, c) = trio
    want = {a.endpoint, b.endpoint, c.endpoint}
    # Every node writes its heartbeat when it starts, then every 2 s.
    doc = cluster_status(b)
    assert set(status_nodes(doc)) == want, doc
    assert doc["engine"] == "etcd" and doc["fresh"] is True and doc["revision"] > 0, doc
    kid = json.loads(admin(a, "--json", "sts", "rotate-key").stdout)["keyId"]
    rev = json.loads(admin(a, "--json", "cluster", "status").stdout)["revision"]

    def caught_up():
        nodes = status_nodes(cluster_status(c)).values()
        return all(n["up"] and kid in n["key_ids"] and n["revision"] >= rev for n in nodes)
    assert until(caught_up, 2 * 2 + 2, step=0.2) is not None, cluster_status(c)
    nodes = status_nodes(cluster_status(c))
    assert set(nodes) == want
    assert sum(1 for n in nodes.values() if n["self"]) == 1 and nodes[c.endpoint]["self"]
    assert len({n["id"] for n in nodes.values()}) == 3
    # The human-readable form names the three nodes and the new key.
    text = admin(a, "cluster", "status").stdout
    assert all(e.split("//")[1] in text for e in want) and kid in text, text


# ---- a three-member etcd cluster --------------------------------------------------------

STALE_MAX = 12


def health(node, what):
    """The status of GET /health/WHAT (or of /WHAT when it starts with minio/)."""
    path = "/" + what if what.startswith("minio/") else "/health/" + what
    try:
        with urllib.request.urlopen(node.endpoint + path, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_etcd_member_loss_quorum_loss_and_recovery(etcd3, nodes):
    m0, m1, m2 = etcd3.members
    # A prefers m0 (the first to stop), B prefers m2 (the last one standing).
    a = nodes("A", etcd3.endpoints, TESSERA_ETCD_STALE_MAX=STALE_MAX)
    b = nodes("B", ",".join(m.endpoint for m in (m2, m1, m0)), TESSERA_ETCD_STALE_MAX=STALE_MAX)
    add_user(a, "quinn")
    creds = mint(a, "quinn")
    on_a, on_b = s3_with(a, creds), s3_with(b, creds)
    assert probe(on_a) == "ok" and until(lambda: probe(on_b) == "ok", 2) is not None

    # One member down (A's own endpoint): everything keeps working, admin writes too.
    m0.stop()
    etcd3.wait_healthy([m1, m2])
    add_user(a, "quinn2")
    assert probe(s3_client(a, "quinn2", "quinn2-secret")) == "ok"
    assert until(lambda: probe(s3_client(b, "quinn2", "quinn2-secret")) == "ok", 2) is not None
    creds2 = mint(b, "quinn2")
    assert probe(s3_with(a, creds2)) == "ok"
    admin(b, "sts", "revoke", "--user", "quinn2")
    assert until(lambda: probe(s3_with(a, creds2)) in DENIED, 2) is not None

    # No quorum: admin writes 503 at once with a message saying why, and the last synchronised
    # state keeps serving temporary credentials (and static users) until STALE_MAX ...
    m1.stop()
    lost = time.monotonic()
    etcd3.wait_unhealthy([m2])
    static_a = s3_client(a, "quinn", "quinn-secret")
    for s3 in (on_a, on_b, static_a):
        assert probe(s3) == "ok", "refused right after the quorum loss"
    for n in (a, b):
        t0 = time.monotonic()
        status, out = admin_http(n, "PUT", "users/late-%d" % n.port, {"secretKey": "late-secret"})
        took = time.monotonic() - t0
        assert status == 503, (status, out)
        assert out["Code"] == "ServiceUnavailable", out
        assert out["Message"].startswith("IAM store unavailable: etcd ("), out
        assert took < 6, took
    assert time.monotonic() - lost < STALE_MAX - 3, "the writes took too long to test staleness"
    assert probe(on_a) == "ok" and probe(on_b) == "ok" and probe(static_a) == "ok"
    assert health(a, "ready") == 200
    # ... then refuses them with 503.
    refused = until(lambda: probe_status(on_a)[0] == 503 and probe_status(on_b)[0] == 503
                    and probe_status(static_a)[0] == 503, STALE_MAX + 5, step=0.1)
    assert refused is not None, (probe_status(on_a), probe_status(on_b), probe_status(static_a))
    since_loss = time.monotonic() - lost
    assert STALE_MAX - 3 <= since_loss <= STALE_MAX + 4, since_loss
    assert probe_status(on_a) == (503, "ServiceUnavailable")
    p = admin(a, "user", "add", "late-cli", "late-secret", check=False)
    assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
    # a load balancer's readiness check routes around the stale node; it is still live
    assert health(a, "ready") == 503 and health(a, "cluster") == 503
    assert health(a, "live") == 200 and health(a, "minio/health/live") == 200

    # Quorum back: recovery without restarting tessera.
    m0.start()
    m1.start()
    etcd3.wait_healthy()
    back = time.monotonic()

    def recovered():
        return (probe(on_a) == "ok" and probe(on_b) == "ok" and
                admin_http(a, "PUT", "users/after-q", {"secretKey": "after-q-secret"})[0] in (200, 409))
    took = until(recovered, 15, step=0.2)
    assert took is not None, (probe_status(on_a), probe_status(on_b), a.read_log()[-2000:])
    assert time.monotonic() - back < 10
    assert health(a, "ready") == 200
    ok_admin(a, "POST", "policies/readwrite/attach", {"user": "after-q"})
    after = s3_client(b, "after-q", "after-q-secret")
    assert until(lambda: probe(after) == "ok", 2) is not None
    assert a.proc.poll() is None and b.proc.poll() is None


def test_broken_watch_resynchronises(etcd3, nodes):
    """A node cut off from etcd while others change things (and etcd compacts the history it
    would have watched from) catches up by a fresh range read when it reconnects."""
    m0, m1, m2 = etcd3.members
    a = nodes("A", m0.endpoint)  # A knows only m0
    b = nodes("B", ",".join(m.endpoint for m in (m1, m2)))
    add_user(b, "wanda")
    add_user(b, "walter")
    creds = mint(b, "wanda")
    on_a = s3_with(a, creds)
    assert until(lambda: probe(on_a) == "ok", 2) is not None
    m0.stop()  # A's watch breaks; A has no other endpoint
    admin(b, "sts", "revoke", "--user", "wanda")
    admin(b, "user", "remove", "walter")
    add_user(b, "wilma")
    rev = m1.revision()
    etcd3.etcdctl("compact", str(rev), endpoints=m1.endpoint)
    # Until it is back, A still serves what it knew (STALE_MAX is the default 60 s).
    assert probe(on_a) == "ok"
    m0.start()
    etcd3.wait_healthy()
    took = until(lambda: probe(on_a) in DENIED and
                 probe(s3_client(a, "walter", "walter-secret")) == "InvalidAccessKeyId" and
                 probe(s3_client(a, "wilma", "wilma-secret")) == "ok", 10, step=0.1)
    assert took is not None, (probe(on_a), a.read_log()[-3000:])
    assert took < 5, took


def test_nodes_starting_together_agree_on_one_key(etcd1, tmp_root):
    """Token keys are created once for the cluster, even by nodes that start at once."""
    three = [node(tmp_root, n, etcd1.endpoints, prefix="/together/") for n in "XYZ"]
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda n: n.start(), three))
        add_user(three[0], "tess")
        barrier = threading.Barrier(3)

        def first_mint(n):
            until(lambda: probe(s3_client(n, "tess", "tess-secret")) == "ok", 2)
            barrier.wait()
            return mint(n, "tess")
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            minted = list(pool.map(first_mint, three))
        kids = {token_kid(c["SessionToken"]) for c in minted}
        assert len(kids) == 1, kids
        for c in minted:
            for n in three:
                assert probe(s3_with(n, c)) == "ok"
    finally:
        for n in three:
            n.stop()


# ---- concurrent conflicting edits -------------------------------------------------------

def test_concurrent_conflicting_edits_from_two_nodes(etcd1, nodes):
    a = nodes("A", etcd1.endpoints)
    b = nodes("B", etcd1.endpoints)
    doc = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]}
    add_user(a, "target", policy=None)
    attach = ["p%02d" % i for i in range(35)]
    detach = ["q%02d" % i for i in range(15)]
    for p in attach + detach:
        ok_admin(a, "PUT", "policies/" + p, doc)
    for q in detach:
        ok_admin(a, "POST", "policies/%s/attach" % q, {"user": "target"})
    joiners = ["u%02d" % i for i in range(35)]
    leavers = ["v%02d" % i for i in range(15)]
    for u in joiners + leavers:
        add_user(a, u, policy=None)
    ok_admin(a, "POST", "groups/team/add-members", {"members": leavers})
    # The serial outcome (whatever the order, as every edit touches a different member).
    want_policies = sorted(attach)
    want_members = sorted(joiners)

    edits = ([("policy", "attach", p, "--user", "target") for p in attach] +
             [("policy", "detach", q, "--user", "target") for q in detach] +
             [("group", "add", "team", u) for u in joiners] +
             [("group", "remove", "team", v) for v in leavers])
    # Interleave so that both nodes edit the same user and the same group at the same time.
    edits = edits[::2] + edits[1::2]
    barrier = threading.Barrier(10)

    def run(i):
        if i < 10:
            barrier.wait()
        srv = a if i % 2 == 0 else b
        return admin(srv, *edits[i], check=False)
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(run, range(len(edits))))
    failed = [(edits[i], r.returncode, r.stderr) for i, r in enumerate(results) if r.returncode]
    assert not failed, failed

    def final(srv):
        u = json.loads(admin(srv, "--json", "user", "info", "target").stdout)
        g = json.loads(admin(srv, "--json", "group", "info", "team").stdout)
        return sorted(u["policies"]), sorted(g["members"])
    assert final(a) == (want_policies, want_members)
    assert until(lambda: final(b) == (want_policies, want_members), 2, step=0.1) is not None, final(b)


# ---- kill -9 under load -----------------------------------------------------------------

def test_kill_9_under_load_loses_no_acknowledged_write(etcd1, nodes):
    a = nodes("A", etcd1.endpoints)
    b = nodes("B", etcd1.endpoints)
    acked_users, acked_members = set(), set()
    lock = threading.Lock()
    stop = threading.Event()

    def writer(t):
        i = 0
        while not stop.is_set():
            name = "kw-%d-%03d" % (t, i)
            i += 1
            try:
                status, _ = admin_http(a, "PUT", "users/" + name, {"secretKey": name + "-secret"},
                                       timeout=5)
                if status != 200:
                    continue
                with lock:
                    acked_users.add(name)
                status, _ = admin_http(a, "POST", "groups/load/add-members",
                                       {"members": [name]}, timeout=5)
                if status == 200:
                    with lock:
                        acked_members.add(name)
            except requests.RequestException:
                return
    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(2.0)
        a.kill()  # SIGKILL with writes in flight
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert len(acked_users) >= 20 and acked_members, (len(acked_users), len(acked_members))

    def present(srv):
        users = {u["accessKey"] if isinstance(u, dict) else u
                 for u in ok_admin(srv, "GET", "users")["users"]}
        members = set(ok_admin(srv, "GET", "groups/load")["members"])
        return acked_users <= users and acked_members <= members
    assert until(lambda: present(b), 2, step=0.1) is not None, \
        "acknowledged writes missing on B"
    # A comes back on the same data directory and sees them too.
    a.start()
    assert present(a)


# ---- configuration ----------------------------------------------------------------------

def test_unreachable_etcd_refuses_to_start(tmp_root):
    port = free_port()  # nothing listens there
    srv = Server(os.path.join(tmp_root, "data"),
                 env={"TESSERA_ETCD_ENDPOINTS": "http://127.0.0.1:%d" % port}, iam_store="etcd")
    srv.port = free_port()
    env = srv.env()
    t0 = time.monotonic()
    try:
        p = subprocess.run([srv.bin, "server", "--address", "127.0.0.1:%d" % srv.port,
                            srv.data_dir], env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as e:
        pytest.fail("the server still ran 30 s after it was started with an unreachable etcd:\n"
                    "%s" % ((e.stderr or b"").decode(errors="replace")[-2000:]))
    took = time.monotonic() - t0
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "etcd" in out.lower() and "127.0.0.1:%d" % port in out, out
    assert took < 30, took


def test_minio_etcd_names_work_verbatim(etcd1, nodes):
    minio = nodes("M", None, raw_env={"MINIO_ETCD_ENDPOINTS": etcd1.endpoints,
                                      "MINIO_ETCD_PATH_PREFIX": "/minio-names/"})
    native = nodes("N", etcd1.endpoints, prefix="/minio-names/")
    other = nodes("O", etcd1.endpoints, prefix="/another-deployment/")
    add_user(minio, "mina")
    assert until(lambda: probe(s3_client(native, "mina", "mina-secret")) == "ok", 2) is not None
    # The prefix namespaces the keys: another prefix on the same etcd does not see her.
    assert probe(s3_client(other, "mina", "mina-secret")) == "InvalidAccessKeyId"
    keys = etcd1.etcdctl("get", "--prefix", "--keys-only", "/minio-names/").stdout.split()
    assert keys and all(k.startswith("/minio-names/") for k in keys), keys
    assert any("mina" in k for k in keys), keys


# ---- the suite's own parametrisation ----------------------------------------------------

def test_parametrised_store_is_the_one_in_use(server):
    """The `server` fixture runs on the store TESSERA_TEST_IAM_STORE names (ctest's
    integration.etcd runs this test too), under a prefix of its own."""
    doc = cluster_status(server)
    assert doc["engine"] == conftest.IAM_STORE, doc
    if conftest.IAM_STORE == "etcd":
        prefix = conftest.etcd_prefix_for(server.data_dir)
        admin(server, "user", "add", "paula", "paula-secret")
        keys = conftest._session_etcd.etcdctl("get", "--prefix", "--keys-only", prefix).stdout
        assert "paula" in keys, keys
