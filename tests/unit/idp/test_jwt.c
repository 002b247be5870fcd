/* test_jwt.c -- idp/oidc.c and idp/jwks.c against a tiny in-test OpenID provider (a
 * libmicrohttpd server on 127.0.0.1 serving discovery and a JWKS made from keys generated
 * here). Covers the accepted algorithms and claim shapes, a negative corpus after the OWASP
 * JWT attacks (alg none, HS* key confusion, embedded / remote keys, crit, claim checks,
 * malformed and oversize tokens), key rotation, the unknown-kid rate limit and a provider
 * that is down (cached keys keep working, nothing hangs) or down at start.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/cfg.h"
#include "core/err.h"
#include "core/log.h"
#include "idp/oidc.h"
#include "tests/harness/t.h"

/* The server parses the configuration once at start; the tests change the environment between
 * providers, so they parse it again before each. */
static int providers_from_env(struct oidc_providers **out)
{
    char err[256];
    if (cfg_load(err, sizeof err) != TS_OK) {
        fprintf(stderr, "# %s\n", err);
        return TS_E_INVALID_ARGUMENT;
    }
    return oidc_providers_new(NULL, out);
}

/* ---- the provider ---- */

static pthread_mutex_t prov_mu = PTHREAD_MUTEX_INITIALIZER;
static char *prov_jwks;        /* guarded by prov_mu */
static int prov_fetches;       /* JWKS fetches served */
static char *prov_userinfo;    /* userinfo response body, guarded by prov_mu */
static char *prov_evil_jwks;   /* a second key set (evil's), set before the provider starts */
static char prov_bearer[8192]; /* last userinfo Authorization header, guarded by prov_mu */
static unsigned prov_port;
static struct MHD_Daemon *prov_d;
static char issuer[128];

static enum MHD_Result prov_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_len, void **ctx)
{
    char *body = NULL;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int status = 200;

