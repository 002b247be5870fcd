/* login_oidc.c -- `tessera login oidc` (cli/login_oidc.h): the device authorization grant or
 * the authorization code flow with PKCE at an OpenID Connect provider, then
 * AssumeRoleWithWebIdentity at tessera's STS, printing aws credential_process JSON or shell
 * exports. Tokens, the client secret and the credentials never appear in messages.
 *
 * @test tests/integration/test_roles.py (test_login_oidc_*)
 */
#include "cli/clihttp.h"
#include "cli/login_oidc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core/buf.h"
#include "core/xml.h"

#define LO_EXIT_OK 0
#define LO_EXIT_ERR 1
#define LO_EXIT_USAGE 2
#define LO_RESP_MAX (1024 * 1024)
#define LO_DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

static const char oidc_usage[] =
    "usage: tessera login oidc [--endpoint URL] --provider NAME|ISSUER_URL [--client-id ID]\n"
    "                          [--scope SCOPES] [--role-arn ARN] [--session-name NAME]\n"
    "                          [--duration SECONDS] [--policy FILE] [--browser] [--port N]\n"
    "                          [--timeout SECONDS] [--cache FILE] [--env]\n"
    "  NAME is a provider configured on the server (\"default\" for the one without a\n"
    "  suffix): its issuer and client id come from the server's /login/providers.\n"
    "  Signs in at the provider with the device flow when it offers one (else, or with\n"
    "  --browser, the authorization code flow with PKCE through http://127.0.0.1:PORT/callback)\n"
    "  and prints aws credential_process JSON (or export lines with --env). With --cache FILE\n"
    "  the credentials are kept in FILE (mode 0600) and reused while valid for another minute,\n"
    "  so that a credential_process profile signs in only when they expire.\n"
    "  Environment: TESSERA_ENDPOINT (default http://127.0.0.1:9000), TESSERA_OIDC_CLIENT_ID,\n"
    "  TESSERA_OIDC_CLIENT_SECRET (confidential clients only), TESSERA_CA_FILE.\n";

struct lo {
    const char *endpoint, *issuer, *client_id, *secret, *scope, *role_arn, *session_name;
    char *owned[3]; /* strings resolved from the server's provider list */
    const char *duration, *cache;
    char *policy;
    bool browser, env;
    int port;
    long timeout;
    CURL *h;
};

/* A copy of s (malloc'ed; NULL when out of memory) safe to write to a terminal: every control
 * character (C0, DEL, C1) and every byte that is not part of valid UTF-8 becomes \xNN, so that
 * no string from the provider, the server or a local page can move the cursor, recolour or
 * retitle the terminal. Every such string written to the terminal goes through this. */
static char *term_safe(const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    size_t n = strlen((const char *)p), o = 0;
    char *out = malloc(4 * n + 1);

    if (out == NULL)
        return NULL;
    while (*p != '\0') {
        size_t len = *p < 0x80             ? 1
                     : (*p & 0xE0) == 0xC0 ? 2
                     : (*p & 0xF0) == 0xE0 ? 3
                     : (*p & 0xF8) == 0xF0 ? 4
                                           : 0;
        unsigned long cp = len == 1 ? *p : len == 2 ? *p & 0x1Fu : len == 3 ? *p & 0x0Fu : *p & 7u;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                len = 0; /* truncated sequence (the NUL ends it at the latest) */
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
        bool ok = len > 0 && cp >= min[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
                  cp >= 0x20 && !(cp >= 0x7F && cp <= 0x9F);
        if (ok) {
            memcpy(out + o, p, len);
            o += len;
            p += len;
        } else {
            o += (size_t)sprintf(out + o, "\\x%02X", *p);
            p++;
        }
    }
    out[o] = '\0';
    return out;
}

/* Writes s to stderr through term_safe. */
static void term_put(const char *s)
{
    char *safe = term_safe(s);
    fputs(safe != NULL ? safe : "(out of memory)", stderr);
    free(safe);
}

/* An error message on stderr; the whole formatted text goes through term_safe. */
static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fputs("tessera login oidc: ", stderr);
    term_put(text);
    fputc('\n', stderr);
}

static void wipe_buf(struct buf *b)
{
    if (buf_len(b) > 0)
        OPENSSL_cleanse(b->p, b->len);
    buf_free(b);
}

