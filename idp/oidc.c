/* oidc.c -- OpenID Connect providers (idp/oidc.h): configuration, discovery, the key cache
 * with its refresh rules, and the verification of id_tokens and access tokens.
 *
 * Shape of a verification: cheap syntactic checks on the compact token (size, three
 * base64url segments, JSON nesting) → header checks (alg allow-list, no crit, no embedded
 * keys) → the provider chosen by RoleArn or by the (unverified) iss → the signature with a
 * key of that provider's JWKS (refetched on an unknown kid, rate-limited) → the claims
 * (iss, aud/azp, exp, nbf, iat, sub) → struct idp_claims. Only after the signature verified
 * is anything from the payload trusted.
 *
 * Threads: a provider's immutable config is read freely. `mu` guards the discovered
 * endpoints (set once), the key set pointer and the fetch state. Exactly one fetch per
 * provider runs at a time, with `mu` released; others wait on `cv` at most the HTTP timeout
 * and then use whatever keys are cached.
 */
#include "idp/oidc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjose/cjose.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/curlx.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

struct oidc_provider {
    /* Immutable after oidc_providers_new. */
    char *name; /* "" for the default provider, else the suffix in lower case */
    char *config_url, *client_id, *client_secret, *claim_name, *claim_prefix, *scopes,
        *redirect_uri, *role_policy, *role_arn, *groups_claim, *display_name;
    char *jwks_url;     /* JWKS_URL: keys come from here (else the discovered jwks_uri) */
    bool jwks_only;     /* no CONFIG_URL: no discovery; issuer is ISSUER (or NULL) */
    bool iss_unchecked; /* jwks_only without ISSUER: any iss (logged at start) */
    bool claim_userinfo;
    struct oidc_providers *set;

    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *issuer, *jwks_uri, *userinfo_uri; /* set once by the first discovery (issuer: at
                                             * construction for a JWKS-only provider) */
    char *auth_uri, *token_uri;             /* likewise (NULL when the document has none) */
    struct oidc_keyset *keys;
    bool busy;           /* a fetch is running (mu not held) */
    time_t last_attempt; /* monotonic seconds of the last fetch start */
    time_t last_ok;      /* monotonic seconds of the last successful JWKS fetch */
    bool last_failed;    /* the last fetch failed (the provider is unreachable) */
    long disc_status;    /* HTTP status of the last failed discovery's error answer, or 0 */
};

#define WELL_KNOWN "/.well-known/openid-configuration"

/* Whether a discovery URL ends in /.well-known/openid-configuration (a query aside). */
static bool url_is_well_known(const char *url)
{
    size_t n = strcspn(url, "?#"), w = sizeof WELL_KNOWN - 1;
    return n >= w && strncmp(url + n - w, WELL_KNOWN, w) == 0;
}

struct oidc_providers {
    struct oidc_provider **v;
    size_t n;
    struct oidc_http http;
    long refresh_interval; /* periodic JWKS refetch, seconds */
    long refetch_interval; /* minimum seconds between on-demand fetches */
    bool expiry_from_token;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* guards stop */
    pthread_cond_t cv;
    bool stop;
};