    if (strcmp(url, "/realms/demo/.well-known/openid-configuration") == 0) {
        body = malloc(1024);
        snprintf(body, 1024,
                 "{\"issuer\":\"%s\",\"jwks_uri\":\"%s/protocol/openid-connect/certs\","
                 "\"userinfo_endpoint\":\"%s/protocol/openid-connect/userinfo\"}",
                 issuer, issuer, issuer);
    } else if (strcmp(url, "/realms/demo/protocol/openid-connect/certs") == 0) {
        pthread_mutex_lock(&prov_mu);
        body = strdup(prov_jwks);
        prov_fetches++;
        pthread_mutex_unlock(&prov_mu);
    } else if (strcmp(url, "/realms/demo/evil-certs") == 0) {
        body = strdup(prov_evil_jwks);
    } else if (strcmp(url, "/realms/demo/protocol/openid-connect/userinfo") == 0) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        pthread_mutex_lock(&prov_mu);
        snprintf(prov_bearer, sizeof prov_bearer, "%s", auth ? auth : "");
        body = strdup(prov_userinfo ? prov_userinfo : "{}");
        pthread_mutex_unlock(&prov_mu);
        if (auth == NULL)
            status = 401;
    } else {
        body = strdup("{}");
        status = 404;
    }
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void prov_start(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)prov_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    prov_d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)prov_port, NULL, NULL,
                              prov_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (prov_d == NULL) {
        fprintf(stderr, "cannot start the test provider\n");
        exit(1);
    }
    prov_port = MHD_get_daemon_info(prov_d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void prov_stop(void)
{
    MHD_stop_daemon(prov_d);
    prov_d = NULL;
}

static int fetches(void)
{
    pthread_mutex_lock(&prov_mu);
    int n = prov_fetches;
    pthread_mutex_unlock(&prov_mu);
    return n;
}

/* ---- keys and tokens ---- */

static cjose_jwk_t *k1, *k2, *e1, *evil;

/* The public JWK of k as a JSON object, with kid and optional alg. */
static json_t *pub_jwk(cjose_jwk_t *k, const char *kid, const char *alg)
{
    cjose_err err;
    char *s = cjose_jwk_to_json(k, false, &err);
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    json_object_del(j, "kid");
    json_object_set_new(j, "kid", json_string(kid));
    json_object_set_new(j, "use", json_string("sig"));
    if (alg)
        json_object_set_new(j, "alg", json_string(alg));
    return j;
}

static void set_jwks(json_t *a, json_t *b)
{
    json_t *keys = json_array();
    if (a)
        json_array_append_new(keys, a);
    if (b)
        json_array_append_new(keys, b);
    json_t *doc = json_pack("{s:o}", "keys", keys);
    pthread_mutex_lock(&prov_mu);
    free(prov_jwks);
    prov_jwks = json_dumps(doc, JSON_COMPACT);
    pthread_mutex_unlock(&prov_mu);
    json_decref(doc);
}

static char *b64url(const void *p, size_t n)
{
    char *out = NULL, *r;
    size_t olen;
    cjose_err err;
    cjose_base64url_encode(p, n, &out, &olen, &err);
    r = strdup(out);
    cjose_get_dealloc()(out);
    return r;
}

/* A token with header hdr (JSON text) and payload pl (JSON text) signed by k. */
static char *sign(cjose_jwk_t *k, const char *hdr, const char *pl)
{
    cjose_err err;
    json_t *h = json_loads(hdr, 0, NULL);
    const char *ser;
    char *out;
    if (h == NULL) {
        fprintf(stderr, "bad test header %s\n", hdr);
        exit(1);
    }
    cjose_jws_t *jws =
        cjose_jws_sign(k, (cjose_header_t *)h, (const uint8_t *)pl, strlen(pl), &err);
    json_decref(h);
    if (jws == NULL || !cjose_jws_export(jws, &ser, &err)) {
        fprintf(stderr, "cannot sign: %s\n", err.message);
        exit(1);
    }
    out = strdup(ser);
    cjose_jws_release(jws);
    return out;
}

/* hdr.payload.sig with raw (unencoded) header/payload text and an HMAC-SHA* signature under
 * secret (NULL: empty signature). */
static char *raw_token(const char *hdr, const char *pl, const void *secret, size_t slen,
                       const EVP_MD *md)
{
    char *h = b64url(hdr, strlen(hdr)), *p = b64url(pl, strlen(pl)), *s = NULL, *out;
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    snprintf(input, n, "%s.%s", h, p);
    if (secret != NULL) {
        unsigned char mac[64];
        unsigned mlen = 0;
        HMAC(md, secret, (int)slen, (const unsigned char *)input, strlen(input), mac, &mlen);
        s = b64url(mac, mlen);
    }
    out = malloc(n + (s ? strlen(s) : 0) + 2);
    sprintf(out, "%s.%s", input, s ? s : "");
    free(h);
    free(p);
    free(s);
    free(input);
    return out;
}

static char *payload(const char *extra)
{
    static char buf[8192];
    long now = (long)time(NULL);
    snprintf(buf, sizeof buf,
             "{\"iss\":\"%s\",\"sub\":\"user-1\",\"aud\":\"tessera\",\"exp\":%ld,\"iat\":%ld%s%s}",
             issuer, now + 300, now, extra && *extra ? "," : "", extra ? extra : "");
    return buf;
}

static struct oidc_providers *ps;

/* oidc_verify with the reason of a failure as a string (NULL on success), as the cases below
 * read it; checks that the error object carries the returned code. */
static _Thread_local struct ts_error last_err;
static _Atomic int bad_err_objects;
static int verify_why(struct oidc_providers *p, const char *tok, const char *arn, bool access,
                      struct idp_claims *c, const char **why)
{
    int rc;
    memset(&last_err, 0, sizeof last_err);
    rc = oidc_verify(p, tok, arn, access, c, &last_err);
    if (rc == TS_OK ? last_err.code != TS_OK || last_err.msg[0] != '\0'
                    : last_err.code != rc || last_err.msg[0] == '\0')
        bad_err_objects++; /* checked once at the end (the helper also runs on threads) */
    if (why != NULL)
        *why = rc == TS_OK ? NULL : last_err.msg;
    return rc;
}

static int verify(const char *tok, const char **why)
{
    struct idp_claims c;
    memset(&c, 0, sizeof c);
    int rc = verify_why(ps, tok, NULL, false, &c, why);
    idp_claims_cleanup(&c);
    return rc;
}

static const char *var(const struct idp_claims *c, const char *k)
{
    for (size_t i = 0; i < c->nvars; i++)
        if (strcmp(c->vars[i].key, k) == 0)
            return c->vars[i].value;
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- tests ---- */

static void test_accept(void)
{
    struct idp_claims c;
    const char *why = NULL;
    char *t;
    int rc;

    memset(&c, 0, sizeof c);
    t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}",
             payload("\"preferred_username\":\"alice\",\"policy\":\"readwrite, readonly\","
                     "\"groups\":[\"/admins\",\"dev\"],\"email_verified\":true,\"n\":7"));
    rc = verify_why(ps, t, NULL, false, &c, &why);
    is_int(rc, TS_OK, "RS256 id_token accepted");
    ok(why == NULL, "no reason on success (%s)", why ? why : "");
    is_str(c.subject, "user-1", "sub");
    is_str(c.username, "alice", "preferred_username");
    is_str(c.issuer, issuer, "iss");
    is_str(c.audience, "tessera", "audience");
    is_int(c.kind, IDP_OIDC, "kind");
    is_int(c.policies.n, 2, "policy claim split on commas");
    if (c.policies.n == 2) {
        is_str(c.policies.v[0], "readwrite", "first policy");
        is_str(c.policies.v[1], "readonly", "second policy (trimmed)");
    }
    is_int(c.groups.n, 2, "groups claim");
    if (c.groups.n == 2)
        is_str(c.groups.v[0], "/admins", "group kept as given");
    is_str(var(&c, "jwt:sub"), "user-1", "jwt:sub variable");
    is_str(var(&c, "jwt:preferred_username"), "alice", "jwt:preferred_username variable");
    is_str(var(&c, "jwt:email_verified"), "true", "boolean claim variable");
    is_str(var(&c, "jwt:n"), "7", "number claim variable");
    ok(c.token_expiry > time(NULL), "token expiry kept");
    ok(c.role_arn == NULL, "no role in claim mode");
    idp_claims_cleanup(&c);
    free(t);

    /* Policy claim as an array, aud as an array, no preferred_username. */
    {
        char pl[1024];
        long now = (long)time(NULL);
        snprintf(pl, sizeof pl,
                 "{\"iss\":\"%s\",\"sub\":\"u2\",\"aud\":[\"other\",\"tessera\"],\"exp\":%ld,"
                 "\"policy\":[\"a\",\"b,c\"]}",
                 issuer, now + 100);
        t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
        memset(&c, 0, sizeof c);
        rc = verify_why(ps, t, NULL, false, &c, &why);
        is_int(rc, TS_OK, "aud array containing the client id");
        is_str(c.username, "u2", "username falls back to sub");
        is_int(c.policies.n, 3, "policy array with a comma list inside");
        idp_claims_cleanup(&c);
        free(t);
        /* azp equal to the client id, aud something else (Keycloak access tokens). */
        snprintf(pl, sizeof pl,
                 "{\"iss\":\"%s\",\"sub\":\"svc\",\"aud\":\"account\",\"azp\":\"tessera\","
                 "\"exp\":%ld}",
                 issuer, now + 100);
        t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
        memset(&c, 0, sizeof c);
        rc = verify_why(ps, t, NULL, true, &c, &why);
        is_int(rc, TS_OK, "azp equal to the client id");
        is_int(c.kind, IDP_CLIENT_GRANTS, "access token kind");
        is_int(c.policies.n, 0, "no policy claim: empty list");
        idp_claims_cleanup(&c);
        free(t);
        /* Expired 30 s ago: within the 60 s skew. */
        snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld}",
                 issuer, now - 30);
        t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
        is_int(verify(t, &why), TS_OK, "exp within the allowed skew");
        free(t);
    }
    /* ES256 with the EC key, with and without kid. */
    t = sign(e1, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", payload(NULL));
    is_int(verify(t, &why), TS_OK, "ES256 accepted");
    free(t);
    t = sign(e1, "{\"alg\":\"ES256\"}", payload(NULL));
    is_int(verify(t, &why), TS_OK, "ES256 without kid: every fitting key tried");
    free(t);
}

struct neg {
    const char *name;
    char *token;
    int want;
};

