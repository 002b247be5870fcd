/* login_web.c -- the browser login at /login (see login_web.h and docs/API.md).
 *
 *   GET  /login           the sign-in page: one link per OpenID provider, and the LDAP form
 *                         (with a CSRF token bound to the tessera_login_csrf cookie)
 *   GET  /login/start     ?provider=NAME: seals {provider, state, nonce, PKCE verifier,
 *                         redirect URI, expiry} into the tessera_login_flow cookie and
 *                         redirects to the provider's authorization endpoint
 *   GET  /login/callback  checks state against the cookie, clears it, exchanges the code
 *                         (confidential client), checks the id_token's nonce and federates
 *                         it with AssumeRoleWithWebIdentity's backend (sts_federate)
 *   POST /login/ldap      checks the CSRF token, federates the user name and password with
 *                         AssumeRoleWithLDAPIdentity's backend (sts_federate)
 *
 * The pages that may wait on the provider or the directory (all but /login itself) are
 * rate-limited per source address before any other work, like the unsigned STS logins, and
 * run on the route's worker threads (route->blocking), never on the HTTP threads.
 *
 * The credentials page and every response carrying a secret are sent with Cache-Control:
 * no-store and Pragma: no-cache; a restrictive Content-Security-Policy allows only the page's
 * own inline style and copy script (by hash) and no external asset. Every printed value goes
 * through buf_add_xml. Errors (including those sts_federate returns) are small HTML pages
 * (HTTP_ERR_HTML).
 */
#include "sts/login_web.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "sts/sts_int.h"

#define FLOW_COOKIE "tessera_login_flow"
#define CSRF_COOKIE "tessera_login_csrf"
#define FLOW_LABEL "tessera-login-flow-v1"
#define CSRF_LABEL "tessera-login-csrf-v1"
#define HTML "text/html; charset=utf-8"
#define PAGE_MAX (256 * 1024)

struct login_web {
    struct sts_ctx *sts;
    struct oidc_providers *ps;
    login_web_buckets_fn buckets;
    void *buckets_ctx;
    char csp[512];
};

static const char page_style[] =
    "body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b}pre{background:#f3f3f3;padding:.75rem;overflow-x:auto;white-space:pre-wrap;"
    "word-break:break-all}code{word-break:break-all}a.provider{display:inline-block;padding:"
    ".5rem 1rem;margin:.25rem 0;border:1px solid #888;border-radius:4px;text-decoration:none}"
    "label{display:block;margin:.5rem 0}dt{font-weight:bold}dd{margin:0 0 .5rem 0}";
static const char page_script[] =
    "document.querySelectorAll('button[data-copy]').forEach(function(b){"
    "b.addEventListener('click',function(){var t=document.getElementById(b.dataset.copy);"
    "if(navigator.clipboard){navigator.clipboard.writeText(t.textContent).then(function(){"
    "b.textContent='Copied';});}});});";

static void csp_hash(const char *s, char *out, size_t outlen)
{
    uint8_t d[32];
    enc_sha256(s, strlen(s), d);
    char *b = enc_b64(d, sizeof d);
    snprintf(out, outlen, "'sha256-%s'", b != NULL ? b : "");
    free(b);
}

struct login_web *login_web_new(struct sts_ctx *c, struct oidc_providers *ps)
{
    struct login_web *w = calloc(1, sizeof *w);
    char hs[80], hj[80];
    if (w == NULL)
        return NULL;
    w->sts = c;
    w->ps = ps;
    csp_hash(page_style, hs, sizeof hs);
    csp_hash(page_script, hj, sizeof hj);
    snprintf(w->csp, sizeof w->csp,
             "default-src 'none'; style-src %s; script-src %s; form-action 'self'; "
             "frame-ancestors 'none'; base-uri 'none'",
             hs, hj);
    return w;
}

void login_web_set_buckets(struct login_web *w, login_web_buckets_fn fn, void *ctx)
{
    w->buckets = fn;
    w->buckets_ctx = ctx;
}

void login_web_free(struct login_web *w)
{
    free(w);
}

/* ---- small helpers ---- */

static size_t nproviders(const struct login_web *w)
{
    return w->ps != NULL ? oidc_providers_count(w->ps) : 0;
}

/* Providers the browser can sign in with: those with a discovery document (a provider given
 * by its JWKS URL alone has no authorization endpoint). */
static size_t nlogin_providers(const struct login_web *w)
{
    size_t n = 0;
    for (size_t i = 0; i < nproviders(w); i++)
        n += oidc_provider_has_discovery(w->ps, i);
    return n;
}

static bool has_ldap(const struct login_web *w)
{
    return sts_backend(w->sts, "AssumeRoleWithLDAPIdentity") != NULL;
}

/* base64url (core/enc.c) of at most 32 bytes into out (43 characters and a NUL). */
static int b64url(const uint8_t *in, size_t n, char out[48])
{
    char *t = enc_b64url(in, n);
    size_t len = t != NULL ? strlen(t) : 0;
    int rc = t != NULL && len < 48 ? 0 : -1;

    if (rc == 0)
        memcpy(out, t, len + 1);
    free(t);
    return rc;
}

