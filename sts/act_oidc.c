/* act_oidc.c -- AssumeRoleWithWebIdentity and AssumeRoleWithClientGrants: the STS glue of
 * the OpenID Connect backend. The token is verified by idp/oidc.c, its claims mapped to
 * policies by policy/mapper.c, and the credentials minted by sts_mint (DESIGN §2); this file
 * only checks parameters, picks the duration and shapes the response.
 *
 * Both actions are unsigned (as AWS allows): the token is the proof. Failures answer
 * InvalidIdentityToken, ExpiredToken, IDPCommunicationError, AccessDenied or
 * InvalidParameterValue in the STS error envelope; the token itself is never logged.
 */
#include "sts/act_oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/mapper.h"
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

    rc = oidc_verify(ps, token, role_arn, client_grants, &claims, &why);
    if (rc != TS_OK) {
        if (rc == TS_E_STS_INVALID_PARAMETER && role_arn != NULL)
            snprintf(msg, sizeof msg, "Role %.300s does not exist", role_arn);
        else
            snprintf(msg, sizeof msg, "%s", why ? why : ts_err_message(rc));
        goto refused;
    }
    rc = pol_map_claims(c->st, &claims, &names, &why);
    if (rc != TS_OK) {
        snprintf(msg, sizeof msg, "%s", why ? why : "no policy applies");
        goto refused;
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
    s.role_arn = claims.role_arn;
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
