"""Issue 19 feature 2: ACLs and public access in the embedded store, as AWS.

Canned ACLs (x-amz-acl on CreateBucket, PutObject, CopyObject, CreateMultipartUpload, PostObject's
acl field), Put/Get Bucket/Object Acl (canned, x-amz-grant-* headers, AccessControlPolicy XML),
grantees the owners (CanonicalUser), AllUsers and AuthenticatedUsers; ACLs enforced for
anonymous and other users together with policies (an explicit Deny wins); ownership controls
(BucketOwnerEnforced disables ACLs); public access blocks; GetBucketPolicyStatus. boto3 (Debian's
and pyenv's python), the aws cli, raw unsigned requests (http.client), another static user.
"""
import hashlib
import http.client
import json
import os
import textwrap
import urllib.parse

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, aws, run_newer_boto3, s3_client

ROOT_ID = "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4"
ALL = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"]


def anon(server, method, path, body=None, headers=None):
    """An unsigned request: (status, body)."""
    u = urllib.parse.urlsplit(server.endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def make_user(server, tmp_path, user, secret, statements=None):
    admin(server, "user", "add", user, secret)
    if statements:
        pol = tmp_path / (user + ".json")
        pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
        admin(server, "policy", "create", user + "-pol", str(pol))
        admin(server, "policy", "attach", user + "-pol", "--user", user)
    return s3_client(server, ak=user, sk=secret)


def grants(acl):
    out = []
    for g in acl["Grants"]:
        ge = g["Grantee"]
        out.append((ge.get("URI") or ge.get("ID"), g["Permission"]))
    return sorted(out)


def owner_id(arn):
    return hashlib.sha256(arn.encode()).hexdigest()


# ---- canned ACLs and the documents ----

CANNED = {
    "private": [],
    "public-read": [(ALL, "READ")],
    "public-read-write": [(ALL, "READ"), (ALL, "WRITE")],
    "authenticated-read": [(AUTH, "READ")],
    "bucket-owner-read": [],  # the writer is the bucket owner here: one grantee
    "bucket-owner-full-control": [],
}


@pytest.mark.parametrize("canned", sorted(CANNED))
def test_canned_object_acls(server, canned):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="canned")
    s3.put_object(Bucket="canned", Key="k", Body=b"x", ACL=canned)
    acl = s3.get_object_acl(Bucket="canned", Key="k")
    assert acl["Owner"] == {"ID": ROOT_ID, "DisplayName": "tessera"}
    assert grants(acl) == sorted([(ROOT_ID, "FULL_CONTROL")] + CANNED[canned])
    # The same through PutObjectAcl, back to private.
    s3.put_object_acl(Bucket="canned", Key="k", ACL="private")
    assert grants(s3.get_object_acl(Bucket="canned", Key="k")) == [(ROOT_ID, "FULL_CONTROL")]
    s3.put_object_acl(Bucket="canned", Key="k", ACL=canned)
    assert grants(s3.get_object_acl(Bucket="canned", Key="k")) == sorted(
        [(ROOT_ID, "FULL_CONTROL")] + CANNED[canned])


def test_bad_acls_refused_with_aws_errors(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bad")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bad", Key="k", Body=b"x", ACL="public-everything")
    assert err(e) == (400, "InvalidArgument")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="bad", Key="k", Body=b"x", ACL="aws-exec-read")
    assert err(e) == (501, "NotImplemented")
    s3.put_object(Bucket="bad", Key="k", Body=b"x")
    cases = [
        (dict(GrantRead='emailAddress="someone@example.com"'), (400, "UnresolvableGrantByEmailAddress")),
        (dict(GrantRead='id="%s"' % ("ab" * 32)), (400, "InvalidArgument")),
        (dict(GrantRead='uri="http://acs.amazonaws.com/groups/global/Everyone"'), (400, "InvalidArgument")),
        (dict(GrantWrite='uri="http://acs.amazonaws.com/groups/s3/LogDelivery"'), (501, "NotImplemented")),
        (dict(ACL="public-read", GrantRead='uri="%s"' % ALL), (400, "InvalidRequest")),
    ]
    for kw, want in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object_acl(Bucket="bad", Key="k", **kw)
        assert err(e) == want, kw
    # Nothing was applied.
    assert grants(s3.get_object_acl(Bucket="bad", Key="k")) == [(ROOT_ID, "FULL_CONTROL")]
    # A missing ACL is refused.
    st, body = anon_signed_put_acl(server, "/bad/k?acl", b"")
    assert st == 400 and b"MissingSecurityHeader" in body


