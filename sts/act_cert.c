/* act_cert.c -- the client-certificate identity backend of AssumeRoleWithCertificate
 * (sts/act_cert.h). POST /?Action=AssumeRoleWithCertificate&Version=2011-06-15 over TLS, no
 * signature: the TLS layer (libmicrohttpd over GnuTLS, core/http.c) asked for a client
 * certificate and checked the client's proof of possession of its key; this backend decides
 * whether the certificate is trusted, with OpenSSL:
 *
 *   the chain as sent: CA certificates (basicConstraints CA:TRUE, at most 10) are untrusted
 *   intermediates, exactly one other certificate is the leaf (MinIO's rules and errors)
 *   -> X509_verify_cert against a store holding only the trusted CAs (CERTS_DIR/CAs/,
 *   TESSERA_IDENTITY_TLS_CA_FILE; each one a trust anchor, as Go's root pool is for MinIO),
 *   purpose SSL client (every certificate's EKU, when present, allows clientAuth; key usage
 *   allows a TLS client's signature), validity periods at the current time
 *   -> the leaf's extended key usage must be present and name clientAuth (or any), as MinIO
 *   -> exactly one subject CN, a well-formed name: an existing, enabled tessera user.
 *
 * The claims are that user's (source "static", parent = the user): sts_federate gives the
 * session the user's current policies, as AssumeRole does, so disabling the user, detaching
 * its policies or revoking its sessions takes effect on the next request; the session ends
 * no later than the certificate's notAfter (expiry_within_token). A chain that passed is
 * remembered by its SHA-256 while every certificate of it is valid (struct verified); the user
 * is looked up on every request. This file never mints.
 */
#include "sts/act_cert.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/curlx.h"
#include "core/enc.h"
#include "core/err.h"
#include "sts/sts_int.h"

#define CERT_MAX_INTERMEDIATES 10 /* MinIO's MaxIntermediateCAs */
#define CERT_CACHE_SLOTS 256
#define CERT_CN_MAX 256

/* A chain that passed every check (its bytes decide everything but the time, and the trust
 * store does not change while the server runs): what it proved, and the time window in which
 * that holds (every certificate of the verified chain within its validity period). Parsing a
 * certificate costs OpenSSL 3.0 a decoder lookup under global locks, serialised across threads
 * (at most ~570 logins/s, docs/BENCHMARKS.md), so a client that comes back with the same chain
 * skips it. */
struct verified {
    uint8_t id[32]; /* SHA-256 over the SHA-256 of each certificate as sent */
    bool used;
    char cn[CERT_CN_MAX + 1];
    time_t from, until, leaf_until;
};

struct sts_cert {
    struct sts_ctx *c;
    X509_STORE *store; /* the trusted CAs, nothing else */
    bool skip_verify;
    char *client_ca_pem;
    pthread_mutex_t lock; /* guards cache */
    struct verified cache[CERT_CACHE_SLOTS];
};

/* The chain as sent, split as MinIO does: the leaf and the CA certificates. */
struct chain {
    X509 *leaf;
    STACK_OF(X509) * inter;
};

static void chain_free(struct chain *ch)
{
    X509_free(ch->leaf);
    sk_X509_pop_free(ch->inter, X509_free);
}

static time_t not_after(X509 *leaf)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1)
        return 0;
    return timegm(&tm);
}

static time_t not_before(X509 *x)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1)
        return (time_t)INT64_MAX; /* never */
    return timegm(&tm);
}

/* The window in which every certificate of the chain is valid. */
static void chain_window(STACK_OF(X509) * chain, struct verified *v)
{
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        time_t f = not_before(x), u = not_after(x);
        if (i == 0 || f > v->from)
            v->from = f;
        if (i == 0 || u < v->until)
            v->until = u;
    }
}

static bool is_ca(X509 *x)
{
    return (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
}

static int chain_parse(const struct idp_input *in, struct chain *ch, struct ts_error *err)
{
    size_t leaves = 0;

    memset(ch, 0, sizeof *ch);
    if ((ch->inter = sk_X509_new_null()) == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    for (size_t i = 0; i < in->npeer_chain; i++) {
        const unsigned char *p = in->peer_chain[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)in->peer_chain[i].len);
        if (x == NULL || p != in->peer_chain[i].data + in->peer_chain[i].len) {
            X509_free(x);
            return ts_error_set(err, TS_E_STS_INVALID_CLIENT_CERT,
                                "The client certificate cannot be parsed.");
        }
        if (is_ca(x)) {
            if (sk_X509_num(ch->inter) >= CERT_MAX_INTERMEDIATES || !sk_X509_push(ch->inter, x)) {
                X509_free(x);
                return ts_error_set(err, TS_E_STS_TOO_MANY_INTERMEDIATES,
                                    "client certificate contains more than %d intermediate CAs",
                                    CERT_MAX_INTERMEDIATES);
            }
        } else if (leaves++ == 0) {
            ch->leaf = x;
        } else {
            X509_free(x);
        }
    }
    if (ch->leaf == NULL)
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER, "No client certificate provided");
    if (leaves > 1)
        return ts_error_set(err, TS_E_STS_INVALID_PARAMETER,
                            "More than one client certificate provided");
    return TS_OK;
}