static time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- configuration ---- */

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void provider_free(struct oidc_provider *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free(p->config_url);
    free(p->jwks_url);
    free(p->client_id);
    if (p->client_secret != NULL) {
        memset(p->client_secret, 0, strlen(p->client_secret));
        free(p->client_secret);
    }
    free(p->claim_name);
    free(p->claim_prefix);
    free(p->scopes);
    free(p->redirect_uri);
    free(p->role_policy);
    free(p->role_arn);
    free(p->groups_claim);
    free(p->display_name);
    free(p->issuer);
    free(p->jwks_uri);
    free(p->userinfo_uri);
    free(p->auth_uri);
    free(p->token_uri);
    oidc_keyset_release(p->keys);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* tessera_oidc_jwks_fetches_total{provider,result} += n. */
static void count_fetch(const struct oidc_provider *p, const char *result, uint64_t n)
{
    char labels[160]; /* provider names come from the configuration, not from clients */
    snprintf(labels, sizeof labels, "provider=\"%.64s\",result=\"%s\"", p->name, result);
    metrics_inc("tessera_oidc_jwks_fetches_total",
                "OpenID discovery/JWKS fetches, by provider and result.", labels, n);
}

/* MinIO's role ARN for a provider: arn:minio:iam:::role/ + base64url(SHA-1(client id)). */
static char *make_role_arn(const char *client_id)
{
    uint8_t md[SHA_DIGEST_LENGTH];
    char *b64 = NULL, *arn;
    size_t blen;
    cjose_err err;

    SHA1((const uint8_t *)client_id, strlen(client_id), md);
    if (!cjose_base64url_encode(md, sizeof md, &b64, &blen, &err))
        return NULL;
    arn = malloc(blen + 32);
    if (arn != NULL)
        snprintf(arn, blen + 32, "arn:minio:iam:::role/%s", b64);
    cjose_get_dealloc()(b64);
    return arn;
}

/* The settings a provider cannot have together, with a message naming the variables on
 * stderr (VAR_<label> for a named provider). TS_OK or TS_E_INVALID_ARGUMENT. */
static int provider_check(const struct oidc_provider *p, const char *label)
{
    const char *u = *label ? "_" : "";

    if (p->client_id == NULL)
        fprintf(stderr,
                "tessera: TESSERA_IDENTITY_OPENID_CLIENT_ID%s%s: required with "
                "TESSERA_IDENTITY_OPENID_CONFIG_URL%s%s or TESSERA_IDENTITY_OPENID_JWKS_URL%s%s\n",
                u, label, u, label, u, label);
    else if (!p->jwks_only && cfg_str_sfx(CFG_OPENID_ISSUER, label) != NULL)
        fprintf(stderr,
                "tessera: TESSERA_IDENTITY_OPENID_ISSUER%s%s: only for a provider given by "
                "TESSERA_IDENTITY_OPENID_JWKS_URL%s%s alone; with "
                "TESSERA_IDENTITY_OPENID_CONFIG_URL%s%s the discovery document's issuer is "
                "checked\n",
                u, label, u, label, u, label);
    else if (p->jwks_only && p->claim_userinfo)
        fprintf(stderr,
                "tessera: TESSERA_IDENTITY_OPENID_CLAIM_USERINFO%s%s: needs the discovery "
                "document's userinfo endpoint, and the provider given by "
                "TESSERA_IDENTITY_OPENID_JWKS_URL%s%s has none (set "
                "TESSERA_IDENTITY_OPENID_CONFIG_URL%s%s, or turn CLAIM_USERINFO off)\n",
                u, label, u, label, u, label);
    else
        return TS_OK;
    return TS_E_INVALID_ARGUMENT;
}

/* The provider of suffix (the TESSERA_IDENTITY_OPENID_*[_<suffix>] variables): discovered from
 * its CONFIG_URL, or given by its JWKS_URL alone. */
static int provider_new(struct oidc_providers *set, const char *suffix, struct oidc_provider **out)
{
    const char *label = suffix && *suffix ? suffix : "";
    const char *iss = cfg_str_sfx(CFG_OPENID_ISSUER, suffix);
    struct oidc_provider *p = calloc(1, sizeof *p);
    if (p == NULL)
        return TS_E_INTERNAL;
    pthread_mutex_init(&p->mu, NULL);
    cond_init_mono(&p->cv);
    p->set = set;
    p->name = strdup(label);
    for (char *c = p->name; c != NULL && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    p->config_url = dup_or_null(cfg_str_sfx(CFG_OPENID_CONFIG_URL, suffix));
    p->jwks_url = dup_or_null(cfg_str_sfx(CFG_OPENID_JWKS_URL, suffix));
    p->jwks_only = cfg_str_sfx(CFG_OPENID_CONFIG_URL, suffix) == NULL;
    p->iss_unchecked = p->jwks_only && iss == NULL;
    if (p->jwks_only && iss != NULL)
        p->issuer = strdup(iss); /* the configured issuer: set here, never changed */
    p->client_id = dup_or_null(cfg_str_sfx(CFG_OPENID_CLIENT_ID, suffix));
    p->client_secret = dup_or_null(cfg_str_sfx(CFG_OPENID_CLIENT_SECRET, suffix));
    p->claim_name = dup_or_null(cfg_str_sfx(CFG_OPENID_CLAIM_NAME, suffix));
    p->claim_prefix = dup_or_null(cfg_str_sfx(CFG_OPENID_CLAIM_PREFIX, suffix));
    p->scopes = dup_or_null(cfg_str_sfx(CFG_OPENID_SCOPES, suffix));
    p->redirect_uri = dup_or_null(cfg_str_sfx(CFG_OPENID_REDIRECT_URI, suffix));
    p->role_policy = dup_or_null(cfg_str_sfx(CFG_OPENID_ROLE_POLICY, suffix));
    p->groups_claim = dup_or_null(cfg_str_sfx(CFG_OPENID_GROUPS_CLAIM, suffix));
    p->display_name = dup_or_null(cfg_str_sfx(CFG_OPENID_DISPLAY_NAME, suffix));
    p->claim_userinfo = cfg_on_sfx(CFG_OPENID_CLAIM_USERINFO, suffix);
    if (p->name == NULL || (p->config_url == NULL && p->jwks_url == NULL) ||
        p->claim_name == NULL || p->claim_prefix == NULL || (p->jwks_only && iss && !p->issuer))
        goto oom;
    if (provider_check(p, label) != TS_OK) {
        provider_free(p);
        return TS_E_INVALID_ARGUMENT;
    }
    if (p->role_policy != NULL && (p->role_arn = make_role_arn(p->client_id)) == NULL)
        goto oom;
    *out = p;
    return TS_OK;
oom:
    provider_free(p);
    return TS_E_INTERNAL;
}

static void strv_free_null(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

static char **list_ca_dir(const char *certs_dir)
{
    char path[4096];
    char **v = NULL;
    size_t n = 0;
    DIR *d;
    struct dirent *de;

    if (certs_dir == NULL)
        return NULL;
    snprintf(path, sizeof path, "%s/CAs", certs_dir);
    d = opendir(path);
    if (d == NULL)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **nv = realloc(v, (n + 2) * sizeof *nv);
        if (nv == NULL)
            break;
        v = nv;
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        if ((v[n] = malloc(len)) == NULL)
            break;
        snprintf(v[n], len, "%s/%s", path, de->d_name);
        v[++n] = NULL;
    }
    closedir(d);
    return v;
}

static int provider_fetch(struct oidc_provider *p, bool urgent, bool wait);
static void *refresher_main(void *arg);

/* The start-up log of provider p: its settings, and warnings for plain http and an unchecked
 * issuer. */
static void provider_log(const struct oidc_provider *p)
{
    const char *url = p->config_url != NULL ? p->config_url : p->jwks_url;
    if (strncmp(url, "http://", 7) == 0 || (p->jwks_url && strncmp(p->jwks_url, "http://", 7) == 0))
        log_kv(LOG_WARN, "oidc.insecure", "provider", p->name, "config_url", p->config_url,
               "jwks_url", p->jwks_url, "msg",
               "the OpenID provider is reached over plain http: use https in production", NULL);
    if (p->iss_unchecked)
        log_kv(LOG_WARN, "oidc.issuer_unchecked", "provider", p->name, "jwks_url", p->jwks_url,
               "msg",
               "the provider is given by its JWKS URL without TESSERA_IDENTITY_OPENID_ISSUER: the "
               "tokens' iss is not checked (any token this key set verifies is accepted, whatever "
               "its issuer); set TESSERA_IDENTITY_OPENID_ISSUER to the provider's issuer",
               NULL);
    log_kv(LOG_INFO, "oidc.provider", "provider", p->name, "config_url", p->config_url, "jwks_url",
           p->jwks_url, "issuer", p->jwks_only ? p->issuer : NULL, "client_id", p->client_id,
           "claim_name", p->claim_name, "role_arn", p->role_arn, "groups_claim", p->groups_claim,
           NULL);
}

/* Adds the provider of suffix when it is enabled. */
static int provider_add(struct oidc_providers *ps, const char *suffix)
{
    struct oidc_provider *p = NULL, **nv;
    int rc;

    if (!cfg_on_sfx(CFG_OPENID_ENABLE, suffix))
        return TS_OK;
    if ((rc = provider_new(ps, suffix, &p)) != TS_OK)
        return rc;
    nv = realloc(ps->v, (ps->n + 1) * sizeof *nv);
    if (nv == NULL) {
        provider_free(p);
        return TS_E_INTERNAL;
    }
    ps->v = nv;
    ps->v[ps->n++] = p;
    count_fetch(p, "ok", 0); /* both results exist from the start */
    count_fetch(p, "error", 0);
    provider_log(p);
    return TS_OK;
}

/* One provider per IDENTITY_OPENID_CONFIG_URL[_<NAME>] that is enabled, then one per
 * IDENTITY_OPENID_JWKS_URL[_<NAME>] without a CONFIG_URL of the same name. */
static int providers_add(struct oidc_providers *ps)
{
    const char *const *suffixes;
    size_t nsuf = cfg_suffixes(CFG_OPENID_CONFIG_URL, &suffixes);
    int rc;
    for (size_t i = 0; i < nsuf; i++)
        if ((rc = provider_add(ps, suffixes[i])) != TS_OK)
            return rc;
    nsuf = cfg_suffixes(CFG_OPENID_JWKS_URL, &suffixes);
    for (size_t i = 0; i < nsuf; i++)
        if (cfg_str_sfx(CFG_OPENID_CONFIG_URL, suffixes[i]) == NULL &&
            (rc = provider_add(ps, suffixes[i])) != TS_OK)
            return rc;
    /* An ISSUER naming no provider (a mistyped suffix) would leave the intended provider's iss
     * unchecked: refused. */
    nsuf = cfg_suffixes(CFG_OPENID_ISSUER, &suffixes);
    for (size_t i = 0; i < nsuf; i++)
        if (cfg_str_sfx(CFG_OPENID_JWKS_URL, suffixes[i]) == NULL) {
            const char *u = *suffixes[i] ? "_" : "";
            fprintf(stderr,
                    "tessera: TESSERA_IDENTITY_OPENID_ISSUER%s%s: no "
                    "TESSERA_IDENTITY_OPENID_JWKS_URL%s%s is set for it\n",
                    u, suffixes[i], u, suffixes[i]);
            return TS_E_INVALID_ARGUMENT;
        }
    /* Role-policy providers need distinct client ids: the role ARN is derived from it. */
    for (size_t i = 0; i < ps->n; i++)
        for (size_t j = i + 1; j < ps->n; j++)
            if (ps->v[i]->role_arn && ps->v[j]->role_arn &&
                strcmp(ps->v[i]->role_arn, ps->v[j]->role_arn) == 0) {
                fprintf(stderr,
                        "tessera: OpenID providers '%s' and '%s' have the same client "
                        "id and a ROLE_POLICY: their role ARNs would clash\n",
                        ps->v[i]->name, ps->v[j]->name);
                return TS_E_INVALID_ARGUMENT;
            }
    return TS_OK;
}

int oidc_providers_new(const char *certs_dir, struct oidc_providers **out)
{
    struct oidc_providers *ps = calloc(1, sizeof *ps);
    int rc = TS_E_INTERNAL;

    if (ps == NULL)
        return TS_E_INTERNAL;
    curlx_global_init();
    pthread_mutex_init(&ps->mu, NULL);
    cond_init_mono(&ps->cv);
    /* Types and ranges are checked by the configuration table (core/cfg.def). */
    ps->http.connect_timeout_ms = cfg_num(CFG_OPENID_CONNECT_TIMEOUT) * 1000;
    ps->http.timeout_ms = cfg_num(CFG_OPENID_TIMEOUT) * 1000;
    ps->refresh_interval = cfg_num(CFG_OPENID_JWKS_REFRESH);
    ps->refetch_interval = cfg_num(CFG_OPENID_REFETCH_INTERVAL);
    ps->expiry_from_token = cfg_on(CFG_OPENID_EXPIRY_FROM_TOKEN);
    if (cfg_str(CFG_CA_FILE) != NULL && (ps->http.ca_file = strdup(cfg_str(CFG_CA_FILE))) == NULL)
        goto fail;
    ps->http.ca_extra = list_ca_dir(certs_dir);
    if ((rc = providers_add(ps)) != TS_OK)
        goto fail;
    if (ps->n > 0) {
        if (pthread_create(&ps->thread, NULL, refresher_main, ps) != 0) {
            rc = TS_E_INTERNAL;
            goto fail;
        }
        ps->thread_started = true;
    }
    *out = ps;
    return TS_OK;
fail:
    oidc_providers_free(ps);
    return rc;
}

struct oidc_providers *oidc_providers_from_env(void)
{
    struct oidc_providers *ps = NULL;
    return oidc_providers_new(NULL, &ps) == TS_OK ? ps : NULL;
}

void oidc_providers_free(struct oidc_providers *ps)
{
    if (ps == NULL)
        return;
    if (ps->thread_started) {
        pthread_mutex_lock(&ps->mu);
        ps->stop = true;
        pthread_cond_broadcast(&ps->cv);
        pthread_mutex_unlock(&ps->mu);
        pthread_join(ps->thread, NULL);
    }
    for (size_t i = 0; i < ps->n; i++)
        provider_free(ps->v[i]);
    free(ps->v);
    free(ps->http.ca_file);
    strv_free_null(ps->http.ca_extra);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    free(ps);
}

size_t oidc_providers_count(const struct oidc_providers *ps)
{
    return ps != NULL ? ps->n : 0;
}

bool oidc_providers_expiry_from_token(const struct oidc_providers *ps)
{
    return ps != NULL && ps->expiry_from_token;
}

const char *oidc_provider_role_arn(const struct oidc_providers *ps, size_t i, const char **name)
{
    if (ps == NULL || i >= ps->n)
        return NULL;
    if (name != NULL)
        *name = ps->v[i]->name;
    return ps->v[i]->role_arn;
}

const char *oidc_provider_display_name(const struct oidc_providers *ps, size_t i)
{
    return ps != NULL && i < ps->n ? ps->v[i]->display_name : NULL;
}

bool oidc_provider_has_discovery(const struct oidc_providers *ps, size_t i)
{
    return ps != NULL && i < ps->n && !ps->v[i]->jwks_only;
}

/* ---- discovery and JWKS fetches ---- */

/* The endpoints a discovery document names (each NULL when absent). */
struct oidc_endpoints {
    char *issuer, *jwks_uri, *userinfo, *auth, *token;
};

static void endpoints_free(struct oidc_endpoints *e)
{
    free(e->issuer);
    free(e->jwks_uri);
    free(e->userinfo);
    free(e->auth);
    free(e->token);
}

/* Reads the endpoints of the discovery document body[0..len) into e. */
static int discovery_read(const char *body, size_t len, struct oidc_endpoints *e, const char **why)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    const char *i = json_string_value(json_object_get(doc, "issuer"));
    const char *j = json_string_value(json_object_get(doc, "jwks_uri"));
    const char *u = json_string_value(json_object_get(doc, "userinfo_endpoint"));
    if (i == NULL || *i == '\0' || j == NULL ||
        (strncmp(j, "https://", 8) != 0 && strncmp(j, "http://", 7) != 0)) {
        json_decref(doc);
        *why = "the discovery document has no issuer or jwks_uri";
        return TS_E_STS_IDP_COMMUNICATION;
    }
    e->issuer = strdup(i);
    e->jwks_uri = strdup(j);
    e->userinfo = u != NULL ? strdup(u) : NULL;
    const char *a = json_string_value(json_object_get(doc, "authorization_endpoint"));
    const char *t = json_string_value(json_object_get(doc, "token_endpoint"));
    e->auth = a != NULL ? strdup(a) : NULL;
    e->token = t != NULL ? strdup(t) : NULL;
    json_decref(doc);
    if (e->issuer == NULL || e->jwks_uri == NULL || (u != NULL && e->userinfo == NULL))
        return TS_E_INTERNAL;
    return TS_OK;
}

/* Fetches the provider's discovery document and reads its endpoints into e; *status: the HTTP
 * status of an error answer, else 0. */
static int discover(struct oidc_provider *p, struct oidc_endpoints *e, const char **why,
                    long *status)
{
    char *body = NULL;
    size_t len = 0;
    int rc = oidc_http_do(&p->set->http, p->config_url, NULL, NULL, NULL, NULL, &body, &len, why,
                          status);
    if (rc == TS_OK && oidc_json_too_deep(body, len, OIDC_MAX_JSON_DEPTH)) {
        *why = "the discovery document is nested too deeply";
        rc = TS_E_STS_IDP_COMMUNICATION;
    }
    if (rc == TS_OK)
        rc = discovery_read(body, len, e, why);
    free(body);
    return rc;
}

/* Fetches the discovery document (when not yet discovered; never for a provider given by
 * its JWKS URL alone) and the JWKS (from JWKS_URL when set, else the discovered jwks_uri),
 * without holding p->mu. On success the results are stored under p->mu. */
static int do_fetch(struct oidc_provider *p, const char **why, long *disc_status)
{
    struct oidc_endpoints e = {0};
    struct oidc_keyset *ks = NULL, *old = NULL;
    char *body = NULL;
    size_t len = 0;
    bool discovered;
    int rc;

    pthread_mutex_lock(&p->mu);
    discovered = p->jwks_only || p->issuer != NULL;
    if (discovered && p->jwks_url == NULL && (e.jwks_uri = strdup(p->jwks_uri)) == NULL) {
        pthread_mutex_unlock(&p->mu);
        return TS_E_INTERNAL;
    }
    pthread_mutex_unlock(&p->mu);

    *disc_status = 0;
    rc = discovered ? TS_OK : discover(p, &e, why, disc_status);
    if (rc != TS_OK)
        goto fail;
    rc = oidc_http_get(&p->set->http, p->jwks_url != NULL ? p->jwks_url : e.jwks_uri, NULL, &body,
                       &len, why);
    if (rc != TS_OK)
        goto fail;
    ks = oidc_keyset_parse(body, len, why);
    if (ks == NULL) {
        rc = TS_E_STS_IDP_COMMUNICATION;
        goto fail;
    }
    pthread_mutex_lock(&p->mu);
    if (p->issuer == NULL && e.issuer != NULL) {
        p->issuer = e.issuer;
        p->jwks_uri = e.jwks_uri;
        p->userinfo_uri = e.userinfo;
        p->auth_uri = e.auth;
        p->token_uri = e.token;
        memset(&e, 0, sizeof e);
    }
    old = p->keys;
    p->keys = ks;
    p->last_ok = mono_now();
    pthread_mutex_unlock(&p->mu);
    oidc_keyset_release(old);
    {
        char nkeys[32];
        snprintf(nkeys, sizeof nkeys, "%zu", oidc_keyset_count(ks));
        log_kv(LOG_INFO, "oidc.jwks", "provider", p->name, "keys", nkeys, NULL);
    }
    rc = TS_OK;
fail:
    free(body);
    endpoints_free(&e);
    return rc;
}

/* Runs a fetch unless one is running or (urgent) the last one started less than
 * refetch_interval ago. With wait, a caller that finds a fetch running waits for it, at
 * most the HTTP timeout. Returns TS_OK when a fetch ran (or was waited for) successfully,
 * TS_E_SLOW_DOWN when rate-limited after a successful fetch, TS_E_STS_IDP_COMMUNICATION when
 * the fetch (or, rate-limited, the last one) failed, or TS_E_INTERNAL. */
static int provider_fetch(struct oidc_provider *p, bool urgent, bool wait)
{
    const char *why = NULL;
    long disc_status = 0;
    time_t now;
    int rc;

    pthread_mutex_lock(&p->mu);
    if (p->busy) {
        if (wait) {
            struct timespec dl;
            deadline_in(&dl, p->set->http.timeout_ms + p->set->http.connect_timeout_ms + 500);
            while (p->busy)
                if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT)
                    break;
        }
        rc = p->busy || p->last_failed ? TS_E_STS_IDP_COMMUNICATION : TS_OK;
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    now = mono_now();
    if (urgent && p->last_attempt != 0 && now - p->last_attempt < p->set->refetch_interval) {
        /* Rate-limited: report what the last attempt found. */
        rc = p->last_failed ? TS_E_STS_IDP_COMMUNICATION : TS_E_SLOW_DOWN;
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    p->busy = true;
    p->last_attempt = now;
    pthread_mutex_unlock(&p->mu);

    rc = do_fetch(p, &why, &disc_status);
    if (rc != TS_OK && disc_status != 0) {
        char st[24];
        snprintf(st, sizeof st, "%ld", disc_status);
        log_kv(LOG_WARN, "oidc.fetch", "provider", p->name, "config_url", p->config_url, "msg",
               "the discovery URL answered with an HTTP error status", "status", st, "hint",
               url_is_well_known(p->config_url)
                   ? "check that the URL names the provider's (realm's) discovery document"
                   : "the config URL must end in " WELL_KNOWN,
               NULL);
    } else if (rc != TS_OK) {
        log_kv(LOG_WARN, "oidc.fetch", "provider", p->name, "config_url", p->config_url, "jwks_url",
               p->jwks_url, "msg", why ? why : "fetch failed", NULL);
    }
    count_fetch(p, rc == TS_OK ? "ok" : "error", 1);

    pthread_mutex_lock(&p->mu);
    p->busy = false;
    p->last_failed = rc != TS_OK;
    p->disc_status = rc != TS_OK ? disc_status : 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void *refresher_main(void *arg)
{
    struct oidc_providers *ps = arg;
    for (;;) {
        long next = ps->refresh_interval;
        for (size_t i = 0; i < ps->n; i++) {
            struct oidc_provider *p = ps->v[i];
            bool due;
            pthread_mutex_lock(&p->mu);
            bool have = p->keys != NULL;
            due = !have || mono_now() - p->last_ok >= ps->refresh_interval;
            pthread_mutex_unlock(&p->mu);
            if (due && provider_fetch(p, false, false) != TS_OK)
                have = false;
            else if (due)
                have = true;
            if (!have && next > 5)
                next = 5; /* retry discovery soon while the provider is down */
        }
        struct timespec dl;
        deadline_in(&dl, next * 1000);
        pthread_mutex_lock(&ps->mu);
        while (!ps->stop)
            if (pthread_cond_timedwait(&ps->cv, &ps->mu, &dl) == ETIMEDOUT)
                break;
        bool stop = ps->stop;
        pthread_mutex_unlock(&ps->mu);
        if (stop)
            break;
    }
    return NULL;
}

/* ---- token parsing ---- */

static json_t *decode_segment(const char *s, size_t n)
{
    uint8_t *raw = NULL;
    size_t rlen = 0;
    cjose_err err;
    json_error_t jerr;
    json_t *j;

    if (n == 0 || !cjose_base64url_decode(s, n, &raw, &rlen, &err))
        return NULL;
    if (oidc_json_too_deep((const char *)raw, rlen, OIDC_MAX_JSON_DEPTH)) {
        cjose_get_dealloc()(raw);
        return NULL;
    }
    j = json_loadb((const char *)raw, rlen, JSON_REJECT_DUPLICATES, &jerr);
    cjose_get_dealloc()(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *oidc_token_payload(const char *token)
{
    const char *d1 = token != NULL ? strchr(token, '.') : NULL;
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    return d2 != NULL ? decode_segment(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
}

static bool alg_allowed(const char *alg)
{
    static const char *const ok[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                     "PS512", "ES256", "ES384", "ES512"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(alg, ok[i]) == 0)
            return true;
    return false;
}

/* A NumericDate claim: absent → 0 with *present false; a number → its value; anything else
 * → -1. */
static int numeric_date(json_t *payload, const char *name, bool *present, double *out)
{
    json_t *v = json_object_get(payload, name);
    *present = v != NULL;
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return *out >= 0 && *out < 1e11 ? 0 : -1;
}

static int strv_push(struct iam_strv *sv, const char *s, size_t n)
{
    char **nv;
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return TS_OK;
    nv = realloc(sv->v, (sv->n + 1) * sizeof *nv);
    if (nv == NULL)
        return TS_E_INTERNAL;
    sv->v = nv;
    if ((sv->v[sv->n] = strndup(s, n)) == NULL)
        return TS_E_INTERNAL;
    sv->n++;
    return TS_OK;
}

/* Appends a claim's values: a string (split on ',' when split), or an array of strings
 * (each split likewise). Other types are ignored. */
static int add_claim_values(struct iam_strv *sv, json_t *v, bool split)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!split)
            return strv_push(sv, s, strlen(s));
        while (*s) {
            const char *c = strchr(s, ',');
            size_t n = c ? (size_t)(c - s) : strlen(s);
            if (strv_push(sv, s, n) != TS_OK)
                return TS_E_INTERNAL;
            s += n;
            if (*s == ',')
                s++;
        }
        return TS_OK;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_string(e) && add_claim_values(sv, e, split) != TS_OK)
                return TS_E_INTERNAL;
        }
    }
    return TS_OK;
}

/* Adds "jwt:<claim>" variables for every scalar claim (and every string of an array). */
static int add_vars(struct idp_claims *c, json_t *payload)
{
    const char *k;
    json_t *v;
    char key[300], num[64];

    json_object_foreach(payload, k, v)
    {
        if (strlen(k) > 256)
            continue;
        snprintf(key, sizeof key, "jwt:%s", k);
        if (json_is_string(v)) {
            if (idp_claims_add_var(c, key, json_string_value(v)) != TS_OK)
                return TS_E_INTERNAL;
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            if (idp_claims_add_var(c, key, num) != TS_OK)
                return TS_E_INTERNAL;
        } else if (json_is_real(v)) {
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
            if (idp_claims_add_var(c, key, num) != TS_OK)
                return TS_E_INTERNAL;
        } else if (json_is_boolean(v)) {
            if (idp_claims_add_var(c, key, json_is_true(v) ? "true" : "false") != TS_OK)
                return TS_E_INTERNAL;
        } else if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (json_is_string(e) && idp_claims_add_var(c, key, json_string_value(e)) != TS_OK)
                    return TS_E_INTERNAL;
            }
        }
    }
    return TS_OK;
}

