/* saml.c -- SAML 2.0 Response verification (idp/saml.h) with libxml2 and xmlsec (OpenSSL).
 *
 * The document is checked for its shape first (one Response, one Assertion, signatures only
 * where they belong, one Reference each to its parent's ID), then each signature is verified by
 * xmlsec with the metadata's keys given as the signing key (so that no KeyInfo of the message
 * is ever read), then the one Assertion is read. Nothing outside the Response and the Assertion
 * can be referenced: only their ID attributes are registered, and a second element carrying
 * either ID is refused.
 */
#include "idp/saml.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "core/enc.h"
#include "core/err.h"
#include "idp/idp.h"

#define NS_P "urn:oasis:names:tc:SAML:2.0:protocol"
#define NS_A "urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_MD "urn:oasis:names:tc:SAML:2.0:metadata"
#define NS_DS "http://www.w3.org/2000/09/xmldsig#"
#define ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define STATUS_SUCCESS "urn:oasis:names:tc:SAML:2.0:status:Success"
#define CM_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"
#define REPLAY_BUCKETS 4096

struct replay_entry {
    uint8_t key[32];
    time_t until;
    struct replay_entry *next;
};

struct saml_idp {
    char *entity_id, *audience, *recipient, *groups_attribute;
    xmlSecKeyPtr keys[SAML_MAX_KEYS];
    size_t nkeys;
    pthread_mutex_t lock; /* the replay cache */
    struct replay_entry *buckets[REPLAY_BUCKETS];
    size_t nreplay;
};

/* ---- the libraries ---- */

static void quiet_xmlsec(const char *file, int line, const char *func, const char *obj,
                         const char *subj, int reason, const char *msg)
{
    (void)file, (void)line, (void)func, (void)obj, (void)subj, (void)reason, (void)msg;
}

int saml_global_init(void)
{
    xmlInitParser();
    if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
        xmlSecCryptoInit() < 0)
        return TS_E_INTERNAL;
    xmlSecErrorsSetCallback(quiet_xmlsec);
    return TS_OK;
}

void saml_global_cleanup(void)
{
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
}

/* ---- small helpers over the tree ---- */

static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* The only child ns:name of parent: its count into *n (0, 1 or 2 meaning "more"). */
static xmlNode *child(const xmlNode *parent, const char *ns, const char *name, int *n)
{
    xmlNode *found = NULL;
    *n = 0;
    for (xmlNode *c = parent != NULL ? parent->children : NULL; c != NULL; c = c->next)
        if (is_el(c, ns, name) && ++*n == 1)
            found = c;
    if (*n > 2)
        *n = 2;
    return found;
}

/* Exactly one child ns:name of parent, or NULL. */
static xmlNode *child1(const xmlNode *parent, const char *ns, const char *name)
{
    int n;
    xmlNode *c = child(parent, ns, name, &n);
    return n == 1 ? c : NULL;
}

/* Elements ns:name anywhere under (and including) n. */
static size_t count_all(const xmlNode *n, const char *ns, const char *name)
{
    size_t k = 0;
    for (; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        k += is_el(n, ns, name);
        k += count_all(n->children, ns, name);
    }
    return k;
}

/* Elements anywhere under n carrying an ID attribute (no namespace) equal to id. */
static size_t count_id(const xmlNode *n, const char *id)
{
    size_t k = 0;
    for (; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        for (const xmlAttr *a = n->properties; a != NULL; a = a->next)
            if (a->ns == NULL && strcmp((const char *)a->name, "ID") == 0 && a->children &&
                a->children->content && strcmp((const char *)a->children->content, id) == 0)
                k++;
        k += count_id(n->children, id);
    }
    return k;
}

/* An attribute's value (no namespace), borrowed from the tree, or NULL. */
static const char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n != NULL ? n->properties : NULL; a != NULL; a = a->next)
        if (a->ns == NULL && strcmp((const char *)a->name, name) == 0)
            return a->children != NULL && a->children->type == XML_TEXT_NODE &&
                           a->children->next == NULL
                       ? (const char *)a->children->content
                       : "";
    return NULL;
}

/* The whole text of n: every text and CDATA node, in order (comments and processing
 * instructions skipped, so `a<!---->b` reads "ab", what exc-c14n signed), malloc'ed; NULL when
 * n carries an element or an entity reference, or on OOM. */
