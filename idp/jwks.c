/* jwks.c -- the outbound side of OpenID Connect: HTTP GETs over libcurl (timeouts, TLS
 * verification against the system store plus TESSERA_CA_FILE and CERTS_DIR/CAs/, no
 * redirects, a size cap) and JSON Web Key Sets imported once with cjose into an immutable,
 * reference-counted struct oidc_keyset (idp/oidc.h).
 *
 * A key set never changes after parse; idp/oidc.c swaps a provider's set whole under its
 * lock and readers keep a reference while verifying, so verification holds no lock.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "core/curlx.h"
#include "core/err.h"
#include "idp/oidc.h"

#define HTTP_MAX_BODY (1024 * 1024)
#define JWKS_MAX_KEYS 64

/* ---- HTTP ---- */

int oidc_http_get(const struct oidc_http *h, const char *url, const char *bearer, char **body,
                  size_t *len, const char **why)
{
    return oidc_http_request(h, url, bearer, NULL, NULL, NULL, body, len, why);
}

int oidc_http_request(const struct oidc_http *h, const char *url, const char *bearer,
                      const char *form, const char *user, const char *password, char **body,
                      size_t *len, const char **why)
{
    return oidc_http_do(h, url, bearer, form, user, password, body, len, why, NULL);
}

int oidc_http_do(const struct oidc_http *h, const char *url, const char *bearer, const char *form,
                 const char *user, const char *password, char **body, size_t *len, const char **why,
                 long *status)
{
    const char *hdr[4] = {"Accept: application/json", NULL, NULL, NULL};
    struct curlx_req rq = {.url = url,
                           .user = user,
                           .password = password,
                           .connect_timeout_ms = h->connect_timeout_ms,
                           .timeout_ms = h->timeout_ms,
                           .max_body = HTTP_MAX_BODY,
                           .ca_file = h->ca_file,
                           .ca_extra = h->ca_extra,
                           .hdr = hdr};
    struct curlx_resp rs;
    char *auth = NULL;
    size_t n = 1;
    int rc = TS_E_STS_IDP_COMMUNICATION;

    *why = "cannot reach the identity provider";
    if (status != NULL)
        *status = 0;
    if (bearer != NULL) {
        if ((auth = malloc(strlen(bearer) + 32)) == NULL)
            return TS_E_INTERNAL;
        snprintf(auth, strlen(bearer) + 32, "Authorization: Bearer %s", bearer);
        hdr[n++] = auth;
    }
    if (form != NULL) { /* client_secret_basic (RFC 6749 2.3.1): user, password form-encoded */
        hdr[n++] = "Content-Type: application/x-www-form-urlencoded";
        rq.body = form;
        rq.body_len = strlen(form);
    }
    if (curlx_perform(&rq, &rs) != 0) {
        if (rs.too_big)
            *why = "the identity provider's response is too large";
        else if (rs.cc == CURLE_OPERATION_TIMEDOUT)
            *why = "the identity provider timed out";
        else if (rs.cc == CURLE_PEER_FAILED_VERIFICATION || rs.cc == CURLE_SSL_CACERT_BADFILE ||
                 rs.cc == CURLE_SSL_CONNECT_ERROR)
            *why = "TLS verification of the identity provider failed";
    } else if (rs.status < 200 || rs.status > 299) {
        *why = "the identity provider answered with an error status";
        if (status != NULL)
            *status = rs.status;
    } else if (buf_adds(&rs.body, "") != 0 || (*body = buf_take(&rs.body, len)) == NULL) {
        rc = TS_E_INTERNAL;
    } else {
        *why = NULL;
        rc = TS_OK;
    }
    if (auth != NULL) {
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    curlx_resp_free(&rs);
    return rc;
}

/* ---- JSON depth ---- */

bool oidc_json_too_deep(const char *s, size_t n, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"')
            in_str = true;
        else if (ch == '[' || ch == '{') {
            if (++depth > max)
                return true;
        } else if (ch == ']' || ch == '}')
            depth--;
    }
    return false;
}

/* ---- key sets ---- */

struct oidc_key {
    char *kid;              /* NULL when the JWK has none */
    char *alg;              /* the JWK's declared alg, or NULL */
    cjose_jwk_kty_t kty;    /* RSA or EC */
    cjose_jwk_ec_curve crv; /* EC only */
    cjose_jwk_t *jwk;
};

struct oidc_keyset {
    atomic_int refs;
    struct oidc_key *keys;
    size_t n;
};

static void keyset_free(struct oidc_keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->keys[i].kid);
        free(ks->keys[i].alg);
        cjose_jwk_release(ks->keys[i].jwk);
    }
    free(ks->keys);
    free(ks);
}

struct oidc_keyset *oidc_keyset_retain(struct oidc_keyset *ks)
{
    if (ks != NULL)
        atomic_fetch_add(&ks->refs, 1);
    return ks;
}

void oidc_keyset_release(struct oidc_keyset *ks)
{
    if (ks != NULL && atomic_fetch_sub(&ks->refs, 1) == 1)
        keyset_free(ks);
}

size_t oidc_keyset_count(const struct oidc_keyset *ks)
{
    return ks != NULL ? ks->n : 0;
}