/* 32 random bytes as 43 base64url characters (state, nonce, verifier, CSRF token). */
static int random_token(char out[48])
{
    uint8_t raw[32];
    if (enc_random(raw, sizeof raw) != 0)
        return -1;
    int rc = b64url(raw, sizeof raw, out);
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

static bool same(const char *a, const char *b)
{
    size_t n = a != NULL ? strlen(a) : 0;
    return a != NULL && b != NULL && n > 0 && n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* The Host header when it is a plain host[:port] (it ends up in URLs and pages). */
static const char *safe_host(struct http_req *r)
{
    const char *h = http_req_header(r, "Host");
    if (h == NULL || *h == '\0' || strlen(h) > 255 ||
        strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
            strlen(h))
        return NULL;
    return h;
}

/* The value of cookie name from the Cookie header(s), malloc'ed, or NULL. */
struct cookie_find {
    const char *name;
    char *value;
};

static int cookie_cb(void *ctx, const char *name, const char *value)
{
    struct cookie_find *f = ctx;
    size_t n = strlen(f->name);
    const char *s = value;
    if (strcasecmp(name, "Cookie") != 0)
        return 0;
    while (s != NULL && *s) {
        while (*s == ' ' || *s == ';')
            s++;
        const char *end = strchr(s, ';');
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        if (len > n && strncmp(s, f->name, n) == 0 && s[n] == '=') {
            free(f->value);
            f->value = strndup(s + n + 1, len - n - 1);
            return 1;
        }
        s = end;
    }
    return 0;
}

static char *cookie_get(struct http_req *r, const char *name)
{
    struct cookie_find f = {name, NULL};
    http_req_header_foreach(r, cookie_cb, &f);
    return f.value;
}

static void cookie_set(struct http_req *r, const char *name, const char *value, long max_age)
{
    struct buf b;
    buf_init(&b, 16384);
    buf_addf(&b, "%s=%s; Path=/login; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name, value, max_age,
             r->tls ? "; Secure" : "");
    if (!buf_failed(&b))
        http_reply_header(r, "Set-Cookie", buf_str(&b));
    buf_free(&b);
}

static void no_store(struct http_req *r)
{
    http_reply_header(r, "Cache-Control", "no-store");
    http_reply_header(r, "Pragma", "no-cache");
    http_reply_header(r, "Expires", "0");
}

/* For pages (the callers already sent no_store). */
static void page_headers(struct login_web *w, struct http_req *r)
{
    http_reply_header(r, "Content-Security-Policy", w->csp);
    http_reply_header(r, "X-Content-Type-Options", "nosniff");
    http_reply_header(r, "X-Frame-Options", "DENY");
    http_reply_header(r, "Referrer-Policy", "no-referrer");
}

static void page_begin(struct buf *b, const char *title)
{
    buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    buf_add_xml(b, title);
    buf_adds(b, "</title><style>");
    buf_adds(b, page_style);
    buf_adds(b, "</style></head><body><h1>");
    buf_add_xml(b, title);
    buf_adds(b, "</h1>\n");
}

static int page_send(struct http_req *r, int status, struct buf *b)
{
    size_t len;
    char *body;
    buf_adds(b, "</body></html>\n");
    body = buf_take(b, &len);
    if (body == NULL)
        return http_reply_error(r, TS_E_INTERNAL, NULL);
    int rc = http_reply_data(r, status, HTML, body, len, false);
    OPENSSL_cleanse(body, len);
    free(body);
    return rc;
}

static int fail(struct http_req *r, int err, const char *msg)
{
    return http_reply_error(r, err, msg);
}

/* ---- GET /login ---- */

/* What a provider's button says: its DISPLAY_NAME, else its name, else "OpenID Connect". */
static const char *provider_label(const char *name, const char *display_name)
{
    if (display_name != NULL && *display_name)
        return display_name;
    return name != NULL && *name ? name : "OpenID Connect";
}

/* Which address the providers must have registered as a redirect URI, and what a provider
 * shows when it does not. */
static void callback_help(struct buf *b, struct http_req *r)
{
    const char *host = safe_host(r);

    buf_adds(b, "<p id=\"callback-help\">Single sign-on works only when the provider has this "
                "server's callback registered as a valid redirect URI for its client: <code "
                "id=\"callback-url\">");
    buf_addf(b, "%s://", r->tls ? "https" : "http");
    buf_add_xml(b, host != NULL ? host : "TESSERA_HOST");
    buf_adds(b, "/login/callback</code> (or the address set in "
                "<code>TESSERA_IDENTITY_OPENID_REDIRECT_URI</code>). When it is not, the "
                "provider shows its own error (such as <q>Invalid parameter: redirect_uri</q>) "
                "instead of its sign-in page: ask its administrator to add that address "
                "(docs/KEYCLOAK.md).</p>\n");
}

static void index_page(struct login_web *w, struct http_req *r)
{
    struct buf b;
    size_t n = nproviders(w);

    no_store(r);
    page_headers(w, r);
    buf_init(&b, PAGE_MAX);
    page_begin(&b, "Sign in to tessera");
    if (nlogin_providers(w) > 0) {
        buf_adds(&b, "<h2>Single sign-on</h2>\n<ul id=\"providers\">\n");
        for (size_t i = 0; i < n; i++) {
            const char *name = "";
            if (!oidc_provider_has_discovery(w->ps, i))
                continue;
            oidc_provider_role_arn(w->ps, i, &name);
            char *q = enc_uri_encode(name, strlen(name), false);
            buf_adds(&b, "<li><a class=\"provider\" href=\"/login/start?provider=");
            buf_add_xml(&b, q != NULL ? q : "");
            buf_adds(&b, "\">Sign in with ");
            buf_add_xml(&b, provider_label(name, oidc_provider_display_name(w->ps, i)));
            buf_adds(&b, "</a></li>\n");
            free(q);
        }
        buf_adds(&b, "</ul>\n");
        callback_help(&b, r);
    }
    if (has_ldap(w)) {
        char tok[48], *sealed = NULL;
        json_t *j;
        char *plain;
        if (random_token(tok) != 0) {
            buf_free(&b);
            fail(r, TS_E_INTERNAL, NULL);
            return;
        }
        j = json_pack("{s:s, s:I}", "t", tok, "e", (json_int_t)(enc_now() + LOGIN_WEB_COOKIE_TTL));
        plain = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (plain == NULL ||
            sts_seal_blob(w->sts, CSRF_LABEL, plain, strlen(plain), &sealed) != TS_OK) {
            free(plain);
            buf_free(&b);
            fail(r, TS_E_INTERNAL, NULL);
            return;
        }
        free(plain);
        cookie_set(r, CSRF_COOKIE, sealed, LOGIN_WEB_COOKIE_TTL);
        free(sealed);
        buf_adds(&b, "<h2>Directory account (LDAP)</h2>\n"
                     "<form id=\"ldap\" method=\"post\" action=\"/login/ldap\">"
                     "<input type=\"hidden\" name=\"csrf\" value=\"");
        buf_add_xml(&b, tok);
        buf_adds(&b, "\"><label>Username <input name=\"username\" autocomplete=\"username\" "
                     "required></label><label>Password <input name=\"password\" "
                     "type=\"password\" autocomplete=\"current-password\" required></label>"
                     "<button type=\"submit\">Sign in</button></form>\n");
        OPENSSL_cleanse(tok, sizeof tok);
    }
    if (n == 0 && !has_ldap(w))
        buf_adds(&b, "<p id=\"none\">No sign-in method is configured on this server.</p>\n");
    if (buf_failed(&b)) {
        buf_free(&b);
        fail(r, TS_E_INTERNAL, NULL);
        return;
    }
    page_send(r, 200, &b);
}

/* ---- GET /login/start ---- */

static long provider_index(struct login_web *w, const char *name)
{
    for (size_t i = 0; name != NULL && i < nproviders(w); i++) {
        const char *pn = "";
        oidc_provider_role_arn(w->ps, i, &pn);
        if (strcmp(pn, name) == 0)
            return (long)i;
    }
    return -1;
}

/* The redirect URI: the provider's REDIRECT_URI, else derived from the request's Host. */
static int redirect_uri(struct http_req *r, const struct oidc_login_info *info, struct buf *out)
{
    const char *host;
    if (info->redirect_uri != NULL && *info->redirect_uri != '\0')
        return buf_adds(out, info->redirect_uri) == 0 ? TS_OK : TS_E_INTERNAL;
    if ((host = safe_host(r)) == NULL)
        return TS_E_INVALID_REQUEST;
    buf_addf(out, "%s://%s/login/callback", r->tls ? "https" : "http", host);
    return buf_failed(out) ? TS_E_INTERNAL : TS_OK;
}

static void query_add(struct buf *b, const char *key, const char *value)
{
    char *v = enc_uri_encode(value, strlen(value), false);
    buf_addf(b, "&%s=%s", key, v != NULL ? v : "");
    free(v);
}

/* The PKCE S256 challenge of a verifier (RFC 7636 4.2). */
static int pkce_challenge(const char *verifier, char challenge[48])
{
    uint8_t digest[32];

    enc_sha256(verifier, strlen(verifier), digest);
    return b64url(digest, sizeof digest, challenge);
}

/* Scopes: SCOPES (comma or space separated), always with openid. */
static void scope_list(const char *scopes, struct buf *scope)
{
    if (scopes == NULL || *scopes == '\0') {
        buf_adds(scope, "openid");
        return;
    }
    for (const char *s = scopes; *s; s++)
        buf_add(scope, *s == ',' ? " " : s, 1);
    bool has_openid = false;
    char *copy = strdup(buf_str(scope)), *save = NULL;
    for (char *t = copy != NULL ? strtok_r(copy, " ", &save) : NULL; t != NULL;
         t = strtok_r(NULL, " ", &save))
        has_openid = has_openid || strcmp(t, "openid") == 0;
    free(copy);
    if (!has_openid)
        buf_adds(scope, " openid");
}

static void start(struct login_web *w, struct http_req *r)
{
    struct oidc_login_info info;
    struct buf redir, loc, scope;
    char state[48], nonce[48], verifier[48], challenge[48];
    char *plain = NULL, *sealed = NULL;
    const char *why = NULL;
    json_t *j = NULL;
    long i = provider_index(w, http_req_query(r, "provider"));
    int rc;

    no_store(r);
    buf_init(&redir, 4096);
    buf_init(&loc, 64 * 1024);
    buf_init(&scope, 4096);
    if (i < 0) {
        fail(r, TS_E_INVALID_REQUEST, "No such sign-in provider.");
        goto out;
    }
    rc = oidc_login_info(w->ps, (size_t)i, &info, &why);
    if (rc != TS_OK) {
        fail(r, rc == TS_E_INVALID_ARGUMENT ? TS_E_STS_IDP_COMMUNICATION : rc, why);
        goto out;
    }
    if ((rc = redirect_uri(r, &info, &redir)) != TS_OK) {
        fail(r, rc, rc == TS_E_INVALID_REQUEST ? "The request has no usable Host header." : NULL);
        goto out;
    }
    if (random_token(state) != 0 || random_token(nonce) != 0 || random_token(verifier) != 0 ||
        pkce_challenge(verifier, challenge) != 0) {
        fail(r, TS_E_INTERNAL, NULL);
        goto out;
    }
    scope_list(info.scopes, &scope);

    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "p", info.name, "s", state, "n", nonce, "v",
                  verifier, "r", buf_str(&redir), "e",
                  (json_int_t)(enc_now() + LOGIN_WEB_COOKIE_TTL));
    plain = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    if (plain == NULL ||
        sts_seal_blob(w->sts, FLOW_LABEL, plain, strlen(plain), &sealed) != TS_OK) {
        fail(r, TS_E_INTERNAL, NULL);
        goto out;
    }
    const char *params[][2] = {{"client_id", info.client_id},
                               {"redirect_uri", buf_str(&redir)},
                               {"scope", buf_str(&scope)},
                               {"state", state},
                               {"nonce", nonce},
                               {"code_challenge", challenge},
                               {"code_challenge_method", "S256"}};
    buf_adds(&loc, info.authorization_endpoint);
    buf_adds(&loc, strchr(info.authorization_endpoint, '?') != NULL ? "&" : "?");
    buf_adds(&loc, "response_type=code");
    for (size_t k = 0; k < sizeof params / sizeof params[0]; k++)
        query_add(&loc, params[k][0], params[k][1]);
    if (buf_failed(&loc) || buf_failed(&scope)) {
        fail(r, TS_E_INTERNAL, NULL);
        goto out;
    }
    cookie_set(r, FLOW_COOKIE, sealed, LOGIN_WEB_COOKIE_TTL);
    http_reply_header(r, "Location", buf_str(&loc));
    http_reply_header(r, "Referrer-Policy", "no-referrer");
    static const char moved[] = "Redirecting to the identity provider.\n";
    http_reply_data(r, 302, "text/plain", (void *)moved, sizeof moved - 1, false);
    log_kv(LOG_INFO, "login.start", "provider", info.name, "source_ip", r->source_ip, NULL);
out:
    OPENSSL_cleanse(verifier, sizeof verifier);
    enc_secret_free(plain);
    free(sealed);
    json_decref(j);
    buf_free(&redir);
    buf_free(&loc);
    buf_free(&scope);
}

/* ---- the credentials page ---- */

static void add_kv(struct buf *b, const char *id, const char *label, const char *value)
{
    buf_addf(b, "<dt>%s</dt><dd><code id=\"%s\">", label, id);
    buf_add_xml(b, value);
    buf_adds(b, "</code></dd>\n");
}

/* A copyable snippet: the text printed from fmt into the scratch buffer s, then escaped into
 * b. */
__attribute__((format(printf, 5, 6))) static void
snippet(struct buf *b, struct buf *s, const char *id, const char *title, const char *fmt, ...)
{
    va_list ap;

    s->len = 0;
    va_start(ap, fmt);
    buf_vaddf(s, fmt, ap);
    va_end(ap);
    buf_addf(b,
             "<h3>%s <button type=\"button\" data-copy=\"%s\">Copy</button></h3>"
             "<pre id=\"%s\">",
             title, id, id);
    buf_add_xml(b, buf_str(s));
    buf_adds(b, "</pre>\n");
}

/* The buckets the credentials can list (NULL: the list is not available). */
static void bucket_list(struct buf *b, const struct iam_strv *buckets)
{
    if (buckets == NULL)
        buf_adds(b, "<p id=\"buckets-unknown\">The bucket list is not available.</p>\n");
    else if (buckets->n == 0)
        buf_adds(b, "<p id=\"no-buckets\">None.</p>\n");
    else {
        buf_adds(b, "<ul id=\"buckets\">\n");
        for (size_t i = 0; i < buckets->n; i++) {
            buf_adds(b, "<li>");
            buf_add_xml(b, buckets->v[i]);
            buf_adds(b, "</li>\n");
        }
        buf_adds(b, "</ul>\n");
    }
}

/* How the credentials were obtained, for the page and its credential_process snippet. */
struct login_how {
    const char *via;      /* "LDAP", or the provider's display name */
    const char *who;      /* the user, or NULL */
    const char *provider; /* the OpenID provider's name ("" for the default), or NULL: LDAP */
    bool has_secret;      /* the provider's client is confidential */
};

/* A word for a shell command line: as is when plain, else single-quoted. */
static void shell_word(struct buf *b, const char *s)
{
    if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "-_.@") == strlen(s)) {
        buf_adds(b, s);
        return;
    }
    buf_adds(b, "'");
    for (; *s; s++)
        buf_adds(b, *s == '\'' ? "'\\''" : (char[]){*s, '\0'});
    buf_adds(b, "'");
}

