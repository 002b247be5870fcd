"""AssumeRoleWithSAML (issue 20 item 4): SAML 2.0 Responses made and signed in the suite
(saml_idp.py: keys by openssl, signatures by the xmlsec1 CLI), sent with boto3 (Debian's and
the newer pyenv one), the aws cli and raw requests; the credentials used for real S3 calls; and
the attack corpus -- signature wrapping, comment-truncated NameID, unsigned assertions, another
key, time, audience, recipient, issuer, replay, role pairs, digests, malformed input -- all
refused."""
import base64
import json
import os
import time

import botocore.exceptions
import pytest
import requests

from conftest import Server, admin, aws, run_newer_boto3, s3_client, sts_client
from saml_idp import (ACCOUNT, AUDIENCE, NS_A, PROVIDER_ARN, RECIPIENT, SHA1, IdP, b64,
                      make_key, role_value)

ROLE = "saml-rw"
ROLE_ARN = "arn:aws:iam::%s:role/%s" % (ACCOUNT, ROLE)
GROUP_ROLE_ARN = "arn:aws:iam::%s:role/ReadersViaGroups" % ACCOUNT
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


@pytest.fixture
def idp(tmp_root):
    return IdP(tmp_root)


def start(tmp_root, idp, **env):
    e = {"TESSERA_IDENTITY_SAML_METADATA": idp.metadata(), "TESSERA_STS_RATE_LIMIT": "off"}
    e.update(env)
    return Server(os.path.join(tmp_root, "data"), env=e).start()


@pytest.fixture
def srv(tmp_root, idp):
    """A server trusting idp, a role saml-rw (readwrite) whose trust policy admits the SAML
    provider, a group saml-readers (readonly) and a bucket with one object."""
    s = start(tmp_root, idp)
    try:
        trust = os.path.join(tmp_root, "trust.json")
        with open(trust, "w") as f:
            json.dump({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN},
                 "Action": "sts:AssumeRoleWithSAML",
                 "Condition": {"StringEquals": {"saml:aud": RECIPIENT}}}]}, f)
        admin(s, "role", "create", ROLE, "--trust", trust)
        admin(s, "role", "policy", "attach", ROLE, "readwrite")
        admin(s, "group", "add", "saml-readers")
        admin(s, "policy", "attach", "readonly", "--group", "saml-readers")
        s3 = s3_client(s)
        s3.create_bucket(Bucket="samlb")
        s3.put_object(Bucket="samlb", Key="k", Body=b"v")
        yield s
    finally:
        s.stop()


def good(idp, **kw):
    kw.setdefault("roles", [role_value(ROLE_ARN), role_value(GROUP_ROLE_ARN)])
    return idp.signed_response(**kw)


def assume(srv, doc, role=ROLE_ARN, principal=PROVIDER_ARN, encoded=False, **kw):
    return sts_client(srv, validate=False).assume_role_with_saml(
        RoleArn=role, PrincipalArn=principal, SAMLAssertion=doc if encoded else b64(doc), **kw)