/* Whether the token is meant for client_id: aud (a string or an array) contains it. With
 * allow_azp (OAuth2 access tokens of AssumeRoleWithClientGrants only, whose aud often names
 * the resource server), azp equal to client_id is enough too. An id_token must name the
 * client in aud (OpenID Connect Core 3.1.3.7): an azp fallback would accept an id_token
 * issued to another service ("aud": "https://payments-api.example") by the same client. */
static bool audience_ok(json_t *payload, const char *client_id, bool allow_azp)
{
    json_t *aud = json_object_get(payload, "aud");
    const char *azp = json_string_value(json_object_get(payload, "azp"));
    if (json_is_string(aud) && strcmp(json_string_value(aud), client_id) == 0)
        return true;
    if (json_is_array(aud)) {
        size_t i;
        json_t *e;
        json_array_foreach(aud, i, e)
        {
            if (json_is_string(e) && strcmp(json_string_value(e), client_id) == 0)
                return true;
        }
    }
    return allow_azp && azp != NULL && strcmp(azp, client_id) == 0;
}

/* Whether the JWS header's typ says an OAuth2 access token in the RFC 9068 format ("at+jwt",
 * or the full media type "application/at+jwt"; media types compare case-insensitively and
 * may carry parameters). Such a token is never an id_token. */