/* `tessera login ...` that gets such credentials again, for credential_process. */
static void login_command(struct buf *c, const struct login_how *how, const char *endpoint)
{
    const char *pn = how->provider != NULL && *how->provider ? how->provider : "default";

    buf_addf(c, "tessera login %s --endpoint %s ", how->provider != NULL ? "oidc" : "ldap",
             endpoint);
    if (how->provider != NULL) {
        buf_adds(c, "--provider ");
        shell_word(c, pn);
        buf_adds(c, " --cache ~/.aws/tessera-oidc-");
        shell_word(c, pn);
        buf_adds(c, ".json");
    } else {
        buf_adds(c, "--user ");
        shell_word(c, how->who != NULL ? how->who : "NAME");
        buf_adds(c, " --cache ~/.aws/tessera-ldap.json");
    }
}

/* The shell, boto3, profile and credential_process snippets. Every tool generation reads the
 * region and credentials from the environment and the profile files; endpoint_url and
 * AWS_ENDPOINT_URL only aws cli >= 1.29 / 2.13 and boto3 >= 1.28 (Debian 12's aws cli 2.9 and
 * boto3 1.26 go to amazonaws.com), so the commands name the endpoint themselves. */
static void usage_snippets(struct buf *b, const struct sts_creds *cr, const char *endpoint,
                           const struct login_how *how)
{
    const char *region = cfg_str(CFG_REGION);
    struct buf s, cmd;

    buf_init(&s, PAGE_MAX);
    buf_init(&cmd, 8192);
    login_command(&cmd, how, endpoint);
    buf_adds(b,
             "<p id=\"endpoint-help\">The commands name the endpoint (<code>--endpoint-url"
             "</code>, <code>endpoint_url=</code>): aws cli 1.29 / 2.13 and boto3 1.28 or newer "
             "also read <code>AWS_ENDPOINT_URL</code> and a profile's <code>endpoint_url</code>, "
             "older ones (such as Debian 12's aws cli 2.9 and boto3 1.26) ignore them and "
             "would go to amazonaws.com.</p>\n");
    snippet(b, &s, "snippet-env", "Shell",
            "export AWS_ACCESS_KEY_ID='%s'\nexport AWS_SECRET_ACCESS_KEY='%s'\n"
            "export AWS_SESSION_TOKEN='%s'\nexport AWS_DEFAULT_REGION='%s'\n"
            "aws --endpoint-url %s s3 ls\n",
            cr->access_key, cr->secret_key, cr->session_token, region, endpoint);
    snippet(b, &s, "snippet-boto3", "Python (boto3), after the Shell exports",
            "import boto3\ns3 = boto3.client(\"s3\", endpoint_url=\"%s\", region_name=\"%s\")\n"
            "print([b[\"Name\"] for b in s3.list_buckets()[\"Buckets\"]])\n",
            endpoint, region);
    snippet(b, &s, "snippet-profile", "AWS profile",
            "# ~/.aws/credentials\n[tessera]\naws_access_key_id = %s\naws_secret_access_key = "
            "%s\naws_session_token = %s\n\n# ~/.aws/config\n[profile tessera]\nregion = %s\n"
            "# read by aws cli >= 1.29 / 2.13 and boto3 >= 1.28 only:\nendpoint_url = %s\n\n"
            "# then, with every version:\naws --profile tessera --endpoint-url %s s3 ls\n",
            cr->access_key, cr->secret_key, cr->session_token, region, endpoint, endpoint);
    snippet(b, &s, "snippet-credential-process",
            "credential_process profile (new credentials whenever these expire)",
            "# ~/.aws/config (tessera on the PATH%s)\n[profile tessera-login]\nregion = %s\n"
            "credential_process = %s\n\n# once in a terminal (the aws tools cannot show a "
            "%s), then whenever asked to:\n%s > /dev/null\n"
            "aws --profile tessera-login --endpoint-url %s s3 ls\n",
            how->has_secret ? "; the client's secret in TESSERA_OIDC_CLIENT_SECRET" : "", region,
            buf_str(&cmd), how->provider != NULL ? "sign-in" : "password prompt", buf_str(&cmd),
            endpoint);
    if (s.p != NULL)
        OPENSSL_cleanse(s.p, s.cap);
    buf_free(&s);
    buf_free(&cmd);
}

