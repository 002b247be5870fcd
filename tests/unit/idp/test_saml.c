/* test_saml.c -- idp/saml.c: SAML Response verification with xmlsec, on fixtures made by
 * tests/integration/saml_idp.py (an openssl key, signed by the xmlsec1 CLI; valid from 2020 to
 * 2099; the private key was thrown away): saml/idp-metadata.xml, saml/response-signed.xml
 * (the Assertion signed) and saml/response-signed-outer.xml (the Response signed). Each
 * tampered copy must be refused with the right code and never crash; the structural checks
 * (shape, IDs, DOCTYPE, size) are exercised without a signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "idp/saml.h"
#include "tests/harness/t.h"

#define NOW 1767225600 /* 2026-01-01 */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 16);
    size_t n = f != NULL && buf != NULL ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

/* doc with the first `from` replaced by `to` (malloc'ed). */
static char *replace(const char *doc, const char *from, const char *to)
{
    const char *at = strstr(doc, from);
    size_t n = strlen(doc) + strlen(to) + 1;
    char *out = malloc(n);
    if (at == NULL || out == NULL) {
        free(out);
        return NULL;
    }
    snprintf(out, n, "%.*s%s%s", (int)(at - doc), doc, to, at + strlen(from));
    return out;
}

static struct saml_idp *new_idp(void)
{
    struct saml_config c = {
        .metadata_file = "saml/idp-metadata.xml",
        .audience = "urn:amazon:webservices",
        .recipient = "https://signin.aws.amazon.com/saml",
        .groups_attribute = "http://schemas.xmlsoap.org/claims/Group",
    };
    struct saml_idp *p = NULL;
    char err[300];
    ok(saml_idp_new(&c, &p, err, sizeof err) == TS_OK, "metadata: %s", err);
    return p;
}

/* Verifies doc (text) with a fresh provider (no replay memory): the code. */
static int verify_doc(const char *doc, struct saml_assertion *a, char msg[300])
{
    struct saml_idp *p = new_idp();
    char *b = doc != NULL ? enc_b64((const uint8_t *)doc, strlen(doc)) : NULL;
    struct ts_error e;
    int rc = p != NULL && b != NULL ? saml_verify(p, b, NOW, a, &e) : TS_E_INTERNAL;
    snprintf(msg, 300, "%s", rc != TS_OK ? ts_error_msg(&e) : "");
    free(b);
    saml_idp_free(p);
    return rc;
}

static void refused(const char *doc, int want, const char *name)
{
    struct saml_assertion a;
    char msg[300];
    int rc = verify_doc(doc, &a, msg);
    ok(rc == want, "%s: got %s (%s), want %s", name, ts_err_code(rc), msg, ts_err_code(want));
    if (rc == TS_OK)
        saml_assertion_cleanup(&a);
}

static void test_good(const char *doc, const char *outer)
{
    struct saml_assertion a;
    char msg[300];

    is_int(verify_doc(doc, &a, msg), TS_OK, msg);
    is_str(a.name_id, "alice@example.test", "NameID");
    is_str(a.issuer, "https://idp.example.test/saml", "issuer");
    is_str(a.session_name, "alice", "RoleSessionName");
    is_int(a.session_duration, 1800, "SessionDuration");
    is_int(a.roles.n, 1, "roles");
    is_int(a.groups.n, 2, "groups");
    saml_assertion_cleanup(&a);
    is_int(verify_doc(outer, &a, msg), TS_OK, msg);
    is_str(a.name_id, "bob@example.test", "NameID (Response signed)");
    saml_assertion_cleanup(&a);
}

static void test_replay(const char *doc)
{
    struct saml_idp *p = new_idp();
    char *b = enc_b64((const uint8_t *)doc, strlen(doc));
    struct saml_assertion a;
    struct ts_error e;

    is_int(saml_verify(p, b, NOW, &a, &e), TS_OK, "first use");
    saml_assertion_cleanup(&a);
    is_int(saml_verify(p, b, NOW, &a, &e), TS_E_STS_INVALID_IDENTITY_TOKEN, "replay");
    is_int(saml_verify(p, b, 4102444800 + 3600, &a, &e), TS_E_STS_EXPIRED_TOKEN, "after 2099");
    free(b);
    saml_idp_free(p);
}