static int import_key(json_t *j, struct oidc_key *k)
{
    const char *kty = json_string_value(json_object_get(j, "kty"));
    const char *use = json_string_value(json_object_get(j, "use"));
    json_t *kid = json_object_get(j, "kid"), *alg = json_object_get(j, "alg");
    cjose_err err;
    char *text;

    memset(k, 0, sizeof *k);
    if (kty == NULL || (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0))
        return -1;
    if (json_object_get(j, "use") != NULL && (use == NULL || strcmp(use, "sig") != 0))
        return -1;
    if ((kid != NULL && !json_is_string(kid)) || (alg != NULL && !json_is_string(alg)))
        return -1;
    /* Import only the public members: a JWKS must not carry private keys, and cjose should
     * never see them. */
    json_t *pub = json_pack("{s:s}", "kty", kty);
    const char *members[] = {"n", "e", "crv", "x", "y"};
    for (size_t i = 0; pub != NULL && i < sizeof members / sizeof members[0]; i++) {
        json_t *v = json_object_get(j, members[i]);
        if (v == NULL)
            continue;
        /* cjose's base64url decoder abort()s (assert) on some malformed values such as
         * "A=": only the base64url alphabet reaches it (found by tests/fuzz/fuzz_jwt.c). */
        const char *sv = json_string_value(v);
        if (sv == NULL || (i != 2 && strspn(sv, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                                                "wxyz0123456789-_") != strlen(sv))) {
            json_decref(pub);
            return -1;
        }
        json_object_set(pub, members[i], v);
    }
    if (pub == NULL)
        return -1;
    text = json_dumps(pub, JSON_COMPACT);
    json_decref(pub);
    if (text == NULL)
        return -1;
    k->jwk = cjose_jwk_import(text, strlen(text), &err);
    free(text);
    if (k->jwk == NULL)
        return -1;
    k->kty = cjose_jwk_get_kty(k->jwk, &err);
    if (k->kty == CJOSE_JWK_KTY_EC)
        k->crv = cjose_jwk_EC_get_curve(k->jwk, &err);
    if (k->kty == CJOSE_JWK_KTY_RSA && cjose_jwk_get_keysize(k->jwk, &err) < 2048)
        goto fail; /* RFC 7518 §3.3: at least 2048 bits */
    if (kid != NULL && (k->kid = strdup(json_string_value(kid))) == NULL)
        goto fail;
    if (alg != NULL && (k->alg = strdup(json_string_value(alg))) == NULL)
        goto fail;
    return 0;
fail:
    cjose_jwk_release(k->jwk);
    free(k->kid);
    free(k->alg);
    memset(k, 0, sizeof *k);
    return -1;
}

struct oidc_keyset *oidc_keyset_parse(const char *json, size_t len, const char **why)
{
    struct oidc_keyset *ks = NULL;
    json_error_t jerr;
    json_t *root = NULL, *keys;
    size_t i;

    if (oidc_json_too_deep(json, len, OIDC_MAX_JSON_DEPTH)) {
        *why = "the JWKS is nested too deeply";
        return NULL;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    keys = json_object_get(root, "keys");
    if (root == NULL || !json_is_object(root) || !json_is_array(keys)) {
        *why = "the JWKS is not a JSON object with a keys array";
        goto fail;
    }
    ks = calloc(1, sizeof *ks);
    if (ks == NULL)
        goto oom;
    atomic_init(&ks->refs, 1);
    ks->keys = calloc(json_array_size(keys) > 0 ? json_array_size(keys) : 1, sizeof *ks->keys);
    if (ks->keys == NULL)
        goto oom;
    for (i = 0; i < json_array_size(keys) && ks->n < JWKS_MAX_KEYS; i++) {
        json_t *k = json_array_get(keys, i);
        if (json_is_object(k) && import_key(k, &ks->keys[ks->n]) == 0)
            ks->n++;
    }
    json_decref(root);
    return ks;
oom:
    *why = "out of memory";
fail:
    if (ks != NULL)
        keyset_free(ks);
    json_decref(root);
    return NULL;
}

/* Whether key k may verify a token signed with alg (already on the allow-list). */
static bool key_fits(const struct oidc_key *k, const char *alg)
{
    if (k->alg != NULL && strcmp(k->alg, alg) != 0)
        return false;
    if (alg[0] == 'R' || alg[0] == 'P')
        return k->kty == CJOSE_JWK_KTY_RSA;
    if (alg[0] == 'E' && k->kty == CJOSE_JWK_KTY_EC) {
        if (strcmp(alg, "ES256") == 0)
            return k->crv == CJOSE_JWK_EC_P_256;
        if (strcmp(alg, "ES384") == 0)
            return k->crv == CJOSE_JWK_EC_P_384;
        if (strcmp(alg, "ES512") == 0)
            return k->crv == CJOSE_JWK_EC_P_521;
    }
    return false;
}

int oidc_keyset_verify(const struct oidc_keyset *ks, void *cjose_jws, const char *kid,
                       const char *alg)
{
    int found = -1;
    cjose_err err;

    for (size_t i = 0; ks != NULL && i < ks->n; i++) {
        const struct oidc_key *k = &ks->keys[i];
        if (kid != NULL && (k->kid == NULL || strcmp(k->kid, kid) != 0))
            continue;
        if (!key_fits(k, alg))
            continue;
        found = 0;
        if (cjose_jws_verify(cjose_jws, k->jwk, &err))
            return 1;
    }
    return found;
}