def refused(srv, doc, code, encoded=False, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(srv, doc, encoded=encoded, **kw)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value.response["Error"]["Message"]


def s3_of(srv, r):
    c = r["Credentials"]
    return s3_client(srv, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


# ---- the flow ----

def test_boto3_role_session_and_s3(srv, idp):
    r = assume(srv, good(idp))
    assert r["Subject"] == "alice@example.test"
    assert r["SubjectType"] == "persistent"
    assert r["Issuer"] == idp.entity_id
    assert r["Audience"] == RECIPIENT
    assert r["NameQualifier"]
    assert r["AssumedRoleUser"]["Arn"] == "arn:aws:sts::%s:assumed-role/%s/alice" % (ACCOUNT, ROLE)
    s3 = s3_of(srv, r)
    assert s3.get_object(Bucket="samlb", Key="k")["Body"].read() == b"v"
    s3.put_object(Bucket="samlb", Key="from-saml", Body=b"x")  # the role's readwrite
    who = sts_client(srv, r["Credentials"]["AccessKeyId"], r["Credentials"]["SecretAccessKey"],
                     r["Credentials"]["SessionToken"]).get_caller_identity()
    assert who["Arn"] == r["AssumedRoleUser"]["Arn"]


def test_name_qualifier_is_aws_shaped(srv, idp):
    import hashlib
    r = assume(srv, good(idp))
    want = base64.b64encode(hashlib.sha1(
        (idp.entity_id + ACCOUNT + "/tessera").encode()).digest()).decode()
    assert r["NameQualifier"] == want


def test_groups_attribute_through_the_mapper(srv, idp):
    """A RoleArn naming no tessera role: the groups attribute's values map to tessera
    groups' policies (here readonly)."""
    r = assume(srv, good(idp, groups=["saml-readers", "no-such-group"]), role=GROUP_ROLE_ARN)
    s3 = s3_of(srv, r)
    assert s3.get_object(Bucket="samlb", Key="k")["Body"].read() == b"v"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="samlb", Key="no", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    # no group that maps: no policy, refused
    refused(srv, good(idp, groups=["nobody"]), "AccessDenied", role=GROUP_ROLE_ARN)


def test_response_signature_only_and_both(srv, idp):
    r = assume(srv, good(idp, sign_assertion=False, sign_response=True))
    assert r["Subject"] == "alice@example.test"
    r = assume(srv, good(idp, sign_assertion=True, sign_response=True))
    assert r["Credentials"]["AccessKeyId"]


def test_concurrent_logins(srv, idp):
    """Logins on several HTTP threads at once share the metadata's keys read-only."""
    import concurrent.futures
    docs = [good(idp) for _ in range(24)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda d: requests.post(srv.endpoint + "/", data={
            "Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": ROLE_ARN,
            "PrincipalArn": PROVIDER_ARN, "SAMLAssertion": b64(d)}).status_code, docs * 2))
    assert codes.count(200) == 24 and codes.count(400) == 24, codes  # each assertion once


def test_second_metadata_certificate(tmp_root, idp):
    """Key rollover: the metadata lists two signing certificates; either verifies."""
    key2, crt2 = make_key(tmp_root, "idp2")
    path = idp.metadata(certs=[idp.crt, crt2])
    s = Server(os.path.join(tmp_root, "data"), env={
        "TESSERA_IDENTITY_SAML_METADATA": path, "TESSERA_STS_RATE_LIMIT": "off"}).start()
    try:
        admin(s, "group", "add", "g1")
        admin(s, "policy", "attach", "readonly", "--group", "g1")
        for key, crt in ((idp.key, idp.crt), (key2, crt2)):
            r = assume(s, idp.signed_response(roles=[role_value(GROUP_ROLE_ARN)], groups=["g1"],
                                              key=key, crt=crt), role=GROUP_ROLE_ARN)
            assert r["Credentials"]["AccessKeyId"]
    finally:
        s.stop()


def test_duration_bounds(srv, idp):
    now = int(time.time())
    r = assume(srv, good(idp))  # AWS's default: one hour
    exp = r["Credentials"]["Expiration"].timestamp()
    assert abs(exp - (now + 3600)) < 30
    r = assume(srv, good(idp), DurationSeconds=7200)
    assert abs(r["Credentials"]["Expiration"].timestamp() - (now + 7200)) < 30
    # the SessionDuration attribute bounds DurationSeconds
    r = assume(srv, good(idp, session_duration=1800), DurationSeconds=7200)
    assert abs(r["Credentials"]["Expiration"].timestamp() - (now + 1800)) < 30
    # SessionNotOnOrAfter of the AuthnStatement too (whichever is shorter, AWS)
    r = assume(srv, good(idp, session_not_on_or_after=now + 1200), DurationSeconds=3600)
    assert abs(r["Credentials"]["Expiration"].timestamp() - (now + 1200)) < 30
    refused(srv, good(idp), "ValidationError", DurationSeconds=100)
    refused(srv, good(idp, session_duration=100), "InvalidIdentityToken")


def test_session_policy_and_packed_size(srv, idp):
    pol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::samlb/*"}]}
    r = assume(srv, good(idp), Policy=json.dumps(pol))
    assert r["PackedPolicySize"] >= 1
    s3 = s3_of(srv, r)
    assert s3.get_object(Bucket="samlb", Key="k")["Body"].read() == b"v"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.put_object(Bucket="samlb", Key="no", Body=b"x")
    refused(srv, good(idp), "MalformedPolicyDocument", Policy="{not json")


def test_aws_cli(srv, idp):
    path = os.path.join(os.path.dirname(srv.data_dir), "assertion.b64")
    with open(path, "w") as f:
        f.write(b64(good(idp)))
    p = aws(srv, "sts", "assume-role-with-saml", "--role-arn", ROLE_ARN, "--principal-arn",
            PROVIDER_ARN, "--saml-assertion", "file://" + path, "--output", "json")
    r = json.loads(p.stdout)
    assert r["Subject"] == "alice@example.test"
    c = r["Credentials"]
    p = aws(srv, "s3", "cp", "s3://samlb/k", "-", ak=c["AccessKeyId"], sk=c["SecretAccessKey"],
            token=c["SessionToken"])
    assert p.stdout == "v"
    # a refusal through the cli: the same assertion again (replay)
    p = aws(srv, "sts", "assume-role-with-saml", "--role-arn", ROLE_ARN, "--principal-arn",
            PROVIDER_ARN, "--saml-assertion", "file://" + path, check=False)
    assert p.returncode != 0 and "InvalidIdentityToken" in p.stderr


NEWER = r"""
import sys, boto3, botocore.config
ep, _, _, assertion, role, principal = sys.argv[1:]
cfg = botocore.config.Config(retries={"max_attempts": 1})
sts = boto3.client("sts", endpoint_url=ep, region_name="us-east-1", config=cfg,
                   aws_access_key_id="x", aws_secret_access_key="y")
r = sts.assume_role_with_saml(RoleArn=role, PrincipalArn=principal, SAMLAssertion=assertion)
c = r["Credentials"]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", config=cfg,
                  aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                  aws_session_token=c["SessionToken"])
s3.put_object(Bucket="samlb", Key="newer", Body=b"n")
print(r["Subject"], s3.get_object(Bucket="samlb", Key="newer")["Body"].read().decode())
"""


def test_newer_boto3(srv, idp):
    out = run_newer_boto3(srv, NEWER, b64(good(idp)), ROLE_ARN, PROVIDER_ARN)
    assert out.split() == ["alice@example.test", "n"]


def test_raw_query_and_xml_shape(srv, idp):
    r = requests.post(srv.endpoint + "/", data={
        "Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": ROLE_ARN,
        "PrincipalArn": PROVIDER_ARN, "SAMLAssertion": b64(good(idp))})
    assert r.status_code == 200, r.text
    import xml.etree.ElementTree as ET
    res = ET.fromstring(r.text).find(NS + "AssumeRoleWithSAMLResult")
    for el in ("Issuer", "Audience", "Subject", "SubjectType", "NameQualifier",
               "AssumedRoleUser", "Credentials"):
        assert res.find(NS + el) is not None, el


def test_not_configured(server, idp):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(server, good(idp))
    assert e.value.response["Error"]["Code"] == "NotImplemented"


def test_bad_metadata_refuses_to_start(tmp_root):
    path = os.path.join(tmp_root, "md.xml")
    with open(path, "w") as f:
        f.write("<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' "
                "entityID='x'/>")
    s = Server(os.path.join(tmp_root, "data"), env={"TESSERA_IDENTITY_SAML_METADATA": path})
    try:
        with pytest.raises(RuntimeError) as e:
            s.start()
    finally:
        s.stop()  # a server that started after all is not left running
    assert "signing certificate" in str(e.value) or "IDPSSODescriptor" in str(e.value)


def test_missing_parameters(srv, idp):
    sts = sts_client(srv, validate=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role_with_saml(RoleArn=ROLE_ARN, PrincipalArn=PROVIDER_ARN, SAMLAssertion="")
    assert e.value.response["Error"]["Code"] == "MissingParameter"
    refused(srv, good(idp), "InvalidParameterValue",
            principal="arn:aws:iam::%s:saml-provider/other" % ACCOUNT)


# ---- the attack corpus: every one refused ----

def signed_assertion_of(doc):
    """The signed <saml:Assertion> element of a Response, as text."""
    i = doc.index("<saml:Assertion ")
    j = doc.index("</saml:Assertion>") + len("</saml:Assertion>")
    return doc[i:j]


def evil_assertion(idp, **kw):
    kw.setdefault("roles", [role_value(ROLE_ARN)])
    return idp.assertion(name_id="admin@example.test", signed=False, **kw)


def test_wrapping_signed_assertion_moved_into_extensions(srv, idp):
    doc = good(idp)
    signed = signed_assertion_of(doc)
    wrapped = idp.response(evil_assertion(idp),
                           extensions="<samlp:Extensions>%s</samlp:Extensions>" % signed)
    assert "Exactly one" not in refused(srv, wrapped, "InvalidIdentityToken")
    # the same with the evil assertion carrying the signed one's ID
    aid = signed.split('ID="', 1)[1].split('"', 1)[0]
    wrapped = idp.response(evil_assertion(idp, aid=aid),
                           extensions="<samlp:Extensions>%s</samlp:Extensions>" % signed)
    refused(srv, wrapped, "InvalidIdentityToken")


def test_wrapping_signed_assertion_inside_signature_object(srv, idp):
    doc = good(idp)
    signed = signed_assertion_of(doc)
    evil = evil_assertion(idp)
    # the evil assertion carries a Signature whose Object holds the signed original
    sig = signed[signed.index("<ds:Signature"):signed.index("</ds:Signature>")]
    evil = evil.replace("</saml:Issuer>", "</saml:Issuer>%s<ds:Object>%s</ds:Object>"
                        "</ds:Signature>" % (sig, signed), 1)
    refused(srv, idp.response(evil), "InvalidIdentityToken")


def test_two_assertions(srv, idp):
    doc = good(idp)
    signed = signed_assertion_of(doc)
    for both in (signed + evil_assertion(idp), evil_assertion(idp) + signed, signed + signed):
        refused(srv, idp.response(both), "InvalidIdentityToken")


def test_unsigned_assertion_next_to_signed_and_alone(srv, idp):
    doc = good(idp)
    refused(srv, doc.replace("</samlp:Status>", "</samlp:Status>" + evil_assertion(idp)),
            "InvalidIdentityToken")
    refused(srv, idp.response(evil_assertion(idp)), "InvalidIdentityToken")
    refused(srv, idp.signed_response(sign_assertion=False, roles=[role_value(ROLE_ARN)]),
            "InvalidIdentityToken")


def test_signed_response_with_injected_assertion(srv, idp):
    """Response signed, Assertion unsigned: replacing or adding the assertion is refused."""
    doc = good(idp, sign_assertion=False, sign_response=True)
    orig = signed_assertion_of(doc)
    refused(srv, doc.replace(orig, evil_assertion(idp)), "InvalidIdentityToken")
    refused(srv, doc.replace(orig, orig + evil_assertion(idp)), "InvalidIdentityToken")
    # the Response's signature moved onto an unsigned Response around the evil assertion
    refused(srv, doc.replace("alice@example.test", "admin@example.test"), "InvalidIdentityToken")


def test_duplicate_ids(srv, idp):
    doc = good(idp)
    aid = signed_assertion_of(doc).split('ID="', 1)[1].split('"', 1)[0]
    # another element carrying the signed assertion's ID
    dup = doc.replace("</saml:Issuer><samlp:Status>",
                      '</saml:Issuer><samlp:Extensions><x ID="%s"/></samlp:Extensions>'
                      '<samlp:Status>' % aid, 1)
    assert dup != doc
    refused(srv, dup, "InvalidIdentityToken")
    # the Response and the Assertion sharing one ID
    rid = doc.split('ID="', 1)[1].split('"', 1)[0]
    refused(srv, doc.replace('ID="%s"' % rid, 'ID="%s"' % aid, 1), "InvalidIdentityToken")


def test_signature_must_reference_its_parent(srv, idp):
    """A Response-level Signature whose Reference points at the Assertion (a valid signature
    over the Assertion, but placed where it would pass for the Response's) is refused, and so
    is a Reference using a transform other than enveloped-signature and exc-c14n."""
    from saml_idp import signature_template
    a = idp.assertion(signed=False, roles=[role_value(ROLE_ARN)])
    aid = a.split('ID="', 1)[1].split('"', 1)[0]
    doc = idp.response(a)
    head, rest = doc.split("</saml:Issuer>", 1)
    doc = idp.sign(head + "</saml:Issuer>" + signature_template(aid) + rest,
                   "/*/*[local-name()='Signature']")
    assert "reference the element" in refused(srv, doc, "InvalidIdentityToken")
    a = idp.assertion(signed=False, roles=[role_value(ROLE_ARN)])
    aid = a.split('ID="', 1)[1].split('"', 1)[0]
    tmpl = signature_template(aid, transforms=[
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"])
    a = a.replace("</saml:Issuer>", "</saml:Issuer>" + tmpl, 1)
    doc = idp.sign(idp.response(a), "/*/*[local-name()='Assertion']/*[local-name()='Signature']")
    assert "transforms" in refused(srv, doc, "InvalidIdentityToken")


def test_comment_truncated_name_id(srv, idp):
    """The IdP signed NameID admin.evil@example.test; a comment inside it does not change the
    signed (exc-c14n) value: the whole text is read, never the first text node alone."""
    doc = good(idp, name_id="admin.evil@example.test")
    cut = doc.replace("admin.evil@example.test", "admin<!---->.evil@example.test", 1)
    assert cut != doc
    r = assume(srv, cut)
    assert r["Subject"] == "admin.evil@example.test"
    assert r["AssumedRoleUser"]["Arn"].endswith("/alice")


def test_other_key(srv, idp, tmp_root):
    key, crt = make_key(tmp_root, "attacker", cn="idp.example.test")
    # signed by a key not in the metadata, its certificate in KeyInfo (xmlsec1 puts it there)
    doc = good(idp, key=key, crt=crt)
    assert "<ds:X509Certificate>" in doc
    refused(srv, doc, "InvalidIdentityToken")
    # the same with the IdP's real certificate pasted into KeyInfo
    real = open(idp.crt).read().split("-----")[2].strip()
    start = doc.index("<ds:X509Certificate>") + len("<ds:X509Certificate>")
    end = doc.index("</ds:X509Certificate>")
    refused(srv, doc[:start] + real + doc[end:], "InvalidIdentityToken")
    refused(srv, good(idp, sign_assertion=False, sign_response=True, key=key, crt=crt),
            "InvalidIdentityToken")


def test_time_window(srv, idp):
    now = int(time.time())
    refused(srv, good(idp, not_on_or_after=now - 600), "ExpiredToken")
    refused(srv, good(idp, scd_not_on_or_after=now - 600), "ExpiredToken")
    refused(srv, good(idp, not_before=now + 600), "InvalidIdentityToken")
    refused(srv, good(idp, session_not_on_or_after=now - 600), "ExpiredToken")


def test_audience_recipient_issuer_destination(srv, idp):
    refused(srv, good(idp, audience="urn:someone:else"), "InvalidIdentityToken")
    refused(srv, good(idp, recipient="https://evil.example/saml"), "InvalidIdentityToken")
    refused(srv, good(idp, issuer="https://evil.example/idp"), "InvalidIdentityToken")
    refused(srv, good(idp, response_kw={"issuer": "https://evil.example/idp"}),
            "InvalidIdentityToken")
    refused(srv, good(idp, response_kw={"destination": "https://evil.example/acs"}),
            "InvalidIdentityToken")


def test_configured_audience_and_recipient(tmp_root, idp):
    s = start(tmp_root, idp, TESSERA_IDENTITY_SAML_AUDIENCE="https://s3.example.test",
              TESSERA_IDENTITY_SAML_RECIPIENT="https://s3.example.test/acs")
    try:
        admin(s, "group", "add", "g1")
        admin(s, "policy", "attach", "readonly", "--group", "g1")
        kw = dict(roles=[role_value(GROUP_ROLE_ARN)], groups=["g1"])
        msg = refused(s, idp.signed_response(response_kw={"destination": None}, **kw),
                      "InvalidIdentityToken", role=GROUP_ROLE_ARN)
        assert "audience" in msg
        msg = refused(s, idp.signed_response(audience="https://s3.example.test",
                                             response_kw={"destination": None}, **kw),
                      "InvalidIdentityToken", role=GROUP_ROLE_ARN)
        assert "Recipient" in msg
        r = assume(s, idp.signed_response(audience="https://s3.example.test",
                                          recipient="https://s3.example.test/acs",
                                          response_kw={"destination": None}, **kw),
                   role=GROUP_ROLE_ARN)
        assert r["Audience"] == "https://s3.example.test/acs"
    finally:
        s.stop()


def test_replay(srv, idp):
    doc = good(idp)
    assume(srv, doc)
    assert "already used" in refused(srv, doc, "InvalidIdentityToken")


def test_role_pair_not_in_assertion(srv, idp):
    doc = good(idp, roles=[role_value("arn:aws:iam::%s:role/other" % ACCOUNT)])
    refused(srv, doc, "AccessDenied")
    refused(srv, good(idp), "AccessDenied", role="arn:aws:iam::%s:role/other" % ACCOUNT)
    # a pair naming another provider
    refused(srv, good(idp, roles=[role_value(
        ROLE_ARN, "arn:aws:iam::%s:saml-provider/other" % ACCOUNT)]), "AccessDenied")


def test_trust_policy_decides(srv, idp, tmp_root):
    """The role's trust policy must admit the SAML provider."""
    trust = os.path.join(tmp_root, "trust2.json")
    with open(trust, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": "ldap"},
             "Action": "sts:AssumeRoleWithSAML"}]}, f)
    admin(srv, "role", "trust", ROLE, "--trust", trust)
    refused(srv, good(idp), "AccessDenied")