/* The chain leads to a trusted CA, for client authentication, at the current time. */
static int chain_verify(const struct sts_cert *k, const struct chain *ch, struct verified *v,
                        struct ts_error *err)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = TS_OK;

    if (ctx == NULL || X509_STORE_CTX_init(ctx, k->store, ch->leaf, ch->inter) != 1 ||
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1) {
        X509_STORE_CTX_free(ctx);
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    }
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN); /* every trusted CA anchors */
    X509_VERIFY_PARAM_set_depth(vp, CERT_MAX_INTERMEDIATES + 1);
    if (X509_verify_cert(ctx) != 1)
        rc = ts_error_set(err, TS_E_STS_INVALID_CLIENT_CERT,
                          "The provided client certificate is invalid: %s",
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    else
        chain_window(X509_STORE_CTX_get0_chain(ctx), v);
    X509_STORE_CTX_free(ctx);
    return rc;
}

/* Without verification (tests): still a certificate for client authentication, valid now. */
static int leaf_check_unverified(X509 *leaf, struct ts_error *err)
{
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
        return ts_error_set(err, TS_E_STS_INVALID_CLIENT_CERT,
                            "The provided client certificate is invalid: certificate has expired");
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0)
        return ts_error_set(err, TS_E_STS_INVALID_CLIENT_CERT,
                            "The provided client certificate is invalid: certificate is not yet "
                            "valid");
    if (X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1)
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                            "certificate is not valid for client authentication");
    return TS_OK;
}

/* MinIO requires the extended key usage TLS Web Client Authentication (or any): a
 * certificate without the extension is not a client certificate, whoever issued it. */
static int leaf_check_eku(X509 *leaf, bool skip_verify, struct ts_error *err)
{
    uint32_t xku = X509_get_extended_key_usage(leaf);

    if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) != 0 &&
        (xku & (XKU_SSL_CLIENT | XKU_ANYEKU)) != 0)
        return TS_OK;
    return ts_error_set(err,
                        skip_verify ? TS_E_STS_MISSING_PARAMETER : TS_E_STS_INVALID_CLIENT_CERT,
                        "certificate is not valid for client authentication");
}

/* The one subject CN as UTF-8 into cn. */
static int leaf_cn(X509 *leaf, char cn[CERT_CN_MAX + 1], struct ts_error *err)
{
    X509_NAME *subj = X509_get_subject_name(leaf);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    unsigned char *u = NULL;
    int n;

    if (idx < 0)
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                            "certificate subject CN cannot be empty");
    if (X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0)
        return ts_error_set(err, TS_E_STS_INVALID_CLIENT_CERT,
                            "The certificate subject has more than one CN.");
    n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
    if (n <= 0 || n > CERT_CN_MAX || memchr(u, '\0', (size_t)n) != NULL ||
        !idp_name_ok((const char *)u)) {
        OPENSSL_free(u);
        return ts_error_set(err, n == 0 ? TS_E_STS_MISSING_PARAMETER : TS_E_STS_INVALID_CLIENT_CERT,
                            n == 0 ? "certificate subject CN cannot be empty"
                                   : "The certificate subject CN is not a valid name.");
    }
    memcpy(cn, u, (size_t)n + 1);
    OPENSSL_free(u);
    return TS_OK;
}

/* The CN names an enabled tessera user. */
static int cn_user(const struct sts_cert *k, const char *cn, struct ts_error *err)
{
    struct iam_user u;
    int rc;

    memset(&u, 0, sizeof u);
    rc = iam_user_get(k->c->st, cn, &u);
    if (rc == TS_OK && !u.enabled)
        rc = ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                          "The user named by the certificate's subject CN is disabled.");
    else if (rc == TS_E_NO_SUCH_ENTITY || rc == TS_E_INVALID_ARGUMENT)
        rc = ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                          "No user is named by the certificate's subject CN.");
    else if (rc != TS_OK)
        rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    iam_user_cleanup(&u);
    return rc;
}

