"""Issue 14 item 3: one configuration table (core/cfg.def), parsed once at start.

- a malformed value stops the server with a message naming the variable and what it accepts;
- one region everywhere: with only MINIO_REGION_NAME set, SigV4 and GetBucketLocation agree;
- the MinIO aliases still work;
- docs/CONFIG.md is exactly the table (`tessera config list`), and no setting is read around it.
"""
import os
import re
import subprocess

import boto3
import botocore.config
import pytest

from conftest import BIN, ROOT, Server

DOC = os.path.join(ROOT, "docs", "CONFIG.md")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TESSERA_") and not k.startswith("MINIO_")}
    env.update(TESSERA_ROOT_USER="cfg-root", TESSERA_ROOT_PASSWORD="cfg-root-secret")
    env.update(extra)
    return env


def run_server(tmp_root, env, wait=8):
    """Starts the server; returns (exit code, stderr) or (None, stderr) if it kept running."""
    p = subprocess.Popen([BIN, "server", "--address", "127.0.0.1:0",
                          os.path.join(tmp_root, "data")],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=wait)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, err


MALFORMED = [
    ("TESSERA_LOG_LEVEL", "verbose", "debug, info, warn, error"),
    ("TESSERA_HTTP_THREADS", "lots", "integer from 0 to 1024"),
    ("TESSERA_HTTP_THREADS", "-4", "integer from 0 to 1024"),
    ("TESSERA_STS_MAX_DURATION", "10", "integer from 900 to 31536000"),
    ("TESSERA_STS_RATE_LIMIT", "fast", "RATE:BURST"),
    ("TESSERA_IDENTITY_OPENID_EXPIRY_FROM_TOKEN", "maybe", "on or off"),
    ("MINIO_IDENTITY_OPENID_TIMEOUT", "soon", "1s to 300s"),
    ("TESSERA_IDENTITY_OPENID_CONNECT_TIMEOUT", "0", "1s to 300s"),
    ("TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL", "1d", "0s to 3600s"),
    ("TESSERA_IDENTITY_OPENID_CLAIM_USERINFO_CORP", "perhaps", "on or off"),
    ("TESSERA_IDENTITY_OPENID_CONFIG_URL", "idp.example.com", "http:// or https:// URL"),
    ("TESSERA_IDENTITY_LDAP_SERVER_STARTTLS", "maybe", "on or off"),
    ("MINIO_IDENTITY_LDAP_TIMEOUT", "forever", "1s to 300s"),
    ("MINIO_REGION_NAME", "eu west", "letters, digits"),
    ("TESSERA_ROOT_PASSWORD", "short", "8–128 characters"),
]


@pytest.mark.parametrize("name,value,accepts", MALFORMED,
                         ids=["%s=%s" % (n, v) for n, v, _ in MALFORMED])
def test_malformed_value_refuses_to_start(tmp_root, name, value, accepts):
    rc, err = run_server(tmp_root, clean_env(**{name: value}))
    assert rc is not None, "the server started with %s=%s:\n%s" % (name, value, err)
    assert rc != 0
    assert name in err and accepts in err, err
    if name.endswith("PASSWORD"):
        assert value not in err  # secrets are not echoed


def s3_in(srv, region, ak=None, sk=None):
    return boto3.client("s3", endpoint_url=srv.endpoint, region_name=region,
                        aws_access_key_id=ak or srv.root_user,
                        aws_secret_access_key=sk or srv.root_password,
                        config=botocore.config.Config(s3={"addressing_style": "path"},
                                                      retries={"max_attempts": 1}))


@pytest.mark.parametrize("alias", ["MINIO_REGION_NAME", "MINIO_SITE_REGION", "MINIO_REGION",
                                   "TESSERA_SITE_REGION"])