static bool typ_is_access_token(json_t *hdr)
{
    const char *typ = json_string_value(json_object_get(hdr, "typ"));
    size_t n;

    if (typ == NULL)
        return false;
    while (*typ == ' ' || *typ == '\t')
        typ++;
    n = strcspn(typ, ";");
    while (n > 0 && (typ[n - 1] == ' ' || typ[n - 1] == '\t'))
        n--;
    if (n >= 12 && strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
        n -= 12;
    }
    return n == 6 && strncasecmp(typ, "at+jwt", 6) == 0;
}

/* Snapshot of what a verification needs from a provider. */
static void provider_snapshot(struct oidc_provider *p, const char **issuer, struct oidc_keyset **ks)
{
    pthread_mutex_lock(&p->mu);
    *issuer = p->issuer; /* set once, never freed before the provider */
    *ks = oidc_keyset_retain(p->keys);
    pthread_mutex_unlock(&p->mu);
}

/* The provider for a token: with a RoleArn naming a provider's role, that provider (when
 * its issuer matches); otherwise a claim-mode provider whose issuer (discovered, or ISSUER)
 * equals iss, preferring one whose client id the audience names. A provider whose issuer is
 * not checked (JWKS_URL without ISSUER) matches any iss, but only when no provider with that
 * very issuer exists: a token naming a known issuer is verified with that issuer's keys only.
 * *role_mode tells which; *undiscovered whether a candidate has not been discovered yet. */
