/* actions.c -- the STS endpoint: POST / with a form body, or GET|POST /?Action=...
 *
 * Parameters come from the query and the url-encoded form body (first occurrence wins).
 * Version must be 2011-06-15. Dispatch is one table (sts_actions: name, blocking, rate limit,
 * metric label): GetCallerIdentity is built in; AssumeRole and the federation actions run
 * sts_federate (sts/federate.c) with the action's identity backend -- the static-user one for
 * AssumeRole, the others plugged in by the composition root with sts_set_backend()
 * (NotImplemented until then). Responses follow the STS API reference byte for byte (no XML
 * declaration, the 2011-06-15 namespace); errors travel up as a struct ts_error, which
 * sts_finish returns to the server, the only one to answer them (in the route's STS style).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/xml.h"
#include "policy/roles.h"
#include "sts/sts_int.h"

/* ---- parameters ---- */

/* The parameters that carry a token (a JWT from an identity provider). Whatever their source
 * (query, form, the browser login's code exchange, a web-identity token file that a client
 * read with its final newline), their surrounding whitespace is not part of the token. */
static bool is_token_param(const char *key)
{
    return strcmp(key, "WebIdentityToken") == 0 || strcmp(key, "Token") == 0;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

int sts_params_add(struct sts_params *p, const char *key, const char *value)
{
    size_t vlen = strlen(value);
    if (is_token_param(key)) {
        while (is_blank(*value))
            value++, vlen--;
        while (vlen > 0 && is_blank(value[vlen - 1]))
            vlen--;
    }
    char *v = strndup(value, vlen);
    int rc = v != NULL ? http_kv_add(&p->kv, &p->n, key, v) : TS_E_INTERNAL;
    enc_secret_free(v); /* a parameter may be a password or a token */
    return rc;
}

void sts_params_cleanup(struct sts_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->kv[i].key);
        enc_secret_free(p->kv[i].value); /* may be a password (LDAPPassword) or a token */
    }
    free(p->kv);
    p->kv = NULL;
    p->n = 0;
}

const char *sts_param(const struct sts_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->kv[i].key, name) == 0)
            return p->kv[i].value;
    return NULL;
}

int sts_params_parse_form(struct sts_params *p, const char *body, size_t len)
{
    size_t i = 0, vcap = 0;
    char *key = NULL, *val = NULL;
    int rc = TS_OK;

    while (i < len) {
        size_t end = i, eq;
        while (end < len && body[end] != '&')
            end++;
        eq = i;
        while (eq < end && body[eq] != '=')
            eq++;
        if (end > i) {
            size_t vstart = eq < end ? eq + 1 : end;
            vcap = end - vstart + 1;
            key = malloc(eq - i + 1);
            val = malloc(vcap);
            if (key == NULL || val == NULL) {
                rc = TS_E_INTERNAL;
                goto fail;
            }
            if (enc_url_decode(body + i, eq - i, key, true) < 0 ||
                enc_url_decode(body + vstart, end - vstart, val, true) < 0) {
                rc = TS_E_STS_INVALID_PARAMETER;
                goto fail;
            }
            if (*key != '\0' && (rc = sts_params_add(p, key, val)) != TS_OK)
                goto fail;
            free(key);
            OPENSSL_cleanse(val, vcap);
            free(val);
            key = val = NULL;
        }
        i = end + 1;
    }
fail:
    free(key);
    if (val != NULL) {
        OPENSSL_cleanse(val, vcap);
        free(val);
    }
    return rc;
}

/* ---- parameter checks ---- */

int sts_check_version(const char *v, struct ts_error *e)
{
    if (v == NULL) {
        return ts_error_set(e, TS_E_STS_MISSING_PARAMETER,
                            "The request must contain the parameter Version.");
    }
    if (strcmp(v, "2011-06-15") != 0) {
        return ts_error_set(e, TS_E_STS_INVALID_PARAMETER,
                            "Could not find operation for version %.64s", v);
    }
    return TS_OK;
}