def test_one_region_everywhere(tmp_root, alias):
    srv = Server(os.path.join(tmp_root, "data"), env={alias: "eu-west-3"})
    srv.start()  # nothing else names a region
    try:
        s3 = s3_in(srv, "eu-west-3")
        s3.create_bucket(Bucket="regional",
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        assert s3.get_bucket_location(Bucket="regional")["LocationConstraint"] == "eu-west-3"
        head = s3.head_bucket(Bucket="regional")
        assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-3"
        s3.put_object(Bucket="regional", Key="k", Body=b"v")
        assert s3.get_object(Bucket="regional", Key="k")["Body"].read() == b"v"
        # a region the server is not in is refused
        with pytest.raises(Exception):
            s3_in(srv, "ap-south-2").list_objects_v2(Bucket="regional")
    finally:
        srv.stop()


def minio_only(srv, **names):
    """Runs srv with MinIO's variable names only (no TESSERA_ ones)."""
    base = srv.env

    def env():
        e = {k: v for k, v in base().items() if not k.startswith("TESSERA_")}
        e.update(names)
        return e
    srv.env = env
    return srv


def test_minio_aliases(tmp_root):
    srv = minio_only(Server(os.path.join(tmp_root, "data")), MINIO_ROOT_USER="minio-root",
                     MINIO_ROOT_PASSWORD="minio-root-secret", MINIO_SITE_REGION="us-west-2",
                     MINIO_LOG_LEVEL="debug", MINIO_HTTP_THREADS="2")
    srv.root_user, srv.root_password = "minio-root", "minio-root-secret"
    srv.start()
    try:
        s3 = s3_in(srv, "us-west-2")
        s3.create_bucket(Bucket="aliased",
                         CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        assert s3.get_bucket_location(Bucket="aliased")["LocationConstraint"] == "us-west-2"
        assert '"level":"debug"' in srv.read_log()
    finally:
        srv.stop()


def test_older_minio_root_aliases(tmp_root):
    srv = minio_only(Server(os.path.join(tmp_root, "data")), MINIO_ACCESS_KEY="old-root",
                     MINIO_SECRET_KEY="old-root-secret")
    srv.root_user, srv.root_password = "old-root", "old-root-secret"
    srv.start()
    try:
        s3_in(srv, "us-east-1").create_bucket(Bucket="old-names")
    finally:
        srv.stop()


# ---- the table and docs/CONFIG.md ----

def config_list():
    p = subprocess.run([BIN, "config", "list"], capture_output=True, text=True, check=True)
    tables, cur = [], None
    for line in p.stdout.splitlines():
        if line.startswith("#"):
            cur = []
            tables.append(cur)
        elif line.startswith("|"):
            cur.append(line)
    return ["\n".join(t) for t in tables]


def table_names():
    """Every name (with alias) of the table, and the names that take a _<NAME> suffix."""
    names, suffixed = set(), set()
    for t in config_list():
        for row in t.splitlines()[2:]:
            cells = [c.strip() for c in row.strip("|").split("|")]
            for n in re.findall(r"`([A-Z0-9_]+)(\[_NAME\])?`", cells[0] + " " + cells[1]):
                names.add(n[0])
                if n[1]:
                    suffixed.add(n[0])
    return names, suffixed


def test_config_md_is_the_table():
    doc = open(DOC, encoding="utf-8").read()
    tables = config_list()
    assert len(tables) == 4
    for t in tables:
        assert t in doc, "docs/CONFIG.md lacks (or differs from) this table:\n" + t
    listed = set(l for t in tables for l in t.splitlines())
    for line in doc.splitlines():
        if line.startswith("| `TESSERA_") or line.startswith("| `MINIO_"):
            assert line in listed, "docs/CONFIG.md documents a row the table lacks:\n" + line


def test_config_md_names_no_variable_the_table_lacks():
    names, suffixed = table_names()
    doc = open(DOC, encoding="utf-8").read()
    for var in set(re.findall(r"\b(?:TESSERA|MINIO)_[A-Z0-9_]*[A-Z0-9]", doc)):
        base = next((n for n in suffixed if var.startswith(n + "_")), None)
        assert var in names or base is not None, "CONFIG.md names %s, not in the table" % var


def test_no_setting_is_read_around_the_table():
    """Every getenv() of the tree names a table variable (the clients read theirs directly) or
    is not a tessera setting; nothing else reads the environment."""
    names, _ = table_names()
    # TMPDIR: where the LDAP CA bundle is written: the system's, not tessera's; AWS_*: the aws
    # tools' own credentials, which `tessera admin` also reads (after TESSERA_*); HOME: the "~/"
    # of `tessera login --cache ~/FILE` (credential_process runs no shell to expand it)
    allowed = {"TMPDIR", "HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    found = []
    for d in ("core", "cli", "idp", "ldap", "objstore", "policy", "sts"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                text = open(os.path.join(dirpath, f), encoding="utf-8").read()
                for m in re.finditer(r"\b(?:secure_)?getenv\s*\(\s*([^)]*)\)", text):
                    arg = m.group(1).strip()
                    found.append((f, arg))
                    if f == "cfg.c":
                        continue  # the table's own reader
                    assert arg.startswith('"'), "%s: getenv(%s) of a computed name" % (f, arg)
                    var = arg.strip('"')
                    assert var in names or var in allowed, "%s reads %s around the table" % (f, var)
                assert "cfg_get(" not in text, f
    assert found
