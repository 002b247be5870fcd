/* authn.c -- the authn hook of core/http: who signed this request?
 *
 *   no SigV4                  -> anonymous principal (body checksums still verified)
 *   security token present    -> unseal it; the token's access key must be the signing key;
 *                                not expired, not revoked, parent still there, enabled and
 *                                not revoked since issue -> POL_PRINCIPAL_TEMP
 *   root access key (config)  -> POL_PRINCIPAL_ROOT
 *   static user (IAM store)   -> POL_PRINCIPAL_USER (must be enabled)
 *   service account (store)   -> POL_PRINCIPAL_SVC (sts/svcacct.c: enabled, not expired,
 *                                parent still valid)
 *   anything else             -> InvalidAccessKeyId
 *
 * then the signature is verified: at once when the payload hash is declared
 * (x-amz-content-sha256, presigned), else after the buffered body (authn_deferred; STS and
 * admin calls) with the SHA-256 of r->body. Deferred requests are parsed and resolved again
 * at finish (nothing is kept between the two calls; both are cheap), and r->principal is
 * only set once the signature checked out. sigv4_verify refuses any x-amz-* header the
 * signature does not cover. Signature Version 2, presigned URLs and payloads the signature
 * does not cover (UNSIGNED-PAYLOAD, STREAMING-*) are for the S3 route only: STS and the
 * admin API take SigV4 header authentication whose payload hash is the body's (a declared
 * hex hash is checked against the body by the filter, else the body is hashed at finish).
 * Errors go back to the server (which alone answers them) as a code in the route's terms (STS
 * routes get InvalidClientTokenId / ExpiredToken, S3 routes InvalidAccessKeyId / InvalidToken
 * / ExpiredToken) with a precise message in a struct ts_error.
 *
 * Everything but root needs the IAM store to be fresh (iam_store_fresh), else 503
 * ServiceUnavailable before the signer is looked up (store_fresh).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/roles.h"
#include "sts/sts_int.h"

static void principal_free(void *p)
{
    pol_principal_free(p);
}

/* Maps an S3-style authentication error to the STS code when the route is STS. */
static int map_err(const struct http_req *r, int err)
{
    if (r->route == NULL || r->route->err_style != HTTP_ERR_STS)
        return err;
    switch (err) {
    case TS_E_INVALID_ACCESS_KEY:
    case TS_E_INVALID_TOKEN:
        return TS_E_STS_INVALID_CLIENT_TOKEN;
    case TS_E_EXPIRED_TOKEN:
        return TS_E_STS_EXPIRED_TOKEN;
    case TS_E_ACCESS_DENIED:
        return TS_E_STS_ACCESS_DENIED;
    default:
        return err;
    }
}

/* Fills e with the error in the route's codes and msg (NULL: the code's default) and returns
 * it; the server answers it. */
static int fail(struct http_req *r, struct ts_error *e, int err, const char *msg)
{
    return msg != NULL ? ts_error_set(e, map_err(r, err), "%s", msg)
                       : ts_error_set(e, map_err(r, err), NULL);
}

static char *xstrdup(const char *s, int *bad)
{
    char *d;
    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *bad = 1;
    return d;
}