static void chain_id(const struct idp_input *in, uint8_t id[32])
{
    uint8_t each[STS_PEER_CHAIN_MAX][32];

    for (size_t i = 0; i < in->npeer_chain; i++)
        enc_sha256(in->peer_chain[i].data, in->peer_chain[i].len, each[i]);
    enc_sha256(each, in->npeer_chain * 32, id);
}

/* A chain verified before and still within its window: its CN into v. */
static bool cache_hit(struct sts_cert *k, const uint8_t id[32], struct verified *v)
{
    struct verified *e = &k->cache[id[0]];
    time_t now = enc_now();
    bool hit;

    pthread_mutex_lock(&k->lock);
    hit = e->used && memcmp(e->id, id, 32) == 0 && e->from <= now && now < e->until;
    if (hit)
        *v = *e;
    pthread_mutex_unlock(&k->lock);
    return hit;
}

static void cache_put(struct sts_cert *k, const struct verified *v)
{
    pthread_mutex_lock(&k->lock);
    k->cache[v->id[0]] = *v;
    pthread_mutex_unlock(&k->lock);
}

static int claims_fill(struct idp_claims *out, const char *cn, time_t leaf_until)
{
    out->kind = IDP_CERT;
    out->source = "static"; /* the user's session: its current policies, revoked with it */
    out->provider = strdup("tls");
    out->subject = strdup(cn);
    out->username = strdup(cn);
    out->parent = strdup(cn);
    out->token_expiry = leaf_until;
    if (out->provider == NULL || out->subject == NULL || out->username == NULL ||
        out->parent == NULL)
        return TS_E_INTERNAL;
    return TS_OK;
}

static int cert_precheck(void *arg, const struct idp_input *in, struct ts_error *err)
{
    (void)arg;
    if (!in->tls)
        return ts_error_set(err, TS_E_STS_INSECURE_CONNECTION, "No TLS connection attempt");
    if (in->npeer_sent == 0)
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER, "No client certificate provided");
    if (in->npeer_sent > in->npeer_chain)
        return ts_error_set(err, TS_E_STS_TOO_MANY_INTERMEDIATES,
                            "client certificate contains more than %d intermediate CAs",
                            CERT_MAX_INTERMEDIATES);
    return TS_OK;
}

/* Parses and checks the chain as sent; on success v holds what it proved. */
static int chain_check(struct sts_cert *k, const struct idp_input *in, struct verified *v,
                       struct ts_error *err)
{
    struct chain ch;
    int rc;

    if ((rc = chain_parse(in, &ch, err)) == TS_OK && k->skip_verify &&
        (rc = leaf_check_unverified(ch.leaf, err)) == TS_OK) {
        v->from = not_before(ch.leaf);
        v->until = not_after(ch.leaf);
    } else if (rc == TS_OK && !k->skip_verify) {
        rc = chain_verify(k, &ch, v, err);
    }
    if (rc == TS_OK && (rc = leaf_check_eku(ch.leaf, k->skip_verify, err)) == TS_OK &&
        (rc = leaf_cn(ch.leaf, v->cn, err)) == TS_OK) {
        v->leaf_until = not_after(ch.leaf);
        v->used = true;
    }
    chain_free(&ch);
    return rc;
}

static int cert_authenticate(void *arg, const struct idp_input *in, struct idp_claims *out,
                             struct ts_error *err)
{
    struct sts_cert *k = arg;
    struct verified v;
    int rc = TS_OK;

    memset(out, 0, sizeof *out);
    memset(&v, 0, sizeof v);
    chain_id(in, v.id);
    if (!cache_hit(k, v.id, &v) && (rc = chain_check(k, in, &v, err)) == TS_OK)
        cache_put(k, &v);
    if (rc == TS_OK && (rc = cn_user(k, v.cn, err)) == TS_OK &&
        claims_fill(out, v.cn, v.leaf_until) != TS_OK)
        rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    if (rc != TS_OK)
        idp_claims_cleanup(out);
    return rc;
}

static int cert_disabled(void *arg, const struct idp_input *in, struct ts_error *err)
{
    (void)arg, (void)in;
    return ts_error_set(err, TS_E_STS_NOT_INITIALIZED,
                        "STS API 'AssumeRoleWithCertificate' is disabled");
}

static int never(void *arg, const struct idp_input *in, struct idp_claims *out,
                 struct ts_error *err)
{
    (void)arg, (void)in, (void)out;
    return ts_error_set(err, TS_E_STS_NOT_INITIALIZED, NULL);
}