/* DurationSeconds as an integer of at least STS_MIN_DURATION into *d; TS_OK or the error. */
static int duration_value(const char *v, long *d, struct ts_error *e)
{
    char *end;

    errno = 0;
    *d = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || !isdigit((unsigned char)*v)) {
        return ts_error_set(e, TS_E_STS_INVALID_PARAMETER,
                            "Value '%.32s' at 'durationSeconds' is not a valid integer", v);
    }
    if (*d < STS_MIN_DURATION) {
        return ts_error_set(
            e, TS_E_STS_VALIDATION,
            "1 validation error detected: Value '%ld' at 'durationSeconds' failed to "
            "satisfy constraint: Member must have value greater than or equal to %ld",
            *d, STS_MIN_DURATION);
    }
    return TS_OK;
}

int sts_check_duration_in(const char *v, long limit, long *out, struct ts_error *e)
{
    long d;
    int rc = duration_value(v, &d, e);

    if (rc != TS_OK)
        return rc;
    if (d > limit) {
        return ts_error_set(
            e, TS_E_STS_VALIDATION,
            "1 validation error detected: Value '%ld' at 'durationSeconds' failed to "
            "satisfy constraint: Member must have value less than or equal to %ld",
            d, limit);
    }
    *out = d;
    return TS_OK;
}

int sts_check_duration(const struct sts_ctx *c, const char *v, long *out, struct ts_error *e)
{
    long max = c->cfg.max_duration;
    long d;
    int rc;

    if (v == NULL) {
        *out = max < 3600 ? max : 3600;
        return TS_OK;
    }
    if ((rc = duration_value(v, &d, e)) != TS_OK)
        return rc;
    if (d > max) {
        return ts_error_set(
            e, TS_E_STS_VALIDATION,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this "
            "role (%ld seconds).",
            max);
    }
    *out = d;
    return TS_OK;
}

/* Characters (UTF-8 code points) of s. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* AWS's validation message for a parameter whose length n is outside [min, max]. */
static int length_error(struct ts_error *e, const char *field, size_t n, size_t min, size_t max)
{
    return ts_error_set(e, TS_E_STS_VALIDATION,
                        "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                        "Member must have length %s %zu",
                        field, n < min ? "greater than or equal to" : "less than or equal to",
                        n < min ? min : max);
}

int sts_check_policy(const char *v, struct ts_error *e)
{
    char err[256] = "";
    size_t n;

    if (v == NULL)
        return TS_OK;
    n = utf8_len(v);
    if (n < 1 || n > STS_MAX_SESSION_POLICY) {
        return length_error(e, "policy", n, 1, STS_MAX_SESSION_POLICY);
    }
    if (pol_validate(v, strlen(v), err, sizeof err) != TS_OK) {
        return ts_error_set(e, TS_E_STS_MALFORMED_POLICY, "The policy document is malformed: %s",
                            err);
    }
    return TS_OK;
}

int sts_check_role_arn(const char *v, struct ts_error *e)
{
    size_t n, colons = 0;
    const char *p, *parts[6] = {0};

    if (v == NULL)
        return TS_OK;
    n = utf8_len(v);
    if (n < 20 || n > 2048) {
        return length_error(e, "roleArn", n, 20, 2048);
    }
    /* arn:partition:service:region:account:resource */
    parts[0] = v;
    for (p = v; *p && colons < 5; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            break;
        if (*p == ':')
            parts[++colons] = p + 1;
    }
    for (p = v; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f)
            goto bad;
    /* MinIO's documented flow sends "arn:xxx:xxx:xxx:xxxx" (four colons, no resource part)
     * and MinIO accepts it: require the arn:partition:service:region:account shape only. */
    if (colons < 4 || strncmp(v, "arn:", 4) != 0 || parts[1][0] == ':' || parts[2][0] == ':' ||
        (colons == 5 && parts[5][0] == '\0'))
        goto bad;
    return TS_OK;
bad:
    return ts_error_set(e, TS_E_STS_VALIDATION, "%.64s is invalid", v);
}

int sts_check_session_name(const char *v, struct ts_error *e)
{
    size_t n;
    if (v == NULL)
        return TS_OK;
    n = strlen(v);
    if (n < 2 || n > 64) {
        return length_error(e, "roleSessionName", n, 2, 64);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (!isalnum(ch) && strchr("_+=,.@-", ch) == NULL) {
            return ts_error_set(
                e, TS_E_STS_VALIDATION,
                "1 validation error detected: Value '%s' at 'roleSessionName' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "[\\w+=,.@-]*",
                v);
        }
    }
    return TS_OK;
}