def test_modified_signed_value(srv, idp):
    doc = good(idp)
    refused(srv, doc.replace("alice@example.test", "admin@example.test"), "InvalidIdentityToken")
    refused(srv, doc.replace(ROLE_ARN, ROLE_ARN.replace(ROLE, "x" + ROLE)),
            "InvalidIdentityToken")


def test_status_not_success(srv, idp):
    refused(srv, good(idp, sign_assertion=False, sign_response=True,
                      response_kw={"status": "Responder"}), "IDPRejectedClaim")


def test_sha1_and_other_transforms_refused(srv, idp):
    refused(srv, good(idp, algs=SHA1), "InvalidIdentityToken")


def test_encrypted_assertion_refused(srv, idp):
    doc = idp.response('<saml:EncryptedAssertion xmlns:saml="%s"><x/></saml:EncryptedAssertion>'
                       % NS_A)
    refused(srv, doc, "InvalidIdentityToken")


def test_malformed_input(srv, idp):
    refused(srv, "not base64 at all!!", "InvalidIdentityToken", encoded=True)
    refused(srv, b64("<samlp:Response"), "InvalidIdentityToken", encoded=True)
    refused(srv, b64(b"\xff\xfe\x00garbage"), "InvalidIdentityToken", encoded=True)
    refused(srv, b64("<a/>"), "InvalidIdentityToken", encoded=True)
    # a DOCTYPE (XXE / entity expansion) is refused whatever it declares
    doc = good(idp)
    xxe = ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + doc).replace(
        "alice@example.test</saml:NameID>", "&x;</saml:NameID>", 1)
    refused(srv, xxe, "InvalidIdentityToken")
    refused(srv, "<!DOCTYPE r>" + good(idp), "InvalidIdentityToken")
    # the assertion's base64 with line breaks (as IdP pages show it) is fine
    text = b64(good(idp))
    r = assume(srv, "\n".join(text[i:i + 76] for i in range(0, len(text), 76)), encoded=True)
    assert r["Credentials"]["AccessKeyId"]