def anon_signed_put_acl(server, path, body):
    """A signed PUT ?acl with no ACL at all (boto3 always sends one)."""
    s3 = s3_client(server, signature_version="s3v4")
    url = s3.generate_presigned_url("put_object_acl", Params={"Bucket": path.split("/")[1],
                                                              "Key": path.split("/")[2].split("?")[0]})
    r = requests.put(url, data=body, timeout=30)
    return r.status_code, r.content


def test_grant_headers_and_xml_body(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="grants")
    s3.put_object(Bucket="grants", Key="k", Body=b"x")
    s3.put_object_acl(Bucket="grants", Key="k", GrantRead='uri="%s", uri="%s"' % (ALL, AUTH),
                      GrantFullControl='id="%s"' % ROOT_ID, GrantReadACP='uri="%s"' % ALL)
    assert grants(s3.get_object_acl(Bucket="grants", Key="k")) == sorted(
        [(ROOT_ID, "FULL_CONTROL"), (ALL, "READ"), (AUTH, "READ"), (ALL, "READ_ACP")])
    # The document GetObjectAcl answers is one PutObjectAcl takes back.
    acl = s3.get_object_acl(Bucket="grants", Key="k")
    policy = {"Owner": acl["Owner"], "Grants": [g for g in acl["Grants"]
                                                 if g["Permission"] != "READ_ACP"]}
    s3.put_object_acl(Bucket="grants", Key="k", AccessControlPolicy=policy)
    assert grants(s3.get_object_acl(Bucket="grants", Key="k")) == sorted(
        [(ROOT_ID, "FULL_CONTROL"), (ALL, "READ"), (AUTH, "READ")])
    # Bucket ACL by XML.
    s3.put_bucket_acl(Bucket="grants", AccessControlPolicy={
        "Owner": {"ID": ROOT_ID},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": ROOT_ID},
                    "Permission": "FULL_CONTROL"},
                   {"Grantee": {"Type": "Group", "URI": ALL}, "Permission": "READ"}]})
    assert grants(s3.get_bucket_acl(Bucket="grants")) == sorted(
        [(ROOT_ID, "FULL_CONTROL"), (ALL, "READ")])
    # Another owner in the document: the owner cannot be changed.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_acl(Bucket="grants", AccessControlPolicy={
            "Owner": {"ID": "ab" * 32}, "Grants": []})
    assert err(e) == (403, "AccessDenied")
    # Malformed documents, unknown permissions, e-mail grantees.
    url = s3_client(server, signature_version="s3v4").generate_presigned_url(
        "put_bucket_acl", Params={"Bucket": "grants"})
    for body, want in (
            (b"<AccessControlPolicy><nope/></AccessControlPolicy>", "MalformedACLError"),
            (b"<AccessControlPolicy", "MalformedACLError"),
            (("<AccessControlPolicy><AccessControlList><Grant><Grantee %s xsi:type=\"Group\">"
              "<URI>%s</URI></Grantee><Permission>EVERYTHING</Permission></Grant>"
              "</AccessControlList></AccessControlPolicy>" % (XSI, ALL)).encode(),
             "MalformedACLError"),
            (("<AccessControlPolicy><AccessControlList><Grant><Grantee %s "
              "xsi:type=\"AmazonCustomerByEmail\"><EmailAddress>a@b.c</EmailAddress></Grantee>"
              "<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
              % XSI).encode(), "UnresolvableGrantByEmailAddress")):
        r = requests.put(url, data=body, timeout=30)
        assert r.status_code == 400 and want.encode() in r.content, (body, r.content)
    assert grants(s3.get_bucket_acl(Bucket="grants")) == sorted(
        [(ROOT_ID, "FULL_CONTROL"), (ALL, "READ")])


# ---- decisions ----