static void test_negative(void)
{
    struct neg v[64];
    size_t n = 0;
    long now = (long)time(NULL);
    char pl[20000], hdr[4096];
    unsigned char *der = NULL;
    char *pem = NULL, *jwkjson = NULL;
    int derlen;
    const char *good_hdr = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
    cjose_err err;

    /* The provider's public key in PEM, DER and JWK form: HS* "secrets" an attacker knows. */
    {
        RSA *rsa = cjose_jwk_get_keydata(k1, &err);
        BIO *bio = BIO_new(BIO_s_mem());
        PEM_write_bio_RSA_PUBKEY(bio, rsa);
        char *p;
        long plen = BIO_get_mem_data(bio, &p);
        pem = strndup(p, (size_t)plen);
        BIO_free(bio);
        derlen = i2d_RSA_PUBKEY(rsa, &der);
        json_t *j = pub_jwk(k1, "k1", "RS256");
        jwkjson = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
#define ADD(nm, tok, code) (v[n].name = (nm), v[n].token = (tok), v[n].want = (code), n++)
    const int BAD = TS_E_STS_INVALID_IDENTITY_TOKEN;
    const char *P = NULL;
    char *good = sign(k1, good_hdr, payload(NULL));

    P = payload(NULL);
    ADD("alg none", raw_token("{\"alg\":\"none\",\"kid\":\"k1\"}", P, NULL, 0, NULL), BAD);
    ADD("alg None", raw_token("{\"alg\":\"None\"}", P, NULL, 0, NULL), BAD);
    ADD("alg NONE", raw_token("{\"alg\":\"NONE\"}", P, NULL, 0, NULL), BAD);
    ADD("alg nOnE", raw_token("{\"alg\":\"nOnE\"}", P, NULL, 0, NULL), BAD);
    {
        /* alg none with the real signature attached. */
        char *t = raw_token("{\"alg\":\"none\",\"kid\":\"k1\"}", P, NULL, 0, NULL);
        const char *sig = strrchr(good, '.') + 1;
        char *t2 = malloc(strlen(t) + strlen(sig) + 1);
        sprintf(t2, "%s%s", t, sig);
        free(t);
        ADD("alg none with a signature", t2, BAD);
    }
    ADD("HS256 with the PEM public key",
        raw_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", P, pem, strlen(pem), EVP_sha256()), BAD);
    ADD("HS256 with the PEM, no kid",
        raw_token("{\"alg\":\"HS256\"}", P, pem, strlen(pem), EVP_sha256()), BAD);
    ADD("HS256 with the DER public key",
        raw_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", P, der, (size_t)derlen, EVP_sha256()), BAD);
    ADD("HS256 with the JWK JSON",
        raw_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", P, jwkjson, strlen(jwkjson), EVP_sha256()),
        BAD);
    ADD("HS384 with the PEM",
        raw_token("{\"alg\":\"HS384\",\"kid\":\"k1\"}", P, pem, strlen(pem), EVP_sha384()), BAD);
    ADD("HS512 with the PEM",
        raw_token("{\"alg\":\"HS512\",\"kid\":\"k1\"}", P, pem, strlen(pem), EVP_sha512()), BAD);
    ADD("alg missing", raw_token("{\"kid\":\"k1\"}", P, pem, strlen(pem), EVP_sha256()), BAD);
    ADD("control: a good token", sign(k1, good_hdr, P), TS_OK);
    ADD("unknown kid", sign(evil, "{\"alg\":\"RS256\",\"kid\":\"nope\"}", P), BAD);
    ADD("forged with the real kid", sign(evil, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", P), BAD);
    ADD("forged without kid", sign(evil, "{\"alg\":\"RS256\"}", P), BAD);
    {
        json_t *ej = pub_jwk(evil, "evil", NULL);
        char *ejs = json_dumps(ej, JSON_COMPACT);
        json_decref(ej);
        snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":\"evil\",\"jwk\":%s}", ejs);
        ADD("embedded jwk", sign(evil, hdr, P), BAD);
        snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"jwk\":%s}", ejs);
        ADD("embedded jwk, real kid and key", sign(k1, hdr, P), BAD);
        free(ejs);
    }
    ADD("jku",
        sign(evil, "{\"alg\":\"RS256\",\"kid\":\"evil\",\"jku\":\"http://127.0.0.1:1/k\"}", P),
        BAD);
    ADD("jku with the real key",
        sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"jku\":\"http://127.0.0.1:1/k\"}", P), BAD);
    ADD("x5u", sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"x5u\":\"http://127.0.0.1:1/c\"}", P),
        BAD);
    ADD("unknown crit",
        sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"http://x/y\"],\"http://x/y\":1}",
             P),
        BAD);
    ADD("empty crit", sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[]}", P), BAD);
    ADD("kid not a string", sign(k1, "{\"alg\":\"RS256\",\"kid\":7}", P), BAD);
    ADD("PS256 with a key that declares RS256", sign(k1, "{\"alg\":\"PS256\",\"kid\":\"k1\"}", P),
        BAD);
    ADD("ES256 header naming an RSA key", sign(e1, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", P), BAD);
    ADD("RS256 header naming an EC key", sign(k1, "{\"alg\":\"RS256\",\"kid\":\"e1\"}", P), BAD);

    snprintf(pl, sizeof pl,
             "{\"iss\":\"http://evil.example/realms/demo\",\"sub\":\"u\","
             "\"aud\":\"tessera\",\"exp\":%ld}",
             now + 300);
    ADD("wrong iss", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s/\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld}",
             issuer, now + 300);
    ADD("trailing-slash iss", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld}", now + 300);
    ADD("no iss", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"other\",\"exp\":%ld}", issuer,
             now + 300);
    ADD("wrong aud", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"u\",\"exp\":%ld}", issuer, now + 300);
    ADD("missing aud", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":[\"a\",\"b\"],\"azp\":\"c\",\"exp\":%ld}",
             issuer, now + 300);
    ADD("aud array and azp without the client", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld}",
             issuer, now - 120);
    ADD("expired", sign(k1, good_hdr, pl), TS_E_STS_EXPIRED_TOKEN);
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld,\"nbf\":%ld}", issuer,
             now + 600, now + 300);
    ADD("future nbf", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld,\"iat\":%ld}", issuer,
             now + 600, now + 300);
    ADD("future iat", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\"}", issuer);
    ADD("no exp", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":\"%ld\"}",
             issuer, now + 300);
    ADD("exp as a string", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"aud\":\"tessera\",\"exp\":%ld}", issuer, now + 300);
    ADD("no sub", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"\",\"aud\":\"tessera\",\"exp\":%ld}", issuer,
             now + 300);
    ADD("empty sub", sign(k1, good_hdr, pl), BAD);
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"sub\":\"u\",\"sub\":\"root\",\"aud\":\"tessera\",\"exp\":%ld}",
             issuer, now + 300);
    ADD("duplicate claim", sign(k1, good_hdr, pl), BAD);
    {
        /* Tampered payload: the real signature over another payload. */
        char *t = raw_token(good_hdr, payload("\"policy\":\"consoleAdmin\""), NULL, 0, NULL);
        const char *sig = strrchr(good, '.') + 1;
        char *t2 = malloc(strlen(t) + strlen(sig) + 1);
        sprintf(t2, "%s%s", t, sig);
        free(t);
        ADD("tampered payload", t2, BAD);
        t = strdup(good);
        *(strrchr(t, '.') + 1) = '\0';
        ADD("stripped signature", t, BAD);
        t = strdup(good);
        t[strlen(t) - 10] = '\0';
        ADD("truncated signature", t, BAD);
        t = strdup(good);
        *strrchr(t, '.') = '\0';
        ADD("two segments", t, BAD);
        t = malloc(strlen(good) + 8);
        sprintf(t, "%s.AAAA", good);
        ADD("four segments", t, BAD);
        t = malloc(strlen(good) + 8);
        sprintf(t, "%s=", good);
        ADD("padding character", t, BAD);
        t = malloc(strlen(good) + 8);
        sprintf(t, " %s", good);
        ADD("leading space", t, BAD);
    }
    ADD("header not JSON", raw_token("{alg:RS256", P, pem, 8, EVP_sha256()), BAD);
    ADD("header an array", raw_token("[\"RS256\"]", P, pem, 8, EVP_sha256()), BAD);
    ADD("payload not an object", sign(k1, good_hdr, "[1,2,3]"), BAD);
    ADD("payload a string", sign(k1, good_hdr, "\"hello\""), BAD);
    ADD("payload not JSON", sign(k1, good_hdr, "not json"), BAD);
    {
        /* Oversize: a validly signed 20 KB token. */
        char big[13000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        snprintf(pl, sizeof pl,
                 "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld,\"pad\":\"%s\"}",
                 issuer, now + 300, big);
        ADD("oversize", sign(k1, good_hdr, pl), BAD);
        /* Deeply nested payload and header. */
        char deep[2000] = "";
        for (int i = 0; i < 200; i++)
            strcat(deep, "[");
        for (int i = 0; i < 200; i++)
            strcat(deep, "]");
        snprintf(pl, sizeof pl,
                 "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"tessera\",\"exp\":%ld,\"d\":%s}", issuer,
                 now + 300, deep);
        ADD("deeply nested payload", sign(k1, good_hdr, pl), BAD);
        snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"d\":%s}", deep);
        ADD("deeply nested header", sign(k1, hdr, P), BAD);
    }
    ADD("empty token", strdup(""), BAD);
    ADD("garbage", strdup("not-a-token"), BAD);
    ADD("dots only", strdup(".."), BAD);

    ok(n >= 30, "at least 30 cases (%zu)", n);
    int base = fetches();
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        int rc = verify(v[i].token, &why);
        ok(rc == v[i].want, "%s: got %s (%s), want %s", v[i].name, ts_err_code(rc), why ? why : "-",
           ts_err_code(v[i].want));
        if (v[i].want != TS_OK)
            ok(why != NULL, "%s: a reason is given", v[i].name);
        free(v[i].token);
    }
    /* Several unknown-kid tokens above: at most one refetch within the rate-limit window. */
    ok(fetches() - base <= 2, "unknown kids refetched at most twice (%d)", fetches() - base);
    free(good);
    free(pem);
    free(jwkjson);
    OPENSSL_free(der);
}

