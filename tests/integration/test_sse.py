"""Issue 19 feature 5 (encryption half): Put/Get/DeleteBucketEncryption and SSE-S3 (AES256) at
rest in the embedded store, with boto3 (Debian's and pyenv's python), the aws cli, raw requests
and the gateway.

What is checked: the x-amz-server-side-encryption header echoed on PUT/GET/HEAD/Copy/multipart
answers; the data files under DATA_DIR/.tessera/objects hold no plaintext; ranged GETs across the
64 KiB chunk boundaries (buffered and streamed paths); multipart and copies between encrypted and
plain; the bucket default; the errors (aws:kms 501, unknown algorithm 400 InvalidArgument, SSE-C
400 InvalidRequest over plain HTTP and 501 over TLS); the key (sse.key 0600, or
TESSERA_KMS_SECRET_KEY); a restart still reads; a tampered byte never gives wrong data; kill -9
during encrypted writes leaves the old or the new object."""
import base64
import hashlib
import os
import random
import stat
import textwrap
import threading
import time

import botocore.exceptions
import pytest
import requests

from conftest import Server, aws, run_newer_boto3, s3_client
from test_iam_policies import make_certs

CHUNK = 64 * 1024
MARK = b"PLAINTEXT-MARKER-0123456789-"


def body_of(n, seed=0):
    """n bytes made of a known pattern (searchable on disk) mixed with a counter."""
    out = bytearray()
    i = seed
    while len(out) < n:
        out += MARK + b"%08d|" % i
        i += 1
    return bytes(out[:n])


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"].get("Message")


def data_files(server):
    root = os.path.join(server.data_dir, ".tessera", "objects")
    for d, _, files in os.walk(root):
        for f in files:
            yield os.path.join(d, f)


def disk_has(server, needle):
    for p in data_files(server):
        with open(p, "rb") as f:
            if needle in f.read():
                return True
    return False


def file_of(server, size):
    """The data files whose size is that of an encrypted object of size bytes."""
    chunks = (size + CHUNK - 1) // CHUNK
    want = size + 16 * chunks
    return [p for p in data_files(server) if os.path.getsize(p) == want]