static struct oidc_provider *pick_provider(struct oidc_providers *ps, const char *iss,
                                           const char *role_arn, json_t *payload, bool access_token,
                                           bool *role_mode, bool *undiscovered)
{
    struct oidc_provider *best = NULL;
    bool names_role = false;
    int best_rank = -1;
    size_t i;

    *role_mode = false;
    *undiscovered = false;
    for (i = 0; role_arn != NULL && i < ps->n; i++)
        names_role =
            names_role || (ps->v[i]->role_arn != NULL && strcmp(role_arn, ps->v[i]->role_arn) == 0);
    for (i = 0; i < ps->n; i++) {
        struct oidc_provider *cand = ps->v[i];
        struct oidc_keyset *cks;
        const char *ciss;
        if (names_role ? (cand->role_arn == NULL || strcmp(role_arn, cand->role_arn) != 0)
                       : cand->role_arn != NULL)
            continue;
        provider_snapshot(cand, &ciss, &cks);
        oidc_keyset_release(cks);
        if (ciss == NULL && !cand->iss_unchecked) {
            *undiscovered = true;
            continue;
        }
        if (ciss != NULL && strcmp(ciss, iss) != 0)
            continue;
        if (names_role) {
            *role_mode = true;
            return cand;
        }
        /* exact issuer first, then audience, then configuration order */
        int rank = (ciss != NULL ? 2 : 0) + audience_ok(payload, cand->client_id, access_token);
        if (rank > best_rank) {
            best = cand;
            best_rank = rank;
        }
    }
    return best;
}

/* Merges the userinfo endpoint's claims into payload (access tokens, CLAIM_USERINFO on).
 * Registered claims of the token are never overridden; userinfo's sub must match. */