static void test_rate_limit(void)
{
    int base = fetches();
    double t0 = now_s();
    for (int i = 0; i < 100; i++) {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":\"random-%d\"}", i);
        char *t = sign(evil, hdr, payload(NULL));
        const char *why;
        is_int(verify(t, &why), TS_E_STS_INVALID_IDENTITY_TOKEN, "random kid refused");
        free(t);
    }
    /* One refetch per interval (2 s, set in main) at most, whatever the speed of this run
     * (valgrind makes it slow). */
    double took = now_s() - t0;
    int allowed = 2 + (int)(took / 2);
    ok(fetches() - base <= allowed, "100 random kids: at most %d JWKS fetches in %.1fs (%d)",
       allowed, took, fetches() - base);
    ok(fetches() - base < 100, "random kids are not each refetched (%d)", fetches() - base);
    ok(took < 60, "random kids do not stall (%.1fs)", took);
}

static void test_rotation(void)
{
    const char *why = NULL;
    char *t1 = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", payload(NULL));
    char *t2 = sign(k2, "{\"alg\":\"PS256\",\"kid\":\"k2\"}", payload(NULL));

    is_int(verify(t1, &why), TS_OK, "k1 before rotation");
    /* Rotate: the provider now publishes k2 (no alg declared) and drops k1. */
    set_jwks(pub_jwk(k2, "k2", NULL), pub_jwk(e1, "e1", NULL));
    sleep(3); /* past the refetch interval */
    is_int(verify(t2, &why), TS_OK, "new kid accepted without restart (PS256)");
    sleep(3);
    /* k1 is gone from the cache (the refetch replaced the key set). */
    is_int(verify(t1, &why), TS_E_STS_INVALID_IDENTITY_TOKEN, "removed key refused");
    free(t1);
    free(t2);
}

static void test_provider_down(void)
{
    const char *why = NULL;
    char *good = sign(k2, "{\"alg\":\"PS256\",\"kid\":\"k2\"}", payload(NULL));
    char *unknown = sign(evil, "{\"alg\":\"RS256\",\"kid\":\"k9\"}", payload(NULL));
    double t0;
    int rc;

    prov_stop();
    sleep(3);
    t0 = now_s();
    is_int(verify(good, &why), TS_OK, "cached keys verify while the provider is down");
    rc = verify(unknown, &why);
    ok(rc == TS_E_STS_IDP_COMMUNICATION || rc == TS_E_STS_INVALID_IDENTITY_TOKEN,
       "unknown kid while down refused (%s)", ts_err_code(rc));
    is_int(rc, TS_E_STS_IDP_COMMUNICATION, "unknown kid while down: IDPCommunicationError");
    ok(now_s() - t0 < 5, "no hang while the provider is down (%.1fs)", now_s() - t0);
    prov_start();
    free(good);
    free(unknown);
}