static void creds_page(struct login_web *w, struct http_req *r, const struct login_how *how,
                       const struct sts_creds *cr)
{
    const char *via = how->via, *who = how->who;
    struct buf b;
    struct iam_strv buckets = {0};
    struct pol_principal *p = NULL;
    char exp[32];
    const char *host = safe_host(r);
    char endpoint[300];
    bool listed = false;

    snprintf(endpoint, sizeof endpoint, "%s://%s", r->tls ? "https" : "http",
             host != NULL ? host : "TESSERA_HOST");
    sts_time_expiration(cr->expires, exp);
    if (w->buckets != NULL &&
        sts_principal_for(w->sts, cr->access_key, cr->session_token, &p) == TS_OK) {
        listed = w->buckets(w->buckets_ctx, r, p, &buckets) == TS_OK;
        pol_principal_free(p);
    }

    page_headers(w, r);
    buf_init(&b, PAGE_MAX);
    page_begin(&b, "Your temporary credentials");
    buf_adds(&b, "<p>Signed in");
    if (who != NULL && *who) {
        buf_adds(&b, " as <strong id=\"who\">");
        buf_add_xml(&b, who);
        buf_adds(&b, "</strong>");
    }
    buf_adds(&b, " with ");
    buf_add_xml(&b, via);
    buf_addf(&b,
             ". These credentials expire at <time id=\"expiration\" datetime=\"%s\">%s</time>"
             " (in about %ld minutes). Keep them secret; this page is not cached.</p>\n",
             exp, exp, (long)((cr->expires - enc_now() + 59) / 60));
    buf_adds(&b, "<dl>\n");
    add_kv(&b, "access_key", "Access key", cr->access_key);
    add_kv(&b, "secret_key", "Secret key", cr->secret_key);
    add_kv(&b, "session_token", "Session token", cr->session_token);
    add_kv(&b, "endpoint", "Endpoint", endpoint);
    add_kv(&b, "arn", "Assumed role ARN", cr->arn);
    buf_adds(&b, "</dl>\n<h2>Buckets you can list</h2>\n");
    bucket_list(&b, listed ? &buckets : NULL);
    buf_adds(&b, "<h2>Use them</h2>\n");
    usage_snippets(&b, cr, endpoint, how);
    buf_adds(&b, "<p><a href=\"/login\">Sign in again</a></p>\n<script>");
    buf_adds(&b, page_script);
    buf_adds(&b, "</script>\n");
    iam_strv_free(&buckets);
    if (buf_failed(&b)) {
        if (b.p != NULL)
            OPENSSL_cleanse(b.p, b.cap);
        buf_free(&b);
        fail(r, TS_E_INTERNAL, NULL);
        return;
    }
    page_send(r, 200, &b);
}

