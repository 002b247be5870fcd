/* act_oidc.c -- AssumeRoleWithWebIdentity and AssumeRoleWithClientGrants: the STS glue of
 * the OpenID Connect backend. The token is verified by idp/oidc.c, its claims mapped to
 * policies by policy/mapper.c, and the credentials minted by sts_mint (DESIGN §2); this file
 * only checks parameters, picks the duration and shapes the response.
 *
 * With a RoleArn naming a tessera role (policy/roles.h: arn:aws:iam::000000000000:role/NAME
 * that exists), the role's trust policy must allow the token (and sts:TagSession when the
 * token carries session tags under https://aws.amazon.com/tags); the session then gets the
 * role's attached policies (∩ the session policy, by the engine) instead of the claim-mapped
 * ones, and the tags become aws:PrincipalTag/<key> of the session. A RoleArn naming no
 * tessera role keeps MinIO's behaviour (a provider's RolePolicy role, else ignored).
 *
 * Both actions are unsigned (as AWS allows): the token is the proof. Failures answer
 * InvalidIdentityToken, ExpiredToken, IDPCommunicationError, AccessDenied or
 * InvalidParameterValue in the STS error envelope; the token itself is never logged.
 */
#include "sts/act_oidc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/mapper.h"
#include "policy/roles.h"
#include "sts/sts_int.h"

static void elem(struct buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    buf_addf(b, "<%s>", name);
    buf_add_xml(b, value);
    buf_addf(b, "</%s>", name);
}

static int refuse(struct http_req *r, const char *action, int rc, const char *why)
{
    log_audit("sts.deny", "action", action, "backend", "oidc", "code", ts_err_code(rc), "reason",
              why, "source_ip", r->source_ip, "request_id", r->request_id, NULL);
    LOG_DEBUG_EV("sts.oidc", "%s refused: %s", action, why ? why : ts_err_code(rc));
    http_reply_error(r, rc, why);
    return rc;
}

#define TAGS_CLAIM "https://aws.amazon.com/tags"

/* The payload of a compact JWS whose signature was already verified (oidc_verify), as JSON;
 * NULL when it cannot be decoded. */