static char *text(const xmlNode *n)
{
    size_t len = 0, at = 0;
    char *s;

    if (n == NULL)
        return NULL;
    for (const xmlNode *c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
            len += strlen((const char *)c->content);
        else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE)
            return NULL;
    }
    if ((s = malloc(len + 1)) == NULL)
        return NULL;
    for (const xmlNode *c = n->children; c != NULL; c = c->next)
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            size_t l = strlen((const char *)c->content);
            memcpy(s + at, c->content, l);
            at += l;
        }
    s[at] = '\0';
    return s;
}

/* s with surrounding XML whitespace removed, in place. */
static char *trim(char *s)
{
    char *e;
    if (s == NULL)
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        memmove(s, s + 1, strlen(s));
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* base64 with whitespace (line breaks) allowed, decoded into *out (malloc'ed); its length, or
 * -1 on malformed input or OOM. */
static long unb64_lenient(const char *in, size_t n, uint8_t **out)
{
    char *compact = malloc(n + 1);
    uint8_t *bytes = malloc(n / 4 * 3 + 4);
    size_t k = 0;
    long len = -1;

    *out = NULL;
    if (compact != NULL && bytes != NULL) {
        for (size_t i = 0; i < n; i++)
            if (!isspace((unsigned char)in[i]))
                compact[k++] = in[i];
        len = k > 0 ? enc_unb64(compact, k, bytes) : -1;
    }
    free(compact);
    if (len < 0) {
        free(bytes);
        return -1;
    }
    *out = bytes;
    return len;
}

/* SAX internalSubset: a DOCTYPE stops the parser at once, before any declaration in it (an
 * entity, an external subset) is read. */
static void no_doctype(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    xmlParserCtxtPtr ctxt = ctx;
    (void)name, (void)ext, (void)sys;
    ctxt->_private = ctxt; /* seen */
    xmlStopParser(ctxt);
}

/* libxml2 without network, DTD loading or entity substitution; a DOCTYPE is refused. */
static xmlDocPtr parse_xml(const void *buf, size_t len)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr d;
    bool doctype;

    if (len == 0 || len > INT_MAX || (ctxt = xmlNewParserCtxt()) == NULL)
        return NULL;
    ctxt->sax->internalSubset = no_doctype;
    ctxt->_private = NULL;
    d = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    doctype = ctxt->_private != NULL;
    xmlFreeParserCtxt(ctxt);
    if (d != NULL && (doctype || d->intSubset != NULL || d->extSubset != NULL ||
                      xmlDocGetRootElement(d) == NULL)) {
        xmlFreeDoc(d);
        return NULL;
    }
    return d;
}

bool saml_parse_time(const char *s, time_t *t)
{
    struct tm tm;
    const char *p;
    char *end;

    if (s == NULL || strlen(s) < 20)
        return false;
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL || end != s + 19)
        return false;
    p = end;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++)
            ;
        if (p == end + 1)
            return false;
    }
    if (strcmp(p, "Z") != 0)
        return false;
    *t = timegm(&tm);
    return *t != (time_t)-1;
}

/* ---- the metadata ---- */

static int load_cert(struct saml_idp *p, const xmlNode *x509cert)
{
    char *b64 = text(x509cert);
    uint8_t *der = NULL;
    long len = b64 != NULL ? unb64_lenient(b64, strlen(b64), &der) : -1;
    xmlSecKeyPtr k = NULL;

    free(b64);
    if (len > 0)
        k = xmlSecCryptoAppKeyLoadMemory(der, (xmlSecSize)len, xmlSecKeyDataFormatCertDer, NULL,
                                         NULL, NULL);
    free(der);
    if (k == NULL)
        return TS_E_INVALID_ARGUMENT;
    if (p->nkeys == SAML_MAX_KEYS) {
        xmlSecKeyDestroy(k);
        return TS_OK;
    }
    p->keys[p->nkeys++] = k;
    return TS_OK;
}

/* Every X509Certificate of the IDPSSODescriptor's signing KeyDescriptors (use "signing" or
 * no use). */
