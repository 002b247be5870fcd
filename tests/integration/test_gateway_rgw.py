"""Issue 17: `tessera gateway s3` in front of a real Ceph RADOS Gateway (Debian's radosgw on a
throwaway single-node cluster, tests/integration/rgw.py; .ci/deps.sh installs it). Objects
written through the gateway land in RGW; what tessera's own store does not keep (versioning,
tagging) passes through once authorized with its own IAM action; temporary credentials minted
by the gateway work against RGW; RGW's keys never leave the gateway; and the MinIO guide's seed
flow verbatim: MINIO_ACCESS_KEY/SECRET_KEY (RGW's keys), MINIO_IAM_JWKS_URL (the suite's real
OpenID provider, by its key set only), MINIO_IAM_OPA_URL (an OPA-compatible policy service of
the test) and MINIO_ETCD_ENDPOINTS (a real etcd)."""
import json
import os
import threading
import time

import botocore.exceptions
import pytest
import requests

import rgw as rgw_mod
import test_oidc_jwks as jwks
import test_opa as opa_mod
from conftest import Server, admin, s3_client, sts_client
from test_gateway import Gateway, policy_file


@pytest.fixture(scope="module")
def rgw():
    if rgw_mod.missing():
        pytest.fail("Ceph missing (%s): run .ci/deps.sh" % ", ".join(rgw_mod.missing()))
    r = rgw_mod.Rgw()
    try:
        r.start()
        yield r
    finally:
        r.stop()


class RgwDirect:
    """An object with what s3_client needs, to talk to RGW itself with its own keys."""

    def __init__(self, r):
        self.endpoint, self.root_user, self.root_password = r.endpoint, r.access_key, r.secret_key


@pytest.fixture
def gw(rgw, tmp_root):
    g = Gateway(os.path.join(tmp_root, "gw"), rgw.endpoint)
    g.root_user, g.root_password = rgw.access_key, rgw.secret_key
    g.start()
    try:
        yield g
    finally:
        g.stop()


def code(e):
    return e.value.response["Error"]["Code"]


def user(gw, tmp_root, name, statements):
    secret = name + "-secret-1"
    admin(gw, "user", "add", name, secret)
    admin(gw, "policy", "create", name + "-pol", policy_file(tmp_root, name, statements))
    admin(gw, "policy", "attach", name + "-pol", "--user", name)
    return s3_client(gw, name, secret)


def test_objects_land_in_rgw(gw, rgw):
    s3, direct = s3_client(gw), s3_client(RgwDirect(rgw))
    s3.create_bucket(Bucket="rgw-objects")
    body = os.urandom(2 << 20)
    s3.put_object(Bucket="rgw-objects", Key="a/b c", Body=body, Metadata={"k": "v"})
    got = direct.get_object(Bucket="rgw-objects", Key="a/b c")
    assert got["Body"].read() == body and got["Metadata"] == {"k": "v"}
    assert s3.get_object(Bucket="rgw-objects", Key="a/b c", Range="bytes=5-9")["Body"].read() == body[5:10]
    mp = s3.create_multipart_upload(Bucket="rgw-objects", Key="mp")
    part1 = os.urandom(5 << 20)
    e1 = s3.upload_part(Bucket="rgw-objects", Key="mp", UploadId=mp["UploadId"], PartNumber=1, Body=part1)
    e2 = s3.upload_part_copy(Bucket="rgw-objects", Key="mp", UploadId=mp["UploadId"], PartNumber=2,
                             CopySource={"Bucket": "rgw-objects", "Key": "a/b c"})
    s3.complete_multipart_upload(Bucket="rgw-objects", Key="mp", UploadId=mp["UploadId"],
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1, "ETag": e1["ETag"]},
                                     {"PartNumber": 2, "ETag": e2["CopyPartResult"]["ETag"]}]})
    assert direct.get_object(Bucket="rgw-objects", Key="mp")["Body"].read() == part1 + body
    s3.copy_object(Bucket="rgw-objects", Key="copy", CopySource={"Bucket": "rgw-objects", "Key": "a/b c"})
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="rgw-objects")["Contents"]]
    assert keys == ["a/b c", "copy", "mp"]
    assert [o["Key"] for o in s3.list_objects(Bucket="rgw-objects", Prefix="c")["Contents"]] == ["copy"]
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "rgw-objects", "Key": "copy"})
    assert requests.get(url, timeout=30).content == body
    s3.delete_objects(Bucket="rgw-objects", Delete={"Objects": [{"Key": "copy"}, {"Key": "mp"}]})
    assert [o["Key"] for o in direct.list_objects_v2(Bucket="rgw-objects")["Contents"]] == ["a/b c"]