static void test_tampered(const char *doc, const char *outer)
{
    char *t;
    refused(t = replace(doc, "alice@example.test", "admin@example.test"),
            TS_E_STS_INVALID_IDENTITY_TOKEN, "modified NameID");
    free(t);
    /* a comment inside the NameID: the signed value is the whole text */
    struct saml_assertion a;
    char msg[300];
    t = replace(doc, "alice@example.test", "alice<!-- x -->@example.test");
    is_int(verify_doc(t, &a, msg), TS_OK, msg);
    is_str(a.name_id, "alice@example.test", "NameID across a comment");
    saml_assertion_cleanup(&a);
    free(t);
    refused(t = replace(doc, "<samlp:Status>", "<!DOCTYPE x><samlp:Status>"),
            TS_E_STS_INVALID_IDENTITY_TOKEN, "DOCTYPE inside");
    free(t);
    refused(t = replace(doc, "<samlp:Response", "<!DOCTYPE r [<!ENTITY a \"b\">]><samlp:Response"),
            TS_E_STS_INVALID_IDENTITY_TOKEN, "DOCTYPE");
    free(t);
    refused(t = replace(doc, "<samlp:Status>",
                        "<samlp:Extensions><x ID=\"_fixture-assertion-1\"/></samlp:Extensions>"
                        "<samlp:Status>"),
            TS_E_STS_INVALID_IDENTITY_TOKEN, "duplicate ID");
    free(t);
    refused(t = replace(doc, "status:Success", "status:Requester"), TS_E_STS_IDP_REJECTED_CLAIM,
            "Status not Success");
    free(t);
    refused(t = replace(outer, "status:Success", "status:Requester"),
            TS_E_STS_INVALID_IDENTITY_TOKEN, "signed Status changed");
    free(t);
    refused(t = replace(doc, "Version=\"2.0\"", "Version=\"1.1\""), TS_E_STS_INVALID_IDENTITY_TOKEN,
            "Version");
    free(t);
}

static void test_shapes(void)
{
    struct saml_idp *p = new_idp();
    struct saml_assertion a;
    struct ts_error e;
    char *big = malloc(SAML_MAX_B64 + 8);

    is_int(saml_verify(p, "!!!!", NOW, &a, &e), TS_E_STS_INVALID_IDENTITY_TOKEN, "not base64");
    is_int(saml_verify(p, "", NOW, &a, &e), TS_E_STS_INVALID_IDENTITY_TOKEN, "empty");
    is_int(saml_verify(p, NULL, NOW, &a, &e), TS_E_STS_INVALID_IDENTITY_TOKEN, "NULL");
    memset(big, 'A', SAML_MAX_B64 + 4);
    big[SAML_MAX_B64 + 4] = '\0';
    is_int(saml_verify(p, big, NOW, &a, &e), TS_E_STS_INVALID_IDENTITY_TOKEN, "too large");
    free(big);
    saml_idp_free(p);
    refused("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"r\"/>",
            TS_E_STS_INVALID_IDENTITY_TOKEN, "no assertion");
    refused("<x/>", TS_E_STS_INVALID_IDENTITY_TOKEN, "not a Response");
    refused("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"r\" Version=\"2.0\">"
            "<saml:Assertion ID=\"a\" Version=\"2.0\"/></samlp:Response>",
            TS_E_STS_INVALID_IDENTITY_TOKEN, "unsigned");
    refused("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"r\" Version=\"2.0\">"
            "<saml:EncryptedAssertion/></samlp:Response>",
            TS_E_STS_INVALID_IDENTITY_TOKEN, "encrypted");
}

static void test_metadata(void)
{
    struct saml_config c = {
        .metadata_file = "saml/no-such-file.xml", .audience = "a", .recipient = "r"};
    struct saml_idp *p = NULL;
    char err[300];

    ok(saml_idp_new(&c, &p, err, sizeof err) != TS_OK && p == NULL, "missing metadata");
    c.metadata_file = "saml/response-signed.xml"; /* not an EntityDescriptor */
    ok(saml_idp_new(&c, &p, err, sizeof err) != TS_OK && strstr(err, "EntityDescriptor"),
       "not metadata: %s", err);
    c.metadata_file = "saml/idp-metadata-entities.xml"; /* EntitiesDescriptor of one */
    ok(saml_idp_new(&c, &p, err, sizeof err) == TS_OK, "EntitiesDescriptor: %s", err);
    ok(p != NULL && strcmp(saml_idp_entity_id(p), "https://idp.example.test/saml") == 0,
       "EntitiesDescriptor's entityID");
    saml_idp_free(p);
    p = new_idp();
    ok(p != NULL && saml_idp_nkeys(p) == 1, "one signing certificate");
    is_str(p != NULL ? saml_idp_entity_id(p) : NULL, "https://idp.example.test/saml", "entityID");
    saml_idp_free(p);
}

static void test_time(void)
{
    time_t t = 0;
    ok(saml_parse_time("2026-01-02T03:04:05Z", &t) && t == 1767323045, "plain");
    ok(saml_parse_time("2026-01-02T03:04:05.123Z", &t) && t == 1767323045, "fraction");
    ok(!saml_parse_time("2026-01-02T03:04:05+01:00", &t), "offset refused");
    ok(!saml_parse_time("2026-01-02T03:04:05.Z", &t), "empty fraction");
    ok(!saml_parse_time("2026-01-02 03:04:05Z", &t), "space");
    ok(!saml_parse_time("", &t), "empty");
}

int main(void)
{
    char *doc = slurp("saml/response-signed.xml"), *outer = slurp("saml/response-signed-outer.xml");

    if (saml_global_init() != TS_OK) {
        fprintf(stderr, "xmlsec init failed\n");
        return 1;
    }
    test_time();
    test_metadata();
    test_good(doc, outer);
    test_replay(doc);
    test_tampered(doc, outer);
    test_shapes();
    free(doc);
    free(outer);
    saml_global_cleanup();
    return t_done();
}