def sse_hdr(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-server-side-encryption")


# ---- objects ----

def test_put_get_head_encrypted_no_plaintext_on_disk(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="enc")
    secret = body_of(300 * 1024 + 7)
    plain = body_of(5000, seed=10 ** 6)
    r = s3.put_object(Bucket="enc", Key="k", Body=secret, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    assert r["ETag"] == '"%s"' % hashlib.md5(secret).hexdigest()  # MD5 of the plaintext
    s3.put_object(Bucket="enc", Key="plain", Body=plain)
    g = s3.get_object(Bucket="enc", Key="k")
    assert g["ServerSideEncryption"] == "AES256" and g["Body"].read() == secret
    h = s3.head_object(Bucket="enc", Key="k")
    assert h["ServerSideEncryption"] == "AES256" and h["ContentLength"] == len(secret)
    hp = s3.head_object(Bucket="enc", Key="plain")
    assert "ServerSideEncryption" not in hp
    # The data file of the encrypted object holds none of its bytes; the plain one does.
    assert len(file_of(server, len(secret))) == 1
    assert not disk_has(server, secret[:len(MARK) + 9])
    assert not disk_has(server, MARK + b"00000001|")
    assert disk_has(server, plain[:40])
    # The internal key header never reaches a client.
    assert not any(k.startswith("x-tessera") for k in g["ResponseMetadata"]["HTTPHeaders"])
    assert not any(k.startswith("x-tessera") for k in h["ResponseMetadata"]["HTTPHeaders"])
    # Empty and one-chunk-exact objects.
    for n in (0, 1, CHUNK, CHUNK + 1, 2 * CHUNK):
        b = body_of(n, seed=n)
        s3.put_object(Bucket="enc", Key="n%d" % n, Body=b, ServerSideEncryption="AES256")
        assert s3.get_object(Bucket="enc", Key="n%d" % n)["Body"].read() == b


def test_ranged_gets_across_chunks(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="rng")
    small = body_of(3 * CHUNK + 123)  # buffered path (<= 1 MiB)
    big = body_of(2 * 1024 * 1024 + 4321, seed=7)  # streamed path
    s3.put_object(Bucket="rng", Key="small", Body=small, ServerSideEncryption="AES256")
    s3.put_object(Bucket="rng", Key="big", Body=big, ServerSideEncryption="AES256")
    cases = [(0, 0), (CHUNK - 6, CHUNK + 9), (CHUNK, 2 * CHUNK - 1), (100, 2 * CHUNK + 5),
             (3 * CHUNK, 3 * CHUNK + 122), (CHUNK - 1, CHUNK)]
    for key, data in (("small", small), ("big", big)):
        for a, b in cases + [(len(data) - 10, len(data) - 1), (5, len(data) - 1),
                             (CHUNK + 3, len(data) - CHUNK)]:
            got = s3.get_object(Bucket="rng", Key=key, Range="bytes=%d-%d" % (a, b))
            assert got["Body"].read() == data[a:b + 1], (key, a, b)
            assert got["ContentRange"] == "bytes %d-%d/%d" % (a, b, len(data))
        assert s3.get_object(Bucket="rng", Key=key, Range="bytes=-70000")["Body"].read() == \
            data[-70000:]
        assert s3.get_object(Bucket="rng", Key=key, Range="bytes=%d-" % (CHUNK + 1))[
            "Body"].read() == data[CHUNK + 1:]
        assert s3.get_object(Bucket="rng", Key=key)["Body"].read() == data
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="rng", Key="small", Range="bytes=%d-" % len(small))
    assert err(e)[1] == "InvalidRange"


def test_refused_methods(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="ref")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="ref", Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    assert err(e)[:2] == (501, "NotImplemented")
    assert "KMS is not configured" in err(e)[2]
    url = server.endpoint + "/ref/k"
    # An unknown algorithm: 400 InvalidArgument (boto3 validates the enum: a raw request).
    signed = presigned_put(s3, "ref", "k", {"ServerSideEncryption": "AES512"})
    r = requests.put(signed, data=b"x", headers={"x-amz-server-side-encryption": "AES512"})
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text, r.text
    # SSE-C over plain HTTP: refused as AWS, before anything is read or stored.
    key = os.urandom(32)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="ref", Key="c", Body=b"x", SSECustomerAlgorithm="AES256",
                      SSECustomerKey=key)
    assert err(e) == (400, "InvalidRequest",
                      "Requests specifying Server Side Encryption with Customer provided keys "
                      "must be made over a secure connection.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="ref", Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert err(e)[:2] == (400, "InvalidRequest")
    # The header where nothing is stored.
    s3.put_object(Bucket="ref", Key="k", Body=b"x")
    r = requests.get(url, headers={"x-amz-server-side-encryption": "AES256"})
    assert r.status_code in (400, 403)
    assert s3.list_objects(Bucket="ref")["Contents"][0]["Key"] == "k"


def presigned_put(s3, bucket, key, extra):
    return s3.generate_presigned_url("put_object", Params=dict(Bucket=bucket, Key=key, **extra))


def test_sse_c_over_tls_not_implemented(tmp_root):
    certs = make_certs(tmp_root)
    srv = Server(os.path.join(tmp_root, "data"), certs=certs).start()
    try:
        import boto3
        import botocore.config
        s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.root_user,
                          aws_secret_access_key=srv.root_password, region_name="us-east-1",
                          verify=os.path.join(certs, "public.crt"),
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        retries={"max_attempts": 1}))
        s3.create_bucket(Bucket="tls")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket="tls", Key="c", Body=b"x", SSECustomerAlgorithm="AES256",
                          SSECustomerKey=os.urandom(32))
        assert err(e)[:2] == (501, "NotImplemented")
        r = s3.put_object(Bucket="tls", Key="s", Body=b"over tls", ServerSideEncryption="AES256")
        assert r["ServerSideEncryption"] == "AES256"
        assert s3.get_object(Bucket="tls", Key="s")["Body"].read() == b"over tls"
    finally:
        srv.stop()


# ---- bucket encryption ----