def test_versioning_passes_through(gw, rgw, tmp_root):
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="rgw-versions")
    s3.put_bucket_versioning(Bucket="rgw-versions", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="rgw-versions")["Status"] == "Enabled"
    v1 = s3.put_object(Bucket="rgw-versions", Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="rgw-versions", Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    vs = s3.list_object_versions(Bucket="rgw-versions")["Versions"]
    assert sorted(v["VersionId"] for v in vs) == sorted([v1, v2])
    assert s3.get_object(Bucket="rgw-versions", Key="doc", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket="rgw-versions", Key="doc")["Body"].read() == b"two"
    # a version is s3:GetObjectVersion (AWS's action), not s3:GetObject
    reader = user(gw, tmp_root, "latest-only", [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::rgw-versions/*"}])
    assert reader.get_object(Bucket="rgw-versions", Key="doc")["Body"].read() == b"two"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_object(Bucket="rgw-versions", Key="doc", VersionId=v1)
    assert code(e) == "AccessDenied"
    s3.delete_object(Bucket="rgw-versions", Key="doc", VersionId=v2)
    assert s3.get_object(Bucket="rgw-versions", Key="doc")["Body"].read() == b"one"


def test_tagging_passes_through(gw, rgw, tmp_root):
    s3, direct = s3_client(gw), s3_client(RgwDirect(rgw))
    s3.create_bucket(Bucket="rgw-tags")
    s3.put_object(Bucket="rgw-tags", Key="t", Body=b"x", Tagging="team=blue")
    assert direct.get_object_tagging(Bucket="rgw-tags", Key="t")["TagSet"] == [{"Key": "team", "Value": "blue"}]
    s3.put_object_tagging(Bucket="rgw-tags", Key="t", Tagging={"TagSet": [{"Key": "team", "Value": "red"}]})
    assert s3.get_object_tagging(Bucket="rgw-tags", Key="t")["TagSet"] == [{"Key": "team", "Value": "red"}]
    s3.put_bucket_tagging(Bucket="rgw-tags", Tagging={"TagSet": [{"Key": "env", "Value": "test"}]})
    assert s3.get_bucket_tagging(Bucket="rgw-tags")["TagSet"] == [{"Key": "env", "Value": "test"}]
    putter = user(gw, tmp_root, "no-tagger", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::rgw-tags/*"}])
    putter.put_object(Bucket="rgw-tags", Key="plain", Body=b"y")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        putter.put_object(Bucket="rgw-tags", Key="tagged", Body=b"y", Tagging="a=b")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        putter.put_object_tagging(Bucket="rgw-tags", Key="plain", Tagging={"TagSet": []})
    assert code(e) == "AccessDenied"
    s3.delete_object_tagging(Bucket="rgw-tags", Key="t")
    assert direct.get_object_tagging(Bucket="rgw-tags", Key="t")["TagSet"] == []


def test_temporary_credentials_and_least_privilege(gw, rgw, tmp_root):
    s3_client(gw).create_bucket(Bucket="rgw-media")
    s3_client(gw).put_object(Bucket="rgw-media", Key="other/secret", Body=b"no")
    admin(gw, "user", "add", "media", "media-secret-1")
    admin(gw, "policy", "create", "media-pol", policy_file(tmp_root, "media", [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::rgw-media/tmp/media/*"}]))
    admin(gw, "policy", "attach", "media-pol", "--user", "media")
    c = sts_client(gw, "media", "media-secret-1").assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="sess", DurationSeconds=900)["Credentials"]
    for v in c.values():
        assert rgw.secret_key not in str(v) and rgw.access_key not in str(v)
    tmp = s3_client(gw, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    tmp.put_object(Bucket="rgw-media", Key="tmp/media/clip", Body=b"clip")
    assert s3_client(RgwDirect(rgw)).get_object(Bucket="rgw-media", Key="tmp/media/clip")["Body"].read() == b"clip"
    for call in (lambda: tmp.get_object(Bucket="rgw-media", Key="other/secret"),
                 lambda: tmp.put_object(Bucket="rgw-media", Key="other/x", Body=b"x")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    time.sleep(0.2)
    with open(gw.log_path) as f:
        assert rgw.secret_key not in f.read()


def test_bucket_policy_kept_by_tessera(gw, rgw):
    s3 = s3_client(gw)
    s3.create_bucket(Bucket="rgw-pol")
    s3.put_object(Bucket="rgw-pol", Key="pub/a", Body=b"public")
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]},
                                                   "Action": ["s3:GetObject"],
                                                   "Resource": ["arn:aws:s3:::rgw-pol/pub/*"]}]}
    s3.put_bucket_policy(Bucket="rgw-pol", Policy=json.dumps(doc))
    assert requests.get(gw.endpoint + "/rgw-pol/pub/a", timeout=10).content == b"public"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3_client(RgwDirect(rgw)).get_bucket_policy(Bucket="rgw-pol")
    assert code(e) == "NoSuchBucketPolicy"  # never sent to RGW


class SeedPolicy(opa_mod.Policy):
    """alice's id_token sessions: read and write tmp/media/ of bucket seed; the client-grants
    sessions (the provider's client): read it; anyone else, anything else: nothing."""

    def decide(self, inp):
        c = inp["claims"]
        media = inp["bucket"] == "seed" and (inp["object"] or "").startswith("tmp/media/")
        if c.get("source") == "oidc" and c.get("sub") == "alice":
            return media and inp["action"] in ("s3:PutObject", "s3:GetObject")
        if c.get("source") == "clientgrants":
            return media and inp["action"] == "s3:GetObject"
        return False


def test_guide_seed_flow_jwks_opa_etcd(rgw, tmp_root):
    """The guide's four variables verbatim in front of RGW: an id_token (WebIdentity) and an
    OAuth2 access token (ClientGrants) from a provider known by its JWKS URL only become
    gateway credentials; the OPA-compatible service decides every request; what it refuses
    never reaches RGW; RGW's keys never leave the gateway."""
    import etcd
    import oidc_flow
    provider = oidc_flow.Provider(tmp_root).start()
    policy = SeedPolicy()
    service = opa_mod.make_service(policy)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    cluster = etcd.EtcdCluster(1, root=os.path.join(tmp_root, "etcd")).start()
    g = None
    try:
        g = Gateway(os.path.join(tmp_root, "gw"), rgw.endpoint, env={
            "MINIO_ACCESS_KEY": rgw.access_key, "MINIO_SECRET_KEY": rgw.secret_key,
            "MINIO_IAM_JWKS_URL": jwks.jwks_uri(provider),
            "MINIO_IAM_OPA_URL": "http://127.0.0.1:%d/v1/data/httpapi/authz"
                                 % service.server_address[1],
            "MINIO_ETCD_ENDPOINTS": cluster.endpoints,
            "TESSERA_IDENTITY_OPENID_CLIENT_ID": oidc_flow.CLIENT_ID})
        g.root_user, g.root_password = rgw.access_key, rgw.secret_key
        g.iam_store = "etcd"

        def env():
            e = Server.env(g)
            e.pop("TESSERA_ROOT_USER", None)  # the guide's variables only
            e.pop("TESSERA_ROOT_PASSWORD", None)
            return e
        g.env = env
        g.start()
        s3_client(g).create_bucket(Bucket="seed")
        s3_client(g).put_object(Bucket="seed", Key="tmp/media/intro", Body=b"intro")
        s3_client(g).put_object(Bucket="seed", Key="private/plan", Body=b"plan")

        resp = jwks.web_identity(g, provider.login("alice"))
        assert resp["SubjectFromWebIdentityToken"] == "alice"
        alice = jwks.s3_for(g, resp["Credentials"])
        alice.put_object(Bucket="seed", Key="tmp/media/clip", Body=b"clip")
        direct = s3_client(RgwDirect(rgw))
        assert direct.get_object(Bucket="seed", Key="tmp/media/clip")["Body"].read() == b"clip"
        assert alice.get_object(Bucket="seed", Key="tmp/media/intro")["Body"].read() == b"intro"
        assert jwks.denied(alice.get_object, Bucket="seed", Key="private/plan") == "AccessDenied"
        assert jwks.denied(alice.put_object, Bucket="seed", Key="private/x",
                           Body=b"x") == "AccessDenied"

        status, doc = jwks.client_grants(g, provider.client_credentials())
        assert status == 200, jwks.ET.tostring(doc)
        cr = doc.find("s:AssumeRoleWithClientGrantsResult/s:Credentials", jwks.NS)
        app = s3_client(g, cr.find("s:AccessKeyId", jwks.NS).text,
                        cr.find("s:SecretAccessKey", jwks.NS).text,
                        cr.find("s:SessionToken", jwks.NS).text)
        assert app.get_object(Bucket="seed", Key="tmp/media/clip")["Body"].read() == b"clip"
        assert jwks.denied(app.put_object, Bucket="seed", Key="tmp/media/y",
                           Body=b"y") == "AccessDenied"

        # What the service refused never reached RGW; the service saw both identities.
        keys = [o["Key"] for o in direct.list_objects_v2(Bucket="seed")["Contents"]]
        assert sorted(keys) == ["private/plan", "tmp/media/clip", "tmp/media/intro"]
        with policy.lock:
            sources = {i["claims"].get("source") for i in policy.inputs}
        assert {"oidc", "clientgrants"} <= sources
        for v in list(resp["Credentials"].values()) + [cr.find("s:SessionToken", jwks.NS).text]:
            assert rgw.secret_key not in str(v) and rgw.access_key not in str(v)
        time.sleep(0.2)
        with open(g.log_path) as f:
            assert rgw.secret_key not in f.read()
    finally:
        if g is not None:
            g.stop()
        cluster.stop()
        service.shutdown()
        service.server_close()
        provider.stop()