/* Federates p with action's backend (sts_federate, as the STS endpoint does) and shows the
 * credentials; errors become HTML pages. */
static void assume_and_show(struct login_web *w, struct http_req *r, const char *action,
                            struct sts_params *p, const struct login_how *how)
{
    struct sts_federation f;
    struct ts_error err;

    if (sts_federate(w->sts, action, r, p, &f, &err) != TS_OK) {
        sts_count_refusal(action, err.code); /* with the STS API's refusals */
        fail(r, err.code, ts_error_msg(&err));
        return;
    }
    creds_page(w, r, how, &f.creds);
    sts_federation_cleanup(&f);
}

/* The audit record of a sign-in the page refused (the caller is anonymous). */
static void login_deny_audit(struct http_req *r, const char *reason)
{
    struct log_actor who;
    pol_audit_actor(r, &who);
    log_audit(&who, "login.deny", "denied", "reason", reason, NULL);
}

/* A sign-in the page refuses itself, before any backend is asked (a forged, stale or
 * mismatched form or callback): audited when reason is set, counted with the STS API's
 * refusals of action (tessera_sts_refusals_total), and shown. */
static void refuse(struct http_req *r, const char *action, const char *reason, int err,
                   const char *msg)
{
    if (reason != NULL)
        login_deny_audit(r, reason);
    sts_count_refusal(action, err);
    fail(r, err, msg);
}