static int load_keys(struct saml_idp *p, const xmlNode *idpsso)
{
    for (const xmlNode *kd = idpsso->children; kd != NULL; kd = kd->next) {
        const char *use = attr(kd, "use");
        if (!is_el(kd, NS_MD, "KeyDescriptor") || (use != NULL && strcmp(use, "signing") != 0))
            continue;
        const xmlNode *ki = child1(kd, NS_DS, "KeyInfo");
        for (const xmlNode *xd = ki != NULL ? ki->children : NULL; xd != NULL; xd = xd->next) {
            if (!is_el(xd, NS_DS, "X509Data"))
                continue;
            for (const xmlNode *c = xd->children; c != NULL; c = c->next)
                if (is_el(c, NS_DS, "X509Certificate") && load_cert(p, c) != TS_OK)
                    return TS_E_INVALID_ARGUMENT;
        }
    }
    return p->nkeys > 0 ? TS_OK : TS_E_INVALID_ARGUMENT;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = f != NULL ? malloc(SAML_MAX_METADATA + 1) : NULL;

    *len = 0;
    if (buf != NULL) {
        *len = fread(buf, 1, SAML_MAX_METADATA + 1, f);
        if (*len > SAML_MAX_METADATA || ferror(f)) {
            free(buf);
            buf = NULL;
        }
    }
    if (f != NULL)
        fclose(f);
    return buf;
}

static int load_metadata(struct saml_idp *p, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *buf = read_file(path, &len);
    xmlDocPtr d = buf != NULL ? parse_xml(buf, len) : NULL;
    xmlNode *root = d != NULL ? xmlDocGetRootElement(d) : NULL, *idpsso;
    int rc = TS_E_INVALID_ARGUMENT;

    free(buf);
    if (is_el(root, NS_MD, "EntitiesDescriptor")) /* a group of one (older Keycloak) */
        root = child1(root, NS_MD, "EntityDescriptor");
    const char *id = attr(root, "entityID");
    if (root == NULL || !is_el(root, NS_MD, "EntityDescriptor") || id == NULL || *id == '\0')
        snprintf(err, errlen, "%s: not a SAML metadata EntityDescriptor with an entityID", path);
    else if ((idpsso = child1(root, NS_MD, "IDPSSODescriptor")) == NULL)
        snprintf(err, errlen, "%s: no (or more than one) IDPSSODescriptor", path);
    else if (load_keys(p, idpsso) != TS_OK)
        snprintf(err, errlen, "%s: no usable signing certificate (KeyDescriptor X509Certificate)",
                 path);
    else if ((p->entity_id = strdup(id)) != NULL)
        rc = TS_OK;
    xmlFreeDoc(d);
    return rc;
}

int saml_idp_new(const struct saml_config *c, struct saml_idp **out, char *err, size_t errlen)
{
    struct saml_idp *p = calloc(1, sizeof *p);
    int rc = TS_E_INVALID_ARGUMENT;

    *out = NULL;
    snprintf(err, errlen, "out of memory");
    if (p == NULL)
        return TS_E_INTERNAL;
    pthread_mutex_init(&p->lock, NULL);
    if (c->metadata_file == NULL || c->audience == NULL || c->recipient == NULL)
        snprintf(err, errlen, "the metadata file, audience and recipient are required");
    else if ((rc = load_metadata(p, c->metadata_file, err, errlen)) == TS_OK) {
        p->audience = strdup(c->audience);
        p->recipient = strdup(c->recipient);
        p->groups_attribute = c->groups_attribute ? strdup(c->groups_attribute) : NULL;
        if (p->audience == NULL || p->recipient == NULL ||
            (c->groups_attribute != NULL && p->groups_attribute == NULL))
            rc = TS_E_INTERNAL;
    }
    if (rc != TS_OK) {
        saml_idp_free(p);
        return rc;
    }
    *out = p;
    return TS_OK;
}

void saml_idp_free(struct saml_idp *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nkeys; i++)
        xmlSecKeyDestroy(p->keys[i]);
    for (size_t b = 0; b < REPLAY_BUCKETS; b++)
        for (struct replay_entry *e = p->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&p->lock);
    free(p->entity_id);
    free(p->audience);
    free(p->recipient);
    free(p->groups_attribute);
    free(p);
}

const char *saml_idp_entity_id(const struct saml_idp *p)
{
    return p->entity_id;
}

size_t saml_idp_nkeys(const struct saml_idp *p)
{
    return p->nkeys;
}