def test_anonymous_reads_a_public_read_object_only(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="pub")
    s3.put_object(Bucket="pub", Key="open", Body=b"open data", ACL="public-read")
    s3.put_object(Bucket="pub", Key="closed", Body=b"secret")
    assert anon(server, "GET", "/pub/open") == (200, b"open data")
    assert anon(server, "HEAD", "/pub/open")[0] == 200
    assert anon(server, "GET", "/pub/closed")[0] == 403
    assert anon(server, "GET", "/pub/missing")[0] == 403  # no ListBucket: a missing key is 403
    assert anon(server, "GET", "/pub")[0] == 403          # the bucket is private
    assert anon(server, "PUT", "/pub/open", b"overwrite")[0] == 403
    assert anon(server, "DELETE", "/pub/open")[0] == 403
    assert anon(server, "GET", "/pub/open?acl")[0] == 403  # READ is not READ_ACP
    # Back to private: denied again (the decision reads the current ACL).
    s3.put_object_acl(Bucket="pub", Key="open", ACL="private")
    assert anon(server, "GET", "/pub/open")[0] == 403
    # Overwriting replaces the ACL with the new write's.
    s3.put_object_acl(Bucket="pub", Key="open", ACL="public-read")
    s3.put_object(Bucket="pub", Key="open", Body=b"v2")
    assert anon(server, "GET", "/pub/open")[0] == 403


def test_bucket_acl_read_and_write_for_anonymous(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="rwb", ACL="public-read")
    s3.put_object(Bucket="rwb", Key="k", Body=b"x")
    st, body = anon(server, "GET", "/rwb?list-type=2")
    assert st == 200 and b"<Key>k</Key>" in body
    assert anon(server, "HEAD", "/rwb")[0] == 200
    assert anon(server, "GET", "/rwb/k")[0] == 403        # the object's own ACL is private
    assert anon(server, "GET", "/rwb/missing")[0] == 403  # GetObject itself is not granted
    assert anon(server, "PUT", "/rwb/new", b"n")[0] == 403
    s3.put_bucket_acl(Bucket="rwb", ACL="public-read-write")
    assert anon(server, "PUT", "/rwb/new", b"anonymous data")[0] == 200
    acl = s3.get_object_acl(Bucket="rwb", Key="new")
    assert acl["Owner"]["DisplayName"] == "anonymous"
    assert s3.get_object(Bucket="rwb", Key="new")["Body"].read() == b"anonymous data"
    assert anon(server, "DELETE", "/rwb/new")[0] == 204
    # WRITE on the bucket is not WRITE_ACP, nor the bucket's own deletion.
    assert anon(server, "PUT", "/rwb?acl", b"", {"x-amz-acl": "private"})[0] == 403
    assert anon(server, "DELETE", "/rwb")[0] == 403
    s3.put_bucket_acl(Bucket="rwb", ACL="private")
    assert anon(server, "GET", "/rwb?list-type=2")[0] == 403


def test_read_acp_and_write_acp(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="acp")
    s3.put_object(Bucket="acp", Key="k", Body=b"x")
    s3.put_object_acl(Bucket="acp", Key="k", GrantReadACP='uri="%s"' % ALL,
                      GrantWriteACP='uri="%s"' % ALL)
    st, body = anon(server, "GET", "/acp/k?acl")
    assert st == 200 and b"READ_ACP" in body
    assert anon(server, "GET", "/acp/k")[0] == 403
    assert anon(server, "PUT", "/acp/k?acl", b"", {"x-amz-acl": "public-read"})[0] == 200
    assert anon(server, "GET", "/acp/k")[0] == 200
    s3.put_bucket_acl(Bucket="acp", GrantReadACP='uri="%s"' % ALL)
    assert anon(server, "GET", "/acp?acl")[0] == 200


def test_authenticated_read_and_another_user(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="auth")
    s3.put_object(Bucket="auth", Key="k", Body=b"for members", ACL="authenticated-read")
    s3.put_object(Bucket="auth", Key="p", Body=b"private")
    bob = make_user(server, tmp_path, "bob", "bob-secret-123")  # no policy at all
    assert bob.get_object(Bucket="auth", Key="k")["Body"].read() == b"for members"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bob.get_object(Bucket="auth", Key="p")
    assert err(e) == (403, "AccessDenied")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bob.put_object_acl(Bucket="auth", Key="k", ACL="public-read")
    assert err(e) == (403, "AccessDenied")
    assert anon(server, "GET", "/auth/k")[0] == 403
    # A user writing into a bucket it may write to owns the object it writes.
    carol = make_user(server, tmp_path, "carol", "carol-secret-12", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectAcl", "s3:GetObjectAcl"],
         "Resource": "arn:aws:s3:::auth/*"}])
    carol.put_object(Bucket="auth", Key="c", Body=b"c", ACL="bucket-owner-full-control")
    acl = carol.get_object_acl(Bucket="auth", Key="c")
    carol_id = owner_id("arn:aws:iam::000000000000:user/carol")
    assert acl["Owner"]["ID"] == carol_id
    assert grants(acl) == sorted([(carol_id, "FULL_CONTROL"), (ROOT_ID, "FULL_CONTROL")])


