"""A SAML 2.0 identity provider for the tests: keys and certificates made by `openssl`,
Responses signed by the `xmlsec1` CLI (Debian's xmlsec1 package), metadata as AD FS, Keycloak
and Shibboleth publish it (an EntityDescriptor with an IDPSSODescriptor whose signing
KeyDescriptor holds the certificate). Used by test_sts_saml.py and tests/bench/saml.py.

Documents are built as text, never re-serialised: a signature covers the canonical form of
the signed element, so tests change signed documents by editing their text, as an attacker
would."""
import base64
import datetime
import os
import subprocess
import uuid

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"
SESSION_NAME_ATTR = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SESSION_DURATION_ATTR = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
GROUP_ATTR = "http://schemas.xmlsoap.org/claims/Group"
AUDIENCE = "urn:amazon:webservices"
RECIPIENT = "https://signin.aws.amazon.com/saml"
ACCOUNT = "000000000000"
PROVIDER_ARN = "arn:aws:iam::%s:saml-provider/tessera" % ACCOUNT

SHA256 = ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
          "http://www.w3.org/2001/04/xmlenc#sha256")
SHA1 = ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1")


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def make_key(d, name, cn="idp.example.test"):
    """An RSA key and a self-signed certificate (as IdPs make for signing) in d."""
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
       "-subj", "/CN=" + cn, "-days", "3")
    return key, crt


def cert_b64(crt):
    with open(crt) as f:
        pem = f.read()
    return "".join(pem.split("-----")[2].split())


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def role_value(role, provider=PROVIDER_ARN):
    return "%s,%s" % (role, provider)