def test_bucket_encryption_config(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bdef")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_encryption(Bucket="bdef")
    assert err(e)[:2] == (404, "ServerSideEncryptionConfigurationNotFoundError")
    s3.put_object(Bucket="bdef", Key="before", Body=body_of(1000, seed=5000))
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                       "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket="bdef", ServerSideEncryptionConfiguration=conf)
    got = s3.get_bucket_encryption(Bucket="bdef")["ServerSideEncryptionConfiguration"]
    assert got == conf
    # The default applies to objects written without the header.
    secret = body_of(200000, seed=6000)
    r = s3.put_object(Bucket="bdef", Key="after", Body=secret)
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket="bdef", Key="after")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.head_object(Bucket="bdef", Key="before")
    assert s3.get_object(Bucket="bdef", Key="after")["Body"].read() == secret
    assert not disk_has(server, secret[:40]) and disk_has(server, body_of(1000, seed=5000)[:40])
    # aws:kms: no KMS (501 as MinIO without one); other algorithms: MalformedXML.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_encryption(Bucket="bdef", ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    assert err(e)[:2] == (501, "NotImplemented")
    bad = ('<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>'
           '<SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>'
           '</ServerSideEncryptionConfiguration>')
    url = s3.generate_presigned_url("put_bucket_encryption", Params={
        "Bucket": "bdef", "ServerSideEncryptionConfiguration": conf})
    r = requests.put(url, data=bad)
    assert r.status_code == 400 and "MalformedXML" in r.text, r.text
    assert s3.get_bucket_encryption(Bucket="bdef")["ServerSideEncryptionConfiguration"] == conf
    s3.delete_bucket_encryption(Bucket="bdef")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_encryption(Bucket="bdef")
    assert err(e)[1] == "ServerSideEncryptionConfigurationNotFoundError"
    r = s3.put_object(Bucket="bdef", Key="later", Body=b"plain again")
    assert "ServerSideEncryption" not in r
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_encryption(Bucket="no-such-bucket-sse")
    assert err(e)[1] == "NoSuchBucket"


# ---- multipart and copies ----

def test_multipart_encrypted(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="mpu")
    p1, p2 = body_of(5 * 1024 * 1024 + 100, seed=1), body_of(300000, seed=2 * 10 ** 6)
    up = s3.create_multipart_upload(Bucket="mpu", Key="m", ServerSideEncryption="AES256")
    assert up["ServerSideEncryption"] == "AES256"
    r1 = s3.upload_part(Bucket="mpu", Key="m", UploadId=up["UploadId"], PartNumber=1, Body=p1)
    r2 = s3.upload_part(Bucket="mpu", Key="m", UploadId=up["UploadId"], PartNumber=2, Body=p2)
    assert r1["ServerSideEncryption"] == "AES256"
    assert not disk_has(server, MARK)  # the parts' files
    done = s3.complete_multipart_upload(
        Bucket="mpu", Key="m", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r1["ETag"]},
                                   {"PartNumber": 2, "ETag": r2["ETag"]}]})
    assert done["ServerSideEncryption"] == "AES256"
    data = p1 + p2
    assert s3.get_object(Bucket="mpu", Key="m")["Body"].read() == data
    a = len(p1) - 50
    got = s3.get_object(Bucket="mpu", Key="m", Range="bytes=%d-%d" % (a, a + 99))
    assert got["Body"].read() == data[a:a + 100]
    assert not disk_has(server, MARK)
    # UploadPartCopy from the encrypted object into a plain upload: plaintext parts.
    up2 = s3.create_multipart_upload(Bucket="mpu", Key="plaincopy")
    assert "ServerSideEncryption" not in up2
    c1 = s3.upload_part_copy(Bucket="mpu", Key="plaincopy", UploadId=up2["UploadId"],
                             PartNumber=1, CopySource={"Bucket": "mpu", "Key": "m"},
                             CopySourceRange="bytes=0-%d" % (5 * 1024 * 1024 - 1))
    assert "ServerSideEncryption" not in c1
    s3.complete_multipart_upload(
        Bucket="mpu", Key="plaincopy", UploadId=up2["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="mpu", Key="plaincopy")["Body"].read() == data[:5 * 1024 * 1024]
    assert disk_has(server, MARK)


def test_copy_between_encrypted_and_plain(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    secret = body_of(150000, seed=42)
    s3.put_object(Bucket="src", Key="e", Body=secret, ServerSideEncryption="AES256",
                  Metadata={"m": "1"})
    # Encrypted -> plain (no header, no default): the copy is plain, same ETag and bytes.
    r = s3.copy_object(Bucket="dst", Key="p", CopySource={"Bucket": "src", "Key": "e"})
    assert "ServerSideEncryption" not in r
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(secret).hexdigest()
    g = s3.get_object(Bucket="dst", Key="p")
    assert g["Body"].read() == secret and "ServerSideEncryption" not in g
    assert g["Metadata"] == {"m": "1"}
    assert disk_has(server, secret[:40])
    # Plain -> encrypted with the header; in place too (encryption is a change).
    r = s3.copy_object(Bucket="dst", Key="p", CopySource={"Bucket": "dst", "Key": "p"},
                       ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket="dst", Key="p")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="dst", Key="p")["Body"].read() == secret
    assert not disk_has(server, secret[:40])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="dst", Key="p", CopySource={"Bucket": "dst", "Key": "p"})
    assert err(e)[1] == "InvalidRequest"
    # Encrypted -> encrypted via the destination bucket's default.
    s3.put_bucket_encryption(Bucket="dst", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    r = s3.copy_object(Bucket="dst", Key="e2", CopySource={"Bucket": "src", "Key": "e"})
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="dst", Key="e2")["Body"].read() == secret


def test_post_object_field(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="post")
    post = s3.generate_presigned_post(
        "post", "form", Fields={"x-amz-server-side-encryption": "AES256"},
        Conditions=[{"x-amz-server-side-encryption": "AES256"}])
    secret = body_of(70000, seed=77)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", secret)})
    assert r.status_code == 204, r.text
    assert r.headers.get("x-amz-server-side-encryption") == "AES256"
    assert s3.head_object(Bucket="post", Key="form")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="post", Key="form")["Body"].read() == secret
    assert not disk_has(server, secret[:40])
    post = s3.generate_presigned_post("post", "kms", Fields={
        "x-amz-server-side-encryption": "aws:kms"})
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"x")})
    assert r.status_code == 501 and "NotImplemented" in r.text