/* GET (form NULL) or POST form to url; with secret, HTTP Basic client authentication.
 * Returns 0 with *status and out filled, -1 after a message. */
static int http_call(struct lo *l, const char *url, const char *form, bool basic, struct buf *out,
                     long *status)
{
    struct curl_slist *hdrs = NULL;
    CURLcode cc;
    CURL *h = curl_easy_init();

    if (h == NULL) {
        msg("cannot initialise libcurl");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (form != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json, text/xml");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (basic && l->secret != NULL) {
        char *u = curl_easy_escape(h, l->client_id, 0), *p = curl_easy_escape(h, l->secret, 0);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, u != NULL ? u : "");
        curl_easy_setopt(h, CURLOPT_PASSWORD, p != NULL ? p : "");
        curl_free(u);
        if (p != NULL)
            OPENSSL_cleanse(p, strlen(p));
        curl_free(p);
    }
    clihttp_defaults(h, "tessera-login/1", 60L, out);
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        msg("%s: %s", url, curl_easy_strerror(cc));
        return -1;
    }
    return 0;
}

static json_t *parse_json(struct buf *b)
{
    json_t *j = buf_len(b) > 0 ? json_loadb(b->p, b->len, 0, NULL) : NULL;
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Appends "&key=value" (form-encoded; the first without '&'). 0 or -1. */
static int add_param(struct buf *b, CURL *h, const char *key, const char *value)
{
    char *e = curl_easy_escape(h, value, 0);
    int rc;
    if (e == NULL)
        return -1;
    rc = buf_addf(b, "%s%s=%s", buf_len(b) > 0 ? "&" : "", key, e);
    OPENSSL_cleanse(e, strlen(e));
    curl_free(e);
    return rc;
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
    }
    out[o] = '\0';
}

static int random_b64url(char *out, size_t nbytes)
{
    unsigned char r[64];
    if (nbytes > sizeof r || RAND_bytes(r, (int)nbytes) != 1)
        return -1;
    b64url(r, nbytes, out);
    return 0;
}

/* The provider's discovery document; NULL after a message. */
static json_t *discover(struct lo *l)
{
    struct buf b, url;
    long status = 0;
    json_t *d = NULL;
    const char *iss;
    size_t n = strlen(l->issuer);

    buf_init(&b, LO_RESP_MAX);
    buf_init(&url, 4096);
    if (strstr(l->issuer, "/.well-known/openid-configuration") != NULL)
        buf_adds(&url, l->issuer);
    else
        buf_addf(&url, "%.*s/.well-known/openid-configuration",
                 (int)(n > 0 && l->issuer[n - 1] == '/' ? n - 1 : n), l->issuer);
    if (http_call(l, buf_str(&url), NULL, false, &b, &status) != 0)
        goto out;
    if (status != 200 || (d = parse_json(&b)) == NULL) {
        msg("%s: no OpenID discovery document (HTTP %ld)", buf_str(&url), status);
        goto out;
    }
    iss = json_string_value(json_object_get(d, "issuer"));
    if (iss == NULL || json_string_value(json_object_get(d, "token_endpoint")) == NULL) {
        msg("%s: the discovery document has no issuer or token_endpoint", buf_str(&url));
        json_decref(d);
        d = NULL;
    }
out:
    buf_free(&b);
    buf_free(&url);
    return d;
}

/* Reports an OAuth error answer. */
static void oauth_error(const char *what, long status, json_t *j)
{
    const char *e = json_string_value(json_object_get(j, "error"));
    const char *d = json_string_value(json_object_get(j, "error_description"));
    msg("%s failed (HTTP %ld): %s%s%s", what, status, e != NULL ? e : "no error code",
        d != NULL ? ": " : "", d != NULL ? d : "");
}