static int merge_userinfo(struct oidc_provider *p, const char *token, json_t *payload,
                          const char **why)
{
    static const char *const keep[] = {"iss", "sub", "aud", "azp", "exp", "nbf", "iat", "jti"};
    const char *uri;
    char *body = NULL;
    size_t len = 0;
    json_error_t jerr;
    json_t *ui = NULL;
    const char *k;
    json_t *v;
    int rc;

    pthread_mutex_lock(&p->mu);
    uri = p->userinfo_uri;
    pthread_mutex_unlock(&p->mu);
    if (uri == NULL)
        return TS_OK;
    rc = oidc_http_get(&p->set->http, uri, token, &body, &len, why);
    if (rc != TS_OK)
        return rc;
    if (oidc_json_too_deep(body, len, OIDC_MAX_JSON_DEPTH) ||
        (ui = json_loadb(body, len, 0, &jerr)) == NULL || !json_is_object(ui)) {
        *why = "the userinfo response is not a JSON object";
        rc = TS_E_STS_IDP_COMMUNICATION;
        goto out;
    }
    const char *usub = json_string_value(json_object_get(ui, "sub"));
    const char *tsub = json_string_value(json_object_get(payload, "sub"));
    if (usub == NULL || tsub == NULL || strcmp(usub, tsub) != 0) {
        *why = "the userinfo subject does not match the token's";
        rc = TS_E_STS_INVALID_IDENTITY_TOKEN;
        goto out;
    }
    json_object_foreach(ui, k, v)
    {
        bool skip = false;
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
            skip = skip || strcmp(k, keep[i]) == 0;
        if (!skip)
            json_object_set(payload, k, v);
    }
    rc = TS_OK;
out:
    json_decref(ui);
    free(body);
    return rc;
}

static int fill_claims(struct oidc_provider *p, json_t *payload, bool role_mode, bool access_token,
                       struct idp_claims *c)
{
    const char *sub = json_string_value(json_object_get(payload, "sub"));
    const char *iss = json_string_value(json_object_get(payload, "iss"));
    const char *user = json_string_value(json_object_get(payload, "preferred_username"));
    char claim[512];

    memset(c, 0, sizeof *c);
    c->kind = access_token ? IDP_CLIENT_GRANTS : IDP_OIDC;
    c->provider = strdup(p->name);
    c->issuer = strdup(iss);
    c->subject = strdup(sub);
    c->username = strdup(user != NULL && *user ? user : sub);
    c->audience = strdup(p->client_id);
    c->token_expiry = (time_t)json_number_value(json_object_get(payload, "exp"));
    c->source = access_token ? "clientgrants" : "oidc";
    if (!c->provider || !c->issuer || !c->subject || !c->username || !c->audience)
        return TS_E_INTERNAL;
    c->parent = malloc(strlen(iss) + strlen(sub) + 2);
    if (c->parent == NULL)
        return TS_E_INTERNAL;
    sprintf(c->parent, "%s#%s", iss, sub);
    if (role_mode) {
        json_t *rp = json_string(p->role_policy);
        int rc = rp ? add_claim_values(&c->policies, rp, true) : TS_E_INTERNAL;
        json_decref(rp);
        if (rc != TS_OK || (c->role_arn = strdup(p->role_arn)) == NULL)
            return TS_E_INTERNAL;
    } else {
        snprintf(claim, sizeof claim, "%s%s", p->claim_prefix, p->claim_name);
        if (add_claim_values(&c->policies, json_object_get(payload, claim), true) != TS_OK)
            return TS_E_INTERNAL;
    }
    if (p->groups_claim != NULL &&
        add_claim_values(&c->groups, json_object_get(payload, p->groups_claim), false) != TS_OK)
        return TS_E_INTERNAL;
    return add_vars(c, payload);
}