static void test_down_at_start(void)
{
    struct oidc_providers *ps2 = NULL;
    const char *why = NULL;
    char *t = sign(k2, "{\"alg\":\"PS256\",\"kid\":\"k2\"}", payload(NULL));
    double t0;
    int rc;

    prov_stop();
    is_int(providers_from_env(&ps2), TS_OK, "starts while the provider is down");
    t0 = now_s();
    struct idp_claims c;
    memset(&c, 0, sizeof c);
    rc = verify_why(ps2, t, NULL, false, &c, &why);
    is_int(rc, TS_E_STS_IDP_COMMUNICATION, "undiscovered provider: IDPCommunicationError");
    ok(now_s() - t0 < 5, "bounded wait (%.1fs)", now_s() - t0);
    prov_start();
    rc = -1;
    for (int i = 0; i < 40 && rc != TS_OK; i++) {
        usleep(250000);
        rc = verify_why(ps2, t, NULL, false, &c, &why);
        if (rc == TS_OK)
            idp_claims_cleanup(&c);
    }
    is_int(rc, TS_OK, "discovered once the provider is up");
    oidc_providers_free(ps2);
    free(t);
}

static void test_role_mode(void)
{
    struct oidc_providers *ps2 = NULL;
    struct idp_claims c;
    const char *why = NULL, *arn, *name = NULL;
    char *t =
        sign(k2, "{\"alg\":\"PS256\",\"kid\":\"k2\"}", payload("\"policy\":\"consoleAdmin\""));
    int rc;

    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL_ROLE", getenv("TESSERA_IDENTITY_OPENID_CONFIG_URL"),
           1);
    setenv("TESSERA_IDENTITY_OPENID_CLIENT_ID_ROLE", "tessera", 1);
    setenv("TESSERA_IDENTITY_OPENID_ROLE_POLICY_ROLE", "readonly,diagnostics", 1);
    unsetenv("TESSERA_IDENTITY_OPENID_CONFIG_URL");
    is_int(providers_from_env(&ps2), TS_OK, "role-mode provider");
    is_int(oidc_providers_count(ps2), 1, "one provider");
    arn = oidc_provider_role_arn(ps2, 0, &name);
    /* base64url(SHA-1("tessera")), as MinIO derives it. */
    is_str(arn, "arn:minio:iam:::role/0T2eBmP18B4kTRe6Uxa6uMbM5P4", "MinIO-style role ARN");
    is_str(name, "role", "provider name from the suffix");
    memset(&c, 0, sizeof c);
    rc = TS_E_STS_IDP_COMMUNICATION;
    for (int i = 0; i < 40 && rc == TS_E_STS_IDP_COMMUNICATION; i++) {
        rc = verify_why(ps2, t, arn, false, &c, &why);
        if (rc == TS_E_STS_IDP_COMMUNICATION)
            usleep(250000);
    }
    is_int(rc, TS_OK, "token with the role ARN accepted");
    is_str(c.role_arn, arn, "role ARN in the claims");
    is_int(c.policies.n, 2, "role policies, not the token's claim");
    if (c.policies.n == 2)
        is_str(c.policies.v[1], "diagnostics", "second role policy");
    idp_claims_cleanup(&c);
    rc = verify_why(ps2, t, "arn:aws:iam::123456789012:role/other", false, &c, &why);
    is_int(rc, TS_E_STS_INVALID_PARAMETER, "unknown RoleArn with only role providers");
    rc = verify_why(ps2, t, NULL, false, &c, &why);
    is_int(rc, TS_E_STS_INVALID_PARAMETER, "no RoleArn with only role providers");
    oidc_providers_free(ps2);
    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL", getenv("TESSERA_IDENTITY_OPENID_CONFIG_URL_ROLE"),
           1);
    unsetenv("TESSERA_IDENTITY_OPENID_CONFIG_URL_ROLE");
    free(t);
}

static void set_userinfo(const char *body)
{
    pthread_mutex_lock(&prov_mu);
    free(prov_userinfo);
    prov_userinfo = strdup(body);
    prov_bearer[0] = '\0';
    pthread_mutex_unlock(&prov_mu);
}

/* CLAIM_USERINFO: an access token's claims are completed from the userinfo endpoint, called
 * with the token as a bearer; the subject must match and registered claims stay the token's. */
