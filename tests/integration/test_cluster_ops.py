"""Issue 16 items 4, 5 and 7 on the default (LMDB) store: `tessera admin cluster status` and
GET /tessera/admin/v1/cluster/status (admin:ServerInfo), node heartbeats (one record per
process, removed on a clean shutdown), and token keys after `sts rotate-key` (every node
verifies with the new key at once, seals with it only STS_KEY_PUBLISH_S = 2 s later).
The multi-node etcd tests are in test_cluster.py."""
import base64
import hashlib
import json
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import requests

from conftest import admin, s3_client, sts_client

STATUS = "/tessera/admin/v1/cluster/status"


def signed_get(server, path, creds=None):
    req = botocore.awsrequest.AWSRequest(
        method="GET", url=server.endpoint + path,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
    if creds:
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(*creds), "s3",
                                "us-east-1").add_auth(req)
    p = req.prepare()
    return requests.get(p.url, headers=dict(p.headers), timeout=30)


def status(server):
    p = admin(server, "--json", "cluster", "status")
    return json.loads(p.stdout)


def token_kid(token):
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[1:9].decode()


def session(server, user, secret):
    return sts_client(server, user, secret).assume_role(
        RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="clu-session")["Credentials"]


def test_status_one_node_cli_and_api(server):
    st = status(server)
    for k in ("engine", "revision", "fresh", "synced_ms_ago", "resyncs", "endpoint", "node",
              "nodes"):
        assert k in st, (k, st)
    assert st["engine"] == "lmdb" and st["fresh"] is True and "message" not in st
    assert len(st["nodes"]) == 1, st
    n = st["nodes"][0]
    assert n["id"] == st["node"] and n["self"] is True and n["up"] is True
    assert len(n["id"]) == 16 and int(n["id"], 16) >= 0
    assert n["address"] == server.endpoint and n["engine"] == "lmdb"
    assert n["version"] and n["started"] <= n["updated"] <= time.time() + 1
    assert len(n["key_ids"]) == 1 and n["mint_key_id"] == n["key_ids"][0]
    # the admin API answers the same document to root
    r = signed_get(server, STATUS, (server.root_user, server.root_password))
    assert r.status_code == 200, r.text
    assert r.json()["node"] == st["node"] and r.json()["nodes"][0]["key_ids"] == n["key_ids"]
    # the table
    p = admin(server, "cluster", "status")
    assert "lmdb" in p.stdout and server.endpoint in p.stdout and st["node"] in p.stdout
    line = [ln for ln in p.stdout.splitlines() if ln.startswith(st["node"])][0]
    assert line.split()[1] == "yes" and line.endswith("*"), line


def test_status_denied_to_anonymous_and_unprivileged(server):
    admin(server, "user", "add", "clu-nobody", "clu-nobody-secret")
    admin(server, "user", "add", "clu-ops", "clu-ops-secret")
    for creds in (None, ("clu-nobody", "clu-nobody-secret")):
        r = signed_get(server, STATUS, creds)
        assert r.status_code == 403 and r.json()["Code"] == "AccessDenied", r.text
    p = admin(server, "cluster", "status", ak="clu-nobody", sk="clu-nobody-secret", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    # temporary credentials never reach the admin API, even of a privileged parent
    c = session(server, "clu-nobody", "clu-nobody-secret")
    r = signed_get(server, STATUS, (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
    assert r.status_code == 403 and r.json()["Code"] == "AccessDenied", r.text
    # a user with admin:ServerInfo may look
    doc = tmp_policy(server, '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                     '"Action":["admin:ServerInfo"],"Resource":["arn:aws:s3:::*"]}]}')
    admin(server, "policy", "create", "clu-info", doc)
    admin(server, "policy", "attach", "clu-info", "--user", "clu-ops")
    r = signed_get(server, STATUS, ("clu-ops", "clu-ops-secret"))
    assert r.status_code == 200 and len(r.json()["nodes"]) == 1, r.text


def tmp_policy(server, text):
    path = server.data_dir + "-policy.json"
    with open(path, "w") as f:
        f.write(text)
    return path


def test_rotate_key_verifies_at_once_and_seals_after_publish_delay(server):
    s3_client(server).create_bucket(Bucket="clu")
    admin(server, "user", "add", "clu-rot", "clu-rot-secret")
    admin(server, "policy", "attach", "readwrite", "--user", "clu-rot")
    old = status(server)["nodes"][0]["key_ids"]
    before = session(server, "clu-rot", "clu-rot-secret")
    out = admin(server, "sts", "rotate-key").stdout
    kid = out.split()[3].rstrip(":")
    assert len(kid) == 8 and kid not in old, out
    n = status(server)["nodes"][0]
    assert n["key_ids"] == old + [kid], n
    # within STS_KEY_PUBLISH_S the node keeps sealing with the previous key ...
    during = session(server, "clu-rot", "clu-rot-secret")
    assert token_kid(during["SessionToken"]) == old[-1]
    assert n["mint_key_id"] == old[-1]
    time.sleep(2.5)
    # ... then with the new one; sessions sealed with either key work
    after = session(server, "clu-rot", "clu-rot-secret")
    assert token_kid(after["SessionToken"]) == kid
    assert status(server)["nodes"][0]["mint_key_id"] == kid
    for c in (before, during, after):
        s3_client(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]) \
            .list_objects_v2(Bucket="clu")


def test_sigterm_removes_the_heartbeat(server):
    first = status(server)["node"]
    server.restart()  # SIGTERM, then a new process on the same data directory
    st = status(server)
    ids = [n["id"] for n in st["nodes"]]
    assert st["node"] != first and ids == [st["node"]], st
    assert st["nodes"][0]["up"] is True