def test_oversized(srv, idp):
    # over SAML_MAX_B64 (60 KiB) but within the STS form's 64 KiB: refused before decoding
    r = requests.post(srv.endpoint + "/", data={
        "Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": ROLE_ARN,
        "PrincipalArn": PROVIDER_ARN, "SAMLAssertion": "A" * 62000})
    assert r.status_code == 400 and "<Code>InvalidIdentityToken</Code>" in r.text, r.text
    assert "too large" in r.text
    # over the form's limit: refused before any parsing (EntityTooLarge, AWS's status 400)
    r = requests.post(srv.endpoint + "/", data={
        "Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": ROLE_ARN,
        "PrincipalArn": PROVIDER_ARN, "SAMLAssertion": "A" * (200 * 1024)})
    assert 400 <= r.status_code < 500 and "AccessKeyId" not in r.text


def test_refusals_and_issues_are_counted_and_audited(srv, idp):
    refused(srv, good(idp, audience="urn:x"), "InvalidIdentityToken")
    assume(srv, good(idp))
    m = requests.get(srv.endpoint + "/metrics", timeout=10).text
    assert 'tessera_sts_refusals_total{backend="saml",reason="InvalidIdentityToken"} 1' in m, m
    assert 'tessera_sts_issued_total{backend="saml"} 1' in m, m
    with open(srv.audit_path) as f:
        audit = [json.loads(l) for l in f if "AssumeRoleWithSAML" in l]
    assert any(a.get("event") == "sts.deny" and "audience" in a.get("reason", "") for a in audit)
    assert any(a.get("event") == "sts.issue" for a in audit), audit