def signature_template(ref_id, algs=SHA256, transforms=None):
    sig, dig = algs
    tr = transforms if transforms is not None else [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#"]
    trs = "".join('<ds:Transform Algorithm="%s"/>' % t for t in tr)
    return ('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
            '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            '<ds:SignatureMethod Algorithm="%s"/><ds:Reference URI="#%s">'
            '<ds:Transforms>%s</ds:Transforms><ds:DigestMethod Algorithm="%s"/>'
            '<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>'
            '<ds:SignatureValue></ds:SignatureValue>'
            '<ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>'
            % (sig, ref_id, trs, dig))


class IdP:
    def __init__(self, d, entity_id="https://idp.example.test/saml"):
        self.d = d
        self.entity_id = entity_id
        self.key, self.crt = make_key(d, "idp")
        self.n = 0

    def metadata(self, path=None, certs=None):
        """The IdP's metadata (AD FS / Keycloak / Shibboleth shape) written to path."""
        path = path or os.path.join(self.d, "idp-metadata.xml")
        kds = "".join(
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            '%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
            % cert_b64(c) for c in (certs or [self.crt]))
        doc = ('<?xml version="1.0"?>\n'
               '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
               'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">'
               '<md:IDPSSODescriptor protocolSupportEnumeration="%s">%s'
               '<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:KeyName>enc</ds:KeyName>'
               '</ds:KeyInfo></md:KeyDescriptor>'
               '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
               'Location="https://idp.example.test/sso"/></md:IDPSSODescriptor>'
               '</md:EntityDescriptor>\n' % (self.entity_id, NS_P, kds))
        with open(path, "w") as f:
            f.write(doc)
        return path

    def new_id(self):
        self.n += 1
        return "_%s%d" % (uuid.uuid4().hex, self.n)

    def assertion(self, name_id="alice@example.test", roles=(), session_name="alice",
                  groups=(), now=None, not_before=None, not_on_or_after=None,
                  scd_not_on_or_after=None, audience=AUDIENCE, recipient=RECIPIENT,
                  issuer=None, aid=None, session_duration=None, session_not_on_or_after=None,
                  name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                  signed=True, algs=SHA256, extra_attrs=""):
        """An Assertion (text); with signed, a Signature template after its Issuer."""
        import time
        now = now or int(time.time())
        aid = aid or self.new_id()
        nb = not_before if not_before is not None else now - 30
        noa = not_on_or_after if not_on_or_after is not None else now + 300
        snoa = scd_not_on_or_after if scd_not_on_or_after is not None else now + 300
        attrs = ""
        if roles:
            attrs += self.attribute(ROLE_ATTR, roles)
        if session_name is not None:
            attrs += self.attribute(SESSION_NAME_ATTR, [session_name])
        if session_duration is not None:
            attrs += self.attribute(SESSION_DURATION_ATTR, [str(session_duration)])
        if groups:
            attrs += self.attribute(GROUP_ATTR, groups)
        attrs += extra_attrs
        fmt = ' Format="%s"' % name_id_format if name_id_format else ""
        sess = (' SessionNotOnOrAfter="%s"' % iso(session_not_on_or_after)
                if session_not_on_or_after else "")
        return ('<saml:Assertion xmlns:saml="%s" ID="%s" Version="2.0" IssueInstant="%s">'
                '<saml:Issuer>%s</saml:Issuer>%s'
                '<saml:Subject><saml:NameID%s>%s</saml:NameID>'
                '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
                '<saml:SubjectConfirmationData NotOnOrAfter="%s" Recipient="%s"/>'
                '</saml:SubjectConfirmation></saml:Subject>'
                '<saml:Conditions NotBefore="%s" NotOnOrAfter="%s"><saml:AudienceRestriction>'
                '<saml:Audience>%s</saml:Audience></saml:AudienceRestriction></saml:Conditions>'
                '<saml:AuthnStatement AuthnInstant="%s"%s><saml:AuthnContext>'
                '<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:'
                'PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>'
                '</saml:AuthnStatement><saml:AttributeStatement>%s</saml:AttributeStatement>'
                '</saml:Assertion>'
                % (NS_A, aid, iso(now), issuer or self.entity_id,
                   signature_template(aid, algs) if signed else "", fmt, name_id, iso(snoa),
                   recipient, iso(nb), iso(noa), audience, iso(now), sess, attrs))

    @staticmethod
    def attribute(name, values):
        vals = "".join('<saml:AttributeValue>%s</saml:AttributeValue>' % v for v in values)
        return '<saml:Attribute Name="%s">%s</saml:Attribute>' % (name, vals)

    def response(self, assertion_xml, rid=None, signed=False, status="Success", issuer=None,
                 destination=RECIPIENT, extensions="", algs=SHA256):
        """A Response (text) around assertion_xml; with signed, a Signature template."""
        import time
        rid = rid or self.new_id()
        dest = ' Destination="%s"' % destination if destination else ""
        return ('<samlp:Response xmlns:samlp="%s" xmlns:saml="%s" ID="%s" Version="2.0" '
                'IssueInstant="%s"%s><saml:Issuer>%s</saml:Issuer>%s%s'
                '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:%s"/>'
                '</samlp:Status>%s</samlp:Response>'
                % (NS_P, NS_A, rid, iso(int(time.time())), dest, issuer or self.entity_id,
                   signature_template(rid, algs) if signed else "", extensions, status,
                   assertion_xml))

    def sign(self, xml, xpath, key=None, crt=None):
        """Signs the Signature template at xpath with xmlsec1 (the IdP's key by default)."""
        self.n += 1
        src = os.path.join(self.d, "tmpl-%d.xml" % self.n)
        out = os.path.join(self.d, "signed-%d.xml" % self.n)
        with open(src, "w") as f:
            f.write(xml)
        sh("xmlsec1", "--sign", "--privkey-pem", "%s,%s" % (key or self.key, crt or self.crt),
           "--id-attr:ID", "%s:Response" % NS_P, "--id-attr:ID", "%s:Assertion" % NS_A,
           "--node-xpath", xpath, "--output", out, src)
        with open(out) as f:
            signed = f.read()
        os.unlink(src)
        os.unlink(out)
        if signed.startswith("<?xml"):
            signed = signed.split("?>", 1)[1].lstrip("\n")
        return signed

    def signed_response(self, sign_assertion=True, sign_response=False, key=None, crt=None,
                        response_kw=None, **assertion_kw):
        """A Response whose Assertion and/or Response are signed by xmlsec1."""
        a = self.assertion(signed=sign_assertion, **assertion_kw)
        doc = self.response(a, signed=False, **(response_kw or {}))
        if sign_assertion:
            doc = self.sign(doc, "/*/*[local-name()='Assertion']/*[local-name()='Signature']",
                            key, crt)
        if sign_response:
            rid = doc.split('ID="', 1)[1].split('"', 1)[0]
            algs = (response_kw or {}).get("algs", SHA256)
            head, rest = doc.split("</saml:Issuer>", 1)
            doc = head + "</saml:Issuer>" + signature_template(rid, algs) + rest
            doc = self.sign(doc, "/*/*[local-name()='Signature']", key, crt)
        return doc


def b64(doc):
    return base64.b64encode(doc.encode() if isinstance(doc, str) else doc).decode()