#define WEB_ACTION "AssumeRoleWithWebIdentity"
#define LDAP_ACTION "AssumeRoleWithLDAPIdentity"

/* ---- GET /login/callback ---- */

/* The callback's state matches the flow cookie's, and the provider answered with a code
 * (not an error); otherwise replies with the error page. */
static bool callback_answer_ok(struct http_req *r, const char *cstate)
{
    const char *state = http_req_query(r, "state"), *code = http_req_query(r, "code");
    const char *err = http_req_query(r, "error");

    if (!same(state, cstate)) {
        refuse(r, WEB_ACTION, "state mismatch", TS_E_INVALID_REQUEST,
               "The state parameter does not match this sign-in.");
        return false;
    }
    if (err != NULL) {
        const char *desc = http_req_query(r, "error_description");
        char msg[512];
        snprintf(msg, sizeof msg, "The identity provider answered: %.100s%s%.300s", err,
                 desc != NULL ? ": " : "", desc != NULL ? desc : "");
        fail(r, TS_E_ACCESS_DENIED, msg);
        return false;
    }
    if (code == NULL || *code == '\0') {
        refuse(r, WEB_ACTION, NULL, TS_E_INVALID_REQUEST,
               "The callback carries no authorization code.");
        return false;
    }
    return true;
}