/* The device authorization grant: the id_token (malloc'ed) or NULL after a message. */
static char *device_flow(struct lo *l, json_t *disc)
{
    const char *dev_ep = json_string_value(json_object_get(disc, "device_authorization_endpoint"));
    const char *tok_ep = json_string_value(json_object_get(disc, "token_endpoint"));
    struct buf form, b;
    json_t *j = NULL;
    char *id_token = NULL, *device_code = NULL;
    long status = 0, interval, expires;
    time_t deadline;

    buf_init(&form, 64 * 1024);
    buf_init(&b, LO_RESP_MAX);
    if (add_param(&form, l->h, "client_id", l->client_id) != 0 ||
        add_param(&form, l->h, "scope", l->scope) != 0)
        goto oom;
    if (http_call(l, dev_ep, buf_str(&form), true, &b, &status) != 0)
        goto out;
    j = parse_json(&b);
    if (status != 200 || j == NULL ||
        json_string_value(json_object_get(j, "device_code")) == NULL ||
        json_string_value(json_object_get(j, "user_code")) == NULL ||
        json_string_value(json_object_get(j, "verification_uri")) == NULL) {
        oauth_error("the device authorization request", status, j);
        goto out;
    }
    if ((device_code = strdup(json_string_value(json_object_get(j, "device_code")))) == NULL)
        goto oom;
    interval = (long)json_integer_value(json_object_get(j, "interval"));
    expires = (long)json_integer_value(json_object_get(j, "expires_in"));
    if (interval <= 0)
        interval = 5;
    if (expires <= 0 || expires > l->timeout)
        expires = l->timeout;
    fputs("To sign in, open ", stderr);
    term_put(json_string_value(json_object_get(j, "verification_uri")));
    fputs(" and enter the code ", stderr);
    term_put(json_string_value(json_object_get(j, "user_code")));
    fputc('\n', stderr);
    if (json_string_value(json_object_get(j, "verification_uri_complete")) != NULL) {
        fputs("or open ", stderr);
        term_put(json_string_value(json_object_get(j, "verification_uri_complete")));
        fputc('\n', stderr);
    }
    fprintf(stderr, "Waiting for the sign-in...\n");
    fflush(stderr);
    json_decref(j);
    j = NULL;

    deadline = time(NULL) + expires;
    while (time(NULL) < deadline) {
        const char *err;
        sleep((unsigned)interval);
        wipe_buf(&form);
        buf_init(&form, 64 * 1024);
        wipe_buf(&b);
        buf_init(&b, LO_RESP_MAX);
        if (add_param(&form, l->h, "grant_type", LO_DEVICE_GRANT) != 0 ||
            add_param(&form, l->h, "device_code", device_code) != 0 ||
            add_param(&form, l->h, "client_id", l->client_id) != 0)
            goto oom;
        if (http_call(l, tok_ep, buf_str(&form), true, &b, &status) != 0)
            goto out;
        json_decref(j);
        j = parse_json(&b);
        if (status == 200) {
            const char *it = json_string_value(json_object_get(j, "id_token"));
            if (it == NULL) {
                msg("the provider issued no id_token (is \"openid\" in --scope?)");
                goto out;
            }
            id_token = strdup(it);
            if (id_token == NULL)
                goto oom;
            goto out;
        }
        err = json_string_value(json_object_get(j, "error"));
        if (err != NULL && strcmp(err, "authorization_pending") == 0)
            continue;
        if (err != NULL && strcmp(err, "slow_down") == 0) {
            interval += 5;
            continue;
        }
        oauth_error("the sign-in", status, j);
        goto out;
    }
    msg("the sign-in was not completed in time");
    goto out;
oom:
    msg("out of memory");
out:
    json_decref(j);
    free(device_code);
    wipe_buf(&b);
    wipe_buf(&form);
    return id_token;
}

/* Decodes a %-encoded query value in place. */
static void url_decode(char *s)
{
    char *o = s;
    for (; *s != '\0'; s++) {
        if (*s == '%' && s[1] != '\0' && s[2] != '\0') {
            char hex[3] = {s[1], s[2], '\0'};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0') {
                *o++ = (char)v;
                s += 2;
                continue;
            }
        }
        *o++ = *s == '+' ? ' ' : *s;
    }
    *o = '\0';
}

/* The value of key in the query string q (copied into out, decoded), or false. */
static bool query_get(const char *q, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    while (q != NULL && *q != '\0') {
        const char *end = strpbrk(q, "& ");
        size_t n = end != NULL ? (size_t)(end - q) : strlen(q);
        if (n > kl && strncmp(q, key, kl) == 0 && q[kl] == '=') {
            if (n - kl - 1 >= outlen)
                return false;
            memcpy(out, q + kl + 1, n - kl - 1);
            out[n - kl - 1] = '\0';
            url_decode(out);
            return true;
        }
        if (end == NULL || *end == ' ')
            break;
        q = end + 1;
    }
    return false;
}