# ---- keys, restarts, damage ----

def test_key_file_restart_and_config_key(tmp_root):
    data = os.path.join(tmp_root, "data")
    srv = Server(data).start()
    try:
        keyfile = os.path.join(data, ".tessera", "sse.key")
        assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="rsb")
        secret = body_of(400000, seed=9)
        s3.put_object(Bucket="rsb", Key="k", Body=secret, ServerSideEncryption="AES256")
        srv.restart()
        assert s3_client(srv).get_object(Bucket="rsb", Key="k")["Body"].read() == secret
        # A key file others may read is refused at start.
        srv.stop()
        os.chmod(keyfile, 0o644)
        with pytest.raises(RuntimeError) as e:
            srv.start()
        assert "sse.key" in str(e.value)
        srv.proc = None
        os.chmod(keyfile, 0o600)
        srv.start()
        assert s3_client(srv).get_object(Bucket="rsb", Key="k")["Body"].read() == secret
    finally:
        srv.stop()
    # TESSERA_KMS_SECRET_KEY (MinIO's MINIO_KMS_SECRET_KEY form): no key file is created.
    data2 = os.path.join(tmp_root, "data2")
    k = "my-key:" + base64.b64encode(os.urandom(32)).decode()
    srv = Server(data2, env={"MINIO_KMS_SECRET_KEY": k}).start()
    try:
        assert not os.path.exists(os.path.join(data2, ".tessera", "sse.key"))
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="ckb")
        s3.put_object(Bucket="ckb", Key="k", Body=b"under the configured key",
                      ServerSideEncryption="AES256")
        srv.restart()
        assert s3_client(srv).get_object(Bucket="ckb", Key="k")["Body"].read() == \
            b"under the configured key"
        srv.stop()
        srv.extra_env = {"TESSERA_KMS_SECRET_KEY":
                         "other:" + base64.b64encode(os.urandom(32)).decode()}
        srv.start()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_client(srv).get_object(Bucket="ckb", Key="k")
        assert err(e)[:2] == (500, "InternalError")
        srv.stop()
        srv.extra_env = {"TESSERA_KMS_SECRET_KEY": "bad-key"}
        with pytest.raises(RuntimeError) as e:
            srv.start()
        assert "TESSERA_KMS_SECRET_KEY" in str(e.value)
        srv.proc = None
    finally:
        srv.stop()


