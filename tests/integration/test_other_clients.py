"""rclone (Go SDK) and s3cmd against tessera: sync up and down, multipart, listing, delete."""
import filecmp
import os
import shutil
import subprocess

import pytest

from conftest import s3_client


def tree(root):
    os.makedirs(os.path.join(root, "sub"))
    for name, size in (("a.bin", 1000), ("b.bin", 300000), ("sub/big.bin", 24 * 1024 * 1024 + 7),
                       ("sub/sp ace.txt", 3)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(size))


def test_rclone_sync_both_ways(server, tmp_root):
    if shutil.which("rclone") is None:
        pytest.fail("rclone missing: run .ci/deps.sh")
    src, back = os.path.join(tmp_root, "src"), os.path.join(tmp_root, "back")
    tree(src)
    conf = os.path.join(tmp_root, "rclone.conf")
    with open(conf, "w") as f:
        f.write("[t]\ntype = s3\nprovider = Minio\naccess_key_id = %s\nsecret_access_key = %s\n"
                "endpoint = %s\nregion = us-east-1\n" % (server.root_user, server.root_password,
                                                           server.endpoint))
    env = dict(os.environ)
    env.pop("AWS_CA_BUNDLE", None)  # the Go SDK refuses a bundle it cannot use for plain http

    def rc(*args):
        p = subprocess.run(["rclone", "--config", conf] + list(args), env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return p.stdout

    rc("mkdir", "t:rclone-bucket")
    rc("sync", src, "t:rclone-bucket/dir")
    rc("check", src, "t:rclone-bucket/dir")
    rc("sync", "t:rclone-bucket/dir", back)
    assert not filecmp.dircmp(src, back).diff_files
    with open(os.path.join(src, "sub/big.bin"), "rb") as a, open(os.path.join(back, "sub/big.bin"), "rb") as b:
        assert a.read() == b.read()
    rc("delete", "t:rclone-bucket/dir/a.bin")
    keys = [o["Key"] for o in s3_client(server).list_objects_v2(Bucket="rclone-bucket")["Contents"]]
    assert keys == ["dir/b.bin", "dir/sub/big.bin", "dir/sub/sp ace.txt"]


def test_s3cmd(server, tmp_root):
    if shutil.which("s3cmd") is None:
        pytest.fail("s3cmd missing: run .ci/deps.sh")
    src = os.path.join(tmp_root, "src")
    tree(src)
    cfg = os.path.join(tmp_root, "s3cfg")
    host = server.endpoint.split("://")[1]
    with open(cfg, "w") as f:
        f.write("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n"
                "use_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n"
                % (server.root_user, server.root_password, host, host))

    def s3(*args):
        p = subprocess.run(["s3cmd", "-c", cfg] + list(args), capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, p.stderr
        return p.stdout

    s3("mb", "s3://s3cmd-bucket")
    s3("put", "--multipart-chunk-size-mb=5", os.path.join(src, "sub/big.bin"), "s3://s3cmd-bucket/big.bin")
    s3("sync", src + "/", "s3://s3cmd-bucket/tree/")
    out = s3("ls", "-r", "s3://s3cmd-bucket")
    for key in ("big.bin", "tree/a.bin", "tree/sub/sp ace.txt"):
        assert "s3://s3cmd-bucket/" + key in out
    dst = os.path.join(tmp_root, "big.back")
    s3("get", "s3://s3cmd-bucket/big.bin", dst)
    assert filecmp.cmp(dst, os.path.join(src, "sub/big.bin"), shallow=False)
    head = s3_client(server).head_object(Bucket="s3cmd-bucket", Key="big.bin")
    assert head["ETag"].strip('"').endswith("-5")
    s3("del", "s3://s3cmd-bucket/big.bin")
