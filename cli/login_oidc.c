/* login_oidc.c -- `tessera login oidc` (cli/login_oidc.h): the device authorization grant or
 * the authorization code flow with PKCE at an OpenID Connect provider, then
 * AssumeRoleWithWebIdentity at tessera's STS through cli/login_common.c, which prints aws
 * credential_process JSON or shell exports. Tokens, the client secret and the credentials
 * never appear in messages; every provider- or server-supplied string printed goes through
 * term_safe.
 *
 * @test tests/integration/test_roles.py (test_login_oidc_*)
 */
#include "cli/login_oidc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "cli/login_callback.h"
#include "cli/login_common.h"
#include "core/enc.h"

#define LO_DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

static const char oidc_usage[] =
    "usage: tessera login oidc [--endpoint URL] --provider NAME|ISSUER_URL [--client-id ID]\n"
    "                          [--scope SCOPES] [--role-arn ARN] [--session-name NAME]\n"
    "                          [--duration SECONDS] [--policy FILE] [--browser] [--port N]\n"
    "                          [--timeout SECONDS] [--cache FILE] [--env | --id-token]\n"
    "  NAME is a provider configured on the server (\"default\" for the one without a\n"
    "  suffix): its issuer, client id, scopes and role come from the server's\n"
    "  /login/providers. --scope defaults to those scopes, or \"openid profile\".\n"
    "  Signs in at the provider with the device flow when it offers one (else, or with\n"
    "  --browser, the authorization code flow with PKCE through http://127.0.0.1:PORT/callback)\n"
    "  and prints aws credential_process JSON (or export lines with --env, or with --id-token\n"
    "  only the provider's id_token, for AssumeRoleWithWebIdentity elsewhere). With --cache\n"
    "  FILE (\"~/\" is $HOME) the credentials are kept in FILE (mode 0600) and reused while\n"
    "  valid for more than 10 minutes, so that a credential_process profile signs in only when\n"
    "  they expire. When the provider gives a refresh token (Keycloak does for the openid\n"
    "  scope), FILE keeps it too and expired credentials are renewed through it without a\n"
    "  sign-in, until it runs out or is revoked: FILE is then a secret. Without a terminal to\n"
    "  sign in on, a sign-in that is needed fails at once, saying to run the same command once\n"
    "  in a terminal.\n"
    "  Environment: TESSERA_ENDPOINT (default http://127.0.0.1:9000), TESSERA_OIDC_CLIENT_ID,\n"
    "  TESSERA_OIDC_CLIENT_SECRET (confidential clients only), TESSERA_CA_FILE.\n";

struct lo {
    struct login base;
    const char *issuer, *client_id, *secret, *scope, *role_arn, *session_name;
    char *owned[4]; /* strings resolved from the server's provider list */
    bool browser, id_token_only;
    int port;
    long timeout;
};

/* GET (form NULL) or POST form to url; with basic and a client secret, HTTP Basic client
 * authentication. 0 with the answer (any status) in *rs, or -1 after a message; *rs is to be
 * released with curlx_resp_free either way. */
static int http_call(struct lo *l, const char *url, const char *form, bool basic,
                     struct curlx_resp *rs)
{
    static const char *const get_hdr[] = {"Accept: application/json, text/xml", NULL};
    static const char *const post_hdr[] = {"Accept: application/json, text/xml",
                                           "Content-Type: application/x-www-form-urlencoded", NULL};
    struct curlx_req rq;
    char *u = NULL, *p = NULL;
    int rc;

    login_http_req(&rq, url);
    rq.hdr = form != NULL ? post_hdr : get_hdr;
    rq.body = form;
    rq.body_len = form != NULL ? strlen(form) : 0;
    if (basic && l->secret != NULL) { /* client_secret_basic: both form-encoded first */
        rq.user = u = curl_easy_escape(NULL, l->client_id, 0);
        rq.password = p = curl_easy_escape(NULL, l->secret, 0);
        if (u == NULL || p == NULL)
            rq.user = rq.password = "";
    }
    rc = curlx_perform(&rq, rs);
    curl_free(u);
    if (p != NULL)
        OPENSSL_cleanse(p, strlen(p));
    curl_free(p);
    if (rc != 0)
        login_msg(&l->base, "%s: %s", url,
                  rs->too_big ? "the answer is too large" : curl_easy_strerror(rs->cc));
    return rc;
}