def test_tampered_data_never_served(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="tam")
    small = body_of(100000, seed=3)
    big = body_of(3 * 1024 * 1024, seed=4)
    s3.put_object(Bucket="tam", Key="small", Body=small, ServerSideEncryption="AES256")
    s3.put_object(Bucket="tam", Key="big", Body=big, ServerSideEncryption="AES256")

    def flip(size, off):
        (path,) = file_of(server, size)
        with open(path, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x01]))

    flip(len(small), 10)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="tam", Key="small")
    assert err(e)[:2] == (500, "InternalError")
    # Damage in the first chunk of a streamed body: 500 before anything is sent.
    flip(len(big), 5)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="tam", Key="big")
    assert err(e)[:2] == (500, "InternalError")
    flip(len(big), 5)  # repaired
    assert s3.get_object(Bucket="tam", Key="big")["Body"].read() == big
    # Damage further in: the connection is cut; the bytes sent before it are the right ones.
    flip(len(big), 40 * (CHUNK + 16) + 3)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "tam", "Key": "big"})
    got = bytearray()
    try:  # urllib3 may or may not raise on the short body: the length tells
        with requests.get(url, stream=True, timeout=30) as r:
            assert r.status_code == 200
            for piece in r.iter_content(65536):
                got += piece
    except requests.exceptions.RequestException:
        pass
    assert len(got) < len(big) and bytes(got) == big[:len(got)]
    with pytest.raises(Exception):  # boto3 notices the short body
        s3.get_object(Bucket="tam", Key="big")["Body"].read()
    # A ranged GET that does not touch the damaged chunk still works.
    assert s3.get_object(Bucket="tam", Key="big", Range="bytes=0-99")["Body"].read() == big[:100]
    # A truncated file: refused too.
    (path,) = file_of(server, len(small))
    with open(path, "r+b") as f:
        f.truncate(CHUNK + 16)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="tam", Key="small")
    assert err(e)[1] == "InternalError"


def test_kill9_during_encrypted_writes(tmp_root):
    """Writers keep replacing encrypted objects; the server is killed at random moments: after
    each restart every key is the last acknowledged body or the one in flight, and decrypts."""
    rng = random.Random(int(os.environ.get("TESSERA_SSE_SEED", random.randrange(10 ** 6))))
    srv = Server(os.path.join(tmp_root, "data")).start()
    try:
        s3_client(srv).create_bucket(Bucket="crash")
        allowed = {}  # key -> set of acceptable sha256 (None: absent)
        lock = threading.Lock()

        def writer(idx, stop):
            s3 = s3_client(srv)
            key = "k%d" % idx
            wr = random.Random(idx * 7919 + rng.randrange(1000))
            while not stop.is_set():
                b = os.urandom(16) + body_of(wr.randrange(1, 3 * 1024 * 1024), seed=wr.randrange(99))
                h = hashlib.sha256(b).hexdigest()
                with lock:
                    allowed.setdefault(key, {None}).add(h)
                try:
                    s3.put_object(Bucket="crash", Key=key, Body=b, ServerSideEncryption="AES256")
                except Exception:
                    return
                with lock:
                    allowed[key] = {h}

        for rnd in range(4):
            stop = threading.Event()
            ts = [threading.Thread(target=writer, args=(i, stop)) for i in range(3)]
            for t in ts:
                t.start()
            time.sleep(rng.uniform(0.3, 1.5))
            srv.kill()
            stop.set()
            for t in ts:
                t.join(60)
            srv.start()
            s3 = s3_client(srv)
            for key, ok in allowed.items():
                try:
                    got = s3.get_object(Bucket="crash", Key=key)
                    assert got["ServerSideEncryption"] == "AES256"
                    h = hashlib.sha256(got["Body"].read()).hexdigest()
                except botocore.exceptions.ClientError as e:
                    assert e.response["Error"]["Code"] == "NoSuchKey", e.response
                    h = None
                assert h in ok, (rnd, key)
                allowed[key] = {h}
        assert not disk_has(srv, MARK)
        assert not os.listdir(os.path.join(srv.data_dir, ".tessera", "tmp"))
    finally:
        srv.stop()


# ---- clients ----