static const struct idp_backend cert_backend = {.name = "certificate",
                                                .precheck = cert_precheck,
                                                .authenticate = cert_authenticate,
                                                .parent_policies = true,
                                                .expiry_within_token = true};
static const struct idp_backend cert_off_backend = {
    .name = "certificate", .precheck = cert_disabled, .authenticate = never};
static struct idp_backend cert_on_backend;

/* Every certificate of the store as PEM (the issuers the listener offers), or NULL. */
static char *store_pem(X509_STORE *st, int *count)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *pem = NULL;
    long len;

    *count = 0;
    for (int i = 0; b != NULL && i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x != NULL && PEM_write_bio_X509(b, x) == 1)
            (*count)++;
    }
    if (b != NULL && *count > 0 && (len = BIO_get_mem_data(b, &data)) > 0)
        pem = strndup(data, (size_t)len);
    BIO_free(b);
    return pem;
}

static char *file_pem(const char *path)
{
    X509_STORE *st = X509_STORE_new();
    int n;
    char *pem = st != NULL && X509_STORE_load_file(st, path) == 1 ? store_pem(st, &n) : NULL;

    X509_STORE_free(st);
    return pem;
}

/* The trusted CAs: the CA file (must load) and every loadable file of CERTS_DIR/CAs/. */
static int trust_load(struct sts_cert *k, const struct sts_cert_config *cfg, char *err,
                      size_t errlen)
{
    char **files = curlx_ca_dir(cfg->certs_dir);
    int n = 0;

    if ((k->store = X509_STORE_new()) == NULL)
        return TS_E_INTERNAL;
    if (cfg->ca_file != NULL && X509_STORE_load_file(k->store, cfg->ca_file) != 1) {
        curlx_strv_free(files);
        snprintf(err, errlen, "TESSERA_IDENTITY_TLS_CA_FILE: cannot load %s", cfg->ca_file);
        return TS_E_INVALID_ARGUMENT;
    }
    for (size_t i = 0; files != NULL && files[i] != NULL; i++)
        (void)X509_STORE_load_file(k->store, files[i]); /* a key or a stray file: skipped */
    curlx_strv_free(files);
    k->client_ca_pem = store_pem(k->store, &n);
    if (n == 0 && !cfg->skip_verify) {
        snprintf(err, errlen,
                 "TESSERA_IDENTITY_TLS_ENABLE: no trusted CA: put the CA certificates in "
                 "CERTS_DIR/CAs/ or name them with TESSERA_IDENTITY_TLS_CA_FILE");
        return TS_E_INVALID_ARGUMENT;
    }
    if (n == 0 && (k->client_ca_pem = file_pem(cfg->server_cert)) == NULL) {
        snprintf(err, errlen, "cannot read %s", cfg->server_cert);
        return TS_E_INVALID_ARGUMENT;
    }
    return TS_OK;
}

int sts_cert_register(struct sts_ctx *c, const struct sts_cert_config *cfg, struct sts_cert **out,
                      char *err, size_t errlen)
{
    struct sts_cert *k;
    int rc;

    *out = NULL;
    if (!cfg->enable)
        return sts_set_backend(c, "AssumeRoleWithCertificate", &cert_off_backend);
    if (cfg->certs_dir == NULL || cfg->server_cert == NULL) {
        snprintf(err, errlen,
                 "TESSERA_IDENTITY_TLS_ENABLE needs TLS: start the server with --certs DIR");
        return TS_E_INVALID_ARGUMENT;
    }
    if ((k = calloc(1, sizeof *k)) == NULL)
        return TS_E_INTERNAL;
    k->c = c;
    k->skip_verify = cfg->skip_verify;
    pthread_mutex_init(&k->lock, NULL);
    if ((rc = trust_load(k, cfg, err, errlen)) != TS_OK) {
        sts_cert_free(k);
        return rc;
    }
    cert_on_backend = cert_backend;
    cert_on_backend.arg = k;
    if ((rc = sts_set_backend(c, "AssumeRoleWithCertificate", &cert_on_backend)) != TS_OK) {
        sts_cert_free(k);
        return rc;
    }
    *out = k;
    return TS_OK;
}

const char *sts_cert_client_ca_pem(const struct sts_cert *k)
{
    return k != NULL ? k->client_ca_pem : NULL;
}

void sts_cert_free(struct sts_cert *k)
{
    if (k == NULL)
        return;
    X509_STORE_free(k->store);
    free(k->client_ca_pem);
    pthread_mutex_destroy(&k->lock);
    free(k);
}