/* ---- actions ---- */

static int act_get_caller_identity(struct sts_ctx *c, struct http_req *r,
                                   const struct sts_params *p, struct ts_error *err)
{
    struct pol_principal *who = r->principal;
    struct buf b;
    char *body;
    size_t len;

    (void)c, (void)p;
    if (who == NULL || who->type == POL_PRINCIPAL_ANONYMOUS)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED, "Request is missing Authentication Token");
    if (sts_principal_ids(who) != TS_OK)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    buf_init(&b, 16384);
    xml_open(&b, "GetCallerIdentityResponse", STS_XMLNS);
    xml_open(&b, "GetCallerIdentityResult", NULL);
    xml_elem(&b, "Arn", who->arn);
    xml_elem(&b, "UserId", who->userid);
    xml_elem(&b, "Account", STS_ACCOUNT_ID);
    xml_close(&b, "GetCallerIdentityResult");
    xml_open(&b, "ResponseMetadata", NULL);
    xml_elem(&b, "RequestId", r->request_id);
    xml_close(&b, "ResponseMetadata");
    xml_close(&b, "GetCallerIdentityResponse");
    body = buf_take(&b, &len);
    if (body == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    return ts_error_set(err, http_reply_data(r, 200, "text/xml", body, len, true), NULL);
}

/* The STS actions. AssumeRole federates the SigV4 caller through the built-in static-user
 * backend; the other federation actions answer NotImplemented until the composition root
 * plugs a backend in (sts_set_backend). */
/* MinIO: any static user may AssumeRole unless a policy of theirs explicitly denies it;
 * temporary credentials may not; a RoleArn naming a tessera role is then checked against the
 * role's trust policy (sts_federate). GetCallerIdentity needs only a signature (AWS). */
#define ASSUME_ROLE_AUTHZ HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_STATIC | HTTP_AUTHZ_UNLESS_DENIED
#define CALLER_ID_AUTHZ HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_ANY_CALLER
/* GetSessionToken: as AssumeRole, but temporary credentials reach the backend, which refuses
 * them with AWS's own message. */
#define SESSION_TOKEN_AUTHZ HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_UNLESS_DENIED
#define PUB HTTP_AUTHZ_PUBLIC
const struct sts_action sts_actions[STS_NACTIONS] = {
    /* name, builtin, blocking, rate_limited, metric, subject_elem, IAM action, resource, authz */
    {"AssumeRole", NULL, false, false, "static", NULL, "sts:AssumeRole", "RoleArn",
     ASSUME_ROLE_AUTHZ},
    {"GetCallerIdentity", act_get_caller_identity, false, false, NULL, NULL,
     "sts:GetCallerIdentity", NULL, CALLER_ID_AUTHZ},
    {"AssumeRoleWithWebIdentity", NULL, true, true, "oidc", "SubjectFromWebIdentityToken", NULL,
     NULL, PUB},
    {"AssumeRoleWithClientGrants", NULL, true, true, "clientgrants", "SubjectFromToken", NULL, NULL,
     PUB},
    {"AssumeRoleWithLDAPIdentity", NULL, true, true, "ldap", NULL, NULL, NULL, PUB},
    {"AssumeRoleWithCertificate", NULL, true, false, "certificate", NULL, NULL, NULL, PUB},
    {"AssumeRoleWithCustomToken", NULL, true, true, "custom", "AssumedUser", NULL, NULL, PUB},
    {"AssumeRoleWithSAML", NULL, false, true, "saml", NULL, NULL, NULL, PUB},
    {"GetSessionToken", NULL, false, false, "static", NULL, "sts:GetSessionToken", NULL,
     SESSION_TOKEN_AUTHZ},
    {"GetFederationToken", NULL, false, false, NULL, NULL, NULL, NULL, PUB},
    {"DecodeAuthorizationMessage", NULL, false, false, NULL, NULL, NULL, NULL, PUB},
    {"GetAccessKeyInfo", NULL, false, false, NULL, NULL, NULL, NULL, PUB},
};