def test_aws_cli(server, tmp_path):
    aws(server, "s3", "mb", "s3://cli")
    src = tmp_path / "f.bin"
    secret = body_of(9 * 1024 * 1024, seed=123)  # multipart with the cli's 8 MiB parts
    src.write_bytes(secret)
    aws(server, "s3", "cp", "--sse", "AES256", str(src), "s3://cli/f.bin")
    out = aws(server, "s3api", "head-object", "--bucket", "cli", "--key", "f.bin").stdout
    assert '"ServerSideEncryption": "AES256"' in out
    dst = tmp_path / "back.bin"
    aws(server, "s3", "cp", "s3://cli/f.bin", str(dst))
    assert dst.read_bytes() == secret
    assert not disk_has(server, secret[:40])
    conf = ('{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}')
    aws(server, "s3api", "put-bucket-encryption", "--bucket", "cli",
        "--server-side-encryption-configuration", conf)
    out = aws(server, "s3api", "get-bucket-encryption", "--bucket", "cli").stdout
    assert '"SSEAlgorithm": "AES256"' in out
    small = tmp_path / "s.txt"
    small.write_bytes(b"default-encrypted " * 100)
    aws(server, "s3", "cp", str(small), "s3://cli/s.txt")
    out = aws(server, "s3api", "head-object", "--bucket", "cli", "--key", "s.txt").stdout
    assert '"ServerSideEncryption": "AES256"' in out
    aws(server, "s3api", "delete-bucket-encryption", "--bucket", "cli")
    p = aws(server, "s3api", "get-bucket-encryption", "--bucket", "cli", check=False)
    assert "ServerSideEncryptionConfigurationNotFoundError" in p.stderr


PYENV_SCRIPT = textwrap.dedent("""
    import sys, io, boto3, botocore.config
    from boto3.s3.transfer import TransferConfig
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                      aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="newer")
    body = (b"newer-sdk-" * 70000)[:700001]
    r = s3.put_object(Bucket="newer", Key="k", Body=body, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    g = s3.get_object(Bucket="newer", Key="k", Range="bytes=65530-65549")
    assert g["Body"].read() == body[65530:65550] and g["ServerSideEncryption"] == "AES256"
    big = (b"multipart-" * 1200000)
    s3.upload_fileobj(io.BytesIO(big), "newer", "mp", ExtraArgs={"ServerSideEncryption": "AES256"},
                      Config=TransferConfig(multipart_threshold=5 * 2**20,
                                            multipart_chunksize=5 * 2**20))
    h = s3.head_object(Bucket="newer", Key="mp")
    assert h["ServerSideEncryption"] == "AES256" and h["ContentLength"] == len(big)
    assert s3.get_object(Bucket="newer", Key="mp")["Body"].read() == big
    s3.put_bucket_encryption(Bucket="newer", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    assert s3.get_bucket_encryption(Bucket="newer")["ServerSideEncryptionConfiguration"][
        "Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    print("ok")
""")


def test_newer_boto3(server):
    assert "ok" in run_newer_boto3(server, PYENV_SCRIPT, timeout=300)
    assert not disk_has(server, b"newer-sdk-newer-sdk-")
    assert not disk_has(server, b"multipart-multipart-")


# ---- the gateway ----

def test_gateway_passes_sse_through(tmp_root):
    """The gateway forwards x-amz-server-side-encryption and the bucket encryption operations
    (authorized as s3:PutEncryptionConfiguration / s3:GetEncryptionConfiguration) to the
    upstream, here a tessera server that encrypts; SSE-C over plain HTTP is refused by the
    gateway itself."""
    from test_gateway import UP_PASS, UP_USER, start_gateway
    up = Server(os.path.join(tmp_root, "upstream"))
    up.root_user, up.root_password = UP_USER, UP_PASS
    up.start()
    try:
        gw = start_gateway(tmp_root, up.endpoint)
        try:
            s3 = s3_client(gw)
            s3.create_bucket(Bucket="gws")
            secret = body_of(90000, seed=55)
            r = s3.put_object(Bucket="gws", Key="k", Body=secret, ServerSideEncryption="AES256")
            assert r["ServerSideEncryption"] == "AES256"
            g = s3.get_object(Bucket="gws", Key="k")
            assert g["ServerSideEncryption"] == "AES256" and g["Body"].read() == secret
            assert not disk_has(up, secret[:40])
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.get_bucket_encryption(Bucket="gws")
            assert err(e)[1] == "ServerSideEncryptionConfigurationNotFoundError"
            s3.put_bucket_encryption(Bucket="gws", ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
            assert s3.get_bucket_encryption(Bucket="gws")["ServerSideEncryptionConfiguration"][
                "Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
            s3.delete_bucket_encryption(Bucket="gws")
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.put_object(Bucket="gws", Key="c", Body=b"x", SSECustomerAlgorithm="AES256",
                              SSECustomerKey=os.urandom(32))
            assert err(e)[:2] == (400, "InvalidRequest")
        finally:
            gw.stop()
    finally:
        up.stop()