static json_t *parse_json(const struct buf *b)
{
    json_t *j = buf_len(b) > 0 ? json_loadb(buf_str(b), buf_len(b), 0, NULL) : NULL;
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* A JSON object answer of url (GET, or POST form): *j and the status, or -1 after a message.
 * *j is NULL when the answer is not a JSON object. */
static int json_call(struct lo *l, const char *url, const char *form, bool basic, json_t **j,
                     long *status)
{
    struct curlx_resp rs;
    int rc = http_call(l, url, form, basic, &rs);
    *j = rc == 0 ? parse_json(&rs.body) : NULL;
    *status = rs.status;
    curlx_resp_free(&rs);
    return rc;
}

static const char *jstr(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

/* n random bytes as base64url (for state, nonce, verifier) into out. 0, or -1. */
static int random_b64url(char *out, size_t outlen, size_t n)
{
    unsigned char r[64];
    char *s;
    int rc = -1;
    if (n > sizeof r || enc_random(r, n) != 0 || (s = enc_b64url(r, n)) == NULL)
        return -1;
    if (strlen(s) < outlen) {
        memcpy(out, s, strlen(s) + 1);
        rc = 0;
    }
    free(s);
    return rc;
}

/* The provider's discovery document; NULL after a message. */
static json_t *discover(struct lo *l)
{
    struct buf url;
    long status = 0;
    json_t *d = NULL;
    size_t n = strlen(l->issuer);

    buf_init(&url, 4096);
    if (strstr(l->issuer, "/.well-known/openid-configuration") != NULL)
        buf_adds(&url, l->issuer);
    else
        buf_addf(&url, "%.*s/.well-known/openid-configuration",
                 (int)(n > 0 && l->issuer[n - 1] == '/' ? n - 1 : n), l->issuer);
    if (json_call(l, buf_str(&url), NULL, false, &d, &status) != 0)
        goto out;
    if (status != 200 || d == NULL) {
        login_msg(&l->base, "%s: no OpenID discovery document (HTTP %ld)", buf_str(&url), status);
    } else if (jstr(d, "issuer") == NULL || jstr(d, "token_endpoint") == NULL) {
        login_msg(&l->base, "%s: the discovery document has no issuer or token_endpoint",
                  buf_str(&url));
    } else {
        buf_free(&url);
        return d;
    }
out:
    json_decref(d);
    buf_free(&url);
    return NULL;
}

/* Reports an OAuth error answer; invalid_client names the client secret's variable. */
static void oauth_error(struct lo *l, const char *what, long status, json_t *j)
{
    const char *e = jstr(j, "error"), *d = jstr(j, "error_description");
    login_msg(&l->base, "%s failed (HTTP %ld): %s%s%s", what, status,
              e != NULL ? e : "no error code", d != NULL ? ": " : "", d != NULL ? d : "");
    if (e != NULL && strcmp(e, "invalid_client") == 0)
        login_msg(&l->base,
                  l->secret == NULL
                      ? "hint: the provider does not accept client \"%s\" without "
                        "authentication: a confidential client needs its secret in "
                        "TESSERA_OIDC_CLIENT_SECRET (which is not set)"
                      : "hint: the provider refused client \"%s\" with the secret in "
                        "TESSERA_OIDC_CLIENT_SECRET: check that it is this client's secret",
                  l->client_id);
}

/* Builds a form from NULL-terminated key/value pairs (values NULL are left out) into b, which
 * is wiped and freed first. 0, or -1 after a message. */
static int make_form(struct lo *l, struct buf *b, const char *const *kv)
{
    login_wipe_buf(b);
    buf_init(b, 256 * 1024);
    for (size_t i = 0; kv[i] != NULL; i += 2)
        if (kv[i + 1] != NULL && login_add_param(b, kv[i], kv[i + 1]) != 0) {
            login_msg(&l->base, "out of memory");
            return -1;
        }
    return 0;
}

/* POSTs the form of kv to the token endpoint tok_ep (client authentication as the client has
 * it): 0 with the answer (*j NULL when not a JSON object) and its status, or -1 after a
 * message. The form, which holds a code or token, is wiped. */
static int token_call(struct lo *l, const char *tok_ep, const char *const *kv, json_t **j,
                      long *status)
{
    struct buf form = {0};
    int rc =
        make_form(l, &form, kv) != 0 ? -1 : json_call(l, tok_ep, buf_str(&form), true, j, status);
    login_wipe_buf(&form);
    return rc;
}

/* Starts the device authorization grant: tells the user where to sign in. The device code
 * (malloc'ed) with *interval and *expires, or NULL after a message. */
static char *device_start(struct lo *l, const char *dev_ep, long *interval, long *expires)
{
    const char *kv[] = {"client_id", l->client_id, "scope", l->scope, NULL};
    struct buf form = {0};
    json_t *j = NULL;
    long status = 0;
    char *device_code = NULL;

    if (make_form(l, &form, kv) != 0 || json_call(l, dev_ep, buf_str(&form), true, &j, &status))
        goto out;
    if (status != 200 || jstr(j, "device_code") == NULL || jstr(j, "user_code") == NULL ||
        jstr(j, "verification_uri") == NULL) {
        oauth_error(l, "the device authorization request", status, j);
        goto out;
    }
    if ((device_code = strdup(jstr(j, "device_code"))) == NULL) {
        login_msg(&l->base, "out of memory");
        goto out;
    }
    *interval = (long)json_integer_value(json_object_get(j, "interval"));
    *expires = (long)json_integer_value(json_object_get(j, "expires_in"));
    fputs("To sign in, open ", stderr);
    login_term_put(jstr(j, "verification_uri"));
    fputs(" and enter the code ", stderr);
    login_term_put(jstr(j, "user_code"));
    fputc('\n', stderr);
    if (jstr(j, "verification_uri_complete") != NULL) {
        fputs("or open ", stderr);
        login_term_put(jstr(j, "verification_uri_complete"));
        fputc('\n', stderr);
    }
    fprintf(stderr, "Waiting for the sign-in...\n");
    fflush(stderr);
out:
    json_decref(j);
    login_wipe_buf(&form);
    return device_code;
}

/* The id_token of a token endpoint answer (malloc'ed), or NULL after a message. A refresh
 * token in the answer replaces l->base.refresh (kept in the --cache file). */
static char *take_id_token(struct lo *l, json_t *j)
{
    char *it = jstr(j, "id_token") != NULL ? strdup(jstr(j, "id_token")) : NULL;
    const char *rt = jstr(j, "refresh_token");

    if (jstr(j, "id_token") == NULL)
        login_msg(&l->base, "the provider issued no id_token (is \"openid\" in --scope?)");
    else if (it == NULL)
        login_msg(&l->base, "out of memory");
    if (it != NULL && rt != NULL && rt[0] != '\0') {
        enc_secret_free(l->base.refresh);
        l->base.refresh = strdup(rt); /* on OOM none is kept: a sign-in next time */
    }
    return it;
}

/* Renews the sign-in with the cached refresh token l->base.refresh (the refresh_token grant,
 * client authentication as the flows): the new id_token (malloc'ed), or NULL after a message,
 * with l->base.refresh dropped. A rotated refresh token replaces the old one. */
static char *refresh_flow(struct lo *l, json_t *disc)
{
    const char *kv[] = {
        "grant_type", "refresh_token", "refresh_token", l->base.refresh, "client_id", l->client_id,
        NULL};
    json_t *j = NULL;
    long status = 0;
    char *id_token = NULL;

    int rc = token_call(l, jstr(disc, "token_endpoint"), kv, &j, &status);

    if (rc == 0 && status != 200)
        oauth_error(l, "renewing the sign-in with the cached refresh token", status, j);
    else if (rc == 0)
        id_token = take_id_token(l, j);
    if (id_token == NULL) {
        enc_secret_free(l->base.refresh);
        l->base.refresh = NULL;
    }
    json_decref(j);
    return id_token;
}

/* The device authorization grant: the id_token (malloc'ed) or NULL after a message. */
static char *device_flow(struct lo *l, json_t *disc)
{
    const char *tok_ep = jstr(disc, "token_endpoint");
    long interval = 0, expires = 0, status = 0;
    char *id_token = NULL, *device_code;
    struct buf form = {0};
    json_t *j = NULL;
    time_t deadline;

    device_code = device_start(l, jstr(disc, "device_authorization_endpoint"), &interval, &expires);
    if (device_code == NULL)
        return NULL;
    const char *kv[] = {"grant_type", LO_DEVICE_GRANT, "device_code", device_code,
                        "client_id",  l->client_id,    NULL};
    interval = interval > 0 ? interval : 5;
    deadline = time(NULL) + (expires > 0 && expires <= l->timeout ? expires : l->timeout);
    while (id_token == NULL && time(NULL) < deadline) {
        sleep((unsigned)interval);
        json_decref(j);
        j = NULL;
        if (make_form(l, &form, kv) != 0 ||
            json_call(l, tok_ep, buf_str(&form), true, &j, &status) != 0)
            goto out;
        if (status == 200) {
            id_token = take_id_token(l, j);
            goto out;
        }
        if (jstr(j, "error") != NULL && strcmp(jstr(j, "error"), "slow_down") == 0)
            interval += 5;
        else if (jstr(j, "error") == NULL || strcmp(jstr(j, "error"), "authorization_pending")) {
            oauth_error(l, "the sign-in", status, j);
            goto out;
        }
    }
    login_msg(&l->base, "the sign-in was not completed in time");
out:
    json_decref(j);
    OPENSSL_cleanse(device_code, strlen(device_code));
    free(device_code);
    login_wipe_buf(&form);
    return id_token;
}

/* The nonce claim of an (unverified: the STS verifies it) id_token equals nonce. */
static bool nonce_ok(const char *id_token, const char *nonce)
{
    const char *d1 = strchr(id_token, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    uint8_t *raw = NULL;
    long n;
    bool ok = false;

    if (d1 == NULL || d2 == NULL || (n = enc_unb64url(d1 + 1, (size_t)(d2 - d1 - 1), &raw)) < 0)
        return false;
    json_t *j = json_loadb((const char *)raw, (size_t)n, 0, NULL);
    const char *v = jstr(j, "nonce");
    ok = v != NULL && strcmp(v, nonce) == 0;
    json_decref(j);
    free(raw);
    return ok;
}

/* The PKCE and anti-forgery values of one browser sign-in. */
struct pkce {
    char verifier[64], challenge[64], state[32], nonce[32], redirect[64];
};

static int pkce_init(struct pkce *p)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char *ch;

    if (random_b64url(p->verifier, sizeof p->verifier, 32) != 0 ||
        random_b64url(p->state, sizeof p->state, 16) != 0 ||
        random_b64url(p->nonce, sizeof p->nonce, 16) != 0)
        return -1;
    SHA256((const unsigned char *)p->verifier, strlen(p->verifier), digest);
    if ((ch = enc_b64url(digest, sizeof digest)) == NULL)
        return -1;
    snprintf(p->challenge, sizeof p->challenge, "%s", ch); /* S256 (RFC 7636 4.2) */
    free(ch);
    return 0;
}

/* Tells the user the authorization URL to open. 0, or -1 after a message. */
static int show_auth_url(struct lo *l, const char *auth_ep, const struct pkce *p)
{
    const char *kv[] = {
        "response_type", "code",   "client_id",      l->client_id, "redirect_uri",
        p->redirect,     "scope",  l->scope,         "state",      p->state,
        "nonce",         p->nonce, "code_challenge", p->challenge, "code_challenge_method",
        "S256",          NULL};
    struct buf q = {0};

    if (make_form(l, &q, kv) != 0)
        return -1;
    fputs("To sign in, open this address in a browser:\n", stderr);
    login_term_put(auth_ep); /* the provider's authorization endpoint and our parameters */
    fputc(strchr(auth_ep, '?') != NULL ? '&' : '?', stderr);
    fputs(buf_str(&q), stderr);
    fputs("\nWaiting for the sign-in...\n", stderr);
    fflush(stderr);
    buf_free(&q);
    return 0;
}

/* Trades the authorization code for the id_token (checking its nonce). */
static char *exchange_code(struct lo *l, const char *tok_ep, const char *code, const struct pkce *p)
{
    const char *kv[] = {
        "grant_type", "authorization_code", "code",      code,        "redirect_uri",
        p->redirect,  "code_verifier",      p->verifier, "client_id", l->client_id,
        NULL};
    json_t *j = NULL;
    long status = 0;
    char *id_token = NULL;

    if (token_call(l, tok_ep, kv, &j, &status) != 0)
        goto out;
    if (status != 200 || jstr(j, "id_token") == NULL)
        oauth_error(l, "the code exchange", status, j);
    else if (!nonce_ok(jstr(j, "id_token"), p->nonce))
        login_msg(&l->base, "the id_token's nonce does not match this sign-in: refused");
    else
        id_token = take_id_token(l, j);
out:
    json_decref(j);
    return id_token;
}

/* The code exchange, run by the callback listener before it answers the browser. */
struct exchange_ctx {
    struct lo *l;
    const char *tok_ep;
    const struct pkce *p;
    char *id_token;
};

static int exchange_cb(void *ctx, const char *code)
{
    struct exchange_ctx *x = ctx;
    x->id_token = exchange_code(x->l, x->tok_ep, code, x->p);
    return x->id_token != NULL ? 0 : -1;
}

/* The authorization code flow with PKCE through a loopback redirect: the browser is told
 * "Signed in" only once the code was exchanged for an id_token. */
static char *browser_flow(struct lo *l, json_t *disc)
{
    const char *auth_ep = jstr(disc, "authorization_endpoint");
    struct login_cb *cb = NULL;
    struct pkce p;
    struct exchange_ctx x = {l, jstr(disc, "token_endpoint"), &p, NULL};

    if (auth_ep == NULL) {
        login_msg(&l->base, "the provider has no authorization_endpoint");
        return NULL;
    }
    if (pkce_init(&p) != 0) {
        login_msg(&l->base, "no randomness");
        return NULL;
    }
    if ((cb = login_cb_start(&l->base, l->port, p.state, exchange_cb, &x)) == NULL)
        goto out;
    snprintf(p.redirect, sizeof p.redirect, "http://127.0.0.1:%u/callback", login_cb_port(cb));
    if (show_auth_url(l, auth_ep, &p) != 0 || login_cb_wait(cb, l->timeout) != 0)
        goto out;
    login_cb_stop(cb);
    OPENSSL_cleanse(&p, sizeof p);
    return x.id_token;
out:
    login_cb_stop(cb);
    OPENSSL_cleanse(&p, sizeof p);
    if (x.id_token != NULL) {
        OPENSSL_cleanse(x.id_token, strlen(x.id_token));
        free(x.id_token);
    }
    return NULL;
}

/* AssumeRoleWithWebIdentity with id_token; prints the credentials. Returns an exit status. */
static int assume(struct lo *l, const char *id_token)
{
    const char *kv[] = {"Action",
                        "AssumeRoleWithWebIdentity",
                        "Version",
                        "2011-06-15",
                        "WebIdentityToken",
                        id_token,
                        "RoleSessionName",
                        l->session_name != NULL ? l->session_name : "tessera-login",
                        "RoleArn",
                        l->role_arn,
                        "DurationSeconds",
                        l->base.duration,
                        "Policy",
                        l->base.policy,
                        NULL};
    struct buf form = {0};
    int rc = LOGIN_EXIT_ERR;

    if (make_form(l, &form, kv) == 0)
        rc = login_sts(&l->base, buf_str(&form), "AssumeRoleWithWebIdentity");
    login_wipe_buf(&form);
    return rc;
}

/* --provider NAME: looks the provider up in the server's GET /login/providers and takes its
 * issuer, client id, role ARN and scopes (each unless given). 0, or -1 after a message. */
static int resolve_provider(struct lo *l)
{
    const char *want = strcmp(l->issuer, "default") == 0 ? "" : l->issuer;
    json_t *doc = NULL, *found = NULL, *it;
    struct buf url;
    long status = 0;
    size_t i;
    int rc = -1;

    buf_init(&url, 4096);
    buf_addf(&url, "%s/login/providers", l->base.endpoint);
    if (json_call(l, buf_str(&url), NULL, false, &doc, &status) != 0)
        goto out;
    if (status != 200 || doc == NULL) {
        login_msg(&l->base, "%s: no provider list (HTTP %ld)", buf_str(&url), status);
        goto out;
    }
    json_array_foreach(json_object_get(doc, "providers"), i, it)
    {
        if (jstr(it, "name") != NULL && strcmp(jstr(it, "name"), want) == 0)
            found = it;
    }
    if (found == NULL || jstr(found, "issuer") == NULL) {
        login_msg(&l->base,
                  found == NULL ? "the server has no OpenID provider named \"%s\""
                                : "the server cannot reach the provider \"%s\" right now",
                  l->issuer);
        goto out;
    }
    l->issuer = l->owned[0] = strdup(jstr(found, "issuer"));
    if ((l->client_id == NULL || l->client_id[0] == '\0') && jstr(found, "client_id") != NULL)
        l->client_id = l->owned[1] = strdup(jstr(found, "client_id"));
    if (l->role_arn == NULL && jstr(found, "role_arn") != NULL)
        l->role_arn = l->owned[2] = strdup(jstr(found, "role_arn"));
    if (l->scope == NULL && jstr(found, "scopes") != NULL) /* the claims the server expects */
        l->scope = l->owned[3] = strdup(jstr(found, "scopes"));
    rc = l->issuer != NULL ? 0 : -1;
out:
    json_decref(doc);
    buf_free(&url);
    return rc;
}

enum {
    LOPT_PROVIDER = 300,
    LOPT_CLIENT_ID,
    LOPT_SCOPE,
    LOPT_ROLE_ARN,
    LOPT_SESSION_NAME,
    LOPT_BROWSER,
    LOPT_PORT,
    LOPT_TIMEOUT,
    LOPT_ID_TOKEN
};

/* A whole number in [lo, hi] from s into *v. 0, or -1. */
static int parse_long(const char *s, long lo, long hi, long *v)
{
    char *end;
    *v = strtol(s, &end, 10);
    return s[0] != '\0' && *end == '\0' && *v >= lo && *v <= hi ? 0 : -1;
}

static int oidc_opt(void *ctx, int code, const char *arg)
{
    struct lo *l = ctx;
    const char **str[] = {[LOPT_PROVIDER - LOPT_PROVIDER] = &l->issuer,
                          [LOPT_CLIENT_ID - LOPT_PROVIDER] = &l->client_id,
                          [LOPT_SCOPE - LOPT_PROVIDER] = &l->scope,
                          [LOPT_ROLE_ARN - LOPT_PROVIDER] = &l->role_arn,
                          [LOPT_SESSION_NAME - LOPT_PROVIDER] = &l->session_name};
    long v;

    if (code < LOPT_BROWSER) {
        *str[code - LOPT_PROVIDER] = arg;
    } else if (code == LOPT_BROWSER) {
        l->browser = true;
    } else if (code == LOPT_ID_TOKEN) {
        l->id_token_only = true;
    } else if (code == LOPT_PORT) {
        if (parse_long(arg, 0, 65535, &v) != 0) {
            login_msg(&l->base, "--port wants 0..65535");
            return -1;
        }
        l->port = (int)v;
    } else if (parse_long(arg, 1, 3600, &l->timeout) != 0) { /* LOPT_TIMEOUT */
        login_msg(&l->base, "--timeout wants 1..3600 seconds");
        return -1;
    }
    return 0;
}

/* Parses the command line into *l. 0 to go on, else the exit status (--help: 0 with *help). */
static int oidc_parse(struct lo *l, int argc, char **argv)
{
    static const struct option opts[] = {
        LOGIN_COMMON_OPTIONS,
        {"provider", required_argument, NULL, LOPT_PROVIDER},
        {"issuer", required_argument, NULL, LOPT_PROVIDER},
        {"client-id", required_argument, NULL, LOPT_CLIENT_ID},
        {"scope", required_argument, NULL, LOPT_SCOPE},
        {"role-arn", required_argument, NULL, LOPT_ROLE_ARN},
        {"session-name", required_argument, NULL, LOPT_SESSION_NAME},
        {"browser", no_argument, NULL, LOPT_BROWSER},
        {"port", required_argument, NULL, LOPT_PORT},
        {"timeout", required_argument, NULL, LOPT_TIMEOUT},
        {"id-token", no_argument, NULL, LOPT_ID_TOKEN},
        {NULL, 0, NULL, 0},
    };
    int rc = login_parse(&l->base, argc, argv, opts, oidc_opt, l);

    if (rc != 0 || l->base.help)
        return rc;
    if (l->issuer == NULL || l->issuer[0] == '\0') {
        login_msg(&l->base, "--provider NAME or ISSUER_URL is required");
        fputs(oidc_usage, stderr);
        return LOGIN_EXIT_USAGE;
    }
    if (l->id_token_only && (l->base.env || l->base.cache != NULL)) {
        login_msg(&l->base, "--id-token prints the id_token only: not with --env or --cache");
        fputs(oidc_usage, stderr);
        return LOGIN_EXIT_USAGE;
    }
    if (l->secret != NULL && l->secret[0] == '\0')
        l->secret = NULL;
    return 0;
}

static bool has_client_id(struct lo *l)
{
    if (l->client_id != NULL && l->client_id[0] != '\0')
        return true;
    login_msg(&l->base, "a client id is required: --client-id ID or TESSERA_OIDC_CLIENT_ID");
    return false;
}

/* Signs in (first through a cached refresh token in l->base.refresh, when there is one) and
 * trades the id_token for credentials. Returns an exit status. */
static int oidc_run(struct lo *l, bool by_name)
{
    json_t *disc = NULL;
    char *id_token = NULL;
    int rc = LOGIN_EXIT_ERR;

    if ((by_name && resolve_provider(l) != 0) || !has_client_id(l) || (disc = discover(l)) == NULL)
        goto out;
    if (l->scope == NULL)
        l->scope = "openid profile";
    if (l->base.refresh != NULL && (id_token = refresh_flow(l, disc)) == NULL &&
        login_need_terminal(&l->base, "the sign-in has expired and could not be renewed, and "
                                      "there is no terminal to sign in on again") != 0)
        goto out;
    if (id_token == NULL && !l->browser && jstr(disc, "device_authorization_endpoint") != NULL)
        id_token = device_flow(l, disc);
    else if (id_token == NULL)
        id_token = browser_flow(l, disc);
    if (id_token != NULL && l->id_token_only) {
        printf("%s\n", id_token);
        rc = fflush(stdout) == 0 ? LOGIN_EXIT_OK : LOGIN_EXIT_ERR;
    } else if (id_token != NULL)
        rc = assume(l, id_token);
out:
    if (id_token != NULL) {
        OPENSSL_cleanse(id_token, strlen(id_token));
        free(id_token);
    }
    json_decref(disc);
    return rc;
}

int login_oidc_main(int argc, char **argv)
{
    struct lo l = {.base = {.who = "tessera login oidc", .usage = oidc_usage, .renews = true},
                   .client_id = getenv("TESSERA_OIDC_CLIENT_ID"),
                   .secret = getenv("TESSERA_OIDC_CLIENT_SECRET"),
                   .timeout = 300};
    int rc = oidc_parse(&l, argc, argv);
    bool by_name;

    if (rc != 0 || l.base.help)
        return rc;
    by_name = strncmp(l.issuer, "http://", 7) != 0 && strncmp(l.issuer, "https://", 8) != 0;
    if (!by_name && !has_client_id(&l))
        return LOGIN_EXIT_USAGE;
    const char *id[] = {l.issuer, l.client_id, l.role_arn, l.session_name, l.scope};
    if (login_prepare(&l.base) != 0 || login_set_cache_id(&l.base, id, 5) != 0)
        rc = LOGIN_EXIT_ERR;
    else if (l.base.cache != NULL && login_cache_hit(&l.base))
        rc = LOGIN_EXIT_OK;
    else if (l.base.cache != NULL && (l.base.refresh = login_cache_refresh(&l.base)) == NULL &&
             login_need_terminal(&l.base, NULL) != 0)
        rc = LOGIN_EXIT_ERR;
    else
        rc = oidc_run(&l, by_name);
    login_release(&l.base);
    for (size_t k = 0; k < sizeof l.owned / sizeof l.owned[0]; k++)
        free(l.owned[k]);
    return rc;
}