const struct sts_action *sts_action_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < STS_NACTIONS; i++)
        if (strcmp(sts_actions[i].name, name) == 0)
            return &sts_actions[i];
    return NULL;
}

/* A federation action: sts_federate, then the AWS-shaped credentials answer (with the
 * token's subject, audience and issuer for the OIDC actions). */
static int federate_and_reply(struct sts_ctx *c, const struct sts_action *a, struct http_req *r,
                              const struct sts_params *p, struct ts_error *err)
{
    struct sts_federation f;
    struct buf extra;
    int rc = sts_federate(c, a->name, r, p, &f, err);

    if (rc != TS_OK)
        return rc;
    buf_init(&extra, 16384);
    if (a->subject_elem != NULL) {
        xml_elem(&extra, a->subject_elem, f.claims.subject);
        xml_elem(&extra, "Audience", f.claims.audience);
        xml_elem(&extra, "Provider", f.claims.issuer);
    }
    if (sts_backend(c, a->name)->answer != NULL) /* AssumeRoleWithSAML's Issuer, Subject... */
        sts_backend(c, a->name)->answer(&f.claims, &extra);
    if (sts_backend(c, a->name)->own_credentials) { /* no AssumedRoleUser (AWS) */
        free(f.creds.arn);
        f.creds.arn = NULL;
    }
    rc =
        buf_failed(&extra) ? TS_E_INTERNAL : sts_reply_creds(r, a->name, &f.creds, buf_str(&extra));
    buf_free(&extra);
    sts_federation_cleanup(&f);
    return ts_error_set(err, rc, NULL);
}

static int dispatch(struct sts_ctx *c, struct http_req *r, const struct sts_params *p,
                    struct ts_error *err)
{
    const char *action = sts_param(p, "Action");
    const struct sts_action *a = sts_action_find(action);
    int rc;

    if (action == NULL)
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                            "The request must contain the parameter Action.");
    rc = sts_check_version(sts_param(p, "Version"), err);
    if (rc != TS_OK)
        return err->code = rc;
    if (a == NULL)
        return ts_error_set(err, TS_E_STS_INVALID_ACTION,
                            "Could not find operation %.64s for version %.32s", action,
                            sts_param(p, "Version"));
    if (a->builtin != NULL)
        return a->builtin(c, r, p, err);
    /* The unsigned logins cost an upstream call (JWKS, LDAP bind) and allow guessing:
     * per-source-IP token bucket (core/limits.h), 503 SlowDown with Retry-After: 1. */
    if (a->rate_limited && !limits_sts_allow(r->source_ip))
        return ts_error_set(err, TS_E_SLOW_DOWN, "Rate exceeded for %s from this address.",
                            a->name);
    return federate_and_reply(c, a, r, p, err); /* NotImplemented without a backend */
}

/* ---- the route ---- */

#define REFUSALS_METRIC "tessera_sts_refusals_total"
#define REFUSALS_HELP                                                                              \
    "STS login requests refused (STS API and /login pages), by backend and error code."
#define ISSUED_METRIC "tessera_sts_issued_total"
#define ISSUED_HELP "Temporary credentials issued, by backend."

static void add_refusal(const char *backend, int err, uint64_t n)
{
    char labels[128];
    /* Both label values come from fixed sets: no cardinality from client input. */
    snprintf(labels, sizeof labels, "backend=\"%s\",reason=\"%s\"", backend, ts_err_code(err));
    metrics_inc(REFUSALS_METRIC, REFUSALS_HELP, labels, n);
}

/* tessera_sts_refusals_total{backend,reason}: a login action that did not issue
 * credentials, by backend and AWS error code (issuances are counted by sts_audit_issue). */
static void count_refusal(const struct sts_action *a, int err)
{
    if (a == NULL || a->metric == NULL || err == TS_OK)
        return;
    add_refusal(a->metric, err, 1);
}

void sts_count_refusal(const char *action, int err)
{
    count_refusal(sts_action_find(action), err);
}