static void callback(struct login_web *w, struct http_req *r)
{
    char *cookie = cookie_get(r, FLOW_COOKIE), *plain = NULL, *id_token = NULL, *tnonce = NULL;
    const char *code = http_req_query(r, "code"), *why = NULL;
    const char *pname, *cstate, *cnonce, *verifier, *redir;
    struct sts_params *params = NULL;
    struct oidc_login_info info;
    size_t n = 0;
    json_t *j = NULL;
    json_int_t exp;
    long i;
    int rc;

    no_store(r);
    cookie_set(r, FLOW_COOKIE, "", 0); /* single use: cleared whatever happens */
    if (cookie == NULL ||
        sts_open_blob(w->sts, FLOW_LABEL, cookie, strlen(cookie), &plain, &n) != TS_OK) {
        refuse(r, WEB_ACTION, "state missing", TS_E_INVALID_REQUEST,
               "The sign-in was not started in this browser, or its cookie was altered. Start "
               "again from /login.");
        goto out;
    }
    j = json_loadb(plain, n, 0, NULL);
    if (json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:I}", "p", &pname, "s", &cstate, "n", &cnonce,
                    "v", &verifier, "r", &redir, "e", &exp) != 0) {
        refuse(r, WEB_ACTION, "state malformed", TS_E_INVALID_REQUEST,
               "The sign-in cookie is malformed.");
        goto out;
    }
    if (exp < (json_int_t)enc_now()) {
        refuse(r, WEB_ACTION, "state expired", TS_E_INVALID_REQUEST,
               "The sign-in took too long. Start again from /login.");
        goto out;
    }
    if (!callback_answer_ok(r, cstate))
        goto out;
    if ((i = provider_index(w, pname)) < 0 ||
        oidc_login_info(w->ps, (size_t)i, &info, &why) != TS_OK) {
        fail(r, TS_E_INVALID_REQUEST, "The provider of this sign-in is no longer configured.");
        goto out;
    }
    rc = oidc_code_exchange(w->ps, (size_t)i, code, verifier, redir, &id_token, &why);
    if (rc != TS_OK) {
        refuse(r, WEB_ACTION, NULL, rc, why); /* the provider's refusal of the code */
        goto out;
    }
    tnonce = oidc_token_claim(id_token, "nonce");
    if (!same(tnonce, cnonce)) {
        refuse(r, WEB_ACTION, "nonce mismatch", TS_E_STS_INVALID_IDENTITY_TOKEN,
               "The id_token's nonce does not match this sign-in.");
        goto out;
    }
    params = sts_params_new();
    if (params == NULL || sts_params_set(params, "WebIdentityToken", id_token) != TS_OK ||
        (info.role_arn != NULL && sts_params_set(params, "RoleArn", info.role_arn) != TS_OK)) {
        fail(r, TS_E_INTERNAL, NULL);
        goto out;
    }
    {
        char *who = oidc_token_claim(id_token, "preferred_username");
        if (who == NULL)
            who = oidc_token_claim(id_token, "sub");
        struct login_how how = {provider_label(info.name, info.display_name), who, info.name,
                                info.has_secret};
        assume_and_show(w, r, "AssumeRoleWithWebIdentity", params, &how);
        free(who);
    }
out:
    sts_params_free(params);
    enc_secret_free(id_token);
    free(tnonce);
    json_decref(j);
    if (plain != NULL) {
        OPENSSL_cleanse(plain, n);
        free(plain);
    }
    free(cookie);
}

/* ---- POST /login/ldap ---- */

static void ldap_login(struct login_web *w, struct http_req *r)
{
    struct sts_params form = {0};
    struct sts_params *params = NULL;
    char *cookie = cookie_get(r, CSRF_COOKIE), *plain = NULL;
    const char *tok = NULL, *user, *pw, *csrf;
    json_t *j = NULL;
    json_int_t exp = 0;
    size_t n = 0;

    no_store(r);
    cookie_set(r, CSRF_COOKIE, "", 0);
    if (!has_ldap(w)) {
        fail(r, TS_E_INVALID_REQUEST, "LDAP sign-in is not configured.");
        goto out;
    }
    if (sts_params_parse_form(&form, (const char *)r->body, r->body_len) != TS_OK) {
        refuse(r, LDAP_ACTION, NULL, TS_E_INVALID_REQUEST, "The form is malformed.");
        goto out;
    }
    user = sts_param(&form, "username");
    pw = sts_param(&form, "password");
    csrf = sts_param(&form, "csrf");
    if (cookie == NULL ||
        sts_open_blob(w->sts, CSRF_LABEL, cookie, strlen(cookie), &plain, &n) != TS_OK ||
        (j = json_loadb(plain, n, 0, NULL)) == NULL ||
        json_unpack(j, "{s:s, s:I}", "t", &tok, "e", &exp) != 0 || exp < (json_int_t)enc_now() ||
        !same(csrf, tok)) {
        refuse(r, LDAP_ACTION, "csrf", TS_E_ACCESS_DENIED,
               "The form's CSRF token does not match this browser's. Reload /login and try "
               "again.");
        goto out;
    }
    if (user == NULL || *user == '\0' || pw == NULL || *pw == '\0') {
        refuse(r, LDAP_ACTION, NULL, TS_E_INVALID_REQUEST, "Enter a username and a password.");
        goto out;
    }
    params = sts_params_new();
    if (params == NULL || sts_params_set(params, "LDAPUsername", user) != TS_OK ||
        sts_params_set(params, "LDAPPassword", pw) != TS_OK) {
        fail(r, TS_E_INTERNAL, NULL);
        goto out;
    }
    struct login_how how = {"LDAP", user, NULL, false};
    assume_and_show(w, r, LDAP_ACTION, params, &how);
out:
    sts_params_free(params);
    sts_params_cleanup(&form);
    json_decref(j);
    if (plain != NULL) {
        OPENSSL_cleanse(plain, n);
        free(plain);
    }
    free(cookie);
}

/* ---- the route ---- */

static bool is_path(const char *p)
{
    return strcmp(p, "/login") == 0 || strcmp(p, "/login/") == 0 ||
           strcmp(p, "/login/start") == 0 || strcmp(p, "/login/callback") == 0 ||
           strcmp(p, "/login/ldap") == 0 || strcmp(p, "/login/providers") == 0;
}