static void test_userinfo(void)
{
    struct oidc_providers *ps2 = NULL;
    struct idp_claims c;
    const char *why = NULL;
    char *t = sign(k2, "{\"alg\":\"PS256\",\"kid\":\"k2\"}", payload(NULL));
    char want[8300];
    int rc;

    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL_UI", getenv("TESSERA_IDENTITY_OPENID_CONFIG_URL"),
           1);
    setenv("TESSERA_IDENTITY_OPENID_CLIENT_ID_UI", "tessera", 1);
    setenv("TESSERA_IDENTITY_OPENID_CLAIM_USERINFO_UI", "on", 1);
    unsetenv("TESSERA_IDENTITY_OPENID_CONFIG_URL");
    is_int(providers_from_env(&ps2), TS_OK, "userinfo provider");
    set_userinfo("{\"sub\":\"user-1\",\"policy\":\"readwrite\",\"iss\":\"http://evil\","
                 "\"preferred_username\":\"ui-user\"}");
    memset(&c, 0, sizeof c);
    rc = TS_E_STS_IDP_COMMUNICATION;
    for (int i = 0; i < 40 && rc == TS_E_STS_IDP_COMMUNICATION; i++) {
        rc = verify_why(ps2, t, NULL, true, &c, &why);
        if (rc == TS_E_STS_IDP_COMMUNICATION)
            usleep(250000);
    }
    is_int(rc, TS_OK, "access token completed from userinfo");
    ok(c.policies.n == 1 && strcmp(c.policies.v[0], "readwrite") == 0,
       "policy claim taken from userinfo");
    is_str(c.issuer, issuer, "registered claims stay the token's");
    is_str(c.username, "ui-user", "preferred_username from userinfo");
    snprintf(want, sizeof want, "Bearer %s", t);
    pthread_mutex_lock(&prov_mu);
    ok(strcmp(prov_bearer, want) == 0, "userinfo called with the token as bearer");
    pthread_mutex_unlock(&prov_mu);
    idp_claims_cleanup(&c);

    set_userinfo("{\"sub\":\"someone-else\",\"policy\":\"consoleAdmin\"}");
    memset(&c, 0, sizeof c);
    rc = verify_why(ps2, t, NULL, true, &c, &why);
    is_int(rc, TS_E_STS_INVALID_IDENTITY_TOKEN, "userinfo for another subject refused");
    idp_claims_cleanup(&c);

    /* id_tokens are not completed from userinfo. */
    set_userinfo("{\"sub\":\"user-1\",\"policy\":\"readwrite\"}");
    memset(&c, 0, sizeof c);
    rc = verify_why(ps2, t, NULL, false, &c, &why);
    is_int(rc, TS_OK, "id_token verified");
    is_int(c.policies.n, 0, "no userinfo merge for id_tokens");
    idp_claims_cleanup(&c);

    oidc_providers_free(ps2);
    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL", getenv("TESSERA_IDENTITY_OPENID_CONFIG_URL_UI"),
           1);
    unsetenv("TESSERA_IDENTITY_OPENID_CONFIG_URL_UI");
    unsetenv("TESSERA_IDENTITY_OPENID_CLIENT_ID_UI");
    unsetenv("TESSERA_IDENTITY_OPENID_CLAIM_USERINFO_UI");
    free(t);
}

/* Issue 13 items 16, 15, 13: id_token audience (OIDC Core 3.1.3.7: aud must contain the
 * client id; the azp fallback is for ClientGrants access tokens only), RFC 9068 access tokens
 * (typ at+jwt) refused where an id_token is expected, identity names with characters XML
 * cannot carry refused, and claim names kept case-sensitive. */
static void test_issue13(void)
{
    struct idp_claims c;
    const char *why = NULL;
    long now = (long)time(NULL);
    char pl[2048];
    char *t;

    /* An id_token issued to another service by the same client: aud names it, azp us. */
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":\"https://payments-api.example\","
             "\"azp\":\"tessera\",\"exp\":%ld}",
             issuer, now + 300);
    t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
    is_int(verify(t, &why), TS_E_STS_INVALID_IDENTITY_TOKEN, "id_token: azp alone is not enough");
    memset(&c, 0, sizeof c);
    is_int(verify_why(ps, t, NULL, true, &c, &why), TS_OK, "access token: azp fallback kept");
    idp_claims_cleanup(&c);
    free(t);
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"sub\":\"u\",\"aud\":[\"https://payments-api.example\",\"x\"],"
             "\"azp\":\"tessera\",\"exp\":%ld}",
             issuer, now + 300);
    t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
    is_int(verify(t, &why), TS_E_STS_INVALID_IDENTITY_TOKEN, "id_token: aud array without us");
    free(t);

    /* RFC 9068 access tokens: refused as id_tokens, accepted as ClientGrants tokens. */
    static const char *const at_hdrs[] = {
        "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"AT+JWT\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"application/at+jwt\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"Application/At+Jwt; x=1\"}",
    };
    for (size_t i = 0; i < sizeof at_hdrs / sizeof at_hdrs[0]; i++) {
        t = sign(k1, at_hdrs[i], payload(NULL));
        why = NULL;
        is_int(verify(t, &why), TS_E_STS_INVALID_IDENTITY_TOKEN, at_hdrs[i]);
        ok(why != NULL && strstr(why, "at+jwt") != NULL, "reason names at+jwt (%s)",
           why ? why : "-");
        memset(&c, 0, sizeof c);
        is_int(verify_why(ps, t, NULL, true, &c, &why), TS_OK, "at+jwt as a ClientGrants token");
        idp_claims_cleanup(&c);
        free(t);
    }
    t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", payload(NULL));
    is_int(verify(t, &why), TS_OK, "typ JWT is an id_token");
    free(t);
    t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"xat+jwt\"}", payload(NULL));
    is_int(verify(t, &why), TS_OK, "typ xat+jwt is not at+jwt");
    free(t);

    /* Names XML 1.0 cannot carry (or that would reach a terminal as escapes). */
    static const char *const bad_names[] = {
        "\"sub\":\"a\\u0001b\"",
        "\"sub\":\"a\\u001b[31m\"",
        "\"sub\":\"a\\nb\"",
        "\"sub\":\"a\\u007f\"",
        "\"sub\":\"a\\u0085\"",
        "\"sub\":\"a\\uffff\"",
        "\"sub\":\"a\\ufffe\"",
        "\"sub\":\"u\",\"preferred_username\":\"bob\\u0000x\"",
        "\"sub\":\"u\",\"preferred_username\":\"bob\\tx\"",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        snprintf(pl, sizeof pl, "{\"iss\":\"%s\",%s,\"aud\":\"tessera\",\"exp\":%ld}", issuer,
                 bad_names[i], now + 300);
        t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
        is_int(verify(t, &why), TS_E_STS_INVALID_IDENTITY_TOKEN, bad_names[i]);
        free(t);
    }
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"sub\":\"r\\u00e9my \\ud83d\\ude00\",\"aud\":\"tessera\","
             "\"exp\":%ld}",
             issuer, now + 300);
    t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
    is_int(verify(t, &why), TS_OK, "non-ASCII names are fine");
    free(t);

    /* "Sub" beside "sub": two different claims; the subject is sub's. */
    snprintf(pl, sizeof pl,
             "{\"Sub\":\"repo:acme/app:ref:refs/heads/main\",\"iss\":\"%s\",\"sub\":\"real\","
             "\"aud\":\"tessera\",\"exp\":%ld}",
             issuer, now + 300);
    t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl);
    memset(&c, 0, sizeof c);
    is_int(verify_why(ps, t, NULL, false, &c, &why), TS_OK, "Sub beside sub verifies");
    is_str(c.subject, "real", "the subject is sub");
    is_str(var(&c, "jwt:sub"), "real", "jwt:sub");
    is_str(var(&c, "jwt:Sub"), "repo:acme/app:ref:refs/heads/main", "jwt:Sub is its own claim");
    idp_claims_cleanup(&c);
    free(t);
}