static void http_answer(int fd, int status, const char *text)
{
    char page[1024];
    int n =
        snprintf(page, sizeof page,
                 "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                 "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                 status, status == 200 ? "OK" : "Bad Request", strlen(text), text);
    if (n > 0 && write(fd, page, (size_t)n) < 0)
        return;
}

/* Waits for the redirect to /callback; fills code. false after a message. */
static bool wait_callback(struct lo *l, int lfd, const char *state, char *code, size_t codelen)
{
    time_t deadline = time(NULL) + l->timeout;

    while (time(NULL) < deadline) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        char req[8192], got_state[256], err[256];
        ssize_t n;
        size_t have = 0;
        int fd;

        if (poll(&pfd, 1, 1000) <= 0)
            continue;
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        /* the request line is all we need */
        while (have < sizeof req - 1) {
            struct pollfd cp = {.fd = fd, .events = POLLIN};
            if (poll(&cp, 1, 5000) <= 0 || (n = read(fd, req + have, sizeof req - 1 - have)) <= 0)
                break;
            have += (size_t)n;
            req[have] = '\0';
            if (strstr(req, "\r\n") != NULL)
                break;
        }
        req[have] = '\0';
        if (strncmp(req, "GET /callback?", 14) != 0) {
            http_answer(fd, 400, "<p>Not the sign-in callback.</p>");
            close(fd);
            continue;
        }
        const char *q = req + 14;
        /* The state first: a callback without this sign-in's state (any local process or web
         * page can reach the port) is ignored, whatever else it carries, and nothing of it is
         * printed. */
        if (!query_get(q, "state", got_state, sizeof got_state) ||
            CRYPTO_memcmp(got_state, state, strlen(state) + 1) != 0) {
            http_answer(fd, 400, "<p>Invalid sign-in callback (state mismatch).</p>");
            close(fd);
            msg("a callback without this sign-in's state was ignored");
            continue;
        }
        if (query_get(q, "error", err, sizeof err)) {
            http_answer(fd, 400, "<p>The sign-in failed; see the terminal.</p>");
            close(fd);
            msg("the provider refused the sign-in: %s", err);
            return false;
        }
        if (!query_get(q, "code", code, codelen)) {
            http_answer(fd, 400, "<p>Invalid sign-in callback (no code).</p>");
            close(fd);
            msg("the callback carries no code: ignored");
            continue;
        }
        http_answer(fd, 200,
                    "<!doctype html><title>tessera</title><p>Signed in. You can close this "
                    "window and return to the terminal.</p>");
        close(fd);
        return true;
    }
    msg("the sign-in was not completed in time");
    return false;
}

/* The nonce claim of an (unverified: the STS verifies it) id_token equals nonce. */
static bool nonce_ok(const char *id_token, const char *nonce)
{
    const char *d1 = strchr(id_token, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    char *b64;
    unsigned char *raw = NULL;
    size_t n, o = 0;
    bool ok = false;

    if (d1 == NULL || d2 == NULL)
        return false;
    n = (size_t)(d2 - d1 - 1);
    b64 = malloc(n + 4);
    if (b64 == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        b64[o++] = d1[1 + i] == '-' ? '+' : d1[1 + i] == '_' ? '/' : d1[1 + i];
    while (o % 4 != 0)
        b64[o++] = '=';
    raw = malloc(o);
    if (raw != NULL) {
        int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)o);
        if (len > 0) {
            while (o > 0 && b64[o - 1] == '=') {
                len--;
                o--;
            }
            json_t *j = json_loadb((const char *)raw, (size_t)len, 0, NULL);
            const char *v = json_string_value(json_object_get(j, "nonce"));
            ok = v != NULL && strcmp(v, nonce) == 0;
            json_decref(j);
        }
    }
    free(b64);
    free(raw);
    return ok;
}