void sts_metrics_zero(const char *action)
{
    /* The refusals each backend's users meet first; others appear when they happen. */
    static const int common[] = {TS_E_STS_ACCESS_DENIED, TS_E_STS_INVALID_PARAMETER,
                                 TS_E_STS_MISSING_PARAMETER, TS_E_SLOW_DOWN};
    static const int oidc[] = {TS_E_STS_INVALID_IDENTITY_TOKEN, TS_E_STS_IDP_COMMUNICATION};
    const struct sts_action *a = sts_action_find(action);
    char labels[64];

    if (a == NULL || a->metric == NULL)
        return;
    snprintf(labels, sizeof labels, "backend=\"%s\"", a->metric);
    metrics_inc(ISSUED_METRIC, ISSUED_HELP, labels, 0);
    if (strcmp(a->metric, "static") == 0)
        metrics_inc(ISSUED_METRIC, ISSUED_HELP, "backend=\"root\"", 0);
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        if (a->rate_limited || common[i] != TS_E_SLOW_DOWN)
            add_refusal(a->metric, common[i], 0);
    if (strcmp(a->metric, "ldap") == 0)
        add_refusal(a->metric, TS_E_SERVICE_UNAVAILABLE, 0);
    if (strcmp(a->metric, "oidc") == 0 || strcmp(a->metric, "clientgrants") == 0)
        for (size_t i = 0; i < sizeof oidc / sizeof *oidc; i++)
            add_refusal(a->metric, oidc[i], 0);
}

static bool is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, form, sizeof form - 1) != 0)
        return false;
    ct += sizeof form - 1;
    return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

static bool sts_match(struct http_req *r)
{
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (strcmp(r->path, "/") != 0 || (!get && !post))
        return false;
    if (post && is_form(http_req_header(r, "Content-Type")))
        return true;
    return http_req_query(r, "Action") != NULL;
}

static int sts_start(struct http_req *r, struct ts_error *e)
{
    (void)r, (void)e;
    return TS_OK; /* buffered body (route body_max) */
}

int sts_request_params(struct http_req *r, struct sts_params *p)
{
    int rc = TS_OK;
    for (size_t i = 0; i < r->nquery && rc == TS_OK; i++)
        rc = sts_params_add(p, r->query[i].key, r->query[i].value ? r->query[i].value : "");
    if (rc == TS_OK && strcmp(r->method, "POST") == 0 &&
        is_form(http_req_header(r, "Content-Type")) && r->body != NULL)
        rc = sts_params_parse_form(p, (const char *)r->body, r->body_len);
    return rc;
}

/* route->finish: nothing below replied when rc != TS_OK; the server answers e. */
static int sts_finish(struct http_req *r, struct ts_error *e)
{
    struct sts_ctx *c = r->route->ctx;
    struct sts_params p = {0};
    int rc = sts_request_params(r, &p);

    if (rc != TS_OK)
        ts_error_set(e, rc, NULL);
    else
        rc = dispatch(c, r, &p, e);
    count_refusal(sts_action_find(sts_param(&p, "Action")), rc);
    sts_params_cleanup(&p);
    return rc;
}

/* The federation actions that may wait on their identity provider (LDAP binds and searches,
 * JWKS refetches, userinfo calls) or on OpenSSL's locks (a client certificate's chain not seen
 * before: parsing serialises across threads) run on the server's worker threads. */
static bool sts_blocking(struct http_req *r)
{
    struct sts_params p = {0};
    const char *action = http_req_query(r, "Action");
    const struct sts_action *a;
    bool blocking;

    if (action == NULL && strcmp(r->method, "POST") == 0 && r->body != NULL &&
        is_form(http_req_header(r, "Content-Type")) &&
        sts_params_parse_form(&p, (const char *)r->body, r->body_len) == TS_OK)
        action = sts_param(&p, "Action");
    a = sts_action_find(action);
    blocking = a != NULL && a->blocking;
    sts_params_cleanup(&p);
    return blocking;
}

static const struct http_route sts_route =
    HTTP_ROUTE("sts", HTTP_ERR_STS, STS_MAX_FORM_BODY, .match = sts_match, .resolve = sts_resolve,
               .start = sts_start, .finish = sts_finish, .blocking = sts_blocking);

void sts_route_init(struct http_route *route, struct sts_ctx *c)
{
    *route = sts_route;
    route->ctx = c;
}