/* oidc_token_payload: the payload of a compact JWS with oidc_verify's decoding rules. */
static void test_token_payload(void)
{
    /* {"sub":"u1","n":[1]} and {"a":1,"a":2} in base64url */
    json_t *j = oidc_token_payload("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSIsIm4iOlsxXX0.c2ln");
    ok(j != NULL && json_is_object(j), "payload decoded");
    is_str(json_string_value(json_object_get(j, "sub")), "u1", "payload sub");
    json_decref(j);
    ok(oidc_token_payload("eyJhIjoxfQ.eyJhIjoxLCJhIjoyfQ.c2ln") == NULL, "duplicate keys refused");
    ok(oidc_token_payload("eyJhIjoxfQ.WzFd.c2ln") == NULL, "a payload that is not an object");
    ok(oidc_token_payload("eyJhIjoxfQ.e30") == NULL, "two segments: no payload");
    ok(oidc_token_payload("a..b") == NULL, "empty payload");
    ok(oidc_token_payload("a.e30+.b") == NULL, "not base64url");
    ok(oidc_token_payload(NULL) == NULL, "NULL token");
}

static void test_json_depth(void)
{
    ok(!oidc_json_too_deep("{\"a\":[1,{\"b\":2}]}", 17, 3), "depth 3 allowed");
    ok(oidc_json_too_deep("[[[[1]]]]", 9, 3), "depth 4 refused");
    ok(!oidc_json_too_deep("{\"a\":\"[[[[[[\"}", 14, 2), "brackets in strings ignored");
    ok(!oidc_json_too_deep("{\"a\":\"\\\"[[[[\"}", 14, 2), "escaped quotes handled");
}

/* ---- providers given by their JWKS URL alone (issue 17) ---- */

static char *payload_iss(const char *iss)
{
    static char buf[1024];
    long now = (long)time(NULL);
    snprintf(buf, sizeof buf,
             "{\"iss\":\"%s\",\"sub\":\"user-1\",\"aud\":\"tessera\",\"exp\":%ld,\"iat\":%ld}", iss,
             now + 300, now);
    return buf;
}

static int verify_with(struct oidc_providers *p, const char *tok, const char **why)
{
    struct idp_claims c;
    memset(&c, 0, sizeof c);
    int rc = verify_why(p, tok, NULL, false, &c, why);
    idp_claims_cleanup(&c);
    return rc;
}

/* verify_with, retried while the first fetches are still running (at most 10 s). */
static int verify_settled(struct oidc_providers *p, const char *tok, const char **why)
{
    int rc = TS_E_STS_IDP_COMMUNICATION;
    for (int i = 0; i < 40 && rc == TS_E_STS_IDP_COMMUNICATION; i++)
        if ((rc = verify_with(p, tok, why)) == TS_E_STS_IDP_COMMUNICATION)
            usleep(250000);
    return rc;
}

/* Settings a JWKS-only provider refuses at start. */
static void test_jwks_only_refused(const char *config_url)
{
    struct oidc_providers *p = NULL;

    setenv("TESSERA_IDENTITY_OPENID_ISSUER", "https://localhost:9443/oauth2/token", 1);
    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL", config_url, 1);
    is_int(providers_from_env(&p), TS_E_INVALID_ARGUMENT, "ISSUER with CONFIG_URL refused");
    unsetenv("TESSERA_IDENTITY_OPENID_ISSUER");
    unsetenv("TESSERA_IDENTITY_OPENID_CONFIG_URL");
    setenv("TESSERA_IDENTITY_OPENID_ISSUER_WS02", "https://localhost:9443/oauth2/token", 1);
    is_int(providers_from_env(&p), TS_E_INVALID_ARGUMENT, "ISSUER of a mistyped suffix refused");
    unsetenv("TESSERA_IDENTITY_OPENID_ISSUER_WS02");
    setenv("TESSERA_IDENTITY_OPENID_CLAIM_USERINFO", "on", 1);
    is_int(providers_from_env(&p), TS_E_INVALID_ARGUMENT, "CLAIM_USERINFO without discovery");
    unsetenv("TESSERA_IDENTITY_OPENID_CLAIM_USERINFO");
    unsetenv("TESSERA_IDENTITY_OPENID_CLIENT_ID");
    is_int(providers_from_env(&p), TS_E_INVALID_ARGUMENT, "CLIENT_ID required with JWKS_URL");
    setenv("TESSERA_IDENTITY_OPENID_CLIENT_ID", "tessera", 1);
    ok(p == NULL, "nothing returned on error");
}

/* With both URLs keys come from JWKS_URL, the issuer from discovery; a discovered provider and
 * one that does not check iss: a token naming the discovered issuer gets its keys only. */
static void test_jwks_url_with_discovery(const char *config_url, const char *evil_url,
                                         const char *t_disc, const char *t_evil_disc,
                                         const char *t_evil_other)
{
    struct oidc_providers *p = NULL;
    const char *why = NULL;

    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL", config_url, 1);
    setenv("TESSERA_IDENTITY_OPENID_JWKS_URL", evil_url, 1);
    is_int(providers_from_env(&p), TS_OK, "CONFIG_URL and JWKS_URL");
    is_int(verify_settled(p, t_evil_disc, &why), TS_OK, "keys from JWKS_URL");
    is_int(verify_with(p, t_disc, &why), TS_E_STS_INVALID_IDENTITY_TOKEN,
           "the discovered jwks_uri is not used");
    is_int(verify_with(p, t_evil_other, &why), TS_E_STS_INVALID_IDENTITY_TOKEN,
           "the discovered issuer is still checked");
    oidc_providers_free(p);

    unsetenv("TESSERA_IDENTITY_OPENID_JWKS_URL");
    setenv("TESSERA_IDENTITY_OPENID_JWKS_URL_W", evil_url, 1);
    setenv("TESSERA_IDENTITY_OPENID_CLIENT_ID_W", "tessera", 1);
    is_int(providers_from_env(&p), TS_OK, "a discovered and a JWKS-only provider");
    is_int(oidc_providers_count(p), 2, "two providers");
    is_int(verify_settled(p, t_evil_other, &why), TS_OK, "JWKS-only provider: any other iss");
    is_int(verify_settled(p, t_disc, &why), TS_OK, "the discovered provider's token");
    is_int(verify_with(p, t_evil_disc, &why), TS_E_STS_INVALID_IDENTITY_TOKEN,
           "a token naming the discovered issuer is not verified with the other key set");
    oidc_providers_free(p);
    unsetenv("TESSERA_IDENTITY_OPENID_JWKS_URL_W");
    unsetenv("TESSERA_IDENTITY_OPENID_CLIENT_ID_W");
}

