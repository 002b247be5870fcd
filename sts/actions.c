/* actions.c -- the STS endpoint: POST / with a form body, or GET|POST /?Action=...
 *
 * Parameters come from the query and the url-encoded form body (first occurrence wins).
 * Version must be 2011-06-15. Dispatch is a table: AssumeRole and GetCallerIdentity are
 * built in; the federation actions (AssumeRoleWithWebIdentity, ...WithClientGrants,
 * ...WithLDAPIdentity) are plugged in by the composition root with sts_set_action() and
 * answer NotImplemented until then. Responses follow the STS API reference byte for byte
 * (no XML declaration, the 2011-06-15 namespace); errors go through http_reply_error with
 * the route's STS style.
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

int sts_params_add(struct sts_params *p, const char *key, const char *value)
{
    struct http_kv *kv = realloc(p->kv, (p->n + 1) * sizeof *kv);
    if (kv == NULL)
        return TS_E_INTERNAL;
    p->kv = kv;
    kv[p->n].key = strdup(key);
    kv[p->n].value = strdup(value);
    if (kv[p->n].key == NULL || kv[p->n].value == NULL) {
        free(kv[p->n].key);
        free(kv[p->n].value);
        return TS_E_INTERNAL;
    }
    p->n++;
    return TS_OK;
}

void sts_params_cleanup(struct sts_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->kv[i].key);
        if (p->kv[i].value != NULL) {
            /* Values may be passwords (LDAPPassword) or tokens. */
            OPENSSL_cleanse(p->kv[i].value, strlen(p->kv[i].value));
            free(p->kv[i].value);
        }
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

int sts_check_version(const char *v, char *msg, size_t msglen)
{
    if (v == NULL) {
        snprintf(msg, msglen, "The request must contain the parameter Version.");
        return TS_E_STS_MISSING_PARAMETER;
    }
    if (strcmp(v, "2011-06-15") != 0) {
        snprintf(msg, msglen, "Could not find operation for version %.64s", v);
        return TS_E_STS_INVALID_PARAMETER;
    }
    return TS_OK;
}