def test_explicit_deny_beats_acl(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="deny")
    s3.put_object(Bucket="deny", Key="k", Body=b"x", ACL="public-read")
    s3.put_object(Bucket="deny", Key="other", Body=b"y", ACL="public-read")
    assert anon(server, "GET", "/deny/k")[0] == 200
    s3.put_bucket_policy(Bucket="deny", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::deny/k"}]}))
    assert anon(server, "GET", "/deny/k")[0] == 403
    assert anon(server, "GET", "/deny/other")[0] == 200
    # An identity policy's Deny beats the ACL for that user too.
    dan = make_user(server, tmp_path, "dan", "dan-secret-1234", [
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::deny/other"}])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        dan.get_object(Bucket="deny", Key="other")
    assert err(e) == (403, "AccessDenied")


def test_acl_writes_need_their_actions(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="act")
    s3.put_object(Bucket="act", Key="k", Body=b"x")
    eve = make_user(server, tmp_path, "eve", "eve-secret-1234", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": "arn:aws:s3:::act/*"}])
    eve.put_object(Bucket="act", Key="e", Body=b"e", ACL="private")
    for call in (lambda: eve.put_object(Bucket="act", Key="e2", Body=b"e", ACL="public-read"),
                 lambda: eve.put_object_acl(Bucket="act", Key="k", ACL="public-read"),
                 lambda: eve.get_object_acl(Bucket="act", Key="k"),
                 lambda: eve.get_bucket_acl(Bucket="act"),
                 lambda: eve.put_public_access_block(
                     Bucket="act", PublicAccessBlockConfiguration={"BlockPublicAcls": False}),
                 lambda: eve.get_bucket_ownership_controls(Bucket="act"),
                 lambda: eve.get_bucket_policy_status(Bucket="act")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e) == (403, "AccessDenied")
    with pytest.raises(botocore.exceptions.ClientError):
        eve.head_object(Bucket="act", Key="e2")


def test_copy_multipart_and_post_take_the_requests_acl(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="wri")
    s3.put_object(Bucket="wri", Key="src", Body=b"source", ACL="public-read")
    s3.copy_object(Bucket="wri", Key="copy", CopySource={"Bucket": "wri", "Key": "src"})
    assert anon(server, "GET", "/wri/copy")[0] == 403  # ACLs are not copied
    s3.copy_object(Bucket="wri", Key="copy2", CopySource={"Bucket": "wri", "Key": "src"},
                   ACL="public-read")
    assert anon(server, "GET", "/wri/copy2") == (200, b"source")
    up = s3.create_multipart_upload(Bucket="wri", Key="mp", ACL="public-read")
    part = s3.upload_part(Bucket="wri", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"m")
    s3.complete_multipart_upload(Bucket="wri", Key="mp", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert anon(server, "GET", "/wri/mp") == (200, b"m")
    p = s3.generate_presigned_post("wri", "posted", Fields={"acl": "public-read"},
                                   Conditions=[{"acl": "public-read"}])
    r = requests.post(p["url"], data=p["fields"], files={"file": ("f", b"posted data")},
                      timeout=30)
    assert r.status_code == 204, r.text
    assert anon(server, "GET", "/wri/posted") == (200, b"posted data")
    p = s3.generate_presigned_post("wri", "posted2", Fields={"acl": "public-all"},
                                   Conditions=[{"acl": "public-all"}])
    r = requests.post(p["url"], data=p["fields"], files={"file": ("f", b"x")}, timeout=30)
    assert r.status_code == 400 and b"InvalidArgument" in r.content


def test_acls_survive_kill_and_restart(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="dur", ACL="public-read")
    s3.put_object(Bucket="dur", Key="k", Body=b"x", ACL="public-read")
    s3.put_public_access_block(Bucket="dur", PublicAccessBlockConfiguration={
        "BlockPublicPolicy": True})
    s3.put_bucket_ownership_controls(Bucket="dur", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    server.kill()
    server.start()
    s3 = s3_client(server)
    assert anon(server, "GET", "/dur/k") == (200, b"x")
    assert anon(server, "GET", "/dur?list-type=2")[0] == 200
    assert s3.get_public_access_block(Bucket="dur")["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"] is True
    assert s3.get_bucket_ownership_controls(Bucket="dur")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]


# ---- ownership controls ----

def test_bucket_owner_enforced_disables_acls(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="own")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket="own")
    assert err(e) == (404, "OwnershipControlsNotFoundError")
    s3.put_object(Bucket="own", Key="old", Body=b"x", ACL="public-read")
    assert anon(server, "GET", "/own/old")[0] == 200
    s3.put_bucket_ownership_controls(Bucket="own", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert s3.get_bucket_ownership_controls(Bucket="own")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert anon(server, "GET", "/own/old")[0] == 403  # ACLs no longer decide
    assert grants(s3.get_object_acl(Bucket="own", Key="old")) == [(ROOT_ID, "FULL_CONTROL")]
    for kw in (dict(ACL="public-read"), dict(GrantRead='uri="%s"' % ALL)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket="own", Key="new", Body=b"x", **kw)
        assert err(e) == (400, "AccessControlListNotSupported")
    for call in (lambda: s3.put_object_acl(Bucket="own", Key="old", ACL="private"),
                 lambda: s3.put_bucket_acl(Bucket="own", ACL="private")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e) == (400, "AccessControlListNotSupported")
    s3.put_object(Bucket="own", Key="new", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket="own", Key="new2", Body=b"x", ACL="private")
    # A writer's object belongs to the bucket owner.
    fay = make_user(server, tmp_path, "fay", "fay-secret-1234", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObjectAcl"],
         "Resource": "arn:aws:s3:::own/*"}])
    fay.put_object(Bucket="own", Key="fays", Body=b"f")
    assert fay.get_object_acl(Bucket="own", Key="fays")["Owner"]["ID"] == ROOT_ID
    # Gone: the ACLs decide again.
    s3.delete_bucket_ownership_controls(Bucket="own")
    assert anon(server, "GET", "/own/old")[0] == 200
    # Enforced at creation, with a public ACL: refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="own2", ACL="public-read", ObjectOwnership="BucketOwnerEnforced")
    assert err(e) == (400, "InvalidBucketAclWithObjectOwnership")
    s3.create_bucket(Bucket="own3", ObjectOwnership="BucketOwnerEnforced")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="own3", Key="k", Body=b"x", ACL="public-read")
    assert err(e) == (400, "AccessControlListNotSupported")


def test_create_bucket_headers_need_their_actions(server, tmp_path):
    ivy = make_user(server, tmp_path, "ivy", "ivy-secret-1234", [
        {"Effect": "Allow", "Action": "s3:CreateBucket", "Resource": "*"}])
    ivy.create_bucket(Bucket="ivy1", ACL="private")
    for kw in (dict(ACL="public-read"), dict(ObjectOwnership="BucketOwnerEnforced")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ivy.create_bucket(Bucket="ivy2", **kw)
        assert err(e) == (403, "AccessDenied")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3_client(server).create_bucket(Bucket="ivy3", ObjectOwnership="Nobody")
    assert err(e) == (400, "InvalidArgument")


def test_bucket_owner_preferred(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="pref", ObjectOwnership="BucketOwnerPreferred")
    gus = make_user(server, tmp_path, "gus", "gus-secret-1234", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectAcl", "s3:GetObjectAcl"],
         "Resource": "arn:aws:s3:::pref/*"}])
    gus.put_object(Bucket="pref", Key="a", Body=b"x", ACL="bucket-owner-full-control")
    assert gus.get_object_acl(Bucket="pref", Key="a")["Owner"]["ID"] == ROOT_ID
    gus.put_object(Bucket="pref", Key="b", Body=b"x")
    gus_id = owner_id("arn:aws:iam::000000000000:user/gus")
    assert gus.get_object_acl(Bucket="pref", Key="b")["Owner"]["ID"] == gus_id


# ---- public access blocks and policy status ----

PUBLIC_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::%s/*"}]}


def public_policy(bucket, condition=None):
    p = json.loads(json.dumps(PUBLIC_POLICY))
    p["Statement"][0]["Resource"] %= bucket
    if condition:
        p["Statement"][0]["Condition"] = condition
    return json.dumps(p)


def test_public_access_block(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="pab")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_public_access_block(Bucket="pab")
    assert err(e) == (404, "NoSuchPublicAccessBlockConfiguration")
    s3.put_object(Bucket="pab", Key="pub", Body=b"x", ACL="public-read")
    # BlockPublicAcls: writes of public ACLs refused; what exists still decides.
    s3.put_public_access_block(Bucket="pab", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True})
    assert s3.get_public_access_block(Bucket="pab")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False}
    for call in (lambda: s3.put_object(Bucket="pab", Key="n", Body=b"x", ACL="public-read"),
                 lambda: s3.put_object(Bucket="pab", Key="n", Body=b"x",
                                       GrantRead='uri="%s"' % AUTH),
                 lambda: s3.put_object_acl(Bucket="pab", Key="pub", ACL="authenticated-read"),
                 lambda: s3.put_bucket_acl(Bucket="pab", ACL="public-read")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e) == (403, "AccessDenied")
    s3.put_object(Bucket="pab", Key="n", Body=b"x", ACL="private")
    assert anon(server, "GET", "/pab/pub")[0] == 200
    # IgnorePublicAcls: public grants decide nothing.
    s3.put_public_access_block(Bucket="pab", PublicAccessBlockConfiguration={
        "IgnorePublicAcls": True})
    assert anon(server, "GET", "/pab/pub")[0] == 403
    s3.put_object(Bucket="pab", Key="pub2", Body=b"x", ACL="public-read")  # not blocked now
    assert anon(server, "GET", "/pab/pub2")[0] == 403
    # BlockPublicPolicy: a public policy refused, a restricted one accepted.
    s3.put_public_access_block(Bucket="pab", PublicAccessBlockConfiguration={
        "BlockPublicPolicy": True})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket="pab", Policy=public_policy("pab"))
    assert err(e) == (403, "AccessDenied")
    s3.put_bucket_policy(Bucket="pab", Policy=public_policy(
        "pab", {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    assert s3.get_bucket_policy_status(Bucket="pab")["PolicyStatus"]["IsPublic"] is False
    s3.delete_public_access_block(Bucket="pab")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_public_access_block(Bucket="pab")
    assert err(e) == (404, "NoSuchPublicAccessBlockConfiguration")
    assert anon(server, "GET", "/pab/pub")[0] == 200


def test_restrict_public_buckets(server, tmp_path):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="rpb")
    s3.put_object(Bucket="rpb", Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket="rpb", Policy=public_policy("rpb"))
    hal = make_user(server, tmp_path, "hal", "hal-secret-1234")  # no policy of its own
    assert anon(server, "GET", "/rpb/k")[0] == 200
    s3.put_public_access_block(Bucket="rpb", PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True})
    assert anon(server, "GET", "/rpb/k")[0] == 403
    assert hal.get_object(Bucket="rpb", Key="k")["Body"].read() == b"x"  # of the account
    # A policy that is not public is not restricted.
    s3.put_bucket_policy(Bucket="rpb", Policy=public_policy(
        "rpb", {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    assert anon(server, "GET", "/rpb/k")[0] == 200


def test_policy_status(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="pst")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy_status(Bucket="pst")
    assert err(e) == (404, "NoSuchBucketPolicy")
    s3.put_bucket_policy(Bucket="pst", Policy=public_policy("pst"))
    assert s3.get_bucket_policy_status(Bucket="pst")["PolicyStatus"]["IsPublic"] is True
    s3.put_bucket_policy(Bucket="pst", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/x"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pst/*"}]}))
    assert s3.get_bucket_policy_status(Bucket="pst")["PolicyStatus"]["IsPublic"] is False


# ---- clients ----

def test_aws_cli(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="cli")
    s3.put_object(Bucket="cli", Key="k", Body=b"cli data")
    aws(server, "s3api", "put-object-acl", "--bucket", "cli", "--key", "k", "--acl", "public-read")
    out = json.loads(aws(server, "s3api", "get-object-acl", "--bucket", "cli", "--key", "k").stdout)
    assert (ALL, "READ") in grants(out)
    assert anon(server, "GET", "/cli/k") == (200, b"cli data")
    aws(server, "s3api", "put-public-access-block", "--bucket", "cli",
        "--public-access-block-configuration",
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,"
        "RestrictPublicBuckets=true")
    out = json.loads(aws(server, "s3api", "get-public-access-block", "--bucket", "cli").stdout)
    assert out["PublicAccessBlockConfiguration"]["IgnorePublicAcls"] is True
    assert anon(server, "GET", "/cli/k")[0] == 403
    p = aws(server, "s3api", "put-bucket-acl", "--bucket", "cli", "--acl", "public-read",
            check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    aws(server, "s3api", "delete-public-access-block", "--bucket", "cli")
    aws(server, "s3api", "put-bucket-ownership-controls", "--bucket", "cli",
        "--ownership-controls", "Rules=[{ObjectOwnership=ObjectWriter}]")
    out = json.loads(aws(server, "s3api", "get-bucket-ownership-controls", "--bucket",
                         "cli").stdout)
    assert out["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    aws(server, "s3api", "put-bucket-policy", "--bucket", "cli", "--policy", public_policy("cli"))
    out = json.loads(aws(server, "s3api", "get-bucket-policy-status", "--bucket", "cli").stdout)
    assert out["PolicyStatus"]["IsPublic"] is True


PYENV_SCRIPT = textwrap.dedent("""
    import sys, boto3, botocore.config, urllib.request
    s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                      aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="newer", ACL="public-read")
    s3.put_object(Bucket="newer", Key="k", Body=b"x" * 100000, ACL="public-read")
    assert urllib.request.urlopen(sys.argv[1] + "/newer/k").read() == b"x" * 100000
    s3.put_object_acl(Bucket="newer", Key="k", AccessControlPolicy={
        "Owner": s3.get_object_acl(Bucket="newer", Key="k")["Owner"],
        "Grants": [{"Grantee": {"Type": "Group",
                                "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                    "Permission": "READ"}]})
    acl = s3.get_object_acl(Bucket="newer", Key="k")
    assert [g["Permission"] for g in acl["Grants"]] == ["READ"], acl
    s3.put_public_access_block(Bucket="newer", PublicAccessBlockConfiguration={
        "IgnorePublicAcls": True})
    try:
        urllib.request.urlopen(sys.argv[1] + "/newer/k")
        raise SystemExit("public read allowed")
    except urllib.error.HTTPError as e:
        assert e.code == 403
    s3.put_bucket_acl(Bucket="newer", ACL="private")  # a public bucket ACL must go first
    s3.put_bucket_ownership_controls(Bucket="newer", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert s3.get_bucket_ownership_controls(Bucket="newer")["OwnershipControls"]["Rules"][0][
        "ObjectOwnership"] == "BucketOwnerEnforced"
    print("ok")
""")


def test_newer_boto3(server):
    assert "ok" in run_newer_boto3(server, PYENV_SCRIPT, timeout=120)


# ---- the gateway ----

def test_gateway_refuses_public_access_blocks_and_decides_by_its_policies(tmp_root):
    import test_gateway as tg
    up = Server(os.path.join(tmp_root, "upstream"))
    up.root_user, up.root_password = tg.UP_USER, tg.UP_PASS
    up.start()
    g = None
    try:
        g = tg.start_gateway(tmp_root, up.endpoint)
        s3 = s3_client(g)
        s3.create_bucket(Bucket="gwb")
        # ACLs pass through (the upstream keeps them), authorized with their actions...
        s3.put_object(Bucket="gwb", Key="k", Body=b"x", ACL="public-read")
        assert (ALL, "READ") in grants(s3.get_object_acl(Bucket="gwb", Key="k"))
        # ...but grant nothing through the gateway: its decisions are tessera's policies.
        assert anon(up, "GET", "/gwb/k") == (200, b"x")  # the upstream's own decision
        assert anon(g, "GET", "/gwb/k")[0] == 403
        for call in (lambda: s3.put_public_access_block(
                Bucket="gwb", PublicAccessBlockConfiguration={"BlockPublicAcls": True}),
                     lambda: s3.get_public_access_block(Bucket="gwb"),
                     lambda: s3.delete_public_access_block(Bucket="gwb"),
                     lambda: s3.get_bucket_policy_status(Bucket="gwb")):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call()
            assert err(e) == (501, "NotImplemented")
    finally:
        if g is not None:
            g.stop()
        up.stop()