static void test_jwks_only(void)
{
    char url[256], evil_url[256], config_url[256];
    struct oidc_providers *p = NULL;
    struct oidc_login_info info;
    const char *why = NULL;
    const char *wso2 = "https://localhost:9443/oauth2/token";
    const char *h1 = "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
               *hev = "{\"alg\":\"RS256\",\"kid\":\"ev\"}";
    char *t_any = sign(k1, h1, payload_iss("https://anything.example"));
    char *t_wso2 = sign(k1, h1, payload_iss(wso2));
    char *t_disc = sign(k1, h1, payload_iss(issuer));
    char *t_evil_disc = sign(evil, hev, payload_iss(issuer));
    char *t_evil_other = sign(evil, hev, payload_iss("https://other.example"));

    snprintf(config_url, sizeof config_url, "%s", getenv("TESSERA_IDENTITY_OPENID_CONFIG_URL"));
    snprintf(url, sizeof url, "%s/protocol/openid-connect/certs", issuer);
    snprintf(evil_url, sizeof evil_url, "%s/evil-certs", issuer);
    set_jwks(pub_jwk(k1, "k1", "RS256"), NULL);
    unsetenv("TESSERA_IDENTITY_OPENID_CONFIG_URL");
    setenv("TESSERA_IDENTITY_OPENID_JWKS_URL", url, 1);

    is_int(providers_from_env(&p), TS_OK, "JWKS-only provider");
    is_int(oidc_providers_count(p), 1, "one provider");
    ok(!oidc_provider_has_discovery(p, 0), "no discovery");
    is_int(verify_settled(p, t_any, &why), TS_OK, "without ISSUER iss is not checked");
    is_int(verify_with(p, t_evil_other, &why), TS_E_STS_INVALID_IDENTITY_TOKEN,
           "a key outside the key set is refused");
    is_int(oidc_login_info(p, 0, &info, &why), TS_E_INVALID_ARGUMENT, "no browser login");
    ok(why != NULL && strstr(why, "JWKS URL only") != NULL, "the login says why: %s", why);
    oidc_providers_free(p);

    setenv("TESSERA_IDENTITY_OPENID_ISSUER", wso2, 1);
    is_int(providers_from_env(&p), TS_OK, "JWKS-only provider with ISSUER");
    is_int(verify_settled(p, t_wso2, &why), TS_OK, "iss equal to ISSUER");
    is_int(verify_with(p, t_any, &why), TS_E_STS_INVALID_IDENTITY_TOKEN, "another iss refused");
    is_str(why, "the token's issuer is not a configured OpenID provider", "reason");
    oidc_providers_free(p);
    unsetenv("TESSERA_IDENTITY_OPENID_ISSUER");

    test_jwks_only_refused(config_url);
    test_jwks_url_with_discovery(config_url, evil_url, t_disc, t_evil_disc, t_evil_other);
    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL", config_url, 1);
    free(t_any);
    free(t_wso2);
    free(t_disc);
    free(t_evil_disc);
    free(t_evil_other);
}

int main(void)
{
    cjose_err err;
    static const uint8_t e[] = {1, 0, 1};

    log_set_level(LOG_ERROR);
    k1 = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    k2 = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    evil = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    e1 = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    ok(k1 && k2 && evil && e1, "test keys");

    set_jwks(pub_jwk(k1, "k1", "RS256"), pub_jwk(e1, "e1", NULL));
    {
        json_t *ev = json_pack("{s:[o]}", "keys", pub_jwk(evil, "ev", "RS256"));
        prov_evil_jwks = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
    }
    prov_start();
    snprintf(issuer, sizeof issuer, "http://127.0.0.1:%u/realms/demo", prov_port);
    char url[256];
    snprintf(url, sizeof url, "%s/.well-known/openid-configuration", issuer);
    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL", url, 1);
    setenv("TESSERA_IDENTITY_OPENID_CLIENT_ID", "tessera", 1);
    setenv("TESSERA_IDENTITY_OPENID_GROUPS_CLAIM", "groups", 1);
    setenv("TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL", "2", 1);
    setenv("TESSERA_IDENTITY_OPENID_TIMEOUT", "2", 1);
    setenv("TESSERA_IDENTITY_OPENID_CONNECT_TIMEOUT", "1", 1);

    test_json_depth();
    test_token_payload();
    is_int(providers_from_env(&ps), TS_OK, "providers from the environment");
    is_int(oidc_providers_count(ps), 1, "one provider");
    /* Wait for the background discovery. */
    {
        char *t = sign(k1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", payload(NULL));
        const char *why;
        int rc = -1;
        for (int i = 0; i < 40 && rc != TS_OK; i++) {
            rc = verify(t, &why);
            if (rc != TS_OK)
                usleep(100000);
        }
        is_int(rc, TS_OK, "discovered");
        free(t);
    }
    test_accept();
    test_negative();
    test_issue13();
    sleep(3);
    test_rate_limit();
    sleep(3);
    test_rotation();
    test_provider_down();
    test_down_at_start();
    test_role_mode();
    test_userinfo();
    test_jwks_only();

    {
        /* Missing client id is a configuration error naming the variable. */
        struct oidc_providers *bad = NULL;
        unsetenv("TESSERA_IDENTITY_OPENID_CLIENT_ID");
        is_int(providers_from_env(&bad), TS_E_INVALID_ARGUMENT, "CLIENT_ID required");
        ok(bad == NULL, "nothing returned on error");
    }
    oidc_providers_free(ps);
    prov_stop();
    cjose_jwk_release(k1);
    cjose_jwk_release(k2);
    cjose_jwk_release(evil);
    cjose_jwk_release(e1);
    free(prov_jwks);
    free(prov_evil_jwks);
    is_int(bad_err_objects, 0, "every oidc_verify error object held its code and a reason");
    return t_done();
}