void saml_assertion_cleanup(struct saml_assertion *a)
{
    if (a == NULL)
        return;
    free(a->issuer);
    free(a->name_id);
    free(a->name_id_format);
    free(a->recipient);
    free(a->session_name);
    iam_strv_free(&a->roles);
    iam_strv_free(&a->groups);
    memset(a, 0, sizeof *a);
}

/* ---- the replay cache ---- */

/* Drops the expired entries of one chain. */
static void replay_purge(struct saml_idp *p, size_t b, time_t now)
{
    for (struct replay_entry **e = &p->buckets[b]; *e != NULL;) {
        if ((*e)->until <= now) {
            struct replay_entry *gone = *e;
            *e = gone->next;
            free(gone);
            p->nreplay--;
        } else {
            e = &(*e)->next;
        }
    }
}

/* Remembers issuer+id until `until`: TS_OK the first time, InvalidIdentityToken when seen
 * within its validity, ServiceUnavailable when the cache is full of live entries. */
static int replay_check(struct saml_idp *p, const char *issuer, const char *id, time_t until,
                        time_t now, struct ts_error *err)
{
    uint8_t key[32];
    size_t ilen = strlen(issuer), n = ilen + 1 + strlen(id) + 1;
    char *kin = malloc(n);
    int rc = TS_OK;

    if (kin == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    snprintf(kin, n, "%s\n%s", issuer, id);
    enc_sha256(kin, n - 1, key);
    free(kin);
    size_t b = ((size_t)key[0] << 8 | key[1]) % REPLAY_BUCKETS;
    pthread_mutex_lock(&p->lock);
    replay_purge(p, b, now);
    for (struct replay_entry *e = p->buckets[b]; e != NULL && rc == TS_OK; e = e->next)
        if (memcmp(e->key, key, sizeof key) == 0)
            rc = ts_error_set(err, TS_E_STS_INVALID_IDENTITY_TOKEN,
                              "The SAML assertion %.64s was already used.", id);
    if (rc == TS_OK && p->nreplay >= SAML_REPLAY_MAX)
        for (size_t i = 0; i < REPLAY_BUCKETS; i++)
            replay_purge(p, i, now);
    if (rc == TS_OK && p->nreplay >= SAML_REPLAY_MAX)
        rc = ts_error_set(err, TS_E_SERVICE_UNAVAILABLE,
                          "Too many SAML assertions in their validity; retry later.");
    struct replay_entry *e = rc == TS_OK ? malloc(sizeof *e) : NULL;
    if (rc == TS_OK && e == NULL)
        rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    if (e != NULL) {
        memcpy(e->key, key, sizeof key);
        e->until = until;
        e->next = p->buckets[b];
        p->buckets[b] = e;
        p->nreplay++;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* ---- the shape of the document ---- */

static int bad(struct ts_error *err, const char *why)
{
    return ts_error_set(err, TS_E_STS_INVALID_IDENTITY_TOKEN, "Invalid SAML response: %s.", why);
}

/* Registers el's ID attribute as the document's only ID with that value. */
static int register_id(xmlDocPtr d, xmlNode *el, struct ts_error *err)
{
    xmlAttr *a = xmlHasProp(el, (const xmlChar *)"ID");
    const char *id = attr(el, "ID");

    if (a == NULL || a->ns != NULL || id == NULL || *id == '\0')
        return bad(err, "the Response and the Assertion must carry an ID");
    if (count_id(xmlDocGetRootElement(d), id) != 1 || xmlGetID(d, (const xmlChar *)id) != NULL)
        return bad(err, "an ID is used twice");
    if (xmlAddID(NULL, d, (const xmlChar *)id, a) == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    return TS_OK;
}

/* A signature's own shape: the child of parent, exactly one Reference to "#" + parent's ID,
 * only the enveloped-signature and exc-c14n transforms. */
static int check_signature(const xmlNode *sig, const xmlNode *parent, struct ts_error *err)
{
    const xmlNode *si = child1(sig, NS_DS, "SignedInfo"), *ref, *tr;
    const char *uri, *id = attr(parent, "ID");
    int n;

    if (sig->parent != parent || si == NULL)
        return bad(err, "a Signature is not where it belongs");
    ref = child(si, NS_DS, "Reference", &n);
    if (n != 1)
        return bad(err, "a Signature must have exactly one Reference");
    uri = attr(ref, "URI");
    if (uri == NULL || uri[0] != '#' || id == NULL || strcmp(uri + 1, id) != 0)
        return bad(err, "a Signature must reference the element that carries it");
    tr = child(ref, NS_DS, "Transforms", &n);
    if (n > 1)
        return bad(err, "a Reference has two Transforms");
    for (const xmlNode *t = tr != NULL ? tr->children : NULL; t != NULL; t = t->next) {
        const char *alg = attr(t, "Algorithm");
        if (t->type != XML_ELEMENT_NODE)
            continue;
        if (!is_el(t, NS_DS, "Transform") || alg == NULL ||
            (strcmp(alg, ALG_ENVELOPED) != 0 && strcmp(alg, ALG_EXC_C14N) != 0))
            return bad(err, "a Reference may use only the enveloped-signature and exc-c14n "
                            "transforms");
    }
    return TS_OK;
}

/* xmlsec: the algorithms a signature may use. */
static int restrict_ctx(xmlSecDSigCtxPtr ctx)
{
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha384Id) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha384Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha512Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha384Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha512Id) < 0)
        return -1;
    return 0;
}

/* Whether one of the metadata's keys verifies sig (never a key from the message). The keys
 * are shared read-only by every thread: lent to the context (verifying reads a key, and takes
 * its own reference on the EVP_PKEY) and taken back before the context is destroyed, since a
 * copy per request (xmlSecKeyDuplicate: X509_dup, which decodes the key again) costs more than
 * the verification and serialises threads on OpenSSL's decoder locks. */
static int verify_signature(struct saml_idp *p, xmlNode *sig, struct ts_error *err)
{
    for (size_t i = 0; i < p->nkeys; i++) {
        xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
        bool ok = false;
        if (ctx == NULL)
            return ts_error_set(err, TS_E_INTERNAL, NULL);
        ctx->signKey = p->keys[i];
        if (restrict_ctx(ctx) == 0 && xmlSecDSigCtxVerify(ctx, sig) == 0)
            ok = ctx->status == xmlSecDSigStatusSucceeded &&
                 xmlSecPtrListGetSize(&ctx->signedInfoReferences) == 1;
        ctx->signKey = NULL; /* the provider's, not the context's */
        xmlSecDSigCtxDestroy(ctx);
        if (ok)
            return TS_OK;
    }
    return bad(err, "the signature does not verify with the identity provider's certificate");
}

/* Every Signature of the document: the child of the Response or of the Assertion, of the
 * right shape, verified; at least one. */
static int check_signatures(struct saml_idp *p, xmlDocPtr d, xmlNode *resp, xmlNode *as,
                            struct ts_error *err)
{
    size_t total = count_all(xmlDocGetRootElement(d), NS_DS, "Signature");
    xmlNode *sigs[2];
    int n1, n2, rc;

    sigs[0] = child(resp, NS_DS, "Signature", &n1);
    sigs[1] = child(as, NS_DS, "Signature", &n2);
    if (n1 > 1 || n2 > 1 || total != (size_t)(n1 + n2))
        return bad(err, "a Signature is not where it belongs");
    if (total == 0)
        return bad(err, "neither the Response nor the Assertion is signed");
    for (int i = 0; i < 2; i++) {
        if (sigs[i] == NULL)
            continue;
        if ((rc = check_signature(sigs[i], i == 0 ? resp : as, err)) != TS_OK ||
            (rc = verify_signature(p, sigs[i], err)) != TS_OK)
            return rc;
    }
    return TS_OK;
}

/* The Response, its one Assertion, their IDs and signatures. */
static int check_shape(struct saml_idp *p, xmlDocPtr d, xmlNode **as, struct ts_error *err)
{
    xmlNode *resp = xmlDocGetRootElement(d);
    int rc;

    if (!is_el(resp, NS_P, "Response"))
        return bad(err, "the document is not a SAML 2.0 Response");
    if (count_all(resp, NS_A, "EncryptedAssertion") > 0 ||
        count_all(resp, NS_A, "EncryptedID") > 0 || count_all(resp, NS_A, "EncryptedAttribute"))
        return bad(err, "encrypted assertions are not supported");
    if (count_all(resp, NS_A, "Assertion") != 1 || (*as = child1(resp, NS_A, "Assertion")) == NULL)
        return bad(err, "the Response must hold exactly one Assertion");
    if (count_all(resp, NS_P, "Response") != 1)
        return bad(err, "the document holds another Response");
    if ((rc = register_id(d, resp, err)) != TS_OK || (rc = register_id(d, *as, err)) != TS_OK)
        return rc;
    return check_signatures(p, d, resp, *as, err);
}

/* ---- what the assertion says ---- */

/* The one text of child ns:name of parent, trimmed, into *out; required or not. */
static int text_child(const xmlNode *parent, const char *ns, const char *name, bool required,
                      char **out, struct ts_error *err)
{
    int n;
    const xmlNode *c = child(parent, ns, name, &n);
    char msg[96];

    *out = NULL;
    if (n == 0 && !required)
        return TS_OK;
    snprintf(msg, sizeof msg, "exactly one %s with text only is required", name);
    if (n != 1 || (*out = trim(text(c))) == NULL || **out == '\0') {
        free(*out);
        *out = NULL;
        return bad(err, msg);
    }
    return TS_OK;
}

static int check_status(const xmlNode *resp, struct ts_error *err)
{
    const xmlNode *st = child1(resp, NS_P, "Status");
    const xmlNode *code = child1(st, NS_P, "StatusCode");
    const char *v = attr(code, "Value");

    if (v == NULL)
        return bad(err, "the Response has no Status");
    if (strcmp(v, STATUS_SUCCESS) != 0)
        return ts_error_set(err, TS_E_STS_IDP_REJECTED_CLAIM,
                            "The identity provider did not authenticate the user (%.100s).", v);
    return TS_OK;
}

/* Issuers: the Assertion's (required) and the Response's (when present) = the entityID. */
static int check_issuers(struct saml_idp *p, const xmlNode *resp, const xmlNode *as,
                         struct saml_assertion *out, struct ts_error *err)
{
    char *ri = NULL;
    int rc = text_child(resp, NS_A, "Issuer", false, &ri, err);

    if (rc == TS_OK && ri != NULL && strcmp(ri, p->entity_id) != 0)
        rc = bad(err, "the Response's Issuer is not the identity provider's entityID");
    free(ri);
    if (rc == TS_OK)
        rc = text_child(as, NS_A, "Issuer", true, &out->issuer, err);
    if (rc == TS_OK && strcmp(out->issuer, p->entity_id) != 0)
        rc = bad(err, "the Assertion's Issuer is not the identity provider's entityID");
    return rc;
}

/* An optional time attribute: TS_OK with *t (0 when absent), or malformed. */
static int time_attr(const xmlNode *n, const char *name, time_t *t, struct ts_error *err)
{
    const char *v = attr(n, name);
    *t = 0;
    if (v != NULL && !saml_parse_time(v, t))
        return bad(err, "a time is not an xs:dateTime in UTC");
    return TS_OK;
}

/* NotBefore/NotOnOrAfter of n against now (with the clock skew); until = NotOnOrAfter. */
static int check_window(const xmlNode *n, time_t now, bool need_end, time_t *until,
                        struct ts_error *err)
{
    time_t nb, noa;
    int rc;

    if ((rc = time_attr(n, "NotBefore", &nb, err)) != TS_OK ||
        (rc = time_attr(n, "NotOnOrAfter", &noa, err)) != TS_OK)
        return rc;
    if (need_end && noa == 0)
        return bad(err, "SubjectConfirmationData must have NotOnOrAfter");
    if (nb != 0 && now + SAML_CLOCK_SKEW < nb)
        return bad(err, "the assertion is not valid yet (NotBefore)");
    if (noa != 0 && now - SAML_CLOCK_SKEW >= noa)
        return ts_error_set(err, TS_E_STS_EXPIRED_TOKEN,
                            "The SAML assertion has expired (NotOnOrAfter).");
    if (noa > *until)
        *until = noa;
    return TS_OK;
}

/* Conditions: the window, and every AudienceRestriction names the audience. */
static int check_conditions(struct saml_idp *p, const xmlNode *as, time_t now, time_t *until,
                            struct ts_error *err)
{
    const xmlNode *cond = child1(as, NS_A, "Conditions");
    size_t restrictions = 0;
    int rc;

    if (cond == NULL)
        return bad(err, "the Assertion must have exactly one Conditions");
    if ((rc = check_window(cond, now, false, until, err)) != TS_OK)
        return rc;
    for (const xmlNode *r = cond->children; r != NULL; r = r->next) {
        bool ours = false;
        if (!is_el(r, NS_A, "AudienceRestriction"))
            continue;
        restrictions++;
        for (const xmlNode *a = r->children; a != NULL && !ours; a = a->next) {
            char *v = is_el(a, NS_A, "Audience") ? trim(text(a)) : NULL;
            ours = v != NULL && strcmp(v, p->audience) == 0;
            free(v);
        }
        if (!ours)
            return bad(err, "the assertion is not meant for this audience");
    }
    return restrictions > 0 ? TS_OK : bad(err, "the assertion has no AudienceRestriction");
}

/* Subject: the NameID (whole text) and its Format; one bearer confirmation within its window
 * naming the recipient. */
static int check_subject(struct saml_idp *p, const xmlNode *as, time_t now, time_t *until,
                         struct saml_assertion *out, struct ts_error *err)
{
    const xmlNode *subj = child1(as, NS_A, "Subject"), *scd;
    const char *fmt;
    int n, rc;

    if (subj == NULL)
        return bad(err, "the Assertion must have exactly one Subject");
    if ((rc = text_child(subj, NS_A, "NameID", true, &out->name_id, err)) != TS_OK)
        return rc;
    fmt = attr(child1(subj, NS_A, "NameID"), "Format");
    if (fmt != NULL && (out->name_id_format = strdup(fmt)) == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    const xmlNode *sc = child(subj, NS_A, "SubjectConfirmation", &n);
    if (n != 1 || attr(sc, "Method") == NULL || strcmp(attr(sc, "Method"), CM_BEARER) != 0)
        return bad(err, "the Subject must have exactly one bearer SubjectConfirmation");
    if ((scd = child1(sc, NS_A, "SubjectConfirmationData")) == NULL)
        return bad(err, "the SubjectConfirmation has no SubjectConfirmationData");
    if ((rc = check_window(scd, now, true, until, err)) != TS_OK)
        return rc;
    if (attr(scd, "Recipient") == NULL || strcmp(attr(scd, "Recipient"), p->recipient) != 0)
        return bad(err, "the SubjectConfirmationData's Recipient is not this service");
    if ((out->recipient = strdup(p->recipient)) == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    return TS_OK;
}

/* Every AttributeValue of attribute a (text only) onto sv. */
static int attr_values(const xmlNode *a, struct iam_strv *sv, struct ts_error *err)
{
    for (const xmlNode *v = a->children; v != NULL; v = v->next) {
        char *s;
        if (!is_el(v, NS_A, "AttributeValue"))
            continue;
        if ((s = trim(text(v))) == NULL)
            return bad(err, "an AttributeValue must hold text only");
        int rc = sv->n < SAML_MAX_VALUES && *s != '\0' ? idp_strv_add(sv, s) : TS_OK;
        free(s);
        if (rc != TS_OK)
            return ts_error_set(err, rc, NULL);
    }
    return TS_OK;
}

/* The one value of a single-valued attribute into *out. */
static int single_value(const xmlNode *a, char **out, struct ts_error *err)
{
    struct iam_strv sv = {0};
    int rc = attr_values(a, &sv, err);

    if (rc == TS_OK && (sv.n != 1 || *out != NULL))
        rc = bad(err, "RoleSessionName and SessionDuration must have exactly one value");
    if (rc == TS_OK && (*out = strdup(sv.v[0])) == NULL)
        rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    iam_strv_free(&sv);
    return rc;
}

static int session_duration(const char *v, long *out, struct ts_error *err)
{
    char *end;
    long d = strtol(v, &end, 10);

    if (*v == '\0' || *end != '\0' || !isdigit((unsigned char)*v) || d < 900 || d > 43200)
        return bad(err, "SessionDuration must be an integer from 900 to 43200");
    *out = d;
    return TS_OK;
}

/* The AttributeStatements: Role, RoleSessionName, SessionDuration and the groups. */
static int read_attributes(struct saml_idp *p, const xmlNode *as, struct saml_assertion *out,
                           struct ts_error *err)
{
    char *dur = NULL;
    int rc = TS_OK;

    for (const xmlNode *st = as->children; st != NULL && rc == TS_OK; st = st->next) {
        if (!is_el(st, NS_A, "AttributeStatement"))
            continue;
        for (const xmlNode *a = st->children; a != NULL && rc == TS_OK; a = a->next) {
            const char *name = attr(a, "Name");
            if (!is_el(a, NS_A, "Attribute") || name == NULL)
                continue;
            if (strcmp(name, SAML_ROLE_ATTR) == 0)
                rc = attr_values(a, &out->roles, err);
            else if (strcmp(name, SAML_SESSION_NAME_ATTR) == 0)
                rc = single_value(a, &out->session_name, err);
            else if (strcmp(name, SAML_SESSION_DURATION_ATTR) == 0)
                rc = single_value(a, &dur, err);
            else if (p->groups_attribute != NULL && strcmp(name, p->groups_attribute) == 0)
                rc = attr_values(a, &out->groups, err);
        }
    }
    if (rc == TS_OK && dur != NULL)
        rc = session_duration(dur, &out->session_duration, err);
    free(dur);
    return rc;
}

/* SessionNotOnOrAfter of the AuthnStatement(s): the earliest. */
static int read_authn(const xmlNode *as, time_t now, struct saml_assertion *out,
                      struct ts_error *err)
{
    for (const xmlNode *st = as->children; st != NULL; st = st->next) {
        time_t t;
        if (!is_el(st, NS_A, "AuthnStatement"))
            continue;
        if (time_attr(st, "SessionNotOnOrAfter", &t, err) != TS_OK)
            return err->code;
        if (t != 0 && t <= now)
            return ts_error_set(err, TS_E_STS_EXPIRED_TOKEN,
                                "The SAML session has ended (SessionNotOnOrAfter).");
        if (t != 0 && (out->session_not_on_or_after == 0 || t < out->session_not_on_or_after))
            out->session_not_on_or_after = t;
    }
    return TS_OK;
}

static int read_assertion(struct saml_idp *p, xmlDocPtr d, const xmlNode *as, time_t now,
                          struct saml_assertion *out, struct ts_error *err)
{
    const xmlNode *resp = xmlDocGetRootElement(d);
    const char *dest = attr(resp, "Destination");
    time_t until = 0;
    int rc;

    if (attr(resp, "Version") == NULL || strcmp(attr(resp, "Version"), "2.0") != 0 ||
        attr(as, "Version") == NULL || strcmp(attr(as, "Version"), "2.0") != 0)
        return bad(err, "the Response and the Assertion must be of Version 2.0");
    if (dest != NULL && strcmp(dest, p->recipient) != 0)
        return bad(err, "the Response's Destination is not this service");
    if ((rc = check_status(resp, err)) != TS_OK ||
        (rc = check_issuers(p, resp, as, out, err)) != TS_OK ||
        (rc = check_conditions(p, as, now, &until, err)) != TS_OK ||
        (rc = check_subject(p, as, now, &until, out, err)) != TS_OK ||
        (rc = read_authn(as, now, out, err)) != TS_OK ||
        (rc = read_attributes(p, as, out, err)) != TS_OK)
        return rc;
    return replay_check(p, out->issuer, attr(as, "ID"), until + SAML_CLOCK_SKEW, now, err);
}

int saml_verify(struct saml_idp *p, const char *b64, time_t now, struct saml_assertion *out,
                struct ts_error *err)
{
    size_t n = b64 != NULL ? strlen(b64) : 0;
    uint8_t *xml = NULL;
    long len;
    xmlDocPtr d = NULL;
    xmlNode *as = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if (n > SAML_MAX_B64)
        return bad(err, "the SAMLAssertion is too large");
    if ((len = unb64_lenient(b64, n, &xml)) <= 0)
        return bad(err, "the SAMLAssertion is not base64");
    if ((d = parse_xml(xml, (size_t)len)) == NULL)
        rc = bad(err, "not well-formed XML, or it has a DOCTYPE");
    else if ((rc = check_shape(p, d, &as, err)) == TS_OK)
        rc = read_assertion(p, d, as, now, out, err);
    xmlFreeDoc(d);
    free(xml);
    if (rc != TS_OK)
        saml_assertion_cleanup(out);
    return rc;
}