/* The authorization code flow with PKCE through a loopback redirect. */
static char *browser_flow(struct lo *l, json_t *disc)
{
    const char *auth_ep = json_string_value(json_object_get(disc, "authorization_endpoint"));
    const char *tok_ep = json_string_value(json_object_get(disc, "token_endpoint"));
    char verifier[64], challenge[64], state[32], nonce[32], redirect[64], code[2048];
    unsigned char digest[SHA256_DIGEST_LENGTH];
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    struct buf url, form, b;
    json_t *j = NULL;
    char *id_token = NULL;
    long status = 0;
    int lfd = -1, one = 1;

    buf_init(&url, 16384);
    buf_init(&form, 64 * 1024);
    buf_init(&b, LO_RESP_MAX);
    if (auth_ep == NULL) {
        msg("the provider has no authorization_endpoint");
        goto out;
    }
    if (random_b64url(verifier, 32) != 0 || random_b64url(state, 16) != 0 ||
        random_b64url(nonce, 16) != 0) {
        msg("no randomness");
        goto out;
    }
    SHA256((const unsigned char *)verifier, strlen(verifier), digest);
    b64url(digest, sizeof digest, challenge);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)l->port);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 8) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
        msg("cannot listen on 127.0.0.1:%d: %s", l->port, strerror(errno));
        goto out;
    }
    snprintf(redirect, sizeof redirect, "http://127.0.0.1:%u/callback", ntohs(sa.sin_port));
    buf_addf(&url, "%s%c", auth_ep, strchr(auth_ep, '?') != NULL ? '&' : '?');
    {
        struct buf q;
        buf_init(&q, 16384);
        if (add_param(&q, l->h, "response_type", "code") != 0 ||
            add_param(&q, l->h, "client_id", l->client_id) != 0 ||
            add_param(&q, l->h, "redirect_uri", redirect) != 0 ||
            add_param(&q, l->h, "scope", l->scope) != 0 ||
            add_param(&q, l->h, "state", state) != 0 || add_param(&q, l->h, "nonce", nonce) != 0 ||
            add_param(&q, l->h, "code_challenge", challenge) != 0 ||
            add_param(&q, l->h, "code_challenge_method", "S256") != 0) {
            buf_free(&q);
            msg("out of memory");
            goto out;
        }
        buf_adds(&url, buf_str(&q));
        buf_free(&q);
    }
    fputs("To sign in, open this address in a browser:\n", stderr);
    term_put(buf_str(&url)); /* the provider's authorization endpoint and our parameters */
    fputs("\nWaiting for the sign-in...\n", stderr);
    fflush(stderr);
    if (!wait_callback(l, lfd, state, code, sizeof code))
        goto out;
    if (add_param(&form, l->h, "grant_type", "authorization_code") != 0 ||
        add_param(&form, l->h, "code", code) != 0 ||
        add_param(&form, l->h, "redirect_uri", redirect) != 0 ||
        add_param(&form, l->h, "code_verifier", verifier) != 0 ||
        add_param(&form, l->h, "client_id", l->client_id) != 0) {
        msg("out of memory");
        goto out;
    }
    if (http_call(l, tok_ep, buf_str(&form), true, &b, &status) != 0)
        goto out;
    j = parse_json(&b);
    if (status != 200 || json_string_value(json_object_get(j, "id_token")) == NULL) {
        oauth_error("the code exchange", status, j);
        goto out;
    }
    if (!nonce_ok(json_string_value(json_object_get(j, "id_token")), nonce)) {
        msg("the id_token's nonce does not match this sign-in: refused");
        goto out;
    }
    id_token = strdup(json_string_value(json_object_get(j, "id_token")));
    if (id_token == NULL)
        msg("out of memory");
out:
    if (lfd >= 0)
        close(lfd);
    OPENSSL_cleanse(code, sizeof code);
    OPENSSL_cleanse(verifier, sizeof verifier);
    json_decref(j);
    buf_free(&url);
    wipe_buf(&form);
    wipe_buf(&b);
    return id_token;
}

static void print_shell_quoted(const char *name, const char *v)
{
    printf("export %s='", name);
    for (const char *p = v; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    }
    printf("'\n");
}