/* Step 1 of oidc_verify: three base64url segments of bounded size, the last not empty. */
static int check_shape(const char *token, size_t *len, const char **d1, const char **d2,
                       const char **why)
{
    if (token == NULL || (*len = strlen(token)) == 0)
        return TS_E_STS_INVALID_IDENTITY_TOKEN;
    if (*len > OIDC_MAX_TOKEN_LEN) {
        *why = "the token is too large";
        return TS_E_STS_INVALID_IDENTITY_TOKEN;
    }
    for (size_t i = 0; i < *len; i++) {
        char ch = token[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return TS_E_STS_INVALID_IDENTITY_TOKEN;
    }
    *d1 = strchr(token, '.');
    *d2 = *d1 ? strchr(*d1 + 1, '.') : NULL;
    if (*d1 == NULL || *d2 == NULL || strchr(*d2 + 1, '.') != NULL) {
        *why = "the token is not a compact JWS (three segments)";
        return TS_E_STS_INVALID_IDENTITY_TOKEN;
    }
    if ((*d2)[1] == '\0') {
        *why = "the token is not signed";
        return TS_E_STS_INVALID_IDENTITY_TOKEN;
    }
    return TS_OK;
}

/* Step 2: the JWS header allows a known algorithm, no critical extension, no key of its own,
 * and (for an id_token) is not an access token's; its kid (optional) into *kid. */
static const char *check_header(json_t *hdr, bool access_token, const char **kid)
{
    const char *alg;
    json_t *v;

    if (hdr == NULL)
        return "the token header is not a JSON object";
    alg = json_string_value(json_object_get(hdr, "alg"));
    if (alg == NULL || !alg_allowed(alg))
        return "the token's signature algorithm is not allowed";
    if (json_object_get(hdr, "crit") != NULL)
        return "the token has a critical header this server does not understand";
    if (json_object_get(hdr, "jwk") || json_object_get(hdr, "jku") || json_object_get(hdr, "x5u") ||
        json_object_get(hdr, "x5c"))
        return "the token names its own key (jwk/jku/x5u/x5c): refused";
    if (!access_token && typ_is_access_token(hdr))
        return "the token is an OAuth2 access token (typ at+jwt), not an id_token";
    v = json_object_get(hdr, "kid");
    if (v != NULL && !json_is_string(v))
        return "the token's kid is not a string";
    *kid = json_string_value(v);
    return NULL;
}

/* Why no provider could be discovered: the discovery URL's error answer (with a hint when the
 * URL does not end in /.well-known/openid-configuration; the status is in the log), else
 * unreachable. */
static const char *undiscovered_why(struct oidc_providers *ps)
{
    const char *why = "the identity provider could not be reached for discovery";
    for (size_t i = 0; i < ps->n; i++) {
        struct oidc_provider *p = ps->v[i];
        if (p->jwks_only)
            continue;
        pthread_mutex_lock(&p->mu);
        bool status = p->issuer == NULL && p->disc_status != 0;
        pthread_mutex_unlock(&p->mu);
        if (status && !url_is_well_known(p->config_url))
            return "the identity provider's discovery URL answered with an HTTP error status "
                   "(logged): TESSERA_IDENTITY_OPENID_CONFIG_URL must end in " WELL_KNOWN;
        if (status)
            why = "the identity provider's discovery URL answered with an HTTP error status "
                  "(logged): check TESSERA_IDENTITY_OPENID_CONFIG_URL";
    }
    return why;
}

/* Step 4: the provider, by role ARN, else a claim-mode provider with this issuer; providers
 * not discovered yet are discovered first (bounded wait). */
static int find_provider(struct oidc_providers *ps, const char *iss, const char *role_arn,
                         json_t *payload, bool access_token, struct oidc_provider **out,
                         bool *role_mode, const char **why)
{
    bool undiscovered = false, any_claim_mode = false;
    size_t i;

    *out = pick_provider(ps, iss, role_arn, payload, access_token, role_mode, &undiscovered);
    /* Undiscovered providers may own this issuer: discover them before settling for none, or
     * for a provider that does not check the issuer. */
    if ((*out == NULL || (*out)->iss_unchecked) && undiscovered) {
        for (i = 0; i < ps->n; i++) {
            const char *ciss;
            struct oidc_keyset *cks;
            provider_snapshot(ps->v[i], &ciss, &cks);
            oidc_keyset_release(cks);
            if (ciss == NULL && !ps->v[i]->jwks_only)
                provider_fetch(ps->v[i], true, true);
        }
        *out = pick_provider(ps, iss, role_arn, payload, access_token, role_mode, &undiscovered);
    }
    if (*out != NULL)
        return TS_OK;
    for (i = 0; i < ps->n; i++)
        any_claim_mode = any_claim_mode || ps->v[i]->role_arn == NULL;
    if (!any_claim_mode) {
        *why = role_arn != NULL ? "the RoleArn names no configured role"
                                : "a RoleArn naming a configured role is required";
        return TS_E_STS_INVALID_PARAMETER;
    }
    if (undiscovered) {
        *why = undiscovered_why(ps);
        return TS_E_STS_IDP_COMMUNICATION;
    }
    *why = "the token's issuer is not a configured OpenID provider";
    return TS_E_STS_INVALID_IDENTITY_TOKEN;
}

/* Step 5: the signature, with a key of p's JWKS (refetched once on an unknown kid). */
static int check_signature(struct oidc_provider *p, const char *token, size_t len, const char *kid,
                           const char *alg, const char **why)
{
    struct oidc_keyset *ks = NULL;
    const char *ignored;
    cjose_err err;
    cjose_jws_t *jws = cjose_jws_import(token, len, &err);
    int vr, rc = TS_E_STS_INVALID_IDENTITY_TOKEN;

    if (jws == NULL) {
        *why = "the token is not a valid JWS";
        return rc;
    }
    provider_snapshot(p, &ignored, &ks);
    vr = oidc_keyset_verify(ks, jws, kid, alg);
    if (vr < 0) {
        /* Unknown kid: the provider may have rotated its keys. Refetch (rate-limited). */
        int fr = provider_fetch(p, true, true);
        oidc_keyset_release(ks);
        provider_snapshot(p, &ignored, &ks);
        vr = oidc_keyset_verify(ks, jws, kid, alg);
        if (vr < 0 && fr == TS_E_STS_IDP_COMMUNICATION) {
            *why = "the identity provider's keys could not be fetched";
            rc = TS_E_STS_IDP_COMMUNICATION;
        }
    }
    if (vr < 0 && rc != TS_E_STS_IDP_COMMUNICATION)
        *why = "no key of the identity provider matches the token's kid and alg";
    else if (vr == 0)
        *why = "the token's signature does not verify";
    else if (vr > 0)
        rc = TS_OK;
    cjose_jws_release(jws);
    oidc_keyset_release(ks);
    return rc;
}

/* Step 6: iss (unless the provider does not check it), aud, exp (required), nbf, iat, sub
 * (required), within OIDC_MAX_SKEW. */
static int check_claims(const struct oidc_provider *p, json_t *payload, const char *iss,
                        bool access_token, const char **why)
{
    time_t now = enc_now();
    double exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    const char *sub = json_string_value(json_object_get(payload, "sub"));

    *why = NULL;
    if (!p->iss_unchecked && (p->issuer == NULL || strcmp(iss, p->issuer) != 0))
        *why = "the token's issuer does not match";
    else if (!audience_ok(payload, p->client_id, access_token))
        *why = "the token's audience is not this client";
    else if (numeric_date(payload, "exp", &has_exp, &exp) != 0 || !has_exp)
        *why = "the token has no valid exp";
    else if (numeric_date(payload, "nbf", &has_nbf, &nbf) != 0 ||
             numeric_date(payload, "iat", &has_iat, &iat) != 0)
        *why = "the token's nbf or iat is not a number";
    else if (sub == NULL || *sub == '\0')
        *why = "the token has no sub";
    else if (has_nbf && nbf > (double)(now + OIDC_MAX_SKEW))
        *why = "the token is not valid yet (nbf)";
    else if (has_iat && iat > (double)(now + OIDC_MAX_SKEW))
        *why = "the token was issued in the future (iat)";
    else if (exp + OIDC_MAX_SKEW <= (double)now) {
        *why = "the token has expired";
        return TS_E_STS_EXPIRED_TOKEN;
    }
    return *why != NULL ? TS_E_STS_INVALID_IDENTITY_TOKEN : TS_OK;
}

/* Step 7: the names that identify the session (its parent, ARN, the XML answer, logs). */
static int check_names(json_t *payload, const char *iss, const char **why)
{
    const char *user = json_string_value(json_object_get(payload, "preferred_username"));
    if (!idp_name_ok(json_string_value(json_object_get(payload, "sub"))) ||
        (user != NULL && !idp_name_ok(user)) || !idp_name_ok(iss)) {
        *why = "the token's sub, iss or preferred_username holds control characters or "
               "characters XML cannot carry";
        return TS_E_STS_INVALID_IDENTITY_TOKEN;
    }
    return TS_OK;
}

int oidc_verify(struct oidc_providers *ps, const char *token, const char *role_arn,
                bool access_token, struct idp_claims *out, struct ts_error *err)
{
    const char *reason = "the token is malformed", **why = &reason;
    const char *d1 = NULL, *d2 = NULL, *kid = NULL, *iss, *alg;
    json_t *hdr = NULL, *payload = NULL;
    struct oidc_provider *p = NULL;
    struct idp_claims c;
    bool role_mode = false;
    size_t len = 0;
    int rc;

    memset(&c, 0, sizeof c);
    if (ps == NULL || ps->n == 0) {
        *why = "no OpenID provider is configured";
        rc = TS_E_STS_INVALID_PARAMETER;
        goto fail;
    }
    if ((rc = check_shape(token, &len, &d1, &d2, why)) != TS_OK)
        goto fail;
    rc = TS_E_STS_INVALID_IDENTITY_TOKEN;
    hdr = decode_segment(token, (size_t)(d1 - token));
    if ((*why = check_header(hdr, access_token, &kid)) != NULL)
        goto fail;
    alg = json_string_value(json_object_get(hdr, "alg"));
    /* 3. Payload (not trusted until the signature verified). */
    payload = decode_segment(d1 + 1, (size_t)(d2 - d1 - 1));
    *why = payload == NULL ? "the token payload is not a JSON object" : "the token has no issuer";
    if (payload == NULL || (iss = json_string_value(json_object_get(payload, "iss"))) == NULL)
        goto fail;
    if ((rc = find_provider(ps, iss, role_arn, payload, access_token, &p, &role_mode, why)) ||
        (rc = check_signature(p, token, len, kid, alg, why)) ||
        (rc = check_claims(p, payload, iss, access_token, why)) ||
        (access_token && p->claim_userinfo && (rc = merge_userinfo(p, token, payload, why))) ||
        (rc = check_names(payload, iss, why)))
        goto fail;
    rc = fill_claims(p, payload, role_mode, access_token, &c);
    if (rc != TS_OK) {
        *why = "out of memory";
        idp_claims_cleanup(&c);
        goto fail;
    }
    *out = c;
fail:
    json_decref(hdr);
    json_decref(payload);
    if (rc != TS_OK && err != NULL)
        ts_error_set(err, rc, "%s", *why != NULL ? *why : ts_err_message(rc));
    return rc;
}

/* ---- the browser login's authorization-code flow ---- */

int oidc_login_info(struct oidc_providers *ps, size_t i, struct oidc_login_info *out,
                    const char **why)
{
    struct oidc_provider *p;
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    *why = "no such OpenID provider";
    if (ps == NULL || i >= ps->n)
        return TS_E_INVALID_ARGUMENT;
    p = ps->v[i];
    pthread_mutex_lock(&p->mu);
    bool discovered = p->issuer != NULL;
    pthread_mutex_unlock(&p->mu);
    if (!discovered && !p->jwks_only)
        provider_fetch(p, true, true);
    memset(out, 0, sizeof *out);
    out->name = p->name;
    out->display_name = p->display_name;
    out->client_id = p->client_id;
    out->has_secret = p->client_secret != NULL && *p->client_secret != '\0';
    out->scopes = p->scopes;
    out->redirect_uri = p->redirect_uri;
    out->role_arn = p->role_arn;
    pthread_mutex_lock(&p->mu);
    discovered = p->issuer != NULL;
    out->authorization_endpoint = p->auth_uri; /* set once with issuer, never freed before p */
    out->token_endpoint = p->token_uri;
    out->issuer = p->issuer;
    pthread_mutex_unlock(&p->mu);
    if (p->jwks_only) {
        *why = "this OpenID provider is given by its JWKS URL only (no discovery document): "
               "the browser login needs its TESSERA_IDENTITY_OPENID_CONFIG_URL";
        return TS_E_INVALID_ARGUMENT;
    }
    if (!discovered) {
        *why = "the identity provider cannot be reached";
        return TS_E_STS_IDP_COMMUNICATION;
    }
    if (out->authorization_endpoint == NULL || out->token_endpoint == NULL) {
        *why = "the provider's discovery document has no authorization or token endpoint";
        return TS_E_INVALID_ARGUMENT;
    }
    *why = NULL;
    return TS_OK;
}

static int form_add(struct buf *b, const char *key, const char *value)
{
    char *v = enc_uri_encode(value, strlen(value), false);
    if (v == NULL)
        return TS_E_INTERNAL;
    buf_addf(b, "%s%s=%s", b->len ? "&" : "", key, v);
    OPENSSL_cleanse(v, strlen(v));
    free(v);
    return buf_failed(b) ? TS_E_INTERNAL : TS_OK;
}

int oidc_code_exchange(struct oidc_providers *ps, size_t i, const char *code,
                       const char *code_verifier, const char *redirect_uri, char **id_token,
                       const char **why)
{
    struct oidc_login_info info;
    struct oidc_provider *p;
    struct buf form;
    char *body = NULL, *user = NULL, *pass = NULL;
    size_t len = 0;
    json_t *j = NULL;
    int rc;

    rc = oidc_login_info(ps, i, &info, why);
    if (rc != TS_OK)
        return rc == TS_E_INVALID_ARGUMENT ? TS_E_STS_IDP_COMMUNICATION : rc;
    p = ps->v[i];
    buf_init(&form, 64 * 1024);
    if (form_add(&form, "grant_type", "authorization_code") != TS_OK ||
        form_add(&form, "code", code) != TS_OK ||
        form_add(&form, "redirect_uri", redirect_uri) != TS_OK ||
        form_add(&form, "code_verifier", code_verifier) != TS_OK) {
        rc = TS_E_INTERNAL;
        goto out;
    }
    if (info.has_secret) {
        /* client_secret_basic: id and secret form-encoded, then basic (RFC 6749 2.3.1). */
        user = enc_uri_encode(p->client_id, strlen(p->client_id), false);
        pass = enc_uri_encode(p->client_secret, strlen(p->client_secret), false);
        if (user == NULL || pass == NULL) {
            rc = TS_E_INTERNAL;
            goto out;
        }
    } else if (form_add(&form, "client_id", p->client_id) != TS_OK) {
        rc = TS_E_INTERNAL;
        goto out;
    }
    rc = oidc_http_request(&ps->http, info.token_endpoint, NULL, buf_str(&form), user, pass, &body,
                           &len, why);
    if (rc != TS_OK) {
        if (rc == TS_E_STS_IDP_COMMUNICATION && *why != NULL &&
            strstr(*why, "error status") != NULL)
            *why = "the identity provider refused the authorization code";
        goto out;
    }
    rc = TS_E_STS_IDP_COMMUNICATION;
    *why = "the token response is not a JSON object with an id_token";
    if (oidc_json_too_deep(body, len, OIDC_MAX_JSON_DEPTH))
        goto out;
    j = json_loadb(body, len, 0, NULL);
    const char *t = json_string_value(json_object_get(j, "id_token"));
    if (t == NULL || *t == '\0' || strlen(t) > OIDC_MAX_TOKEN_LEN)
        goto out;
    if ((*id_token = strdup(t)) == NULL) {
        rc = TS_E_INTERNAL;
        goto out;
    }
    *why = NULL;
    rc = TS_OK;
out:
    enc_secret_free(pass);
    free(user);
    if (body != NULL) {
        OPENSSL_cleanse(body, len);
        free(body);
    }
    json_decref(j);
    if (form.p != NULL)
        OPENSSL_cleanse(form.p, form.len);
    buf_free(&form);
    return rc;
}

char *oidc_token_claim(const char *token, const char *name)
{
    const char *d1 = token != NULL ? strchr(token, '.') : NULL;
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    size_t n;
    json_t *j;
    char *v = NULL;

    if (d2 == NULL || strlen(token) > OIDC_MAX_TOKEN_LEN)
        return NULL;
    n = (size_t)(d2 - d1 - 1);
    /* Only the base64url alphabet reaches cjose's decoder (see idp/jwks.c). */
    if (n == 0 ||
        strspn(d1 + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") < n)
        return NULL;
    j = decode_segment(d1 + 1, n);
    const char *s = json_string_value(json_object_get(j, name));
    if (s != NULL)
        v = strdup(s);
    json_decref(j);
    return v;
}

bool oidc_provider_reachable(struct oidc_providers *ps, size_t i)
{
    struct oidc_provider *p;
    bool up;
    int rc;

    if (ps == NULL || i >= ps->n)
        return false;
    p = ps->v[i];
    /* A fetch now (discovery when not yet done, then the JWKS), at most one per refetch
     * interval; rate-limited, the last fetch's result. */
    rc = provider_fetch(p, true, false);
    if (rc == TS_OK || rc == TS_E_SLOW_DOWN)
        return true;
    /* Another fetch is running: what the last one found. */
    pthread_mutex_lock(&p->mu);
    up = p->busy && p->keys != NULL && !p->last_failed;
    pthread_mutex_unlock(&p->mu);
    return up;
}