static json_t *token_payload(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    size_t n, i, o = 0;
    char *b64;
    uint8_t *raw;
    long len;
    json_t *j = NULL;

    if (d1 == NULL || d2 == NULL)
        return NULL;
    n = (size_t)(d2 - d1 - 1);
    b64 = malloc(n + 4);
    raw = malloc(n + 4);
    if (b64 != NULL && raw != NULL) {
        for (i = 0; i < n; i++)
            b64[o++] = d1[1 + i] == '-' ? '+' : d1[1 + i] == '_' ? '/' : d1[1 + i];
        while (o % 4 != 0)
            b64[o++] = '=';
        len = enc_unb64(b64, o, raw);
        if (len >= 0)
            j = json_loadb((const char *)raw, (size_t)len, 0, NULL);
    }
    free(b64);
    free(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool tag_text_ok(const char *s, size_t max, bool empty_ok)
{
    size_t n = strlen(s);
    if (n > max || (n == 0 && !empty_ok))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* The session tags of a verified token (AWS's "https://aws.amazon.com/tags" claim:
 * {"principal_tags": {"k": ["v"]}, "transitive_tag_keys": ["k"]}) into tags (borrowed from
 * payload). Returns the number of tags, -1 with *why set when the claim is malformed, or -2
 * with *why set when two keys differ only in case (tag keys are case-insensitive: "Team" and
 * "team" are one key, and aws:PrincipalTag/team must have one value). */
static long token_tags(json_t *payload, struct http_kv *tags, size_t max, const char **why)
{
    json_t *claim = json_object_get(payload, TAGS_CLAIM), *pt, *tk, *v;
    const char *k;
    size_t n = 0, i;

    if (claim == NULL)
        return 0;
    *why = "the token's session tags (" TAGS_CLAIM ") are malformed";
    if (!json_is_object(claim))
        return -1;
    pt = json_object_get(claim, "principal_tags");
    if (pt != NULL && !json_is_object(pt))
        return -1;
    json_object_foreach(pt, k, v)
    {
        const char *val = NULL;
        if (json_is_string(v))
            val = json_string_value(v);
        else if (json_is_array(v) && json_array_size(v) == 1 &&
                 json_is_string(json_array_get(v, 0)))
            val = json_string_value(json_array_get(v, 0));
        if (val == NULL || !tag_text_ok(k, POL_ROLE_TAG_KEY_MAX, false) ||
            !tag_text_ok(val, POL_ROLE_TAG_VALUE_MAX, true))
            return -1;
        if (n == max) {
            *why = "the token carries more than 50 session tags";
            return -1;
        }
        tags[n].key = (char *)k;
        tags[n].value = (char *)val;
        n++;
    }
    {
        const char *keys[POL_ROLE_MAX_TAGS];
        size_t nk = n < POL_ROLE_MAX_TAGS ? n : POL_ROLE_MAX_TAGS;
        for (i = 0; i < nk; i++)
            keys[i] = tags[i].key;
        if (idp_tag_keys_duplicate(keys, nk) >= 0) {
            *why = "Duplicate tag keys found. Please note that Tag keys are case insensitive.";
            return -2;
        }
    }
    tk = json_object_get(claim, "transitive_tag_keys");
    if (tk != NULL) {
        if (!json_is_array(tk))
            return -1;
        json_array_foreach(tk, i, v)
        {
            if (!json_is_string(v) || json_object_get(pt, json_string_value(v)) == NULL) {
                *why = "a transitive_tag_keys entry names no principal tag";
                return -1;
            }
        }
    }
    return (long)n;
}

static int assume(struct oidc_providers *ps, bool client_grants, struct sts_ctx *c,
                  struct http_req *r, const struct sts_params *p)
{
    const char *action = client_grants ? "AssumeRoleWithClientGrants" : "AssumeRoleWithWebIdentity";
    const char *token = sts_param(p, client_grants ? "Token" : "WebIdentityToken");
    const char *policy = sts_param(p, "Policy"), *role_arn = sts_param(p, "RoleArn");
    const char *session_name = sts_param(p, "RoleSessionName");
    const char *dur = sts_param(p, "DurationSeconds");
    struct idp_claims claims;
    struct iam_strv names = {0};
    struct sts_session s;
    struct sts_creds cr;
    struct buf extra, parent;
    const char *why = NULL;
    char msg[512] = "";
    char role_name[POL_ROLE_NAME_MAX + 1], canon_arn[128];
    char *trust = NULL;
    struct iam_strv role_pols = {0};
    bool role = false;
    json_t *payload = NULL;
    long duration = 0;
    int rc;

    memset(&claims, 0, sizeof claims);
    memset(&cr, 0, sizeof cr);
    buf_init(&extra, 16384);
    buf_init(&parent, 8192);
    if (token == NULL || *token == '\0') {
        snprintf(msg, sizeof msg, "The request must contain the parameter %s.",
                 client_grants ? "Token" : "WebIdentityToken");
        rc = TS_E_STS_MISSING_PARAMETER;
        goto reply;
    }
    if ((dur != NULL && (rc = sts_check_duration(c, dur, &duration, msg, sizeof msg))) ||
        (rc = sts_check_role_arn(role_arn, msg, sizeof msg)) ||
        (rc = sts_check_session_name(session_name, msg, sizeof msg)) ||
        (rc = sts_check_policy(policy, msg, sizeof msg)))
        goto reply;

    if (role_arn != NULL && pol_role_from_arn(role_arn, role_name)) {
        rc = pol_role_get(c->st, role_name, &trust, NULL, &role_pols);
        if (rc != TS_OK && rc != TS_E_NO_SUCH_ENTITY)
            goto reply;
        role = rc == TS_OK;
        rc = TS_OK;
    }

    /* A tessera role: the token's provider is chosen by its issuer, not by the RoleArn. */
    rc = oidc_verify(ps, token, role ? NULL : role_arn, client_grants, &claims, &why);
    if (rc != TS_OK) {
        if (rc == TS_E_STS_INVALID_PARAMETER && role_arn != NULL && !role)
            snprintf(msg, sizeof msg, "Role %.300s does not exist", role_arn);
        else
            snprintf(msg, sizeof msg, "%s", why ? why : ts_err_message(rc));
        goto refused;
    }
    if (role) {
        struct http_kv tags[POL_ROLE_MAX_TAGS];
        struct pol_trust_input in;
        long ntags;
        char key[POL_ROLE_TAG_KEY_MAX + 32];

        payload = token_payload(token);
        if (payload == NULL) {
            rc = TS_E_STS_INVALID_IDENTITY_TOKEN;
            snprintf(msg, sizeof msg, "the token payload is not a JSON object");
            goto refused;
        }
        ntags = token_tags(payload, tags, POL_ROLE_MAX_TAGS, &why);
        if (ntags < 0) {
            rc = ntags == -2 ? TS_E_STS_INVALID_PARAMETER : TS_E_STS_INVALID_IDENTITY_TOKEN;
            snprintf(msg, sizeof msg, "%s", why);
            goto refused;
        }
        memset(&in, 0, sizeof in);
        in.action =
            client_grants ? "sts:AssumeRoleWithClientGrants" : "sts:AssumeRoleWithWebIdentity";
        in.issuer = claims.issuer;
        in.provider_name = claims.provider;
        in.claims = claims.vars;
        in.nclaims = claims.nvars;
        in.tags = tags;
        in.ntags = (size_t)ntags;
        in.source_ip = r->source_ip;
        in.user_agent = http_req_header(r, "User-Agent");
        in.secure_transport = r->tls;
        rc = pol_role_trust_check(trust, &in, &why);
        if (rc != TS_OK) {
            if (rc != TS_E_INTERNAL)
                rc = TS_E_ACCESS_DENIED;
            snprintf(msg, sizeof msg, "Not authorized to assume role %s: %s", role_name,
                     why ? why : "denied");
            goto refused;
        }
        for (long i = 0; i < ntags; i++) {
            snprintf(key, sizeof key, "aws:PrincipalTag/%s", tags[i].key);
            if (idp_claims_add_var(&claims, key, tags[i].value) != TS_OK) {
                rc = TS_E_INTERNAL;
                goto reply;
            }
        }
        names = role_pols; /* the session gets exactly the role's policies */
        role_pols.v = NULL;
        role_pols.n = 0;
        pol_role_arn(role_name, canon_arn, sizeof canon_arn);
        free(claims.role_arn);
        if ((claims.role_arn = strdup(canon_arn)) == NULL) {
            rc = TS_E_INTERNAL;
            goto reply;
        }
        log_audit("sts.role", "action", action, "role", role_name, "parent_iss", claims.issuer,
                  "sub", claims.subject, "request_id", r->request_id, NULL);
    } else {
        rc = pol_map_claims(c->st, &claims, &names, &why);
        if (rc != TS_OK) {
            snprintf(msg, sizeof msg, "%s", why ? why : "no policy applies");
            goto refused;
        }
    }

    if (dur == NULL) {
        long max = c->cfg.max_duration;
        if (oidc_providers_expiry_from_token(ps) && claims.token_expiry > 0) {
            /* MinIO: the session lasts as long as the token, within STS bounds. */
            duration = (long)(claims.token_expiry - enc_now());
            if (duration < STS_MIN_DURATION)
                duration = STS_MIN_DURATION;
        } else {
            duration = 3600; /* AWS's default */
        }
        if (duration > max)
            duration = max;
    }

    buf_addf(&parent, "%s#%s", claims.issuer, claims.subject);
    memset(&s, 0, sizeof s);
    s.parent = buf_str(&parent);
    s.username = claims.username;
    s.source = client_grants ? "clientgrants" : "oidc";
    s.policies = (const char *const *)names.v;
    s.npolicies = names.n;
    s.session_policy = policy;
    s.session_name = session_name;
    s.role = role ? role_name : NULL; /* verified: the role's trust policy admitted the token */
    s.role_arn = role ? NULL : claims.role_arn;
    s.claims = claims.vars;
    s.nclaims = claims.nvars;
    s.duration = duration;
    if (buf_failed(&parent)) {
        rc = TS_E_INTERNAL;
        goto reply;
    }
    rc = sts_mint(c, &s, &cr);
    if (rc != TS_OK) {
        if (rc == TS_E_INVALID_ARGUMENT)
            rc = TS_E_STS_VALIDATION;
        goto reply;
    }
    elem(&extra, client_grants ? "SubjectFromToken" : "SubjectFromWebIdentityToken",
         claims.subject);
    elem(&extra, "Audience", claims.audience);
    elem(&extra, "Provider", claims.issuer);
    if (buf_failed(&extra)) {
        rc = TS_E_INTERNAL;
        goto reply;
    }
    rc = sts_reply_creds(r, action, &s, &cr, buf_str(&extra));
    goto out;

refused:
    refuse(r, action, rc, msg);
    goto out;
reply:
    if (rc != TS_OK && !http_replied(r))
        http_reply_error(r, rc, msg[0] ? msg : NULL);
out:
    sts_creds_cleanup(&cr);
    iam_strv_free(&names);
    iam_strv_free(&role_pols);
    free(trust);
    json_decref(payload);
    idp_claims_cleanup(&claims);
    buf_free(&extra);
    buf_free(&parent);
    return rc;
}

static int act_web_identity(void *arg, struct sts_ctx *c, struct http_req *r,
                            const struct sts_params *p)
{
    return assume(arg, false, c, r, p);
}

static int act_client_grants(void *arg, struct sts_ctx *c, struct http_req *r,
                             const struct sts_params *p)
{
    return assume(arg, true, c, r, p);
}

int sts_oidc_register(struct sts_ctx *c, struct oidc_providers *ps)
{
    int rc;
    if (oidc_providers_count(ps) == 0)
        return TS_OK;
    rc = sts_set_action(c, "AssumeRoleWithWebIdentity", act_web_identity, ps);
    if (rc == TS_OK)
        rc = sts_set_action(c, "AssumeRoleWithClientGrants", act_client_grants, ps);
    return rc;
}