/* Prints credentials as credential_process JSON or exports. Returns an exit status. */
static int print_creds(const struct lo *l, const char *ak, const char *sk, const char *tok,
                       const char *exp)
{
    const char *vals[] = {ak, sk, tok, exp};
    for (size_t i = 0; i < 4; i++)
        for (const unsigned char *p = (const unsigned char *)vals[i]; *p; p++)
            if (*p < 0x20 || *p >= 0x7f) { /* credentials are printable ASCII */
                msg("the server's credentials hold unexpected characters: refused");
                return LO_EXIT_ERR;
            }
    if (l->env) {
        print_shell_quoted("AWS_ACCESS_KEY_ID", ak);
        print_shell_quoted("AWS_SECRET_ACCESS_KEY", sk);
        print_shell_quoted("AWS_SESSION_TOKEN", tok);
        print_shell_quoted("AWS_CREDENTIAL_EXPIRATION", exp);
    } else {
        json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "Version", 1, "AccessKeyId", ak,
                              "SecretAccessKey", sk, "SessionToken", tok, "Expiration", exp);
        char *s = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (s == NULL) {
            msg("out of memory");
            return LO_EXIT_ERR;
        }
        printf("%s\n", s);
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
    return fflush(stdout) == 0 ? LO_EXIT_OK : LO_EXIT_ERR;
}

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.fff]Z", or 0. */
static time_t parse_expiration(const char *s)
{
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof tm);
    end = s != NULL ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    return end != NULL ? timegm(&tm) : 0;
}

/* --cache: prints the cached credentials when they are valid for another minute. */
static bool cache_hit(const struct lo *l)
{
    json_t *j = json_load_file(l->cache, 0, NULL);
    const char *ak = json_string_value(json_object_get(j, "AccessKeyId"));
    const char *sk = json_string_value(json_object_get(j, "SecretAccessKey"));
    const char *tok = json_string_value(json_object_get(j, "SessionToken"));
    const char *exp = json_string_value(json_object_get(j, "Expiration"));
    bool hit = ak != NULL && sk != NULL && tok != NULL && exp != NULL &&
               parse_expiration(exp) > time(NULL) + 60;
    if (hit)
        hit = print_creds(l, ak, sk, tok, exp) == LO_EXIT_OK;
    json_decref(j);
    return hit;
}

/* --cache: stores the credentials (mode 0600, replaced atomically). Failure only warns. */
static void cache_store(const struct lo *l, const char *ak, const char *sk, const char *tok,
                        const char *exp)
{
    char tmp[4200];
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "Version", 1, "AccessKeyId", ak,
                          "SecretAccessKey", sk, "SessionToken", tok, "Expiration", exp);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    FILE *f = NULL;
    int fd = -1;

    json_decref(o);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", l->cache);
    if (s == NULL || strlen(l->cache) > 4096 || (fd = mkstemp(tmp)) < 0 ||
        (f = fdopen(fd, "w")) == NULL || fputs(s, f) < 0 || fclose(f) != 0 ||
        rename(tmp, l->cache) != 0) {
        if (f == NULL && fd >= 0)
            close(fd);
        if (fd >= 0)
            unlink(tmp);
        msg("warning: cannot write the cache file %s: %s", l->cache, strerror(errno));
    }
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* AssumeRoleWithWebIdentity with id_token; prints the credentials. Returns an exit status. */
static int assume(struct lo *l, const char *id_token)
{
    struct buf form, b, url;
    struct xml_node *root = NULL;
    const struct xml_node *res, *cr;
    const char *ak, *sk, *tok, *exp;
    long status = 0;
    int rc = LO_EXIT_ERR;

    buf_init(&form, 256 * 1024);
    buf_init(&b, LO_RESP_MAX);
    buf_init(&url, 4096);
    buf_addf(&url, "%s/", l->endpoint);
    if (add_param(&form, l->h, "Action", "AssumeRoleWithWebIdentity") != 0 ||
        add_param(&form, l->h, "Version", "2011-06-15") != 0 ||
        add_param(&form, l->h, "WebIdentityToken", id_token) != 0 ||
        add_param(&form, l->h, "RoleSessionName",
                  l->session_name != NULL ? l->session_name : "tessera-login") != 0 ||
        (l->role_arn != NULL && add_param(&form, l->h, "RoleArn", l->role_arn) != 0) ||
        (l->duration != NULL && add_param(&form, l->h, "DurationSeconds", l->duration) != 0) ||
        (l->policy != NULL && add_param(&form, l->h, "Policy", l->policy) != 0)) {
        msg("out of memory");
        goto out;
    }
    if (http_call(l, buf_str(&url), buf_str(&form), false, &b, &status) != 0)
        goto out;
    root = xml_parse(buf_str(&b), buf_len(&b));
    if (root == NULL) {
        msg("%s answered HTTP %ld with no XML", l->endpoint, status);
        goto out;
    }
    if (status != 200 || strcmp(root->name, "ErrorResponse") == 0 ||
        strcmp(root->name, "Error") == 0) {
        const struct xml_node *e = xml_child(root, "Error");
        const char *code = xml_child_text(e != NULL ? e : root, "Code");
        const char *m = xml_child_text(e != NULL ? e : root, "Message");
        msg("%s: %s", code != NULL ? code : "HTTP error", m != NULL ? m : "(no message)");
        goto out;
    }
    res = xml_child(root, "AssumeRoleWithWebIdentityResult");
    cr = res != NULL ? xml_child(res, "Credentials") : NULL;
    ak = cr != NULL ? xml_child_text(cr, "AccessKeyId") : NULL;
    sk = cr != NULL ? xml_child_text(cr, "SecretAccessKey") : NULL;
    tok = cr != NULL ? xml_child_text(cr, "SessionToken") : NULL;
    exp = cr != NULL ? xml_child_text(cr, "Expiration") : NULL;
    if (ak == NULL || sk == NULL || tok == NULL || exp == NULL) {
        msg("the server's answer holds no credentials");
        goto out;
    }
    if (l->cache != NULL)
        cache_store(l, ak, sk, tok, exp);
    rc = print_creds(l, ak, sk, tok, exp);
out:
    xml_free(root);
    wipe_buf(&b);
    wipe_buf(&form);
    buf_free(&url);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[4096];
    size_t n;
    if (f == NULL)
        return NULL;
    buf_init(&b, 64 * 1024);
    buf_adds(&b, "");
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    return buf_take(&b, NULL);
}