/* GET /login/providers: the configured OpenID providers as JSON (name, issuer, client id,
 * the scopes the browser login requests, role ARN), public information that lets `tessera login
 * oidc --provider NAME` find its provider. Providers that cannot be reached are listed without an
 * issuer. */
static void providers_json(struct login_web *w, struct http_req *r)
{
    struct buf b;
    size_t n = w->ps ? oidc_providers_count(w->ps) : 0, len;
    bool first = true;
    buf_init(&b, 1 << 16);
    buf_adds(&b, "{\"providers\":[");
    for (size_t i = 0; i < n; i++) {
        struct oidc_login_info info;
        const char *why = NULL;
        int rc = oidc_login_info(w->ps, i, &info, &why);
        if (rc != TS_OK && rc != TS_E_STS_IDP_COMMUNICATION)
            continue;
        buf_adds(&b, first ? "{\"name\":\"" : ",{\"name\":\"");
        first = false;
        buf_add_json(&b, info.name ? info.name : "");
        buf_adds(&b, "\",\"client_id\":\"");
        buf_add_json(&b, info.client_id ? info.client_id : "");
        buf_adds(&b, "\"");
        if (rc == TS_OK && info.issuer) {
            buf_adds(&b, ",\"issuer\":\"");
            buf_add_json(&b, info.issuer);
            buf_adds(&b, "\"");
        }
        {
            struct buf scope;
            buf_init(&scope, 4096);
            scope_list(info.scopes, &scope);
            buf_adds(&b, ",\"scopes\":\"");
            buf_add_json(&b, buf_str(&scope));
            buf_adds(&b, "\"");
            buf_free(&scope);
        }
        if (info.role_arn) {
            buf_adds(&b, ",\"role_arn\":\"");
            buf_add_json(&b, info.role_arn);
            buf_adds(&b, "\"");
        }
        buf_adds(&b, "}");
    }
    buf_adds(&b, "]}\n");
    char *body = buf_take(&b, &len);
    if (body == NULL) {
        fail(r, TS_E_INTERNAL, NULL);
        return;
    }
    no_store(r);
    http_reply_data(r, 200, "application/json", body, len, true);
}

/* The pages that may wait on a backend: the OpenID provider (discovery, code exchange) or the
 * LDAP directory (binds). Everything else (/login itself) is answered from memory. */
static bool backend_path(const char *p)
{
    return strcmp(p, "/login/start") == 0 || strcmp(p, "/login/callback") == 0 ||
           strcmp(p, "/login/ldap") == 0 || strcmp(p, "/login/providers") == 0;
}

/* route->start, on the HTTP thread when the headers are in: the per-source budget of the
 * unsigned STS logins (core/limits.h), taken before the body is read and before any backend
 * work; over it, 503 SlowDown with Retry-After: 1. */
static int route_start(struct http_req *r, struct ts_error *e)
{
    (void)e;
    if (backend_path(r->path) && !limits_sts_allow(r->source_ip)) {
        /* A refused sign-in counts with the STS API's (the provider list is no sign-in). */
        if (strcmp(r->path, "/login/ldap") == 0)
            sts_count_refusal("AssumeRoleWithLDAPIdentity", TS_E_SLOW_DOWN);
        else if (strcmp(r->path, "/login/providers") != 0)
            sts_count_refusal("AssumeRoleWithWebIdentity", TS_E_SLOW_DOWN);
        return TS_E_SLOW_DOWN;
    }
    return TS_OK;
}

/* route->blocking: those pages run on the login route's worker threads, never on the HTTP
 * threads, so that a slow or hung provider or directory holds up only other sign-ins. */
static bool route_blocking(struct http_req *r)
{
    return backend_path(r->path);
}

static bool route_match(struct http_req *r)
{
    /* Signed requests are S3 calls (a bucket named "login"), never the browser. */
    return is_path(r->path) && !http_req_aws_signed(r);
}

/* route->finish: the pages below reply themselves (their error pages included). */
static int route_finish(struct http_req *r, struct ts_error *e)
{
    struct login_web *w = r->route->ctx;
    const char *p = r->path;
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;

    if (strcmp(p, "/login") == 0 || strcmp(p, "/login/") == 0) {
        if (!get)
            return ts_error_set(e, TS_E_METHOD_NOT_ALLOWED, NULL);
        index_page(w, r);
    } else if (strcmp(p, "/login/start") == 0 && get) {
        start(w, r);
    } else if (strcmp(p, "/login/callback") == 0 && get) {
        callback(w, r);
    } else if (strcmp(p, "/login/ldap") == 0 && strcmp(r->method, "POST") == 0) {
        ldap_login(w, r);
    } else if (strcmp(p, "/login/providers") == 0 && get) {
        providers_json(w, r);
    } else {
        no_store(r);
        return ts_error_set(e, TS_E_METHOD_NOT_ALLOWED, NULL);
    }
    return TS_OK;
}

/* Public pages (no authz phase): the login itself authenticates its user. */
static const struct http_route login_route =
    HTTP_ROUTE("login", HTTP_ERR_HTML, 16 * 1024, .match = route_match, .start = route_start,
               .blocking = route_blocking, .no_authz = true, .finish = route_finish);

void login_web_route_init(struct http_route *route, struct login_web *w)
{
    *route = login_route;
    route->ctx = w;
}