int sts_check_duration(const struct sts_ctx *c, const char *v, long *out, char *msg, size_t msglen)
{
    long max = c->cfg.max_duration;
    char *end;
    long d;

    if (v == NULL) {
        *out = max < 3600 ? max : 3600;
        return TS_OK;
    }
    errno = 0;
    d = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || !isdigit((unsigned char)*v)) {
        snprintf(msg, msglen, "Value '%.32s' at 'durationSeconds' is not a valid integer", v);
        return TS_E_STS_INVALID_PARAMETER;
    }
    if (d < STS_MIN_DURATION) {
        snprintf(msg, msglen,
                 "1 validation error detected: Value '%ld' at 'durationSeconds' failed to "
                 "satisfy constraint: Member must have value greater than or equal to %ld",
                 d, STS_MIN_DURATION);
        return TS_E_STS_VALIDATION;
    }
    if (d > max) {
        snprintf(msg, msglen,
                 "The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                 "role (%ld seconds).",
                 max);
        return TS_E_STS_VALIDATION;
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

int sts_check_policy(const char *v, char *msg, size_t msglen)
{
    char err[256] = "";
    size_t n;

    if (v == NULL)
        return TS_OK;
    n = utf8_len(v);
    if (n < 1 || n > STS_MAX_SESSION_POLICY) {
        snprintf(msg, msglen,
                 "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
                 "Member must have length %s %d",
                 n < 1 ? "greater than or equal to" : "less than or equal to",
                 n < 1 ? 1 : STS_MAX_SESSION_POLICY);
        return TS_E_STS_VALIDATION;
    }
    if (pol_validate(v, strlen(v), err, sizeof err) != TS_OK) {
        snprintf(msg, msglen, "The policy document is malformed: %s", err);
        return TS_E_STS_MALFORMED_POLICY;
    }
    return TS_OK;
}

int sts_check_role_arn(const char *v, char *msg, size_t msglen)
{
    size_t n, colons = 0;
    const char *p, *parts[6] = {0};

    if (v == NULL)
        return TS_OK;
    n = utf8_len(v);
    if (n < 20 || n > 2048) {
        snprintf(msg, msglen,
                 "1 validation error detected: Value at 'roleArn' failed to satisfy constraint: "
                 "Member must have length %s %d",
                 n < 20 ? "greater than or equal to" : "less than or equal to", n < 20 ? 20 : 2048);
        return TS_E_STS_VALIDATION;
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
    snprintf(msg, msglen, "%.64s is invalid", v);
    return TS_E_STS_VALIDATION;
}

int sts_check_session_name(const char *v, char *msg, size_t msglen)
{
    size_t n;
    if (v == NULL)
        return TS_OK;
    n = strlen(v);
    if (n < 2 || n > 64) {
        snprintf(msg, msglen,
                 "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
                 "constraint: Member must have length %s %d",
                 n < 2 ? "greater than or equal to" : "less than or equal to", n < 2 ? 2 : 64);
        return TS_E_STS_VALIDATION;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (!isalnum(ch) && strchr("_+=,.@-", ch) == NULL) {
            snprintf(msg, msglen,
                     "1 validation error detected: Value '%s' at 'roleSessionName' failed to "
                     "satisfy constraint: Member must satisfy regular expression pattern: "
                     "[\\w+=,.@-]*",
                     v);
            return TS_E_STS_VALIDATION;
        }
    }
    return TS_OK;
}

/* ---- actions ---- */

/* AssumeRole by a static user or root. A RoleArn naming an existing tessera role goes through
 * that role's trust policy (the caller matched by its typed ARN, arn:aws:iam::ACCOUNT:user/NAME
 * or :root, as AWS): refused unless it allows sts:AssumeRole; the session then has exactly the
 * role's policies (∩ the session policy) and the ARN assumed-role/ROLE/SESSION. Any other
 * RoleArn (MinIO's arn:xxx:xxx:xxx:xxxx, or a role that does not exist) gives MinIO's session:
 * the parent's current policies ∩ the session policy, and the parent's own ARN — never an ARN
 * spelled by the request. */
static int act_assume_role(struct sts_ctx *c, struct http_req *r, const struct sts_params *p,
                           char *msg, size_t msglen)
{
    const struct pol_principal *who = r->principal;
    const char *policy = sts_param(p, "Policy"), *role_arn = sts_param(p, "RoleArn");
    const char *session_name = sts_param(p, "RoleSessionName");
    char role_name[POL_ROLE_NAME_MAX + 1];
    struct iam_strv role_pols = {0};
    struct pol_request rq;
    struct sts_session s;
    struct sts_creds cr;
    char *trust = NULL;
    bool role = false;
    long duration = 0;
    int rc;

    memset(&cr, 0, sizeof cr);
    if (who == NULL || who->type == POL_PRINCIPAL_ANONYMOUS) {
        snprintf(msg, msglen, "Request is missing Authentication Token");
        return TS_E_STS_ACCESS_DENIED;
    }
    if (who->type == POL_PRINCIPAL_TEMP) {
        snprintf(msg, msglen, "AssumeRole is not allowed with temporary credentials");
        return TS_E_STS_ACCESS_DENIED;
    }
    if ((rc = sts_check_duration(c, sts_param(p, "DurationSeconds"), &duration, msg, msglen)) ||
        (rc = sts_check_role_arn(role_arn, msg, msglen)) ||
        (rc = sts_check_session_name(session_name, msg, msglen)) ||
        (rc = sts_check_policy(policy, msg, msglen)))
        return rc;

    /* sts:AssumeRole was decided by the authz phase (sts_authz.c); rq is its context, for
     * the trust policy. */
    pol_request_init(&rq, r, "sts:AssumeRole", role_arn != NULL ? role_arn : "*");

    if (role_arn != NULL && pol_role_from_arn(role_arn, role_name)) {
        rc = pol_role_get(c->st, role_name, &trust, NULL, &role_pols);
        if (rc != TS_OK && rc != TS_E_NO_SUCH_ENTITY)
            return rc;
        role = rc == TS_OK;
    }
    if (role) {
        const char *why = NULL;
        rc = pol_role_trust_check_principal(trust, &rq, &why);
        free(trust);
        trust = NULL;
        if (rc != TS_OK) {
            log_audit("sts.deny", "action", "AssumeRole", "user", who->username, "role", role_name,
                      "reason", why, "source_ip", r->source_ip, "request_id", r->request_id, NULL);
            iam_strv_free(&role_pols);
            if (rc == TS_E_INTERNAL)
                return rc;
            snprintf(msg, msglen,
                     "User: %s is not authorized to perform: sts:AssumeRole on resource: %s",
                     who->arn != NULL ? who->arn : "?", role_arn);
            return TS_E_STS_ACCESS_DENIED;
        }
        log_audit("sts.role", "action", "AssumeRole", "role", role_name, "user", who->username,
                  "request_id", r->request_id, NULL);
    }

    memset(&s, 0, sizeof s);
    s.parent = who->type == POL_PRINCIPAL_ROOT ? c->cfg.root_user : who->username;
    s.source = who->type == POL_PRINCIPAL_ROOT ? "root" : "static";
    if (role) {
        /* Exactly the role's policies, even none (the engine never falls back to the
         * parent's for a role session). */
        s.role = role_name;
        s.policies = (const char *const *)role_pols.v;
        s.npolicies = role_pols.n;
    } else if (who->type == POL_PRINCIPAL_ROOT) {
        /* Root is not a store user, so "the parent's current policies" do not exist: its
         * sessions carry the canned consoleAdmin policy (all of s3:*, admin:*), narrowed
         * by the session policy, as MinIO's root-derived credentials are. */
        static const char *const root_policies[] = {"consoleAdmin"};
        s.policies = root_policies;
        s.npolicies = 1;
    }
    s.session_policy = policy;
    s.session_name = session_name;
    s.duration = duration;
    if (s.parent == NULL) {
        iam_strv_free(&role_pols);
        return TS_E_INTERNAL;
    }
    rc = sts_mint(c, &s, &cr);
    if (rc != TS_OK) {
        iam_strv_free(&role_pols);
        return rc == TS_E_INVALID_ARGUMENT ? TS_E_STS_VALIDATION : rc;
    }
    rc = sts_reply_creds(r, "AssumeRole", &s, &cr, NULL);
    sts_creds_cleanup(&cr);
    iam_strv_free(&role_pols);
    return rc;
}

static int act_get_caller_identity(struct sts_ctx *c, struct http_req *r,
                                   const struct sts_params *p, char *msg, size_t msglen)
{
    struct pol_principal *who = r->principal;
    struct buf b;
    char *body;
    size_t len;

    if (who == NULL || who->type == POL_PRINCIPAL_ANONYMOUS) {
        snprintf(msg, msglen, "Request is missing Authentication Token");
        return TS_E_STS_ACCESS_DENIED;
    }
    if (sts_principal_ids(who) != TS_OK)
        return TS_E_INTERNAL;
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
        return TS_E_INTERNAL;
    return http_reply_data(r, 200, "text/xml", body, len, true);
}

typedef int (*builtin_fn)(struct sts_ctx *c, struct http_req *r, const struct sts_params *p,
                          char *msg, size_t msglen);

static const struct {
    const char *name;
    builtin_fn fn;
} builtin_actions[] = {
    {"AssumeRole", act_assume_role},
    {"GetCallerIdentity", act_get_caller_identity},
};

/* Federation actions known to STS/MinIO: NotImplemented until a backend registers. */
static const char *const federation_actions[] = {
    "AssumeRoleWithWebIdentity", "AssumeRoleWithClientGrants", "AssumeRoleWithLDAPIdentity",
    "AssumeRoleWithCertificate", "AssumeRoleWithCustomToken",  "AssumeRoleWithSAML",
    "GetSessionToken",           "GetFederationToken",         "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
};

static int dispatch(struct sts_ctx *c, struct http_req *r, const struct sts_params *p, char *msg,
                    size_t msglen)
{
    const char *action = sts_param(p, "Action");
    size_t i;
    int rc;

    if (action == NULL) {
        snprintf(msg, msglen, "The request must contain the parameter Action.");
        return TS_E_STS_MISSING_PARAMETER;
    }
    rc = sts_check_version(sts_param(p, "Version"), msg, msglen);
    if (rc != TS_OK)
        return rc;
    for (i = 0; i < sizeof builtin_actions / sizeof builtin_actions[0]; i++)
        if (strcmp(builtin_actions[i].name, action) == 0)
            return builtin_actions[i].fn(c, r, p, msg, msglen);
    /* The unsigned logins cost an upstream call (JWKS, LDAP bind) and allow guessing:
     * per-source-IP token bucket (core/limits.h), 503 SlowDown with Retry-After: 1. */
    if ((strcmp(action, "AssumeRoleWithWebIdentity") == 0 ||
         strcmp(action, "AssumeRoleWithClientGrants") == 0 ||
         strcmp(action, "AssumeRoleWithLDAPIdentity") == 0) &&
        !limits_sts_allow(r->source_ip)) {
        snprintf(msg, msglen, "Rate exceeded for %s from this address.", action);
        return TS_E_SLOW_DOWN;
    }
    for (i = 0; i < c->nactions; i++)
        if (strcmp(c->actions[i].name, action) == 0 && c->actions[i].fn != NULL)
            return c->actions[i].fn(c->actions[i].arg, c, r, p);
    for (i = 0; i < sizeof federation_actions / sizeof federation_actions[0]; i++) {
        if (strcmp(federation_actions[i], action) == 0) {
            snprintf(msg, msglen, "%s is not implemented by this server", action);
            return TS_E_STS_NOT_IMPLEMENTED;
        }
    }
    snprintf(msg, msglen, "Could not find operation %.64s for version %.32s", action,
             sts_param(p, "Version"));
    return TS_E_STS_INVALID_ACTION;
}

/* ---- the route ---- */

/* tessera_sts_refusals_total{backend,reason}: a login action that did not issue
 * credentials, by backend and AWS error code (issuances are counted by sts_reply_creds). */
static void count_refusal(struct http_req *r, const char *action)
{
    static const char *const backends[][2] = {
        {"AssumeRole", "static"},
        {"AssumeRoleWithWebIdentity", "oidc"},
        {"AssumeRoleWithClientGrants", "clientgrants"},
        {"AssumeRoleWithLDAPIdentity", "ldap"},
    };
    char labels[128];
    int err = TS_OK, status = http_reply_status(r, &err);

    if (action == NULL || status == 200)
        return;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strcmp(action, backends[i][0]) != 0)
            continue;
        /* Both label values come from fixed sets: no cardinality from client input. */
        snprintf(labels, sizeof labels, "backend=\"%s\",reason=\"%s\"", backends[i][1],
                 err != TS_OK ? ts_err_code(err) : "InternalError");
        metrics_inc("tessera_sts_refusals_total",
                    "STS login requests refused, by backend and error code.", labels, 1);
        return;
    }
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

static int sts_start(struct http_req *r)
{
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

static void sts_finish(struct http_req *r)
{
    struct sts_ctx *c = r->route->ctx;
    struct sts_params p = {0};
    char msg[512] = "";
    int rc = sts_request_params(r, &p);

    if (rc == TS_OK)
        rc = dispatch(c, r, &p, msg, sizeof msg);
    if (rc != TS_OK && !http_replied(r))
        http_reply_error(r, rc, msg[0] ? msg : NULL);
    else if (!http_replied(r))
        http_reply_error(r, TS_E_INTERNAL, NULL);
    count_refusal(r, sts_param(&p, "Action"));
    sts_params_cleanup(&p);
}

/* The federation actions may wait on their identity provider (LDAP binds and searches,
 * JWKS refetches, userinfo calls): they run on the server's worker threads. */
static bool sts_blocking(struct http_req *r)
{
    static const char *const remote[] = {"AssumeRoleWithLDAPIdentity", "AssumeRoleWithWebIdentity",
                                         "AssumeRoleWithClientGrants"};
    struct sts_params p = {0};
    const char *action = http_req_query(r, "Action");
    bool blocking = false;
    if (action == NULL && strcmp(r->method, "POST") == 0 && r->body != NULL &&
        is_form(http_req_header(r, "Content-Type")) &&
        sts_params_parse_form(&p, (const char *)r->body, r->body_len) == TS_OK)
        action = sts_param(&p, "Action");
    for (size_t i = 0; action != NULL && i < sizeof remote / sizeof *remote; i++)
        blocking |= strcmp(action, remote[i]) == 0;
    sts_params_cleanup(&p);
    return blocking;
}

void sts_route_init(struct http_route *route, struct sts_ctx *c)
{
    memset(route, 0, sizeof *route);
    route->name = "sts";
    route->match = sts_match;
    route->resolve = sts_resolve;
    route->start = sts_start;
    route->finish = sts_finish;
    route->blocking = sts_blocking;
    route->err_style = HTTP_ERR_STS;
    route->body_max = STS_MAX_FORM_BODY;
    route->ctx = c;
}