/* --provider NAME: looks the provider up in the server's GET /login/providers and takes its
 * issuer, client id (unless given) and role ARN (unless given). 0, or -1 after a message. */
static int resolve_provider(struct lo *l)
{
    struct buf url, body;
    long status = 0;
    json_t *doc = NULL, *found = NULL, *it;
    size_t i;
    int rc = -1;
    const char *want = strcmp(l->issuer, "default") == 0 ? "" : l->issuer;

    buf_init(&url, 4096);
    buf_init(&body, LO_RESP_MAX);
    buf_addf(&url, "%s/login/providers", l->endpoint);
    if (http_call(l, buf_str(&url), NULL, false, &body, &status) != 0)
        goto out;
    if (status != 200 || (doc = parse_json(&body)) == NULL) {
        msg("%s: no provider list (HTTP %ld)", buf_str(&url), status);
        goto out;
    }
    json_array_foreach(json_object_get(doc, "providers"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        if (name != NULL && strcmp(name, want) == 0)
            found = it;
    }
    if (found == NULL) {
        msg("the server has no OpenID provider named \"%s\"", l->issuer);
        goto out;
    }
    const char *iss = json_string_value(json_object_get(found, "issuer"));
    const char *cid = json_string_value(json_object_get(found, "client_id"));
    const char *arn = json_string_value(json_object_get(found, "role_arn"));
    if (iss == NULL) {
        msg("the server cannot reach the provider \"%s\" right now", l->issuer);
        goto out;
    }
    l->issuer = l->owned[0] = strdup(iss);
    if ((l->client_id == NULL || l->client_id[0] == '\0') && cid != NULL)
        l->client_id = l->owned[1] = strdup(cid);
    if (l->role_arn == NULL && arn != NULL)
        l->role_arn = l->owned[2] = strdup(arn);
    rc = l->issuer != NULL ? 0 : -1;
out:
    json_decref(doc);
    buf_free(&url);
    buf_free(&body);
    return rc;
}

int login_oidc_main(int argc, char **argv)
{
    struct lo l = {0};
    const char *policy_file = NULL, *port = NULL, *timeout = NULL;
    json_t *disc = NULL;
    char *id_token = NULL;
    int rc = LO_EXIT_USAGE;

    l.endpoint = getenv("TESSERA_ENDPOINT");
    l.client_id = getenv("TESSERA_OIDC_CLIENT_ID");
    l.secret = getenv("TESSERA_OIDC_CLIENT_SECRET");
    l.scope = "openid profile";
    l.timeout = 300;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--endpoint") == 0 && more)
            l.endpoint = argv[++i];
        else if ((strcmp(a, "--provider") == 0 || strcmp(a, "--issuer") == 0) && more)
            l.issuer = argv[++i];
        else if (strcmp(a, "--client-id") == 0 && more)
            l.client_id = argv[++i];
        else if (strcmp(a, "--scope") == 0 && more)
            l.scope = argv[++i];
        else if (strcmp(a, "--role-arn") == 0 && more)
            l.role_arn = argv[++i];
        else if (strcmp(a, "--session-name") == 0 && more)
            l.session_name = argv[++i];
        else if (strcmp(a, "--duration") == 0 && more)
            l.duration = argv[++i];
        else if (strcmp(a, "--policy") == 0 && more)
            policy_file = argv[++i];
        else if (strcmp(a, "--port") == 0 && more)
            port = argv[++i];
        else if (strcmp(a, "--timeout") == 0 && more)
            timeout = argv[++i];
        else if (strcmp(a, "--cache") == 0 && more)
            l.cache = argv[++i];
        else if (strcmp(a, "--browser") == 0)
            l.browser = true;
        else if (strcmp(a, "--env") == 0)
            l.env = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(oidc_usage, stdout);
            return LO_EXIT_OK;
        } else {
            msg("unexpected argument %s", a);
            fputs(oidc_usage, stderr);
            return LO_EXIT_USAGE;
        }
    }
    if (l.issuer == NULL || l.issuer[0] == '\0') {
        msg("--provider NAME or ISSUER_URL is required");
        fputs(oidc_usage, stderr);
        return LO_EXIT_USAGE;
    }
    bool by_name = strncmp(l.issuer, "http://", 7) != 0 && strncmp(l.issuer, "https://", 8) != 0;
    if (!by_name && (l.client_id == NULL || l.client_id[0] == '\0')) {
        msg("a client id is required: --client-id ID or TESSERA_OIDC_CLIENT_ID");
        return LO_EXIT_USAGE;
    }
    if (l.secret != NULL && l.secret[0] == '\0')
        l.secret = NULL;
    if (port != NULL) {
        char *end;
        long v = strtol(port, &end, 10);
        if (*end != '\0' || v < 0 || v > 65535) {
            msg("--port wants 0..65535");
            return LO_EXIT_USAGE;
        }
        l.port = (int)v;
    }
    if (timeout != NULL) {
        char *end;
        l.timeout = strtol(timeout, &end, 10);
        if (*end != '\0' || l.timeout < 1 || l.timeout > 3600) {
            msg("--timeout wants 1..3600 seconds");
            return LO_EXIT_USAGE;
        }
    }
    if (l.endpoint == NULL || l.endpoint[0] == '\0')
        l.endpoint = "http://127.0.0.1:9000";
    if (l.cache != NULL && cache_hit(&l))
        return LO_EXIT_OK;
    rc = LO_EXIT_ERR;
    if (policy_file != NULL && (l.policy = slurp(policy_file)) == NULL) {
        msg("cannot read %s: %s", policy_file, strerror(errno));
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (l.h = curl_easy_init()) == NULL) {
        msg("cannot initialise libcurl");
        goto out;
    }
    if (by_name && resolve_provider(&l) != 0)
        goto out;
    if (l.client_id == NULL || l.client_id[0] == '\0') {
        msg("a client id is required: --client-id ID or TESSERA_OIDC_CLIENT_ID");
        goto out;
    }
    if ((disc = discover(&l)) == NULL)
        goto out;
    if (!l.browser && json_string_value(json_object_get(disc, "device_authorization_endpoint")))
        id_token = device_flow(&l, disc);
    else
        id_token = browser_flow(&l, disc);
    if (id_token == NULL)
        goto out;
    rc = assume(&l, id_token);
out:
    if (id_token != NULL) {
        OPENSSL_cleanse(id_token, strlen(id_token));
        free(id_token);
    }
    json_decref(disc);
    free(l.policy);
    for (size_t k = 0; k < sizeof l.owned / sizeof l.owned[0]; k++)
        free(l.owned[k]);
    if (l.h != NULL)
        curl_easy_cleanup(l.h);
    return rc;
}