static char *xprintf(int *bad, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *xprintf(int *bad, const char *fmt, ...)
{
    struct buf b;
    va_list ap;
    char *s;
    buf_init(&b, 8192);
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    s = buf_take(&b, NULL);
    if (s == NULL)
        *bad = 1;
    return s;
}

int sts_principal_ids(struct pol_principal *p)
{
    char role[POL_ROLE_NAME_MAX + 1];
    int bad = 0;
    switch (p->type) {
    case POL_PRINCIPAL_ROOT:
        if (p->arn == NULL)
            p->arn = xprintf(&bad, "arn:aws:iam::%s:root", STS_ACCOUNT_ID);
        if (p->userid == NULL)
            p->userid = xstrdup(STS_ACCOUNT_ID, &bad);
        break;
    case POL_PRINCIPAL_USER:
        if (p->arn == NULL && p->username != NULL)
            p->arn = xprintf(&bad, "arn:aws:iam::%s:user/%s", STS_ACCOUNT_ID, p->username);
        if (p->userid == NULL && p->username != NULL)
            p->userid = xstrdup(p->username, &bad);
        break;
    case POL_PRINCIPAL_SVC:
    case POL_PRINCIPAL_TEMP:
        if (p->role_arn != NULL && !pol_role_from_arn(p->role_arn, role))
            return TS_E_INTERNAL;
        if (p->arn == NULL && p->access_key != NULL)
            p->arn = sts_session_arn(p->role_arn != NULL ? role : NULL, p->parent, p->source,
                                     p->session_name, p->access_key);
        if (p->userid == NULL && p->access_key != NULL)
            p->userid = sts_session_userid(p->role_arn != NULL ? role : NULL, p->parent, p->source,
                                           p->session_name, p->access_key);
        if ((p->arn == NULL || p->userid == NULL) && p->access_key != NULL)
            bad = 1;
        break;
    case POL_PRINCIPAL_ANONYMOUS:
        break;
    }
    return bad ? TS_E_INTERNAL : TS_OK;
}

/* The unsealed token t still stands for a->access_key: the key matches and is not revoked,
 * its parent (static user or root) still exists, is enabled and has not revoked it since.
 * TS_OK, or the error with a client message in *msg. */
static int token_still_valid(struct sts_ctx *c, const struct sigv4_auth *a,
                             const struct sts_token *t, const char **msg)
{
    struct iam_user u;
    int rc = TS_E_INVALID_ACCESS_KEY;

    memset(&u, 0, sizeof u);
    if (strcmp(t->access_key, a->access_key) != 0) {
        *msg = "The access key does not match the security token.";
        rc = TS_E_INVALID_TOKEN;
        goto out;
    }
    if (iam_key_revoked(c->st, t->access_key)) {
        *msg = "The access key has been revoked.";
        goto out;
    }
    if (strcmp(t->source, "static") == 0) {
        if (iam_user_get(c->st, t->parent, &u) != TS_OK) {
            *msg = "The parent user of these credentials no longer exists.";
            goto out;
        }
        if (!u.enabled) {
            *msg = "The parent user of these credentials is disabled.";
            goto out;
        }
        if (t->issued_ns < u.not_before_ns) {
            *msg = "These credentials have been revoked.";
            goto out;
        }
    } else {
        int64_t nb = 0;
        if (strcmp(t->source, "root") == 0 &&
            (c->cfg.root_user == NULL || strcmp(c->cfg.root_user, t->parent) != 0)) {
            *msg = "The parent of these credentials no longer exists.";
            goto out;
        }
        if (iam_parent_not_before(c->st, t->parent, &nb) == TS_OK && t->issued_ns < nb) {
            *msg = "These credentials have been revoked.";
            goto out;
        }
    }
    rc = TS_OK;
out:
    iam_user_cleanup(&u);
    return rc;
}

/* Moves the token's parent, source, policies and session name into p (with its times). */
static void take_token_fields(struct pol_principal *p, struct sts_token *t)
{
    p->parent = t->parent;
    t->parent = NULL;
    p->source = t->source;
    t->source = NULL;
    p->policies = t->policies;
    memset(&t->policies, 0, sizeof t->policies);
    p->session_policies = t->session_policies;
    memset(&t->session_policies, 0, sizeof t->session_policies);
    p->session_name = t->session_name;
    t->session_name = NULL;
    p->expires = t->expires;
    p->issued = t->issued;
}

/* Temporary credentials: token checks and the principal. */
static int resolve_temp(struct sts_ctx *c, const struct sigv4_auth *a, time_t now,
                        struct pol_principal **out, char **secret, const char **msg)
{
    struct sts_token t;
    struct pol_principal *p = NULL;
    char sec[41], perr[256];
    int rc, bad = 0;

    memset(&t, 0, sizeof t);
    rc = sts_unseal_cached(c, a->security_token, strlen(a->security_token), now, &t, sec);
    if (rc != TS_OK) {
        *msg = rc == TS_E_EXPIRED_TOKEN ? NULL
                                        : "The security token included in the "
                                          "request is invalid.";
        return rc;
    }
    rc = token_still_valid(c, a, &t, msg);
    if (rc != TS_OK)
        goto fail;

    p = pol_principal_new(POL_PRINCIPAL_TEMP);
    if (p == NULL) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    p->access_key = xstrdup(t.access_key, &bad);
    /* aws:username (policy/pol.h): the parent's name for a role-less session of a static
     * user or root; unset for role sessions and federated ones (no claim may pose as a
     * static user's name). */
    if (t.role == NULL && (strcmp(t.source, "static") == 0 || strcmp(t.source, "root") == 0))
        p->username = xstrdup(t.parent, &bad);
    if (t.role != NULL) {
        char rarn[128];
        if (pol_role_arn(t.role, rarn, sizeof rarn) != TS_OK) {
            *msg = "The security token included in the request is invalid.";
            rc = TS_E_INVALID_TOKEN;
            goto fail;
        }
        p->role_arn = xstrdup(rarn, &bad);
    }
    take_token_fields(p, &t);
    for (size_t i = 0; i < t.nclaims && !bad; i++)
        if (pol_principal_add_claim(p, t.claims[i].key, t.claims[i].value) != TS_OK)
            bad = 1;
    p->arn = sts_session_arn(t.role, p->parent, p->source, p->session_name, p->access_key);
    p->userid = sts_session_userid(t.role, p->parent, p->source, p->session_name, t.access_key);
    if (bad || p->arn == NULL || p->userid == NULL) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    if (t.session_policy != NULL) {
        if (pol_doc_parse(t.session_policy, strlen(t.session_policy), &p->session_doc, perr,
                          sizeof perr) != TS_OK) {
            *msg = "The session policy of these credentials is no longer valid.";
            rc = TS_E_INVALID_TOKEN;
            goto fail;
        }
        p->session_policy = t.session_policy;
        t.session_policy = NULL;
    }
    *secret = strdup(sec);
    if (*secret == NULL) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    *out = p;
    p = NULL;
    rc = TS_OK;
fail:
    OPENSSL_cleanse(sec, sizeof sec);
    sts_token_cleanup(&t);
    pol_principal_free(p);
    return rc;
}

/* Whether a signs as root (the environment's credentials, no session token). */
static bool signs_as_root(const struct sts_ctx *c, const struct sigv4_auth *a)
{
    return (a->security_token == NULL || a->security_token[0] == '\0') &&
           c->cfg.root_user != NULL && c->cfg.root_secret != NULL &&
           strcmp(a->access_key, c->cfg.root_user) == 0;
}

/* Static users and temporary credentials are revocable: they are trusted only while the IAM
 * store may be (iam_store_fresh; etcd: synchronised within TESSERA_ETCD_STALE_MAX), else the
 * request is refused with 503 ServiceUnavailable rather than served from a stale view. Root
 * (from the environment, not revocable) keeps working, so that an operator can look. */
static int store_fresh(struct sts_ctx *c, const struct sigv4_auth *a, struct ts_error *e)
{
    return signs_as_root(c, a) ? TS_OK : sts_store_fresh(c, e);
}

/* Who holds a->access_key, and its secret (malloc'ed). TS_OK or an S3-style error with a
 * client message in *msg (may stay NULL). */
static int resolve(struct sts_ctx *c, const struct sigv4_auth *a, time_t now,
                   struct pol_principal **out, char **secret, const char **msg)
{
    struct pol_principal *p = NULL;
    struct iam_user u;
    int rc, bad = 0;

    *msg = NULL;
    if (a->security_token != NULL && a->security_token[0] != '\0')
        return resolve_temp(c, a, now, out, secret, msg);

    if (signs_as_root(c, a)) {
        p = pol_principal_new(POL_PRINCIPAL_ROOT);
        if (p == NULL)
            return TS_E_INTERNAL;
        p->access_key = xstrdup(a->access_key, &bad);
        p->username = xstrdup(a->access_key, &bad);
        p->source = xstrdup("root", &bad);
        *secret = xstrdup(c->cfg.root_secret, &bad);
        if (bad || sts_principal_ids(p) != TS_OK) {
            pol_principal_free(p);
            free(*secret);
            *secret = NULL;
            return TS_E_INTERNAL;
        }
        *out = p;
        return TS_OK;
    }

    memset(&u, 0, sizeof u);
    rc = iam_user_get(c->st, a->access_key, &u);
    if (rc == TS_E_NO_SUCH_ENTITY) /* one namespace: a service account's key, or nobody's */
        return sts_svc_resolve(c, a->access_key, out, secret, msg);
    if (rc != TS_OK)
        return rc;
    if (!u.enabled) {
        iam_user_cleanup(&u);
        *msg = "Your account is disabled; please contact your administrator.";
        return TS_E_INVALID_ACCESS_KEY;
    }
    p = pol_principal_new(POL_PRINCIPAL_USER);
    if (p != NULL) {
        p->access_key = xstrdup(a->access_key, &bad);
        p->username = xstrdup(u.name, &bad);
        p->source = xstrdup("static", &bad);
        *secret = xstrdup(u.secret, &bad);
    }
    iam_user_cleanup(&u);
    if (p == NULL || bad || sts_principal_ids(p) != TS_OK) {
        pol_principal_free(p);
        free(*secret);
        *secret = NULL;
        return TS_E_INTERNAL;
    }
    *out = p;
    return TS_OK;
}

/* The credential scope's service must fit the route: "sts" for STS, "s3" for S3; the admin
 * API (JSON) accepts either (MinIO's admin clients sign as "s3"). */
static bool service_ok(const struct http_req *r, const struct sigv4_auth *a)
{
    enum http_err_style st = r->route ? r->route->err_style : HTTP_ERR_S3;
    if (st == HTTP_ERR_STS)
        return strcmp(a->service, "sts") == 0;
    if (st == HTTP_ERR_S3)
        return strcmp(a->service, "s3") == 0;
    return strcmp(a->service, "s3") == 0 || strcmp(a->service, "sts") == 0;
}

/* S3 is the only route that takes Signature Version 2, presigned URLs and payloads the
 * signature does not cover; STS, the admin API (and any other route) take SigV4 header
 * authentication with a signed payload only. */
static bool s3_route(const struct http_req *r)
{
    return r->route != NULL && r->route->err_style == HTTP_ERR_S3;
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (n >= 64 || enc_hexval((unsigned char)s[n]) < 0)
            return false;
    return n == 64;
}

/* Off S3: no presigned query, and x-amz-content-sha256 (when sent) the hex SHA-256 of the
 * body (checked by the body filter); without it the body is hashed by authn finish. Never
 * UNSIGNED-PAYLOAD or a STREAMING-* form. */
static int strict_route_ok(struct http_req *r, struct ts_error *e, const struct sigv4_auth *a)
{
    if (s3_route(r))
        return TS_OK;
    if (a->presigned)
        return fail(r, e, TS_E_ACCESS_DENIED,
                    "STS and the admin API accept Signature Version 4 in the Authorization "
                    "header only, not presigned URLs.");
    if (a->content_sha256 != NULL && !is_hex64(a->content_sha256))
        return fail(r, e, TS_E_ACCESS_DENIED,
                    "STS and the admin API require a signed payload: x-amz-content-sha256, "
                    "when sent, must be the hex SHA-256 of the body.");
    return TS_OK;
}

static void set_principal(struct http_req *r, struct pol_principal *p)
{
    if (r->principal != NULL && r->principal_free != NULL)
        r->principal_free(r->principal);
    r->principal = p;
    r->principal_free = principal_free;
}

/* The end of every verification: on TS_OK p becomes the request's principal, otherwise the
 * error rc goes into e with a's message. Takes p and secret. */
static int adopt(struct http_req *r, struct ts_error *e, int rc, const struct sigv4_auth *a,
                 struct pol_principal *p, char *secret)
{
    if (rc != TS_OK) {
        rc = fail(r, e, rc, a->err_msg);
    } else {
        set_principal(r, p);
        p = NULL;
    }
    enc_secret_free(secret);
    pol_principal_free(p);
    return rc;
}

/* Parses, checks the service and resolves the signer. */
static int begin_common(struct sts_ctx *c, struct http_req *r, struct ts_error *e,
                        struct sigv4_auth *a, time_t now, struct pol_principal **p, char **secret)
{
    const char *msg = NULL;
    int rc = sigv4_parse(r, a);
    if (rc == SIGV4_NONE || rc == SIGV4_V2)
        return rc;
    if (rc != TS_OK)
        return fail(r, e, rc, a->err_msg);
    if (!service_ok(r, a))
        return fail(r, e, a->presigned ? TS_E_AUTH_QUERY_MALFORMED : TS_E_AUTH_HEADER_MALFORMED,
                    "Credential should be scoped to the correct service.");
    rc = strict_route_ok(r, e, a);
    if (rc != TS_OK || (rc = store_fresh(c, a, e)) != TS_OK)
        return rc;
    rc = resolve(c, a, now, p, secret, &msg);
    if (rc != TS_OK)
        return fail(r, e, rc, msg);
    return TS_OK;
}

/* Signature Version 2 (S3 only): resolved and verified at once, there is no payload hash. */
static int authenticate_v2(struct sts_ctx *c, struct http_req *r, struct ts_error *e, time_t now)
{
    struct sigv4_auth a;
    struct pol_principal *p = NULL;
    char *secret = NULL;
    const char *msg = NULL;
    int rc = sigv2_parse(r, &a);
    if (rc != TS_OK)
        return fail(r, e, rc == SIGV4_NONE ? TS_E_INTERNAL : rc, a.err_msg);
    if (!s3_route(r) || !service_ok(r, &a))
        return fail(r, e, TS_E_ACCESS_DENIED, "Signature Version 2 is accepted for S3 only.");
    if ((rc = store_fresh(c, &a, e)) != TS_OK)
        return rc;
    rc = resolve(c, &a, now, &p, &secret, &msg);
    if (rc != TS_OK)
        return fail(r, e, rc, msg);
    rc = sigv2_verify(r, &a, secret, now);
    if (rc == TS_OK) {
        a.content_sha256 = NULL;
        rc = sigv4_install_filter(r, &a, NULL, c->keycache);
    }
    return adopt(r, e, rc, &a, p, secret);
}

/* No signature: the anonymous principal (body checksums are still verified by the filter). */
static int anonymous(struct sts_ctx *c, struct http_req *r, struct ts_error *e,
                     struct sigv4_auth *a)
{
    struct pol_principal *p;
    int rc = sigv4_install_filter(r, a, NULL, c->keycache);
    if (rc != TS_OK)
        return fail(r, e, rc, NULL);
    p = pol_principal_new(POL_PRINCIPAL_ANONYMOUS);
    if (p == NULL)
        return fail(r, e, TS_E_INTERNAL, NULL);
    set_principal(r, p);
    return TS_OK;
}

/* The authn hook's two calls. begin: a declared payload hash is verified now (and the body
 * filter installed), else the request is deferred. finish (deferred requests, body
 * buffered): the signature over the body's SHA-256. */
static int authenticate(struct sts_ctx *c, struct http_req *r, struct ts_error *e, bool finish)
{
    struct sigv4_auth a;
    struct pol_principal *p = NULL;
    char *secret = NULL, hash[65];
    const char *ph;
    time_t now = enc_now();
    int rc = begin_common(c, r, e, &a, now, &p, &secret);

    if (finish && (rc == SIGV4_NONE || rc == SIGV4_V2))
        return fail(r, e, TS_E_INTERNAL, NULL); /* begin saw a signature: cannot happen */
    if (rc == SIGV4_V2)
        return authenticate_v2(c, r, e, now);
    if (rc == SIGV4_NONE)
        return anonymous(c, r, e, &a);
    if (rc != TS_OK)
        return rc;
    if (finish) {
        sigv4_sha256_hex(r->body != NULL ? (const void *)r->body : "", r->body_len, hash);
        ph = hash;
    } else if ((ph = sigv4_declared_payload(&a)) == NULL) {
        /* The signature covers the body's hash: verify once it is buffered. */
        r->authn_deferred = true;
        enc_secret_free(secret);
        pol_principal_free(p);
        return TS_OK;
    }
    rc = sigv4_verify(r, &a, secret, c->cfg.region, now, ph, c->keycache);
    if (rc == TS_OK && !finish)
        rc = sigv4_install_filter(r, &a, secret, c->keycache);
    return adopt(r, e, rc, &a, p, secret);
}

int sts_authenticate(void *ctx, struct http_req *r, struct ts_error *e)
{
    return authenticate(ctx, r, e, false);
}

int sts_authenticate_finish(void *ctx, struct http_req *r, struct ts_error *e)
{
    return authenticate(ctx, r, e, true);
}

/* ---- browser POST forms ---- */

#define FORM_CRED_MSG                                                                              \
    "the Credential is mal-formed; expecting "                                                     \
    "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."

/* x-amz-credential "AK/YYYYMMDD/region/s3/aws4_request" and x-amz-date into a: TS_OK or
 * InvalidArgument (S3's messages for a POST form). */
static int form_scope_v4(struct sts_ctx *c, const struct http_form_auth *f, struct sigv4_auth *a,
                         struct ts_error *e)
{
    char part[5][130];
    const char *p = f->credential;
    size_t i = 0;
    for (; i < 5 && p != NULL; i++) {
        size_t n = strcspn(p, "/");
        if (n >= sizeof part[i])
            return ts_error_set(e, TS_E_INVALID_ARGUMENT, "%s", FORM_CRED_MSG);
        memcpy(part[i], p, n);
        part[i][n] = '\0';
        p = p[n] == '/' ? p + n + 1 : NULL;
    }
    if (i != 5 || p != NULL || part[0][0] == '\0' || sizeof a->access_key <= strlen(part[0]) ||
        strlen(part[2]) >= sizeof a->region)
        return ts_error_set(e, TS_E_INVALID_ARGUMENT, "%s", FORM_CRED_MSG);
    if (strlen(part[1]) != 8 || strspn(part[1], "0123456789") != 8)
        return ts_error_set(e, TS_E_INVALID_ARGUMENT,
                            "incorrect date format \"%.16s\". This date in the credential must be "
                            "in the format \"yyyyMMdd\".",
                            part[1]);
    if (strcmp(part[4], "aws4_request") != 0)
        return ts_error_set(e, TS_E_INVALID_ARGUMENT,
                            "incorrect terminal \"%.32s\". This endpoint uses \"aws4_request\".",
                            part[4]);
    if (strcmp(part[3], "s3") != 0)
        return ts_error_set(e, TS_E_INVALID_ARGUMENT,
                            "incorrect service \"%.32s\". This endpoint belongs to \"s3\".",
                            part[3]);
    /* The rule of sigv4_verify: the server's region, or us-east-1. */
    if (c->cfg.region != NULL && c->cfg.region[0] != '\0' && strcmp(part[2], c->cfg.region) != 0 &&
        strcmp(part[2], "us-east-1") != 0)
        return ts_error_set(e, TS_E_INVALID_ARGUMENT,
                            "the region \"%.63s\" is wrong; expecting \"%s\"", part[2],
                            c->cfg.region);
    time_t t;
    if (f->amz_date == NULL || strlen(f->amz_date) != 16 ||
        enc_time_parse_amz(f->amz_date, &t) != 0 || strncmp(f->amz_date, part[1], 8) != 0)
        return ts_error_set(
            e, TS_E_INVALID_ARGUMENT,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\" "
            "and name the day of the credential's scope.");
    snprintf(a->access_key, sizeof a->access_key, "%.128s", part[0]);
    snprintf(a->date, sizeof a->date, "%.8s", part[1]);
    snprintf(a->region, sizeof a->region, "%.63s", part[2]);
    snprintf(a->service, sizeof a->service, "%.31s", part[3]);
    return TS_OK;
}

/* The signature the form must carry, computed with secret: V4 lower-case hex, V2 base64. */
static bool form_signature_ok(struct sts_ctx *c, const struct http_form_auth *f,
                              const struct sigv4_auth *a, const char *secret)
{
    const char *pol = f->policy;
    bool ok = false;
    if (f->version == 4) {
        uint8_t key[32], mac[32];
        char hex[65];
        sigv4_signing_key(secret, a->date, a->region, a->service, c->keycache, key);
        enc_hmac_sha256(key, sizeof key, pol, strlen(pol), mac);
        enc_hex(mac, sizeof mac, hex);
        ok = enc_ct_equal(hex, 64, f->signature, strlen(f->signature));
        OPENSSL_cleanse(key, sizeof key);
    } else {
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (HMAC(enc_md_sha1(), secret, (int)strlen(secret), (const unsigned char *)pol,
                 strlen(pol), mac, &n) != NULL) {
            char *b64 = enc_b64(mac, n);
            ok = b64 != NULL && enc_ct_equal(b64, strlen(b64), f->signature, strlen(f->signature));
            free(b64);
        }
    }
    return ok;
}

int sts_authenticate_form(void *ctx, struct http_req *r, const struct http_form_auth *f,
                          struct ts_error *e)
{
    struct sts_ctx *c = ctx;
    struct sigv4_auth a;
    struct pol_principal *p = NULL;
    char *secret = NULL;
    const char *msg = NULL;
    int rc = TS_OK;

    memset(&a, 0, sizeof a);
    if (f->policy == NULL || f->signature == NULL || (f->version != 2 && f->version != 4))
        return fail(r, e, TS_E_ACCESS_DENIED, NULL);
    if (f->version == 4) {
        if (f->algorithm == NULL || strcmp(f->algorithm, "AWS4-HMAC-SHA256") != 0)
            return ts_error_set(e, TS_E_INVALID_ARGUMENT,
                                "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        if (f->credential == NULL)
            return fail(r, e, TS_E_INVALID_ARGUMENT, FORM_CRED_MSG);
        if ((rc = form_scope_v4(c, f, &a, e)) != TS_OK)
            return rc;
    } else {
        if (f->access_key == NULL || f->access_key[0] == '\0' ||
            strlen(f->access_key) >= sizeof a.access_key)
            return fail(r, e, TS_E_INVALID_ACCESS_KEY, NULL);
        snprintf(a.access_key, sizeof a.access_key, "%s", f->access_key);
        snprintf(a.service, sizeof a.service, "s3");
    }
    a.security_token = f->security_token;
    if ((rc = store_fresh(c, &a, e)) != TS_OK)
        return rc;
    rc = resolve(c, &a, enc_now(), &p, &secret, &msg);
    if (rc != TS_OK)
        return fail(r, e, rc, msg);
    if (!form_signature_ok(c, f, &a, secret))
        rc = TS_E_SIGNATURE;
    a.err_msg = NULL;
    return adopt(r, e, rc, &a, p, secret);
}

int sts_principal_for(struct sts_ctx *c, const char *access_key, const char *session_token,
                      struct pol_principal **out)
{
    struct sigv4_auth a;
    struct ts_error fe = {0};
    const char *msg = NULL;
    char *secret = NULL;
    int rc;

    memset(&a, 0, sizeof a);
    if (strlen(access_key) >= sizeof a.access_key)
        return TS_E_INVALID_ACCESS_KEY;
    snprintf(a.access_key, sizeof a.access_key, "%s", access_key);
    a.security_token = session_token;
    if (store_fresh(c, &a, &fe) != TS_OK)
        return TS_E_SERVICE_UNAVAILABLE;
    rc = resolve_temp(c, &a, enc_now(), out, &secret, &msg);
    enc_secret_free(secret);
    return rc;
}
